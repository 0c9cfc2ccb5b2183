"""The step executor's own decisions, on a real rehearsal sandbox with real runs."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from amxwizard.engine.executor import StepError, StepExecutor
from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
from amxwizard.engine.steps.base import Approval, Blocked, Prerequisite, StaleBuild
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import RunbookFile


@pytest.fixture
def executor(tmp_path: Path, runbook_file: RunbookFile) -> StepExecutor:
    sandbox = build_sandbox(tmp_path / "sandbox")
    session = Session.create(tmp_path / "state", runbook_file, sandbox.overrides)
    yield StepExecutor(session, nice=0)
    session.close()


def test_a_test_after_an_unbuilt_edit_asks_first(executor: StepExecutor) -> None:
    for step in ("1.1", "1.2", "1.3", "1.4"):
        assert executor.run(step, confirmed=True).status is StepStatus.PASSED
    assert executor.stale_build(executor.runbook.step("test-1")) is None  # built after every edit
    executor.answer("2.choose", "approach", "A")
    executor.run("2.choose")
    executor.run("2.A", confirmed=True)
    blocked = executor.run("test-1", confirmed=True)  # a confirmation is not the answer to a stale build
    assert isinstance(blocked, Blocked)
    [stale] = blocked.blockers
    assert isinstance(stale, StaleBuild) and (stale.edit_step, stale.build_step) == ("2.A", "1.4")
    assert stale.describe().startswith("ggml-backend.cpp was edited at step 2.A and the last build was before it")
    assert "--run-stale" in stale.describe() and "step 1.4" in stale.describe()
    assert executor.session.state.step("test-1").status is StepStatus.PENDING  # nothing ran
    executor.run("1.4", confirmed=True)
    assert executor.stale_build(executor.runbook.step("test-1")) is None


def test_a_build_verdict_reads_only_the_end_of_a_huge_log(executor: StepExecutor, tmp_path: Path) -> None:
    executor.run("1.1")
    chatty = tmp_path / "chatty-cmake"
    # 3 MiB of progress, then a compiler error: the verdict must still see the error at the end.
    chatty.write_text(
        '#!/bin/bash\ncase " $* " in *" clean "*) exit 0 ;; esac\n'
        "yes '[ 50%] Building CXX object ggml/src/CMakeFiles/ggml.dir/x.cpp.o' | head -c 3145728\n"
        "echo 'ggml/src/ggml-backend.cpp:42:7: error: expected ; before }'\nexit 2\n"
    )
    chatty.chmod(0o755)
    executor.session.set_variables({"cmake": str(chatty)})
    result = executor.run("1.4", confirmed=True)
    assert result.status is StepStatus.FAILED
    assert "ggml-backend.cpp:42" in result.summary
    [run_id] = executor.session.state.step("1.4").runs
    tail = executor.read_log(run_id, tail=1 << 20)
    assert tail.startswith("[… the first ") and len(tail) < (1 << 20) + 100
    assert executor.read_log(run_id).count("\n") > 40_000  # the whole log is still there for the person


def test_decisions_need_their_reasons(executor: StepExecutor) -> None:
    with pytest.raises(StepError, match="reason"):
        executor.skip("test-4", "  ")
    with pytest.raises(StepError, match="note"):
        executor.tick_criterion("performance", True, "")
    with pytest.raises(StepError, match="say why"):
        executor.decide("1.4", StepStatus.PASSED, "")
    with pytest.raises(StepError, match="not one of"):
        executor.answer("1.6", "recommended_approach", "D")


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_edit_that_cannot_be_written_fails_the_step_in_one_line(
    executor: StepExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor.run("1.1")
    monkeypatch.setattr("amxwizard.engine.edits.atomic_write", _disk_full)
    result = executor.run("1.2", confirmed=True)
    assert result.status is StepStatus.FAILED
    assert "No space left on device" in result.summary and "\n" not in result.summary
    assert executor.session.state.step("1.2").status is StepStatus.FAILED  # not left running


def test_a_document_that_cannot_be_planned_or_written_is_one_clear_error(
    executor: StepExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = executor.path(executor.runbook.step("5.4").documents[0].path)  # type: ignore[union-attr]
    kept = doc.rename(tmp_path / "kept.md")
    doc.mkdir()
    blocked = executor.run("5.4", confirmed=True)
    assert isinstance(blocked, Blocked) and isinstance(blocked.blockers[0], Prerequisite)
    assert "is a folder" in blocked.blockers[0].describe()
    assert executor.session.state.step("5.4").status is StepStatus.PENDING
    doc.rmdir()
    kept.rename(doc)
    monkeypatch.setattr("amxwizard.engine.docs.atomic_write", _disk_full)
    result = executor.run("5.4", confirmed=True)
    assert result.status is StepStatus.FAILED and "No space left on device" in result.summary
    assert executor.session.state.step("5.4").status is StepStatus.FAILED


def test_a_form_whose_output_cannot_be_placed_leaves_the_step_as_it_was(executor: StepExecutor) -> None:
    answers = {f.id: "x" for f in executor.runbook.step("1.6").fields}  # type: ignore[union-attr]
    answers["recommended_approach"] = "A"
    blocked = executor.run("1.6", answers=answers)  # no backup yet: the output's folder is unknown
    assert isinstance(blocked, Blocked) and "BACKUP_DIR" in blocked.blockers[0].describe()
    assert executor.session.state.step("1.6").status is StepStatus.PENDING
    executor.run("1.1")
    target = executor.path(executor.runbook.step("1.6").output.path)  # type: ignore[union-attr]
    target.mkdir()
    result = executor.run("1.6")
    assert result.status is StepStatus.FAILED and str(target) in result.summary
    assert executor.session.state.step("1.6").status is StepStatus.FAILED


def test_a_change_the_log_does_not_know_is_recorded_as_found(executor: StepExecutor) -> None:
    """An edit written just before a crash (or made in another terminal) is recorded when next seen."""
    executor.run("1.1")
    backend = executor.path("{{repo}}/ggml/src/ggml-backend.cpp")
    backend.write_text(backend.read_text() + "// written by an edit whose event never reached the log\n")
    executor.run("1.2", confirmed=True)
    found = [e for e in executor.session.state.edits if e["how"] == "found"]
    assert len(found) == 1 and found[0]["path"] == str(backend) and found[0]["step"] == "1.2"
    assert [e["how"] for e in executor.session.state.edits] == ["found", "snippet"]


def test_a_tilde_naming_no_user_is_an_error_line_not_a_traceback(executor: StepExecutor) -> None:
    executor.session.set_variables({"repo": "~nobody-by-this-name/ik_llama.cpp"})
    result = executor.run("1.4", confirmed=True)
    assert result.status is StepStatus.FAILED and "does not exist" in result.summary


def test_a_shell_step_runs_in_its_own_folder_when_it_names_one(tmp_path: Path, runbook_file: RunbookFile) -> None:
    from amxwizard.runbook import load_text

    text = runbook_file.text.replace(
        "        kind: shell\n        title: Rebuild with Debug Logging\n",
        '        kind: shell\n        title: Rebuild with Debug Logging\n        cwd: "{{session_dir}}"\n',
        1,
    )
    assert text != runbook_file.text
    changed = load_text(text)
    sandbox = build_sandbox(tmp_path / "sandbox")
    session = Session.create(tmp_path / "state", changed, sandbox.overrides)
    ex = StepExecutor(session, nice=0)
    ex.run("1.4", confirmed=True)
    [run_id] = session.state.step("1.4").runs
    assert session.state.runs[run_id].cwd == str(session.dir)
    session.close()


def test_choosing_another_approach_makes_it_pending_again(executor: StepExecutor) -> None:
    executor.answer("2.choose", "approach", "A")
    executor.run("2.choose")
    assert executor.session.state.step("2.B").status is StepStatus.SKIPPED
    executor.answer("2.choose", "approach", "B")  # troubleshooting: still crashing after A, try B
    executor.run("2.choose")
    assert executor.session.state.approach == "2.B"
    assert executor.session.state.step("2.B").status is StepStatus.PENDING
    assert executor.session.state.step("2.C").status is StepStatus.SKIPPED


def test_applying_the_diff_a_person_saw_refuses_a_file_changed_since(executor: StepExecutor) -> None:
    executor.run("1.1")
    shown = executor.plan("1.2")
    backend = executor.path("{{repo}}/ggml/src/ggml-backend.cpp")
    backend.write_text(backend.read_text() + "// typed in another terminal while the diff was on screen\n")
    result = executor.apply(shown, Approval(confirmed=True))
    assert result.status is StepStatus.FAILED and "changed since" in result.summary
    assert "typed in another terminal" in backend.read_text()  # nothing overwritten


def test_the_commit_refuses_files_changed_since_their_diff_was_shown(executor: StepExecutor) -> None:
    from amxwizard.engine.steps.base import PlanChanged

    executor.run("1.1")
    executor.run("1.2", confirmed=True)
    executor.answer("5.3", "solution_details", "x")
    executor.answer("5.3", "backend_changes", "y")
    shown = executor.plan("5.3")
    backend = executor.path("{{repo}}/ggml/src/ggml-backend.cpp")
    backend.write_text(backend.read_text() + "// one more line nobody reviewed\n")
    with pytest.raises(PlanChanged, match="changed since their diff was shown"):
        executor.apply(shown, Approval(confirmed=True, allow_unproven=True))  # nothing was tested here
    assert executor.session.state.commit is None


def test_a_commit_with_no_test_run_needs_its_unproven_claims_allowed(executor: StepExecutor) -> None:
    from amxwizard.engine.steps.base import UnprovenClaims

    executor.run("1.1")
    executor.run("1.2", confirmed=True)
    executor.answer("5.3", "solution_details", "x")
    executor.answer("5.3", "backend_changes", "y")
    plan = executor.plan("5.3")
    [unproven] = [b for b in plan.blockers if isinstance(b, UnprovenClaims)]
    assert unproven.claims and all(not c.proven for c in unproven.claims)
    assert "--allow-unproven" in unproven.describe()
    assert not unproven.resolved_by(Approval(confirmed=True))  # --yes alone commits no unproven sentence
    assert unproven in plan.unresolved(Approval(confirmed=True))
    assert unproven not in plan.unresolved(Approval(confirmed=True, allow_unproven=True))
    assert executor.session.state.commit is None
