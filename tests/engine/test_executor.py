"""The step executor's own decisions, on a real rehearsal sandbox with real runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.engine.executor import NeedsConfirmation, StepError, StepExecutor
from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
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
    with pytest.raises(NeedsConfirmation, match=r"ggml-backend\.cpp was edited at step 2\.A .*\(step 1\.4\)"):
        executor.run("test-1")
    assert executor.session.state.step("test-1").status is StepStatus.PENDING  # nothing ran
    executor.run("1.4", confirmed=True)
    assert executor.stale_build(executor.runbook.step("test-1")) is None


def test_a_build_verdict_reads_only_the_end_of_a_huge_log(executor: StepExecutor, tmp_path: Path) -> None:
    executor.run("1.1")
    chatty = tmp_path / "chatty-cmake"
    # 3 MiB of progress, then a compiler error: the verdict must still see the error at the end.
    chatty.write_text('#!/bin/bash\ncase " $* " in *" clean "*) exit 0 ;; esac\n'
                      "yes '[ 50%] Building CXX object ggml/src/CMakeFiles/ggml.dir/x.cpp.o' | head -c 3145728\n"
                      "echo 'ggml/src/ggml-backend.cpp:42:7: error: expected ; before }'\nexit 2\n")
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
