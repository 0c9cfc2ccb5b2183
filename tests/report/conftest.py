"""Sessions played once per test run (real commands, real logs) and the CLI as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile

from .play import Sandbox, make_sandbox, play, run_logs

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "runbook.yaml"


@dataclass(frozen=True)
class PlayedSession:
    state_dir: Path
    id: str
    dir: Path
    sandbox: Sandbox
    logs: int
    events: int
    step_ids: tuple[str, ...]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``amxwizard ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def report(session: PlayedSession, fmt: str, out: Path) -> Path:
    """Write the session's record with the real CLI; fails the test if the command fails."""
    done = cli(
        "report",
        "--runbook",
        str(RUNBOOK),
        "--state-dir",
        str(session.state_dir),
        "--session",
        session.id,
        "--format",
        fmt,
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _played(root: Path, runbook_file: RunbookFile, stop_before: str | None) -> PlayedSession:
    sandbox = make_sandbox(root / "sandbox")
    state = root / "state"
    session = Session.create(state, runbook_file, sandbox.overrides)
    try:
        play(session, sandbox, stop_before=stop_before)
        played = PlayedSession(
            state,
            session.id,
            session.dir,
            sandbox,
            run_logs(session),
            session.state.last_seq,
            tuple(step.id for _, step in runbook_file.model.iter_steps()),
        )
    finally:
        session.close()
    return played


@pytest.fixture(scope="session")
def full_session(tmp_path_factory: pytest.TempPathFactory, runbook_file: RunbookFile) -> PlayedSession:
    """The whole runbook played to the end (test-1 crashes once, test-4 is skipped, approach A is chosen)."""
    return _played(tmp_path_factory.mktemp("full"), runbook_file, None)


@pytest.fixture(scope="session")
def unfinished_session(tmp_path_factory: pytest.TempPathFactory, runbook_file: RunbookFile) -> PlayedSession:
    """The runbook played up to (not including) test-2."""
    return _played(tmp_path_factory.mktemp("unfinished"), runbook_file, "test-2")


@pytest.fixture(scope="session")
def full_json(full_session: PlayedSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full session's JSON record, written once by the CLI; tests copy it before changing anything."""
    return report(full_session, "json", tmp_path_factory.mktemp("record") / "record.json")
