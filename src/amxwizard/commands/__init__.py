"""One module per CLI command, each with ``run(args) -> int``. Shared argument handling lives here."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.session import Session
    from ..runbook import RunbookFile


class CommandError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def bundled_runbook() -> Path:
    """The runbook shipped inside the package."""
    return Path(str(resources.files("amxwizard") / "data" / "runbook.yaml"))


def runbook_path(given: str | None) -> tuple[Path, str]:
    """The runbook to use and how to name it in messages: as given, else ./runbook.yaml, else the bundled copy."""
    if given:
        return Path(given), given
    local = Path("runbook.yaml")
    if local.is_file():
        return local, "runbook.yaml"
    return bundled_runbook(), "runbook.yaml (bundled)"


def load_or_exit(given: str | None) -> RunbookFile:
    """Load the runbook or print its located problems and raise :class:`CommandError` (exit 1)."""
    from ..runbook import RunbookError, load_runbook

    path, display = runbook_path(given)
    try:
        return load_runbook(path, display=display if given is None else None)
    except RunbookError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        raise CommandError(f"{n} problem{'s' if n != 1 else ''} in {display}") from None


def state_dir(given: str | None) -> Path:
    """``--state-dir``, else ``$AMXWIZARD_STATE_DIR``, else ``$XDG_STATE_HOME/amxwizard`` (~/.local/state).

    Always absolute: ``{{session_dir}}`` and backup paths are used from other folders (git, step commands).
    """
    from ..engine.fileio import expand_path

    if given:
        return expand_path(given).absolute()
    env = os.environ.get("AMXWIZARD_STATE_DIR")
    if env:
        return expand_path(env).absolute()
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return expand_path(xdg).absolute() / "amxwizard"


def parse_vars(items: list[str]) -> dict[str, str]:
    """``--var`` items as a dict, or :class:`CommandError`."""
    from ..runbook.variables import VariableError, parse_assignments

    try:
        return parse_assignments(items)
    except VariableError as exc:
        raise CommandError(str(exc), 2) from None


def open_session(runbook: RunbookFile, state: Path, overrides: dict[str, str], *, new: bool = False) -> Session:
    """Resume the latest unfinished session for this runbook (or start one), as a clear error if it cannot."""
    from ..engine.session import Session, SessionError
    from ..runbook.variables import VariableError

    try:
        session = Session.resume_or_create(state, runbook, overrides, new=new)
    except (SessionError, VariableError) as exc:
        raise CommandError(str(exc)) from None
    if session.recovery is not None:
        print(f"amxwizard: {session.recovery}", file=sys.stderr)
    return session


def peek_session(runbook: RunbookFile, state: Path) -> Session:
    """The latest session for this runbook, read-only (no lock), or :class:`CommandError` if there is none."""
    from ..engine.session import Session, SessionError, latest_session, list_sessions, runbook_key

    info = latest_session(state, runbook, {})
    if info is None:
        key = runbook_key(runbook)
        done = [s for s in list_sessions(state) if s.runbook_path == key]
        if not done:
            raise CommandError(f"no session for {runbook.display} in {state} (start one with 'amxwizard')")
        info = done[-1]
    try:
        return Session.peek(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
