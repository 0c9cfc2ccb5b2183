"""``amxwizard rehearse [DIR] [--new] [--state-dir D] [--no-tui]``: walk the runbook in a stand-in sandbox.

The same command comes back to the same rehearsal: without ``--new`` it resumes the latest unfinished one (the same
sandbox, the same session, at the same step) and builds a sandbox only when there is none. A sandbox is known by
the marker file :data:`MARKER` at its top (which also keeps the variables that point the wizard at it); sandboxes
in the temporary folder are found by their name, and the sessions of ``--state-dir`` / ``$AMXWIZARD_STATE_DIR`` by
the sandbox their target lies in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..runbook import bundled_runbook
from . import CommandError, load_or_exit

if TYPE_CHECKING:
    from ..engine.session import Session, SessionInfo
    from ..runbook import RunbookFile

MARKER = ".amxwizard-rehearsal.json"
PREFIX = "amxwizard-rehearsal-"


def continue_command(runbook_path: Path | None, state: Path, overrides: dict[str, str]) -> str:
    """The ``amxwizard`` command line that opens the wizard on the sandbox."""
    from .tui import command_line

    words = ["amxwizard", "tui"]
    if runbook_path is not None:
        words.append(str(runbook_path.absolute()))
    words += ["--state-dir", str(state)]
    for name, value in overrides.items():
        words += ["--var", f"{name}={value}"]
    return command_line(words)


# --- finding rehearsals ----------------------------------------------------------------------------------------


def is_sandbox(folder: Path) -> bool:
    """``folder`` holds a rehearsal sandbox (its marker, or the README every sandbox has, beside its repo)."""
    from ..rehearsal.sandbox import STANDIN_NOTE

    if not (folder / "repo" / ".git").exists():
        return False
    if (folder / MARKER).is_file():
        return True
    try:
        return STANDIN_NOTE in (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return False


def sandbox_of(target: str) -> Path | None:
    """The sandbox a session's target (its repository) lies in, if it is a rehearsal's."""
    if not target:
        return None
    repo = Path(target).expanduser()
    for folder in (repo.parent, *repo.parent.parents[:2]):
        if is_sandbox(folder) and repo.resolve().is_relative_to((folder / "repo").resolve()):
            return folder
    return None


def saved_overrides(root: Path) -> dict[str, str] | None:
    """The variables the sandbox was built with (kept in its marker), or ``None``."""
    try:
        data = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    values = data.get("overrides") if isinstance(data, dict) else None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return None
    return {str(k): v for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class Rehearsal:
    """An unfinished rehearsal: its sandbox, where its sessions live, and the session."""

    root: Path
    state: Path
    info: SessionInfo


def env_state() -> Path | None:
    """``$AMXWIZARD_STATE_DIR``, which ``rehearse`` honours like every other command."""
    from . import state_dir

    return state_dir(None) if os.environ.get("AMXWIZARD_STATE_DIR") else None


def rehearsals(state: Path | None, roots: list[Path] | None = None) -> list[Rehearsal]:
    """Every unfinished rehearsal whose sandbox still exists, oldest activity first: the sessions under ``state``
    whose target is a sandbox, and those in the ``state/`` folder of each sandbox in ``roots`` (default: the
    sandboxes ``rehearse`` made in the temporary folder)."""
    from ..engine.session import list_sessions

    if roots is None:
        roots = sorted(Path(tempfile.gettempdir()).glob(PREFIX + "*"))
    places: list[tuple[Path, Path | None]] = [(state, None)] if state is not None else []
    for candidate in roots:
        try:
            if candidate.is_dir() and candidate.stat().st_uid == os.getuid() and is_sandbox(candidate):
                places.append((candidate / "state", candidate))
        except OSError:
            continue
    found: dict[Path, Rehearsal] = {}
    for folder, root in places:
        for info in list_sessions(folder):
            sandbox = sandbox_of(info.target)
            if info.finished or sandbox is None or (root is not None and sandbox != root):
                continue
            found[info.dir] = Rehearsal(sandbox, folder, info)
    return sorted(found.values(), key=lambda r: (r.info.updated, r.info.created))


def latest_rehearsal(state: Path | None) -> Rehearsal | None:
    """What plain ``amxwizard rehearse`` resumes."""
    found = rehearsals(state)
    return found[-1] if found else None


# --- the command -----------------------------------------------------------------------------------------------


def _open(rehearsal: Rehearsal, *, say: bool = True) -> tuple[Session, RunbookFile]:
    """Open a rehearsal's session with the runbook it began with (its own copy)."""
    from . import find_session, open_found

    info, runbook = find_session(rehearsal.state, None, rehearsal.info.id)
    return open_found(info, runbook, say=say), runbook


def _come_back(root: Path, state: Path, explicit_state: bool) -> str:
    """The shortest command that resumes this rehearsal: plain ``amxwizard rehearse`` when that finds it."""
    from .tui import command_line

    words = ["amxwizard", "rehearse"]
    latest = latest_rehearsal(env_state())
    if latest is not None and latest.root == root and latest.state == state:
        return ""
    words.append(str(root))
    if explicit_state and state != env_state():
        words += ["--state-dir", str(state)]
    return command_line(words)


def _after(root: Path, state: Path, explicit_state: bool) -> Callable[[Session], str | None]:
    def come_back(session: Session) -> str | None:
        from .tui import where_left

        if session.state.finished:
            return f"amxwizard: the rehearsal in {root} is finished; 'amxwizard rehearse --new' builds a fresh one"
        line = f"amxwizard: the rehearsal in {root} left {where_left(session)}"
        again = _come_back(root, state, explicit_state)
        return f"{line}; come back with: {again}" if again else line

    return come_back


def _resume(rehearsal: Rehearsal, explicit_state: bool, how: str) -> int:
    from ..runbook.cache import read_outline
    from .tui import launch_opening, launch_session, where_left

    def note(session: Session) -> str:
        return (
            f"{how} the rehearsal in {rehearsal.root} (session {session.id}, {where_left(session)}); "
            "'amxwizard rehearse --new' builds a fresh one"
        )

    come_back = _after(rehearsal.root, rehearsal.state, explicit_state)
    outline = read_outline(rehearsal.info.dir / "runbook.yaml")
    if outline is not None:  # the first frame from the outline; the note in the banner once the session is open
        return launch_opening(
            outline, lambda: _open(rehearsal, say=False)[0], notes=lambda s: [note(s)], come_back=come_back
        )
    session, _ = _open(rehearsal)
    print(f"amxwizard: {note(session)}", file=sys.stderr)
    return launch_session(session, notes=[note(session)], come_back=come_back)


def run(args: argparse.Namespace) -> int:
    from ..rehearsal.sandbox import SandboxError, build_sandbox
    from .tui import _needs_terminal, command_line

    explicit = Path(args.state_dir).expanduser().absolute() if args.state_dir else env_state()
    root: Path | None = Path(args.directory).expanduser().absolute() if args.directory else None

    if not args.new and not args.no_tui:
        if root is None:
            latest = latest_rehearsal(explicit)
            if latest is not None:
                _needs_terminal()
                return _resume(latest, explicit is not None, "resuming")
        elif is_sandbox(root):
            _needs_terminal()
            state = explicit or root / "state"
            found = rehearsals(state, roots=[]) if explicit else rehearsals(None, roots=[root])
            mine = [r for r in found if r.root == root]
            if mine:
                return _resume(mine[-1], explicit is not None, "resuming")
            overrides = saved_overrides(root)
            if overrides is None:
                raise CommandError(
                    f"no unfinished rehearsal in {root} (under {state}); 'amxwizard rehearse --new' builds a fresh one"
                )
            return _start(load_or_exit(None), root, state, overrides, explicit is not None)
    if args.no_tui and root is not None and is_sandbox(root) and not args.new:
        state = explicit or root / "state"
        extra = ["--state-dir", str(state)] if args.state_dir else []
        print(f"Rehearsal sandbox in {root} (stand-ins only: nothing here is the real project)")
        print("Continue in it with:")
        print(f"  {command_line(['amxwizard', 'rehearse', str(root), *extra])}")
        return 0

    runbook = load_or_exit(None)
    if not args.no_tui:
        _needs_terminal()
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
    state = explicit or root / "state"
    try:
        sandbox = build_sandbox(root)
    except SandboxError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot build the sandbox in {root}: {exc.strerror or exc}") from None
    try:
        (root / MARKER).write_text(
            json.dumps({"overrides": sandbox.overrides, "head": sandbox.head}, indent=2) + "\n", encoding="utf-8"
        )
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot write to the sandbox in {root}: {exc.strerror or exc}") from None

    if not args.no_tui:
        return _start(runbook, root, state, sandbox.overrides, explicit is not None)

    is_bundled = runbook.path is not None and runbook.path.resolve() == bundled_runbook().resolve()
    print(f"Rehearsal sandbox built in {sandbox.root} (stand-ins only: nothing here is the real project)")
    print(f"  repo   {sandbox.repo}  (HEAD {sandbox.head[:8]})")
    print(f"  model  {sandbox.model}")
    print(f"  tools  {sandbox.tools}  (stand-in cmake and numactl)")
    print(f"  state  {state}")
    print(f"  runbook {runbook.display}")
    print("Variables:")
    width = max(len(name) for name in sandbox.overrides)
    for name, value in sandbox.overrides.items():
        print(f"  {name:<{width}} = {value}")
    print("Continue in it with:")
    print(f"  {continue_command(None if is_bundled else runbook.path, state, sandbox.overrides)}")
    return 0


def _start(runbook: RunbookFile, root: Path, state: Path, overrides: dict[str, str], explicit_state: bool) -> int:
    """A new session in the sandbox, then the wizard."""
    from . import open_session
    from .tui import launch_session

    session = open_session(runbook, state, overrides, new=True)
    return launch_session(session, come_back=_after(root, state, explicit_state))
