"""Sessions for the record's tests, walked with the real step executor on the real rehearsal sandbox.

Everything a person does goes through :class:`StepExecutor` (the same code the TUI and ``amxwizard step`` use); the
only stand-ins are the rehearsal's tools and model. The scenario has what a reviewer must be able to follow:
test-1 crashes once (the runbook forgets to rebuild after the fix, so it runs the old binary) and passes after a
rebuild, test-4 is skipped with a reason, approach A is chosen, and one answer is full of characters that break
tables and HTML.
"""

from __future__ import annotations

from amxwizard.engine import events as ev
from amxwizard.engine.checklist import tick
from amxwizard.engine.executor import StepExecutor, StepResult
from amxwizard.engine.preflight import check_checklist_item
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox
from amxwizard.report.machine import observe_machine

__all__ = ["CHOSEN", "CRASH_FIRST", "SKIPPED", "Sandbox", "make_sandbox", "play", "run_logs"]

CHOSEN = "2.A"
SKIPPED = {"test-4": "the GPU is shared with another job today; GPU-only mode is unchanged by this fix"}
CRASH_FIRST = "test-1"
ROOT_CAUSE = "The scheduler copies weights | to the GPU\nwhen a MUL_MAT runs there <on purpose?>"


def make_sandbox(root: object) -> Sandbox:
    return build_sandbox(root)  # type: ignore[arg-type]


def play(
    session: Session,
    sandbox: Sandbox,
    *,
    stop_before: str | None = None,
    skips: dict[str, str] | None = None,
    checklist: bool = True,
    finish: bool = True,
) -> None:
    """Walk the runbook as a person would, stopping before ``stop_before``; ``skips`` (default: test-4) are skipped
    with their reasons. ``checklist=False`` leaves the checklist unticked, ``finish=False`` the session open."""
    skips = SKIPPED if skips is None else skips
    ex = StepExecutor(session, nice=0)
    rb = session.runbook.model
    # What the session records when it is opened (the machine it runs on), as the wizard does.
    session.record(observe_machine())
    session.accept_setup()
    for item in rb.checklist if checklist else []:
        check = check_checklist_item(item, ex.values())
        note = "" if check.status == "ok" else f"checked by hand: {check.finding}"
        tick(session, item.id, note="confirmed with the team lead" if item.check.kind == "manual" else note)
    ex.answer("1.6", "root_cause", ROOT_CAUSE)
    ex.answer("5.3", "solution_details", "Skip weight tensors in ggml_backend_tensor_copy")
    ex.answer("5.3", "backend_changes", "added ggml_tensor_is_weight() and a guard")
    ex.answer("5.3", "other_files", "none")
    for _, step in rb.iter_steps():
        if step.id == stop_before:
            return
        if step.id in skips:
            ex.skip(step.id, skips[step.id])
            continue
        if step.id == "2.choose":
            ex.answer(step.id, "approach", CHOSEN.split(".")[1])
        if step.id == CRASH_FIRST:
            ex.run(step.id, run_stale=True)  # the binary built before the fix: it crashes
            ex.run("1.4", confirmed=True)  # rebuild, then the test again
        if session.state.step(step.id).status.done:  # approaches not chosen are skipped by the choice
            continue
        ex.accept_suggestions(ex.plan(step.id))  # the analysis takes what the diagnostic log suggests
        # With a test skipped, the commit's claim about it is unproven: the person acknowledges it (the record says so).
        result = ex.run(step.id, confirmed=True, allow_unproven=True)
        assert isinstance(result, StepResult), f"{step.id}: {[b.describe() for b in result.blockers]}"
        assert result.status.value == "passed", f"{step.id}: {result.summary}"
        if step.id == "5.2":  # the logging is out of the build again: the benchmarks are comparable now
            for bench in ("bench-pp", "bench-tg"):
                if bench not in skips:
                    again = ex.run(bench, again=True)
                    assert isinstance(again, StepResult) and again.status.value == "passed", bench
    ex.tick_criterion("documented", True, "both documents updated")
    ex.tick_criterion("performance", True, "tg128 within a few tenths of 61.24")
    session.record(ev.Note(text="Reviewer: the GPU-only test was skipped on purpose, see its reason."))
    if finish:
        session.finish()


def run_logs(session: Session) -> int:
    """How many runs of the session have a recorded log hash."""
    return sum(1 for run in session.state.runs.values() if run.log_sha256)
