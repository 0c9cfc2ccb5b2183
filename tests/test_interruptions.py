"""After any interruption every entry point tells the truth, and nothing that ran is run twice.

Real processes throughout: ``amxwizard step`` is SIGKILLed at random moments (or its terminal is closed under it),
the commands it started go on in their own sessions, then ``amxwizard status --json`` alone must agree with the run
folders (state and exit code of every run, never ``running`` for a run that ended), and ``amxwizard step`` again
must not start a second attempt of a command whose run finished.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine.runner import EXIT_FILE, META_FILE, PROCESS_FILE, read_exit_code
from amxwizard.engine.runs import find_wrapper
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile, load_runbook

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
RUNBOOK = Path(__file__).resolve().parent / "fixtures" / "interrupt" / "runbook.yaml"
ENV = {**os.environ, "AMXWIZARD_NICE": "0"}


@pytest.fixture(scope="module")
def runbook() -> RunbookFile:
    return load_runbook(RUNBOOK)


@dataclass
class Trial:
    """One session of the two-command step, and how to ask the CLI about it."""

    state: Path
    session: str
    code: int

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AMXWIZARD, *args, "--state-dir", str(self.state), "--runbook", str(RUNBOOK), "--session", self.session],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=ENV,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def argv(self, *args: str) -> list[str]:
        return [AMXWIZARD, *args, "--state-dir", str(self.state), "--runbook", str(RUNBOOK), "--session", self.session]

    @property
    def runs_dir(self) -> Path:
        return self.state / "sessions" / self.session / "runs"

    def folders(self) -> dict[str, dict[str, Any]]:
        """Every run folder: its command index and what it says (exit code, or none)."""
        out: dict[str, dict[str, Any]] = {}
        if not self.runs_dir.is_dir():
            return out
        for folder in sorted(self.runs_dir.iterdir()):
            try:
                meta = json.loads((folder / META_FILE).read_text())
            except (OSError, ValueError):
                meta = {}
            code = read_exit_code(folder)
            log = folder / "output.log"
            untouched = not (folder / PROCESS_FILE).exists() and (not log.exists() or log.stat().st_size == 0)
            out[folder.name] = {
                "index": meta.get("index"),
                "exit_code": code,
                "never_started": code is None and untouched,
            }
        return out

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data["steps"]["work"]


def new_trial(tmp_path: Path, runbook: RunbookFile, name: str, code: int) -> Trial:
    state = tmp_path / name
    work = tmp_path / f"{name}-repo"
    work.mkdir()
    with Session.create(state, runbook, {"repo": str(work), "code": str(code)}) as session:
        session.accept_setup()
    return Trial(state, session.id, code)


def wait_for_runs_to_end(trial: Trial, seconds: float = 30) -> None:
    """The killed wizard's commands go on without it: wait until none of them lives (each wrote its exit code, or
    never started)."""
    deadline = time.monotonic() + seconds
    for folder in sorted(trial.runs_dir.iterdir()) if trial.runs_dir.is_dir() else []:
        while (folder / EXIT_FILE).exists() is False and find_wrapper(folder, wait=0.3) is not None:
            assert time.monotonic() < deadline, f"{folder.name} never ended"
            time.sleep(0.05)


def check_status_matches_the_folders(trial: Trial, context: str) -> dict[str, Any]:
    """``status --json`` alone: every run as its folder says, the step never running without a process."""
    folders = trial.folders()
    step = trial.status()
    assert step["status"] != "running", f"{context}: no process of it lives, yet: {step}"
    listed = {run["run_id"]: run for run in step["runs"]}
    attempt_runs = set(listed)
    for run_id, folder in folders.items():
        if run_id not in attempt_runs:
            continue  # a run of an earlier attempt
        run = listed[run_id]
        assert run["state"] != "running", f"{context}: {run_id} ended, status says {run}"
        assert run["exit_code"] == folder["exit_code"], f"{context}: {run_id}: folder {folder}, status {run}"
    # Every run folder of this attempt is in the log (none started behind its back and forgotten).
    # A folder prepared for a command that never began (empty log, no process, no exit code) is no run of it.
    latest = {r for r, f in folders.items() if f["index"] is not None and not f["never_started"]}
    assert latest <= set(listed) or step["attempts"] > 1, f"{context}: folders {folders} vs {listed}"
    codes = [run["exit_code"] for run in step["runs"]]
    assert step["exit_codes"] == codes
    ran = [run for run in step["runs"] if run["exit_code"] is not None]
    if len(ran) == 2:
        assert codes == [0, trial.code], context
        assert step["status"] == ("passed" if trial.code == 0 else "failed"), f"{context}: {step}"
    elif len(ran) == 1 and codes == [0]:
        assert step["status"] == "interrupted" and step["evidence"].get("resume_at") == 1, f"{context}: {step}"
    elif not step["runs"]:
        assert step["status"] in ("pending", "interrupted"), f"{context}: {step}"
    return step


def check_step_runs_nothing_twice(trial: Trial, before: dict[str, Any], context: str) -> None:
    """``amxwizard step work`` afterwards: the verdict of a finished attempt, or only the commands that never ran.

    The one attempt it may start again is one the killed wizard itself had already judged failed (it died after
    recording the verdict): running a failed step again is what ``step`` is for.
    """
    finished = {f["index"] for f in trial.folders().values() if f["exit_code"] is not None}
    known = set(trial.folders())
    done = trial.cli("step", "work", "--yes")
    new = {name: f for name, f in trial.folders().items() if name not in known}
    output = done.stdout + done.stderr
    if before["status"] == "passed":
        assert not new, f"{context}: a passed step started another attempt: {output}"
        assert done.returncode == (0 if before["settled"] else 3), f"{context}: {output}"
    elif before["status"] == "failed" and before["settled"]:
        # Judged from its logs after the wizard died: that verdict is shown, nothing runs again.
        assert not new, f"{context}: a step judged while no wizard watched started another attempt: {output}"
        assert "work: FAILED" in done.stdout and "--again" in done.stderr, output
    elif before["status"] == "failed":
        assert {f["index"] for f in new.values()} == {0, 1}, f"{context}: {output}"  # a retry, asked for
    else:
        again = {f["index"] for f in new.values()} & finished
        assert not again, f"{context}: command(s) {sorted(again)} ran a second time: {output}"
        assert {f["index"] for f in new.values()} == {0, 1} - finished, f"{context}: {output}"
    after = trial.status()
    assert after["status"] == ("passed" if trial.code == 0 else "failed"), f"{context}: {after} {output}"


def test_kill_9_of_step_at_random_moments_leaves_status_true_and_nothing_run_twice(
    tmp_path: Path, runbook: RunbookFile
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    # How long an uninterrupted `step` lives here (start-up, two commands, judging): kills land within that.
    calibration = new_trial(tmp_path, runbook, "calibration", 0)
    began = time.monotonic()
    assert calibration.cli("step", "work", "--yes").returncode == 0
    lifetime = time.monotonic() - began
    hits = trials = 0
    seen: set[str] = set()
    while hits < 50:
        assert trials < 100, f"only {hits} of {trials} kills landed while the wizard ran (seed {seed})"
        code = rng.choice([0, 0, 3])
        trial = new_trial(tmp_path, runbook, f"t{trials}", code)
        context = f"trial {trials} (seed {seed}, exit {code}, lifetime {lifetime:.2f} s)"
        trials += 1
        wizard = subprocess.Popen(
            trial.argv("step", "work", "--yes"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )
        # Anywhere in the wizard's life: starting up, recording, starting a command, between the two, judging.
        time.sleep(rng.uniform(0.0, lifetime))
        killed = wizard.poll() is None
        if killed:
            wizard.send_signal(signal.SIGKILL)
            hits += 1
        wizard.wait(timeout=60)
        wait_for_runs_to_end(trial)
        before = check_status_matches_the_folders(trial, context)
        if killed:
            seen.add(f"{before['status']}{' (settled)' if before['settled'] else ''}")
        check_step_runs_nothing_twice(trial, before, context)
    # The kills found the step in more than one state (not all before it started, say).
    assert len(seen) >= 2, f"every kill found the step {seen} (seed {seed})"


def _run_on_a_terminal(argv: list[str], close_after: float) -> int:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal, close the terminal after ``close_after``
    seconds (as a closed SSH window does), and return how the process ended (its wait status)."""
    pid, master = pty.fork()
    if pid == 0:  # the child: its session's controlling terminal is the pty
        try:
            os.execve(argv[0], argv, ENV)
        finally:
            os._exit(127)
    deadline = time.monotonic() + close_after
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
    os.close(master)  # the terminal goes away: the kernel hangs up the session
    _, status = os.waitpid(pid, 0)
    return status


def test_closing_the_terminal_under_step_leaves_status_true_and_nothing_run_twice(
    tmp_path: Path, runbook: RunbookFile
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    hung_up = trials = 0
    while hung_up < 10:
        assert trials < 30, f"only {hung_up} of {trials} wizards were hung up mid-step (seed {seed})"
        code = rng.choice([0, 4])
        trial = new_trial(tmp_path, runbook, f"pty{trials}", code)
        context = f"terminal {trials} (seed {seed}, exit {code})"
        trials += 1
        status = _run_on_a_terminal(trial.argv("step", "work", "--yes"), rng.uniform(0.1, 1.0))
        hung_up += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP
        wait_for_runs_to_end(trial)
        before = check_status_matches_the_folders(trial, context)
        check_step_runs_nothing_twice(trial, before, context)


# A wizard killed at one exact point: after the second command's folder is prepared (meta.json written), before its
# wrapper starts. The random kills above land there only now and then.
_KILLED_BEFORE_THE_SECOND_START = """
import os, signal, sys
from pathlib import Path
import amxwizard.engine.runner as runner
from amxwizard.cli import main

real = runner.atomic_write
def atomic_write(path, data, *args, **kwargs):
    real(path, data, *args, **kwargs)
    if Path(path).name == runner.META_FILE and '"index": 1' in str(data):
        os.kill(os.getpid(), signal.SIGKILL)
runner.atomic_write = atomic_write
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("code", [0, 4])
def test_a_command_whose_folder_was_prepared_but_never_started_is_where_the_step_resumes(
    tmp_path: Path, runbook: RunbookFile, code: int
) -> None:
    trial = new_trial(tmp_path, runbook, "prepared", code)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_THE_SECOND_START, *trial.argv("step", "work", "--yes")[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    folders = trial.folders()
    assert sorted((f["index"], f["exit_code"], f["never_started"]) for f in folders.values()) == [
        (0, 0, False),
        (1, None, True),
    ]

    step = check_status_matches_the_folders(trial, "prepared, never started")
    assert step["status"] == "interrupted" and step["evidence"].get("resume_at") == 1, step
    assert [run["command"] for run in step["runs"]] == [0]  # the folder that never ran is no run
    check_step_runs_nothing_twice(trial, step, "prepared, never started")
