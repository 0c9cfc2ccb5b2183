"""One module per CLI command, each with ``run(args) -> int``. Shared argument handling lives here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.session import Session, SessionInfo
    from ..runbook import RunbookFile

# Exit codes every command shares (also in `amxwizard --help`).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3


class CommandError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def runbook_path(given: str | None) -> tuple[Path, str]:
    """The runbook to use and how to name it in messages: as given, else ./runbook.yaml, else the bundled copy."""
    if given:
        return Path(given), given
    local = Path("runbook.yaml")
    if local.is_file():
        return local, "runbook.yaml"
    from ..runbook import bundled_runbook

    return bundled_runbook(), "runbook.yaml (bundled)"


def load_or_exit(given: str | None, *, cached: bool = False) -> RunbookFile:
    """Load the runbook or print its located problems and raise :class:`CommandError` (exit 1).

    ``cached``: take the validated model from the runbook cache when this exact file was validated before (the
    wizard's start; see :mod:`amxwizard.runbook.cache`).
    """
    from ..runbook import RunbookError

    path, display = runbook_path(given)
    try:
        if cached:
            from ..runbook.cache import load_cached

            return load_cached(path, display=display if given is None else None)
        from ..runbook import load_runbook

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
    if not items:
        return {}  # without importing the runbook's models (the wizard's start)
    from ..runbook.variables import VariableError, parse_assignments

    try:
        return parse_assignments(items)
    except VariableError as exc:
        raise CommandError(str(exc), 2) from None


def open_session(
    runbook: RunbookFile, state: Path, overrides: dict[str, str], *, new: bool = False, say: bool = True
) -> Session:
    """Resume the latest unfinished session for this runbook (or start one), as a clear error if it cannot.

    ``say``: print what was repaired in its record (``session.recovery``) on stderr now; the wizard, which opens
    sessions while its screen is up, says it on its screen and prints it when it closes.
    """
    from ..engine.session import Session, SessionError
    from ..runbook.variables import VariableError

    try:
        session = Session.resume_or_create(state, runbook, overrides, new=new)
    except (SessionError, VariableError) as exc:
        raise CommandError(str(exc)) from None
    if say:
        say_recovery(session)
    return session


def open_found(info: SessionInfo, runbook: RunbookFile, *, say: bool = True) -> Session:
    """Open a session :func:`find_session` found, as a clear error if it cannot (``say`` as in :func:`open_session`)."""
    from ..engine.session import Session, SessionError

    try:
        session = Session.open(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    if say:
        say_recovery(session)
    return session


def say_recovery(session: Session) -> None:
    """What was repaired in the session's record when it opened, on stderr (one line)."""
    if session.recovery is not None:
        print(f"amxwizard: {session.recovery}", file=sys.stderr)


def session_by_id(state: Path, session_id: str) -> SessionInfo:
    """The session ``--session ID`` names (its id, or the start of exactly one id)."""
    from ..engine.session import list_sessions

    infos = list_sessions(state)
    found = [i for i in infos if i.id == session_id] or [i for i in infos if i.id.startswith(session_id)]
    if len(found) != 1:
        known = ", ".join(i.id for i in infos[-5:]) or "none"
        what = "no session" if not found else "more than one session starts with"
        raise CommandError(f"--session {session_id}: {what} {session_id!r} in {state} (latest: {known})", 2)
    return found[0]


def session_runbook(info: SessionInfo) -> RunbookFile:
    """The runbook a session started with (its own copy), from the runbook cache when it was read before."""
    from ..runbook import RunbookError
    from ..runbook.cache import load_cached

    try:
        return load_cached(info.dir / "runbook.yaml", display=info.runbook_path or "runbook.yaml")
    except RunbookError as exc:
        raise CommandError(f"session {info.id}: its runbook copy cannot be read: {exc}") from None


def find_session(state: Path, runbook_arg: str | None, session_id: str | None) -> tuple[SessionInfo, RunbookFile]:
    """The session a command works on, the same way for every command, and the runbook to read it with.

    ``--session ID`` names it; else the latest unfinished session (else the latest) of ``--runbook`` when one is
    given, else of any runbook. Without ``--runbook`` the session is read with the runbook it started with (its
    own copy), so the command works from any folder.
    """
    from ..engine.session import list_sessions, runbook_key

    runbook = load_or_exit(runbook_arg) if runbook_arg else None
    if session_id:
        info = session_by_id(state, session_id)
    else:
        infos = list_sessions(state)
        key = runbook_key(runbook) if runbook is not None else None
        candidates = [i for i in infos if key is None or i.runbook_path == key]
        unfinished = [i for i in candidates if not i.finished]
        if not candidates:
            where = f" for {runbook.display}" if runbook is not None else ""
            raise CommandError(
                f"no session{where} in {state}: start one with 'amxwizard setup --var NAME=VALUE ... --accept' "
                "(or open the wizard)",
                2,
            )
        info = (unfinished or candidates)[-1]
    return info, runbook if runbook is not None else session_runbook(info)
