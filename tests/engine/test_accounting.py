"""Every line of a step's commands is accounted for, by bash's own ERR trap: a line that fails ends the command there
and the step fails naming the line and the program; what the runbook tolerates (``|| true``, SIGPIPE after
``| head``, a crash a diagnostic step expects) goes on. Real commands in real shells."""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.runner import CommandRunner, RunResult, RunSpec
from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
from amxwizard.engine.steps.base import StepResult
from amxwizard.runbook import RunbookFile, load_runbook

RUNBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "accounting" / "runbook.yaml"


def run(tmp_path: Path, name: str, script: str, *, expect_crash: bool = False) -> tuple[RunResult, str]:
    handle = CommandRunner().start(
        RunSpec(run_id=name, run_dir=tmp_path / name, script=script, cwd=tmp_path, expect_crash=expect_crash)
    )
    result = handle.result()
    return result, (tmp_path / name / "output.log").read_text()


def test_a_failing_line_ends_the_command_there_with_its_line_and_status(tmp_path: Path) -> None:
    result, log = run(tmp_path, "r", "echo one\nfalse\necho never\n")
    assert (result.outcome, result.exit_code) == ("failed", 1)
    assert log == "one\n"
    [record] = result.shell_errors
    assert record == {"action": "exit", "status": 1, "line": 2, "pipestatus": [1], "command": "false"}


def test_what_bash_itself_tolerates_stays_tolerated(tmp_path: Path) -> None:
    script = "grep -q x /dev/null || true\nif false; then :; fi\n! true\nfalse && echo no\necho end\n"
    result, log = run(tmp_path, "r", script)
    assert (result.outcome, result.exit_code, result.shell_errors) == ("ok", 0, ())
    assert log == "end\n"


def test_sigpipe_after_a_reader_closed_early_goes_on_and_is_written_down(tmp_path: Path) -> None:
    result, log = run(tmp_path, "r", "seq 1 1000000 | head -2\necho after\n")
    assert (result.outcome, result.exit_code) == ("ok", 0)
    assert log == "1\n2\nafter\n"
    [record] = result.shell_errors
    assert (record["action"], record["status"], record["pipestatus"]) == ("sigpipe", 141, [141, 0])


def test_line_numbers_count_here_documents_and_continuations(tmp_path: Path) -> None:
    script = "cat > x.txt << 'EOF'\na\nb\nEOF\necho data \\\n  | grep nothing\necho never\n"
    result, _ = run(tmp_path, "r", script)
    [record] = result.shell_errors
    assert (record["line"], record["pipestatus"]) == (6, [0, 1])  # bash names the line where the last stage starts


def test_a_failure_in_a_function_or_subshell_is_caught_where_it_happens(tmp_path: Path) -> None:
    result, log = run(tmp_path, "r", "f() {\n  false\n  echo no\n}\nf\necho never\n")
    assert (result.exit_code, log) == (1, "")
    assert result.shell_errors[0]["line"] == 2
    result, log = run(tmp_path, "s", "( cd /nonexistent-for-sure; echo no )\necho never\n")
    assert (result.exit_code, log.count("no\n")) == (1, 0)
    assert result.shell_errors[0]["line"] == 1


def test_a_script_that_changes_ifs_or_sets_nounset_is_still_read_right(tmp_path: Path) -> None:
    result, _ = run(tmp_path, "r", "IFS=:\nset -u\ntrue | false\n")
    assert result.shell_errors[0]["pipestatus"] == [0, 1]


def test_an_expected_crash_goes_on_and_anything_else_still_stops(tmp_path: Path) -> None:
    result, log = run(tmp_path, "r", "sh -c 'kill -ABRT $$' | cat\necho after\n", expect_crash=True)
    assert (result.outcome, result.exit_code) == ("ok", 0)
    assert log.endswith("after\n")
    assert result.shell_errors[0]["action"] == "expected_crash"
    result, log = run(tmp_path, "s", "sh -c 'exit 1' | cat\necho after\n", expect_crash=True)
    assert (result.exit_code, "after" in log) == (1, False)
    assert result.shell_errors[0]["action"] == "exit"
    result, _ = run(tmp_path, "t", "sh -c 'kill -ABRT $$' | cat\necho after\n")  # not expected: it stops
    assert result.exit_code == 134 and result.shell_errors[0]["action"] == "exit"


@pytest.fixture(scope="module")
def accounting() -> RunbookFile:
    return load_runbook(RUNBOOK)


@pytest.fixture
def executor(tmp_path: Path, accounting: RunbookFile) -> StepExecutor:
    work = tmp_path / "work"
    work.mkdir()
    session = Session.create(tmp_path / "state", accounting, {"repo": str(work)})
    session.accept_setup()
    return StepExecutor(session, nice=0)


def step(executor: StepExecutor, step_id: str) -> StepResult:
    result = executor.run(step_id, confirmed=True)
    assert isinstance(result, StepResult)
    return result


def test_tolerated_failures_pass(executor: StepExecutor) -> None:
    result = step(executor, "tolerated")
    assert (result.status, result.summary) == (StepStatus.PASSED, "all commands succeeded")


@pytest.mark.parametrize(
    ("step_id", "expected"),
    [
        ("notfound", "no-such-program-anywhere was not found (exit status 127) at the command, line 2"),
        ("pipeline", "grep exited with status 1 at the command, line 5 (cat data.txt …)"),  # where it starts
        ("wrapped", "sh exited with status 3 at the command, line 1 (nice -n 0 sh -c 'exit 3' | tee wrapped.log)"),
        ("signal", "sh was killed by SIGSEGV (exit status 139) at the command, line 2 (sh -c 'kill -SEGV $$')"),
        ("two", "at command 1 of 2, line 2"),
        ("last", "false exited with status 1 at the command, line 1 (false)"),
        ("crash-other", "sh exited with status 2 at the command, line 1"),
    ],
)
def test_a_step_fails_naming_the_line_and_the_program(executor: StepExecutor, step_id: str, expected: str) -> None:
    result = step(executor, step_id)
    assert result.status is StepStatus.FAILED
    assert expected in result.summary, result.summary
    assert "all commands succeeded" not in result.summary
    line = result.evidence["failed_line"]
    assert line["line"] is not None and line["program"]


def test_the_second_command_never_runs_after_the_first_failed(executor: StepExecutor) -> None:
    step(executor, "two")
    runs = executor.session.state.attempt_runs("two")
    assert [r.index for r in runs] == [0]


def test_an_expected_crash_passes_saying_so_and_the_next_line_runs(executor: StepExecutor) -> None:
    result = step(executor, "crash")
    assert result.status is StepStatus.PASSED
    assert result.summary.startswith("crashed as expected for the diagnosis: line 1 (sh -c 'kill -ABRT $$' 2>&1 |")
    assert "SIGABRT" in result.summary
    assert (executor.workdir() / "after-crash.txt").is_file()


def test_sigpipe_on_the_last_line_passes(executor: StepExecutor) -> None:
    result = step(executor, "head")
    assert result.status is StepStatus.PASSED, result.summary
    [run] = executor.session.state.attempt_runs("head")
    assert run.exit_code == 141 and run.shell_errors[0]["action"] == "sigpipe"  # what bash said, kept as said


def test_a_test_step_blames_the_tee_or_the_setup_line_not_the_program(executor: StepExecutor) -> None:
    tee = step(executor, "test-tee")
    assert tee.status is StepStatus.FAILED and tee.summary.startswith("tee exited with status 1"), tee.summary
    setup = step(executor, "test-setup")
    assert setup.status is StepStatus.FAILED
    assert setup.summary.startswith("cd exited with status 1 at command 1 of 2, line 1"), setup.summary


def test_a_command_that_cannot_start_fails_the_step_with_the_reason(executor: StepExecutor) -> None:
    runs = executor.session.runs_dir
    runs.rmdir()
    runs.write_text("not a folder\n")  # no run folder can be made: the command never starts
    result = step(executor, "tolerated")
    assert result.status is StepStatus.FAILED
    assert "could not be started" in result.summary and "cannot prepare" in result.summary
    assert executor.session.state.step("tolerated").status is StepStatus.FAILED  # not left running
