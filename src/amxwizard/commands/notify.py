"""``amxwizard notify [WHEN] [--command CMD] [--after S] [--test]``: the session's notifications.

Without arguments it shows what is on, where the notices would go, and whether a run that ends with no wizard
attached will tell anyone. ``WHEN``, ``--command`` and ``--after`` change the session's settings; ``--test``
sends one through every channel now, from this terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from . import EXIT_USAGE, CommandError, find_session, state_dir

if TYPE_CHECKING:
    from ..engine.notify import NotifySettings


def apply_flags(
    session_dir: Path, notify: str | None, command: str | None, after: str | None, *, save: bool = True
) -> NotifySettings:
    """The session's settings with the command line's changes, saved with the session when there are any."""
    from ..engine.notify import NotifyError, load_settings, override, save_settings

    try:
        current = load_settings(session_dir)
        changed = override(current, notify=notify, command=command, after=after)
    except NotifyError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    if save and changed is not current:
        try:
            save_settings(session_dir, changed)
        except OSError as exc:
            raise CommandError(f"cannot save the notification settings: {exc}") from None
    return changed


def check_flags(notify: str | None, command: str | None, after: str | None) -> None:
    """Refuse bad values before anything is recorded (exit 2)."""
    if notify is None and command is None and after is None:
        return
    from ..engine.notify import NotifyError, NotifySettings, override

    try:
        override(NotifySettings(), notify=notify, command=command, after=after)
    except NotifyError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    from ..engine.notify import HOOK_FILE, Notice, Notifier, Terminal, own_terminal_writer

    check_flags(args.when, args.notify_command, args.notify_after)
    info, _ = find_session(state_dir(args.state_dir), args.runbook, args.session)
    settings = apply_flags(info.dir, args.when, args.notify_command, args.notify_after)
    terminal = Terminal.here()
    print(f"session {info.id}: notifications {settings.describe()}")
    tmux = f", inside tmux (pane {terminal.tmux_pane})" if terminal.in_tmux else ""
    print(f"  this terminal: {terminal.tty or '(none)'}{tmux}")
    passthrough = " in tmux's passthrough (needs: set -g allow-passthrough on)" if terminal.in_tmux else ""
    print(f"  sequence: OSC {terminal.osc}{passthrough}")
    hook = info.dir / "runs" / HOOK_FILE
    hooked = "tells you (the hook is installed)" if hook.exists() else "says nothing (open the wizard to install it)"
    print(f"  a run that ends with no wizard attached: {hooked}")
    if not args.test:
        return 0
    notifier = Notifier(settings, terminal, own_terminal_writer())
    notice = Notice(event="test", step="", state="test", summary="notifications reach you here", session=info.id)
    problems = notifier.send(notice, force=True)
    for problem in problems:
        print(f"  problem: {problem}")
    print("  test sent" if not problems else "  test sent, with problems")
    return 1 if problems else 0
