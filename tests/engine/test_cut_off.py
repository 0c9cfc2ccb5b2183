"""A wizard killed (SIGKILL, nothing to clean up) inside a step it does itself — the backup, a code edit — leaves
that step *interrupted* with what it had done, never ``running``, and the next attempt starts clean.

Each kill is real: a child process opens the session and applies the step through the executor, and a hook placed
at one exact point of the work sends SIGKILL to that process. ``amxwizard status --json`` then answers alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from amxwizard.engine.backup import INCOMPLETE_NAME
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox
from amxwizard.runbook import load_runbook

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "runbook.yaml"
AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
ENV = {**os.environ, "AMXWIZARD_NICE": "0"}

# The child: open the session, put SIGKILL at one point of the work, approve and apply the step.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from amxwizard.engine.executor import StepExecutor
    from amxwizard.engine.session import Session
    from amxwizard.engine.steps.base import Approval
    from amxwizard.runbook import load_runbook

    state, session_id, step_id, where = sys.argv[1:5]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "backup-copy":
        import amxwizard.engine.backup as backup
        backup._git_capture = die  # after every copy is written, before the manifest: the folder is half made
    elif where == "after-edit":
        from amxwizard.engine.steps.context import StepContext
        real = StepContext.finish
        def finish(self, step, *args, **kwargs):
            if step.id == step_id:
                die()
            return real(self, step, *args, **kwargs)
        StepContext.finish = finish  # the edit is made and recorded; the verdict never is

    session = Session.open(Path(state) / "sessions" / session_id, load_runbook(sys.argv[5]))
    executor = StepExecutor(session, nice=0)
    plan = executor.plan(step_id)
    executor.apply(plan, Approval(confirmed=True))
    print("not killed")
    """
)


def _session(tmp_path: Path) -> tuple[Sandbox, Path, str]:
    sandbox = build_sandbox(tmp_path / "sandbox")
    state = tmp_path / "state"
    values = {**sandbox.overrides, "backup_root": str(tmp_path / "backups")}
    with Session.create(state, load_runbook(RUNBOOK), values) as session:
        session.accept_setup()
    return sandbox, state, session.id


def _kill_inside(state: Path, session_id: str, step: str, where: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(state), session_id, step, where, str(RUNBOOK)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr


def _cli(state: Path, session_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [AMXWIZARD, *args, "--state-dir", str(state), "--runbook", str(RUNBOOK), "--session", session_id],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _status(state: Path, session_id: str, step: str) -> dict[str, Any]:
    done = _cli(state, session_id, "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    data: dict[str, Any] = json.loads(done.stdout)["steps"][step]
    return data


def test_a_backup_killed_half_way_is_interrupted_marked_incomplete_and_made_anew(tmp_path: Path) -> None:
    _sandbox, state, session_id = _session(tmp_path)
    _kill_inside(state, session_id, "1.1", "backup-copy")

    step = _status(state, session_id, "1.1")
    assert step["status"] == "interrupted", step
    assert "the backup was not finished" in step["summary"] and "INCOMPLETE" in step["summary"], step
    [half] = [p.parent for p in (tmp_path / "backups").glob(f"*/{INCOMPLETE_NAME}")]
    assert str(half) in step["summary"]

    again = _cli(state, session_id, "step", "1.1", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    made = Path(_status(state, session_id, "1.1")["evidence"]["dir"])
    assert made != half and made.parent == half.parent  # a new folder, never the half-made one
    assert not (made / INCOMPLETE_NAME).exists()
    assert (half / INCOMPLETE_NAME).exists()  # the half-made folder stays marked


def test_a_code_edit_killed_before_its_verdict_is_interrupted_naming_the_file_it_changed(tmp_path: Path) -> None:
    _sandbox, state, session_id = _session(tmp_path)
    backup = _cli(state, session_id, "step", "1.1", "--yes")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    _kill_inside(state, session_id, "1.2", "after-edit")

    step = _status(state, session_id, "1.2")
    assert step["status"] == "interrupted", step
    assert "it had changed" in step["summary"] and "ggml" in step["summary"], step

    again = _cli(state, session_id, "step", "1.2", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _status(state, session_id, "1.2")["status"] == "passed"


def test_plain_status_never_shows_running_after_the_kill(tmp_path: Path) -> None:
    step_id = "1.1"
    _sandbox, state, session_id = _session(tmp_path)
    _kill_inside(state, session_id, step_id, "backup-copy")
    listing = _cli(state, session_id, "status")
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if step_id in line.split()[:2])
    assert "running" not in line and "interrupted" in line, listing.stdout
