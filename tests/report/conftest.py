"""Sessions played once per test run (real commands, real logs) and the CLI as a real process."""

from __future__ import annotations

import json
import os
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


REVIEWER_ENV = {"USER": "alice", "LOGNAME": "alice"}  # a reviewer is another person than the one who ran it


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``amxwizard ARGS`` as a real process (``env`` added to this one's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})},
    )


def report(session: PlayedSession, fmt: str, out: Path, *extra: str) -> Path:
    """Write the session's record with the real CLI (``extra`` arguments added); fails the test if it fails."""
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
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _played(
    root: Path, runbook_file: RunbookFile, stop_before: str | None, skips: dict[str, str] | None = None, **kw: bool
) -> PlayedSession:
    sandbox = make_sandbox(root / "sandbox")
    state = root / "state"
    session = Session.create(state, runbook_file, sandbox.overrides)
    try:
        play(session, sandbox, stop_before=stop_before, skips=skips, **kw)
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
def complete_session(tmp_path_factory: pytest.TempPathFactory, runbook_file: RunbookFile) -> PlayedSession:
    """The whole runbook played to the end with nothing skipped: every criterion met, the checklist confirmed."""
    return _played(tmp_path_factory.mktemp("complete"), runbook_file, None, skips={})


@dataclass(frozen=True)
class KeyPair:
    """A real ssh-keygen key pair, and its line in an allowed-signers file."""

    private: Path
    principal: str

    @property
    def allowed_line(self) -> str:
        public = self.private.with_suffix(".pub").read_text(encoding="utf-8").strip()
        return f'{self.principal} namespaces="amxwizard-record" {public}'


def make_key(folder: Path, name: str) -> KeyPair:
    """A new ed25519 key pair made by ssh-keygen (no passphrase) for ``name@example.com``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return KeyPair(key, f"{name}@example.com")


def allowed_signers(path: Path, *keys: KeyPair) -> Path:
    """git's allowed-signers file naming ``keys``."""
    path.write_text("".join(k.allowed_line + "\n" for k in keys), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    """Key pairs of the operator, a reviewer and a forger, made once with the real ssh-keygen."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, name) for name in ("operator", "reviewer", "mallory")}


@pytest.fixture(scope="session")
def signed_json(
    complete_session: PlayedSession, keys: dict[str, KeyPair], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The complete session's JSON record, signed with the operator's key by ``amxwizard report --sign-key``."""
    out = tmp_path_factory.mktemp("signed") / "record.json"
    return report(complete_session, "json", out, "--sign-key", str(keys["operator"].private))


@pytest.fixture(scope="session")
def full_json(full_session: PlayedSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full session's JSON record, written once by the CLI; tests copy it before changing anything."""
    return report(full_session, "json", tmp_path_factory.mktemp("record") / "record.json")
