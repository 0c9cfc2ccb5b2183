"""Runs inside a session: recorded starts and ends, exports across steps and resumes, and reconcile after a wizard
died (killed, or its terminal closed)."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import git
import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.runner import CommandRunner
from amxwizard.engine.runs import finish_reattached, git_snapshot, reconcile, run_command
from amxwizard.engine.session import Session, SessionLocked
from amxwizard.engine.state import StepStatus
from amxwizard.runbook import RunbookFile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runner"


def events_of(session: Session, kind: str) -> list[dict[str, Any]]:
    return [event.data for event in session.store.events() if event.kind == kind]


def eventually(condition: Any, seconds: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.02)


def open_when_free(folder: Path, runbook: RunbookFile, seconds: float = 30) -> Session:
    """Open a session as soon as the wizard that held it is gone."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return Session.open(folder, runbook)
        except SessionLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_repo(path: Path) -> git.Repo:
    path.mkdir()
    repo = git.Repo.init(path)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.invalid")
    (path / "tracked.txt").write_text("one\n")
    repo.index.add(["tracked.txt"])
    repo.index.commit("first")
    return repo


def test_run_command_records_start_and_end_with_git_snapshots(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    repo = make_repo(tmp_path / "repo")
    lines: list[str] = []
    seen_handles = []
    with Session.create(state_dir, runbook_file) as session:
        session.record(ev.StepStarted(step="4.2"))
        result = run_command(
            session,
            "4.2",
            0,
            "echo building; echo two >> tracked.txt; exit 5",
            tmp_path / "repo",
            on_output=lines.extend,
            on_started=seen_handles.append,
        )

        assert (result.outcome, result.exit_code) == ("failed", 5)
        assert lines == ["building"]
        (started,) = events_of(session, "command_started")
        (finished,) = events_of(session, "command_finished")
        run = session.state.runs[started["run_id"]]

    assert started["run_id"].startswith("4.2-1-0-")
    assert started["pid"] == seen_handles[0].started.pid
    assert started["script"] == "echo building; echo two >> tracked.txt; exit 5"
    assert started["cwd"] == str(tmp_path / "repo")
    head = repo.head.commit.hexsha
    assert started["git_before"] == {"head": head, "status_sha256": hashlib.sha256(b"").hexdigest()}
    porcelain = repo.git.status("--porcelain")
    assert porcelain == " M tracked.txt"
    assert finished["git_after"] == {"head": head, "status_sha256": hashlib.sha256(porcelain.encode()).hexdigest()}
    log = Path(started["log"])
    assert log.read_bytes() == b"building\n"
    assert finished["log_sha256"] == hashlib.sha256(b"building\n").hexdigest()
    assert (finished["outcome"], finished["exit_code"], finished["log_size"]) == ("failed", 5, 9)
    assert run.finished and run.exit_code == 5 and run.proc_start == started["proc_start"]


def test_git_snapshot_outside_a_repo_is_empty(tmp_path: Path) -> None:
    assert git_snapshot(tmp_path) == {}
    empty = tmp_path / "empty"
    git.Repo.init(empty)
    assert git_snapshot(empty)["head"] == ""


def test_exports_reach_later_steps_and_survive_a_resume(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    backup_script = 'BACKUP_DIR="$PWD/amx-scheduler-fix-$(date +%s)"\nmkdir -p "$BACKUP_DIR"\necho "$BACKUP_DIR"'
    with Session.create(state_dir, runbook_file) as session:
        folder = session.dir
        session.record(ev.StepStarted(step="1.1"))
        first = run_command(session, "1.1", 0, backup_script, tmp_path, exports=("BACKUP_DIR",))
        backup_dir = first.exports["BACKUP_DIR"]
        assert Path(backup_dir).is_dir()
        assert session.env() == {"BACKUP_DIR": backup_dir}
        session.record(ev.StepStarted(step="2.1"))
        later = run_command(session, "2.1", 0, 'echo "test log" > "$BACKUP_DIR/diag.log"', tmp_path)
        assert later.outcome == "ok"
    assert (Path(backup_dir) / "diag.log").read_text() == "test log\n"

    with Session.open(folder, runbook_file) as resumed:
        lines: list[str] = []
        resumed.record(ev.StepStarted(step="3.1"))
        run_command(resumed, "3.1", 0, 'echo "$BACKUP_DIR"', tmp_path, on_output=lines.extend)
    assert lines == [backup_dir]


def test_run_command_that_cannot_start_is_one_clear_error(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    from amxwizard.engine.session import SessionError

    with Session.create(state_dir, runbook_file) as session:
        with pytest.raises(SessionError, match=r"working folder .*nowhere does not exist"):
            run_command(session, "1.1", 0, "true", tmp_path / "nowhere")
        assert events_of(session, "command_started") == []


# -- a wizard that dies mid-step --------------------------------------------------------------------------------


def start_doomed_session(
    tmp_path: Path, state_dir: Path, runbook: RunbookFile, step: str, script: str
) -> tuple[Path, dict[str, Any]]:
    """A separate wizard process opens a session and starts ``script`` for ``step``; it is SIGKILLed at once."""
    assert runbook.path is not None
    wizard = subprocess.Popen(
        [
            sys.executable,
            str(FIXTURES / "session_run.py"),
            str(state_dir),
            str(runbook.path),
            step,
            str(tmp_path),
            script,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert wizard.stdout is not None
    line = wizard.stdout.readline()
    assert line.startswith("STARTED "), line
    wizard.kill()
    assert wizard.wait() == -signal.SIGKILL
    info = json.loads(line.removeprefix("STARTED "))
    return Path(info["session_dir"]), info


GATED = (
    'for i in $(seq 1 10); do echo "line $i"; done\n'
    "while [ ! -e go ]; do sleep 0.02; done\n"
    'for i in $(seq 11 20); do echo "line $i"; done\n'
)


def test_reconcile_reattaches_a_run_that_is_still_going(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    folder, info = start_doomed_session(tmp_path, state_dir, runbook_file, "5.1", GATED + "exit 0")
    eventually(lambda: (Path(info["run_dir"]) / "output.log").read_text().count("\n") == 10, what="first half")
    lines: list[str] = []
    with open_when_free(folder, runbook_file) as session:
        settled = reconcile(session, lines.extend)
        assert [(r.state, r.run.step) for r in settled] == [("running", "5.1")]
        assert settled[0].handle is not None and settled[0].result is None
        (tmp_path / "go").touch()
        result = finish_reattached(session, settled[0])
        assert (result.outcome, result.exit_code) == ("ok", 0)
        assert lines == [f"line {i}" for i in range(1, 21)]
        (finished,) = events_of(session, "command_finished")
        assert (finished["run_id"], finished["exit_code"]) == (settled[0].run.run_id, 0)
        assert session.state.running_runs() == []
        assert session.state.step("5.1").status is StepStatus.RUNNING  # the step's verdict is not the runner's


def test_reconcile_records_a_run_that_finished_while_nobody_watched(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    folder, info = start_doomed_session(tmp_path, state_dir, runbook_file, "5.2", GATED + "exit 3")
    (tmp_path / "go").touch()
    eventually(lambda: (Path(info["run_dir"]) / "exit_code").exists(), what="the run to end")
    with open_when_free(folder, runbook_file) as session:
        settled = reconcile(session)
        assert [r.state for r in settled] == ["finished"]
        assert settled[0].handle is None
        assert settled[0].result is not None and settled[0].result.exit_code == 3
        (finished,) = events_of(session, "command_finished")
        log = (Path(info["run_dir"]) / "output.log").read_bytes()
        assert (finished["outcome"], finished["exit_code"], finished["log_size"]) == ("failed", 3, len(log))
        assert finished["log_sha256"] == hashlib.sha256(log).hexdigest()
        assert session.state.step("5.2").status is StepStatus.RUNNING
        assert reconcile(session) == []  # settled once, not again


def test_reconcile_marks_a_vanished_run_interrupted_never_passed(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    folder, info = start_doomed_session(tmp_path, state_dir, runbook_file, "5.3", "echo working; sleep 100")
    eventually(lambda: (Path(info["run_dir"]) / "output.log").read_text() == "working\n", what="the run to start")
    os.killpg(info["pid"], signal.SIGKILL)  # the whole group, before the wrapper can write exit_code
    eventually(
        lambda: CommandRunner().probe(Path(info["run_dir"]), pid=info["pid"], proc_start=None, boot_id="") != "running",
        what="the group to die",
    )
    with open_when_free(folder, runbook_file) as session:
        settled = reconcile(session)
        assert [r.state for r in settled] == ["interrupted"]
        (finished,) = events_of(session, "command_finished")
        assert (finished["outcome"], finished["exit_code"]) == ("interrupted", None)
        (step_end,) = events_of(session, "step_finished")
        assert step_end["status"] == "interrupted" and step_end["step"] == "5.3"
        assert "decide" in step_end["summary"]
    with Session.open(folder, runbook_file) as again:
        assert again.state.step("5.3").status is StepStatus.INTERRUPTED
        assert again.state.step("5.3").status is not StepStatus.PASSED


def test_closing_the_terminal_mid_step_leaves_the_command_running(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    assert runbook_file.path is not None
    script = (
        "for i in $(seq 50); do echo $i; sleep 0.05\n"
        "  if [ $i = 10 ]; then while [ ! -e go ]; do sleep 0.02; done; fi\n"
        "done"
    )
    pid, master = pty.fork()
    if pid == 0:  # the fake terminal's wizard
        try:
            os.execv(
                sys.executable,
                [
                    sys.executable,
                    str(FIXTURES / "session_run.py"),
                    str(state_dir),
                    str(runbook_file.path),
                    "6.1",
                    str(tmp_path),
                    script,
                ],
            )
        finally:
            os._exit(127)
    seen = b""
    deadline = time.monotonic() + 60
    while b"\n" not in seen.partition(b"STARTED ")[2]:
        assert time.monotonic() < deadline, f"the wizard never started the step: {seen!r}"
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    info = json.loads(seen.partition(b"STARTED ")[2].partition(b"\n")[0].strip())
    os.close(master)  # the terminal goes away: the kernel hangs up the wizard's session
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP

    (tmp_path / "go").touch()
    with open_when_free(Path(info["session_dir"]), runbook_file) as session:
        settled = reconcile(session)
        assert [r.state for r in settled] == ["running"]
        result = finish_reattached(session, settled[0])
        (finished,) = events_of(session, "command_finished")
    log = (Path(info["run_dir"]) / "output.log").read_text()
    assert log.splitlines() == [str(i) for i in range(1, 51)]
    assert (result.outcome, result.exit_code) == ("ok", 0)
    assert (finished["outcome"], finished["exit_code"]) == ("ok", 0)


def test_a_detached_run_records_no_end_and_is_settled_by_the_next_wizard(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    with Session.create(state_dir, runbook_file) as session:
        folder = session.dir
        session.record(ev.StepStarted(step="7.1"))
        result = run_command(session, "7.1", 0, GATED + "exit 0", tmp_path, on_started=lambda handle: handle.detach())
        assert result.outcome == "detached"
        assert events_of(session, "command_finished") == []
        assert [run.step for run in session.state.running_runs()] == ["7.1"]
    lines: list[str] = []
    with Session.open(folder, runbook_file) as session:
        settled = reconcile(session, lines.extend)
        assert [r.state for r in settled] == ["running"]
        (tmp_path / "go").touch()
        assert finish_reattached(session, settled[0]).outcome == "ok"
        (finished,) = events_of(session, "command_finished")
        assert finished["outcome"] == "ok"
    assert lines == [f"line {i}" for i in range(1, 21)]


def test_a_run_whose_start_never_reached_the_log_is_adopted_not_started_again(
    tmp_path: Path, runbook_file: object
) -> None:
    """A wizard killed between starting a command and recording it: the next wizard adopts the run."""
    from amxwizard.engine.executor import StepExecutor
    from amxwizard.engine.runner import CommandRunner, RunSpec
    from amxwizard.engine.runs import new_run_id, reconcile
    from amxwizard.engine.session import Session

    session = Session.create(tmp_path / "state", runbook_file)  # type: ignore[arg-type]
    session.record(ev.StepStarted(step="1.4"))
    run_id = new_run_id("1.4", 1, 0)
    # What run_command does up to the moment it records the start, and no further.
    handle = CommandRunner().start(
        RunSpec(
            run_id=run_id,
            run_dir=session.runs_dir / run_id,
            script="for i in 1 2 3; do echo built $i; sleep 0.2; done\n",
            cwd=tmp_path,
            meta={"step": "1.4", "index": 0},
        )
    )
    handle.detach()
    assert run_id not in session.state.runs

    [item] = reconcile(session)
    assert item.run.run_id == run_id and item.state in ("running", "finished")
    if item.state == "running":
        from amxwizard.engine.runs import finish_reattached

        finish_reattached(session, item)
    started = [e for e in session.store.events() if e.kind == "command_started"]
    assert len(started) == 1 and started[0].data["recovered"] is True
    assert session.state.runs[run_id].exit_code == 0
    # The step goes on from there: it is judged, not started again.
    result = StepExecutor(session).resume("1.4")
    assert result is not None
    assert [e.data["run_id"] for e in session.store.events() if e.kind == "command_started"] == [run_id]
    session.close()
