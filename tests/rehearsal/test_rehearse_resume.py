"""Resume is one command: which rehearsal ``amxwizard rehearse`` (and plain ``amxwizard``) comes back to, what
``sessions`` prints to resume each, and what the wizard says on its way out when the plain command would not find
the session again. Real sandboxes, real sessions, the real CLI for ``sessions``."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from amxwizard.commands import rehearse as rh
from amxwizard.commands import tui
from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.session import Session, list_sessions
from amxwizard.engine.steps.base import Blocked
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import RunbookFile


def _sandbox(root: Path) -> dict[str, str]:
    """A sandbox as ``rehearse`` leaves it: built, with its marker."""
    sandbox = build_sandbox(root)
    (root / rh.MARKER).write_text(json.dumps({"overrides": sandbox.overrides, "head": sandbox.head}), encoding="utf-8")
    return sandbox.overrides


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own, as ``rehearse`` sees it ($TMPDIR), and no state folder from outside."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads $TMPDIR again
    monkeypatch.delenv("AMXWIZARD_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_plain_rehearse_resumes_the_latest_unfinished_one_in_the_temporary_folder(
    temp_dir: Path, runbook_file: RunbookFile
) -> None:
    older, newer = temp_dir / f"{rh.PREFIX}older", temp_dir / f"{rh.PREFIX}newer"
    with Session.create(older / "state", runbook_file, _sandbox(older)):
        pass
    with Session.create(newer / "state", runbook_file, _sandbox(newer)) as session:
        session.accept_setup()
        result = StepExecutor(session).run("1.0", confirmed=True)
        assert not isinstance(result, Blocked)
        # Quit here: the plain command finds it again, so nothing but where it was left is said.
        left = rh._after(newer, newer / "state", False)(session)
    assert left == f"amxwizard: the rehearsal in {newer} left at step 1.1 (1 of 24 steps done)"

    found = rh.latest_rehearsal(rh.env_state())
    assert found is not None and found.root == newer and found.state == newer / "state"
    assert [r.root for r in rh.rehearsals(None)] == [older, newer]
    # The older one is still reachable, by its folder (once opened, it is the latest again).
    assert rh._come_back(older, older / "state", False) == f"amxwizard rehearse {older}"
    assert rh._come_back(newer, newer / "state", False) == ""


def test_the_state_dir_of_the_environment_is_honoured_and_named_when_it_is_not(
    temp_dir: Path, runbook_file: RunbookFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, state = temp_dir / "elsewhere" / "sandbox", temp_dir / "states"
    with Session.create(state, runbook_file, _sandbox(root)) as session:
        # --state-dir given, no environment: the plain command would not look there; the way back names it.
        line = rh._after(root, state, True)(session)
        assert line.endswith(f"; come back with: amxwizard rehearse {root} --state-dir {state}")
        assert rh.latest_rehearsal(rh.env_state()) is None

        monkeypatch.setenv("AMXWIZARD_STATE_DIR", str(state))
        found = rh.latest_rehearsal(rh.env_state())
        assert found is not None and found.root == root and found.info.id == session.id
        assert (
            rh._after(root, state, True)(session)
            == f"amxwizard: the rehearsal in {root} left at step 1.0 (0 of 24 steps done)"
        )


def test_a_finished_rehearsal_is_not_resumed(temp_dir: Path, runbook_file: RunbookFile) -> None:
    root = temp_dir / f"{rh.PREFIX}done"
    with Session.create(root / "state", runbook_file, _sandbox(root)) as session:
        session.finish()
        assert rh._after(root, root / "state", False)(session) == (
            f"amxwizard: the rehearsal in {root} is finished; 'amxwizard rehearse --new' builds a fresh one"
        )
    assert rh.latest_rehearsal(None) is None


def test_plain_amxwizard_in_a_repository_finds_its_session(
    temp_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    repo = tmp_path / "checkout"
    (repo / "ggml" / "src").mkdir(parents=True)
    state = tmp_path / "state"
    with Session.create(state, runbook_file, {"repo": str(repo)}) as session:
        pass
    assert (found := tui.session_here(state, repo / "ggml" / "src")) is not None and found.id == session.id
    assert tui.session_here(state, tmp_path) is None  # outside the repository: not this one
    info = next(i for i in list_sessions(state) if i.id == session.id)
    assert shlex.split(tui.resume_command(info, state)) == [
        "amxwizard",
        "--session",
        session.id,
        "--state-dir",
        str(state),
    ]


def test_sessions_shows_how_to_resume_each(temp_dir: Path, runbook_file: RunbookFile, tmp_path: Path) -> None:
    state = tmp_path / "state"
    root = tmp_path / "sandbox"
    with Session.create(state, runbook_file, _sandbox(root)) as rehearsal:
        pass
    repo = tmp_path / "checkout"
    repo.mkdir()
    with Session.create(state, runbook_file, {"repo": str(repo)}) as real:
        pass
    with Session.create(state, runbook_file, {"repo": str(repo)}) as finished:
        finished.finish()
    result = subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", "sessions", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    resumes = {
        lines[i - 1].split()[0]: line.split("resume: ", 1)[1] for i, line in enumerate(lines) if "resume:" in line
    }
    assert resumes == {
        rehearsal.id: f"amxwizard rehearse {root} --state-dir {state}",
        real.id: f"amxwizard --session {real.id} --state-dir {state}",
    }  # the finished one has nothing to resume


def test_rehearse_new_builds_a_fresh_one_and_the_state_dir_of_the_environment_holds_them(tmp_path: Path) -> None:
    """Through a real terminal: ``--new`` builds a second sandbox, ``$AMXWIZARD_STATE_DIR`` keeps both sessions,
    and the plain command then resumes the newer one."""
    from tests.test_readme import Terminal

    exe = shutil.which("amxwizard", path=str(Path(sys.executable).parent)) or "amxwizard"
    states = tmp_path / "states"
    env = {**os.environ, "TMPDIR": str(tmp_path), "AMXWIZARD_STATE_DIR": str(states)}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")

    def sandboxes() -> list[Path]:
        return sorted(p for p in tmp_path.iterdir() if p.name.startswith(rh.PREFIX))

    def walk(*args: str, expect: bytes = b"Setup") -> bytes:
        term = Terminal([exe, "rehearse", *args], tmp_path, env)
        try:
            term.wait_for(expect)
            term.wait_for(b"Quit", since=0)  # the footer is drawn: the keys reach the wizard, not the tty driver
            term.press(b"\x11")  # ctrl+q
            assert term.exit_code() == 0
            return term.seen
        finally:
            term.close()

    walk()
    first = sandboxes()
    assert len(first) == 1
    walk("--new")
    both = sandboxes()
    assert len(both) == 2
    newer = next(p for p in both if p not in first)
    assert len(list_sessions(states)) == 2  # both in the environment's state folder
    assert not any((p / "state" / "sessions").exists() for p in both)

    # Its setup screen, shown once the session is open (the first frame may be the outline alone, drawn while it
    # opens); the banner says which rehearsal was resumed, and so does the line left when the wizard closes.
    seen = walk(expect=b"Nothing runs until you accept")
    assert sandboxes() == both  # nothing new built
    assert f"resuming the rehearsal in {newer}".encode() in seen


def test_plain_amxwizard_in_the_repository_resumes_its_session(tmp_path: Path) -> None:
    """Through a real terminal: a session set up with ``setup --accept``, then plain ``amxwizard`` from a folder
    inside its repository opens it on its next step (no setup), and on quit says where it was left."""
    from tests.test_readme import Terminal

    exe = shutil.which("amxwizard", path=str(Path(sys.executable).parent)) or "amxwizard"
    env = {k: v for k, v in os.environ.items() if k != "AMXWIZARD_STATE_DIR"}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    sandbox = build_sandbox(tmp_path / "sandbox")
    words = [w for name, value in sandbox.overrides.items() for w in ("--var", f"{name}={value}")]
    setup = subprocess.run(
        [exe, "setup", *words, "--accept", "--force"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    (session,) = list_sessions(tmp_path / "xdg" / "amxwizard")

    term = Terminal([exe], sandbox.repo / "ggml" / "src", env)
    try:
        term.wait_for(b"Quit")
        # The main screen (its top bar counts the steps passed; the first frame, drawn while the session opens,
        # shows none), opened on the checklist: no setup again.
        term.wait_for(b"passed of", since=0)
        term.wait_for(b"Checklist", since=0)
        assert b"Setup " not in term.seen
        term.press(b"\x11")
        assert term.exit_code() == 0
    finally:
        term.close()
    said = term.seen.decode("utf-8", "replace")
    assert f"amxwizard: session {session.id} left at step 1.0 (0 of 24 steps done)" in said
    assert "come back with" not in said  # the plain command finds it again
    assert len(list_sessions(tmp_path / "xdg" / "amxwizard")) == 1
