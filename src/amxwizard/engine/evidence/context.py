"""Every dotted name a text template may use (``answers.*``, ``approach.*``, ``evidence.*``, ``session.*``), with
the plain variables, for :func:`amxwizard.runbook.templates.render_text`.

A fact not known yet renders as a visible ``(not measured)`` / ``(not answered)`` — never as an empty string, and
never as the seed's ``[FILL IN]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ...runbook import models as m
from ..state import StepStatus
from . import llama_bench, llama_cli, tensor_copy
from ._logs import ReadLog, cached, step_text
from ._text import NOT_MEASURED, fmt_number

if TYPE_CHECKING:
    from ..state import SessionState

NOT_ANSWERED = "(not answered)"
NOT_CHOSEN = "(not chosen)"
NONE_GIVEN = "(none)"


@dataclass(frozen=True, slots=True)
class Measured:
    """The benchmark and test numbers the documents quote."""

    pp_tps: float | None = None
    pp_ms_per_token: float | None = None
    tg_tps: float | None = None
    tg_stddev: float | None = None
    pp_source: str = ""
    tg_source: str = ""


def _latest_row(state: SessionState, step_id: str, metric: str, read_log: ReadLog) -> llama_bench.BenchRow | None:
    parsed = cached("llama_bench", step_text(state, step_id, read_log), lambda t: tuple(llama_bench.parse(t)))
    rows = [r for r in parsed if r.test == metric]
    return rows[-1] if rows else None


def measured(runbook: m.Runbook, state: SessionState, read_log: ReadLog) -> Measured:
    """Prompt-processing and generation speed from the benchmark steps' latest runs; the long-prompt test's own
    timing lines stand in for prompt processing when no pp benchmark ran."""
    pp = tg = None
    pp_source = tg_source = ""
    for _, step in runbook.iter_steps():
        if not isinstance(step, m.BenchmarkStep) or step.before_fix or not state.attempt_runs(step.id):
            continue
        row = _latest_row(state, step.id, step.metric, read_log)
        if row is None:
            continue
        if step.metric.startswith("pp") and pp is None:
            pp, pp_source = row, f"{step.id} ({row.test})"
        elif step.metric.startswith("tg") and tg is None:
            tg, tg_source = row, f"{step.id} ({row.test})"
    pp_tps = pp.avg_ts if pp else None
    pp_ms = 1000.0 / pp.avg_ts if pp and pp.avg_ts > 0 else None
    if pp is None:
        for _, step in runbook.iter_steps():
            if isinstance(step, m.TestStep) and state.step(step.id).status is StepStatus.PASSED:
                run = cached("llama_cli", step_text(state, step.id, read_log), llama_cli.parse)
                if run.prompt_tps is not None:
                    pp_tps, pp_ms, pp_source = run.prompt_tps, run.prompt_ms_per_token, f"{step.id} (prompt eval)"
                    break
    return Measured(pp_tps, pp_ms, tg.avg_ts if tg else None, tg.stddev_ts if tg else None, pp_source, tg_source)


NO_BASELINE = "(nothing comparable)"


def _tg_step(runbook: m.Runbook) -> m.BenchmarkStep | None:
    """The token-generation benchmark after the fix (the one the documents quote)."""
    return next(
        (
            s
            for _, s in runbook.iter_steps()
            if isinstance(s, m.BenchmarkStep) and not s.before_fix and s.metric.startswith("tg")
        ),
        None,
    )


def _baseline_text(runbook: m.Runbook, state: SessionState) -> tuple[str, str]:
    """``(baseline figure, how the generation speed compares)`` from the tg benchmark's verdict: the figure it was
    actually judged against (the run before the fix, or the comparable reference), never one it could not use."""
    step = _tg_step(runbook)
    if step is None or not state.step(step.id).runs:
        return NOT_MEASURED, NOT_MEASURED
    evidence = state.step(step.id).evidence
    comparison = evidence.get("comparison")
    baseline = evidence.get("baseline")
    if not isinstance(comparison, Mapping) or not isinstance(baseline, int | float):
        reference = evidence.get("reference")
        if isinstance(reference, Mapping) and reference.get("comparable") is False:
            return NO_BASELINE, (
                f"not comparable: measured on {reference.get('measured_on')}, the reference is for "
                f"{reference.get('reference_for')}"
            )
        return NO_BASELINE, "no run before the fix to compare with"
    run = evidence.get("baseline_run")
    label = run.get("label") if isinstance(run, Mapping) else ""
    delta = comparison.get("delta_pct")
    verdict = str(comparison.get("verdict", ""))
    delta_text = f"{delta:+.1f}%" if isinstance(delta, int | float) else ""
    text = ", ".join(p for p in (delta_text, verdict) if p)
    return fmt_number(float(baseline)), text + (f" (vs {label})" if label else "")


def _passed_detail(evidence: Mapping[str, object], summary: str) -> str:
    """``1000/1000 tokens, 61.02 t/s`` from a test verdict's evidence; the summary when it has none."""
    generated, expected, tps = (evidence.get(k) for k in ("tokens_generated", "tokens_expected", "eval_tps"))
    if not isinstance(generated, int):
        return summary or "passed"
    text = f"{generated}/{expected} tokens" if isinstance(expected, int) else f"{generated} tokens"
    return text + (f", {tps:.2f} t/s" if isinstance(tps, int | float) else "")


def _plain(text: str) -> str:
    return text


def tests_summary(runbook: m.Runbook, state: SessionState, *, markdown: bool = False) -> str:
    """One ``- ✅ ...`` / ``- ❌ ...`` line per test step; a test not passed is never shown as passed.

    With ``markdown``, what came from logs and people (summaries, skip reasons) is made inert Markdown text: the
    lines are the only structure.
    """
    from ..mdsafe import inline

    esc = inline if markdown else _plain
    lines = []
    for _, step in runbook.iter_steps():
        if not isinstance(step, m.TestStep):
            continue
        st = state.step(step.id)
        title = esc(step.title)
        if st.status is StepStatus.PASSED:
            lines.append(f"- ✅ {title} — {esc(_passed_detail(st.evidence, st.summary))}")
        elif st.status is StepStatus.FAILED:
            lines.append(f"- ❌ {title} — failed: {esc(st.summary)}" if st.summary else f"- ❌ {title} — failed")
        elif st.status is StepStatus.SKIPPED:
            lines.append(f"- ❌ {title} — skipped: {esc(st.skip_reason)}")
        elif st.status is StepStatus.RUNNING:
            lines.append(f"- ❌ {title} — still running")
        elif st.status is StepStatus.INTERRUPTED:
            lines.append(f"- ❌ {title} — interrupted")
        else:
            lines.append(f"- ❌ {title} — not run")
    return "\n".join(lines) if lines else "(no tests in the runbook)"


def weight_copies(runbook: m.Runbook, state: SessionState, read_log: ReadLog) -> str:
    """What the logs of the runs after the fix say about weight copies, in one line."""
    steps = next((c.steps for c in runbook.criteria if c.check == "no_weight_copies"), None)
    if steps is None:
        steps = [s.id for _, s in runbook.iter_steps() if isinstance(s, m.TestStep)]
    ran = [s for s in steps if state.step(s).runs]
    if not ran:
        return NOT_MEASURED
    found: list[str] = []
    offload = 0
    seen_debug = []
    for step_id in ran:
        report = cached("tensor_copy", step_text(state, step_id, read_log), tensor_copy.parse)
        if report.copies:
            seen_debug.append(step_id)
        found += [f"{c.name} {c.pair} in {step_id}" for c in report.bug_weights]
        offload += len(report.offloaded_weights)
    designed = f"; {offload} out of host buffers (the scheduler's designed op offload, not counted)" if offload else ""
    if found:
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        return (
            f"{len(found)} weight cop{'y' if len(found) == 1 else 'ies'} out of non-host buffers: "
            + "; ".join(found[:3])
            + more
            + designed
        )
    if not seen_debug:
        return f"not verifiable: no {tensor_copy.MARKER} output in the logs of {', '.join(ran)}"
    return f"none out of non-host buffers (logs of {', '.join(seen_debug)} checked){designed}"


def _session_date(state: SessionState, now: datetime | None) -> str:
    if now is None:
        try:
            now = datetime.fromisoformat(state.last_ts) if state.last_ts else datetime.now(UTC)
        except ValueError:
            now = datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def template_values(
    runbook: m.Runbook,
    state: SessionState,
    values: Mapping[str, str],
    read_log: ReadLog,
    now: datetime | None = None,
    *,
    markdown: bool = False,
    with_claims: bool = True,
) -> dict[str, str]:
    """Plain variables from ``values`` plus every dotted name of ``NAMESPACES``; ``read_log(run_id)`` gives logs.

    ``session.date`` is the time of the latest event (or ``now``), so the same session renders the same text.
    ``claims.<id>`` are the commit step's claims, each its sentence only where the evidence proves it (see
    :mod:`amxwizard.engine.claims`); ``with_claims=False`` leaves them out (they evaluate criteria).
    With ``markdown``, every value is inert Markdown text (for documents: an answer holding a newline and ``# x``
    makes no heading); the test summary keeps its list lines.
    """
    out = _values(runbook, state, values, read_log, now)
    if with_claims:
        from ..claims import claim_values, commit_step, judge_claims

        step = commit_step(runbook)
        if step is not None and step.claims:
            out.update(claim_values(judge_claims(runbook, step, state, read_log), out))
    if markdown:
        from ..mdsafe import inline

        out = {k: v if k == "evidence.tests_summary" else inline(v) for k, v in out.items()}
        out["evidence.tests_summary"] = tests_summary(runbook, state, markdown=True)
    return out


def _values(
    runbook: m.Runbook,
    state: SessionState,
    values: Mapping[str, str],
    read_log: ReadLog,
    now: datetime | None,
) -> dict[str, str]:
    out = dict(values)
    for field_id, fld in runbook.fields.items():
        given = state.answer(field_id)
        if given is None or not given.strip():  # an optional field left alone means "none", not a gap
            out[f"answers.{field_id}"] = NONE_GIVEN if not fld.required else NOT_ANSWERED
        else:
            out[f"answers.{field_id}"] = given
    for field_id, answer in state.answers.items():
        out.setdefault(f"answers.{field_id}", answer.value if answer.value.strip() else NONE_GIVEN)
    approach = runbook.steps_by_id.get(state.approach or "")
    if isinstance(approach, m.ApproachStep):
        out.update(
            {
                "approach.id": approach.id,
                "approach.letter": approach.letter,
                "approach.title": approach.title,
                "approach.use_if": approach.use_if,
            }
        )
    else:
        out.update(dict.fromkeys(("approach.id", "approach.letter", "approach.title", "approach.use_if"), NOT_CHOSEN))
    out.setdefault("answers.approach", out["approach.letter"])
    numbers = measured(runbook, state, read_log)
    baseline, versus = _baseline_text(runbook, state)
    out.update(
        {
            "evidence.pp_tps": fmt_number(numbers.pp_tps),
            "evidence.pp_ms_per_token": fmt_number(numbers.pp_ms_per_token),
            "evidence.tg_tps": fmt_number(numbers.tg_tps),
            "evidence.baseline_tps": baseline,
            "evidence.tg_vs_baseline": versus,
            "evidence.tests_summary": tests_summary(runbook, state),
            "evidence.weight_copies": weight_copies(runbook, state, read_log),
        }
    )
    backup_dir = (state.backup or {}).get("dir") or state.exports.get("BACKUP_DIR")
    out.update(
        {
            "session.id": state.session_id or values.get("session_id", "") or "(no session)",
            "session.date": _session_date(state, now),
            "session.backup_dir": str(backup_dir) if backup_dir else "(no backup made yet)",
        }
    )
    return out
