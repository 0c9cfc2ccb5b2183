"""``amxwizard [RUNBOOK]``: open the wizard, on the session of the repository you stand in when there is one."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import (
    CommandError,
    find_session,
    load_or_exit,
    open_found,
    open_session,
    parse_vars,
    runbook_path,
    say_recovery,
    session_by_id,
    session_runbook,
    state_dir,
)

if TYPE_CHECKING:
    from ..engine.notify import NotifySettings
    from ..engine.session import Session, SessionInfo
    from ..runbook import RunbookFile
    from ..runbook.cache import Outline
    from ..ui.app import WizardApp

Notify = tuple[str | None, str | None, str | None]  # --notify, --notify-command, --notify-after


def default_nice() -> int:
    """Children's nice level: $AMXWIZARD_NICE, else 10 (a big build must not starve the UI on a small machine)."""
    try:
        return int(os.environ.get("AMXWIZARD_NICE", "10"))
    except ValueError:
        return 10


def _needs_terminal() -> None:
    if not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
        raise CommandError(
            "the wizard needs a terminal; without one use 'amxwizard status' and "
            "'amxwizard step ID' (same session, same record)",
            2,
        )


def command_line(words: Sequence[str]) -> str:
    """Words as one shell command line a person can paste."""
    return " ".join(shlex.quote(word) for word in words)


def state_words(state: Path) -> list[str]:
    """``--state-dir STATE`` unless ``state`` is where sessions are looked for without it."""
    return [] if state == state_dir(None) else ["--state-dir", str(state)]


def resume_command(info: SessionInfo, state: Path) -> str:
    """The command that opens the wizard on this very session, from any folder."""
    from .rehearse import sandbox_of

    sandbox = sandbox_of(info.target)
    if sandbox is not None:
        extra = [] if state == sandbox / "state" else ["--state-dir", str(state)]
        return command_line(["amxwizard", "rehearse", str(sandbox), *extra])
    return command_line(["amxwizard", "--session", info.id, *state_words(state)])


def _inside(folder: Path, target: str) -> bool:
    if not target:
        return False
    try:
        return folder.resolve().is_relative_to(Path(target).expanduser().resolve())
    except (OSError, RuntimeError):
        return False


def session_here(state: Path, cwd: Path | None = None) -> SessionInfo | None:
    """The latest unfinished session whose target folder (the repository) holds ``cwd``: what plain ``amxwizard``
    resumes in a repository."""
    from ..engine.session import list_sessions

    here = cwd or Path.cwd()
    found = [i for i in list_sessions(state) if not i.finished and _inside(here, i.target)]
    return found[-1] if found else None


def plain_session(state: Path) -> SessionInfo | None:
    """The session plain ``amxwizard`` (no arguments) opens from this folder: the repository's own, else the latest
    unfinished one of the runbook this folder offers."""
    from ..engine.session import latest_session
    from ..runbook import RunbookError, load_runbook
    from . import runbook_path

    here = session_here(state)
    if here is not None:
        return here
    path, display = runbook_path(None)
    try:
        runbook = load_runbook(path, display=display)
    except (RunbookError, OSError):
        return None
    return latest_session(state, runbook, {})


def launch_session(
    session: Session,
    *,
    nice: int | None = None,
    notes: Sequence[str] = (),
    come_back: Callable[[Session], str | None] | None = None,
    notify: Notify = (None, None, None),
) -> int:
    """Run the TUI on an open session until the person quits; then say where it was left and, when plain
    ``amxwizard`` (or ``amxwizard rehearse``) would not find it again, how to come back.

    ``notify``: the command line's ``--notify``, ``--notify-command`` and ``--notify-after`` (saved with the
    session when given).
    """
    settings = _apply_flags(session, notify)
    from ..ui.app import WizardApp

    app = WizardApp(session, nice=default_nice() if nice is None else nice, notes=list(notes), notify=settings)
    return _run(app, come_back)


def launch_opening(
    outline: Outline,
    opener: Callable[[], Session],
    *,
    notes: Callable[[Session], list[str]] | None = None,
    come_back: Callable[[Session], str | None] | None = None,
    notify: Notify = (None, None, None),
) -> int:
    """Run the TUI from its first frame (``outline``, from the runbook cache) while ``opener`` opens the session
    in a worker thread; what it raises is reported here, as one line, once the terminal is given back. ``notes``:
    the banner's notices about the opened session."""
    from ..ui.app import Opening, WizardApp

    def opened() -> Session:
        session = opener()
        _apply_flags(session, notify)  # saved with the session: the app reads them from there
        return session

    app = WizardApp(opening=Opening(outline, opened, notes), nice=default_nice())

    def notes_then_come_back(session: Session) -> str | None:
        # The notes as they were when the session opened (its banner said them), kept in the terminal's history.
        for note in app.opened_notes:
            print(f"amxwizard: {note}", file=sys.stderr)
        return come_back(session) if come_back is not None else None

    code = _run(app, notes_then_come_back)
    if app.is_open:
        say_recovery(app.session)  # said on the screen as it opened; here it stays in the terminal's history
    return code


def _apply_flags(session: Session, notify: Notify) -> NotifySettings:
    """The session's notification settings with the command line's changes (saved with it); the session is closed
    if they cannot be."""
    from .notify import apply_flags

    try:
        return apply_flags(session.dir, *notify)
    except CommandError:
        session.close()
        raise


def _run(app: WizardApp, come_back: Callable[[Session], str | None] | None) -> int:
    try:
        app.run()
    finally:
        if app.is_open:
            app.session.close()
    if app.open_error is not None:
        raise app.open_error
    if not app.is_open:  # quit before the session opened (the worker that opened it closed it)
        return 0
    if come_back is not None:
        line = come_back(app.session)
        if line:
            print(line)
    return app.return_code or 0


def where_left(session: Session) -> str:
    """Where a session stands, in a few words: "at step 1.4 (3 of 24 steps done)"."""
    from ..engine.state import StepStatus

    steps = [s for _, s in session.runbook.model.iter_steps()]
    done = sum(1 for s in steps if session.state.step(s.id).status.done)
    running = next((s.id for s in steps if session.state.step(s.id).status is StepStatus.RUNNING), None)
    pending = next((s.id for s in steps if not session.state.step(s.id).status.done), None)
    if running:
        at = f"with {running} still running"
    elif pending:
        at = f"at step {pending}"
    else:
        at = "with every step done"
    return f"{at} ({done} of {len(steps)} steps done)"


def launch(
    runbook: RunbookFile,
    state: Path,
    overrides: Mapping[str, str],
    *,
    new: bool = False,
    nice: int | None = None,
    notify: Notify = (None, None, None),
) -> int:
    """Open (or resume) a session for ``runbook`` under ``state`` and run the TUI until the person quits."""
    from .notify import check_flags

    check_flags(*notify)
    _needs_terminal()
    session = open_session(runbook, state, dict(overrides), new=new)
    return launch_session(session, nice=nice, come_back=lambda s: _come_back(s, state), notify=notify)


def _come_back(session: Session, state: Path) -> str | None:
    """After quitting: where the session was left, and the command back unless plain ``amxwizard`` here finds it."""
    from ..engine.session import list_sessions

    info = next((i for i in list_sessions(state) if i.id == session.id), None)
    if info is None or info.finished:
        return None
    plain = plain_session(state) if state == state_dir(None) else None
    if plain is not None and plain.id == session.id:
        return f"amxwizard: session {session.id} left {where_left(session)}"
    return f"amxwizard: session {session.id} left {where_left(session)}; come back with: {resume_command(info, state)}"


def run(args: argparse.Namespace) -> int:
    # Imports stay in the functions that need them: the first frame is drawn before the engine is imported.
    from ..runbook.cache import read_outline
    from .notify import check_flags

    state = state_dir(args.state_dir)
    overrides = parse_vars(args.var)
    notify = (args.notify, args.notify_command, args.notify_after)
    check_flags(*notify)
    come_back: Callable[[Session], str | None] = lambda s: _come_back(s, state)  # noqa: E731
    if args.session:
        info: SessionInfo | None = None if args.runbook else session_by_id(state, args.session)
    elif not args.new and not args.runbook and not overrides:
        # In a repository with a session of its own, plain `amxwizard` resumes that one, with the runbook it began
        # with (its copy), whichever runbook this folder would offer.
        info = session_here(state)
    else:
        info = None
    if info is None and not args.session:
        # A runbook's session (the latest unfinished one, else a new one).
        outline = read_outline(runbook_path(args.runbook)[0])
        if outline is None:
            return launch(load_or_exit(args.runbook, cached=True), state, overrides, new=args.new, notify=notify)
        _needs_terminal()

        def open_latest() -> Session:
            runbook = load_or_exit(args.runbook, cached=True)
            return open_session(runbook, state, dict(overrides), new=args.new, say=False)

        return launch_opening(outline, open_latest, come_back=come_back, notify=notify)
    found = info

    def open_it(*, say: bool = True) -> Session:
        if found is not None:
            session = open_found(found, session_runbook(found), say=say)
        else:
            session = open_found(*find_session(state, args.runbook, args.session), say=say)
        if overrides:
            from ..engine.session import SessionError
            from ..runbook.variables import VariableError

            try:
                session.set_variables(overrides)
            except (VariableError, SessionError) as exc:
                session.close()
                raise CommandError(str(exc)) from None
        return session

    outline = read_outline(found.dir / "runbook.yaml") if found is not None else None
    _needs_terminal()
    if outline is not None:
        return launch_opening(outline, lambda: open_it(say=False), come_back=come_back, notify=notify)
    return launch_session(open_it(), come_back=come_back, notify=notify)
