"""Copy text to the person's own clipboard over SSH: OSC 52 through Textual's ``App.copy_to_clipboard``.

Inside tmux the sequence reaches the outer terminal only with ``set -g set-clipboard on``; ``tmux load-buffer -w``
(tmux 3.2+) asks tmux itself to pass it on (it does with the default ``external`` too) and keeps a tmux buffer
(``prefix ]`` pastes it). Whether the terminal accepted it cannot be known from here, and the message says so.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from typing import Any

from textual.app import App


def _tmux_buffer(text: str) -> None:
    # tmux too old for -w, or gone: the OSC 52 Textual sent is all there is.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["tmux", "load-buffer", "-w", "-"], input=text.encode("utf-8"), capture_output=True, timeout=5)


def copy_text(app: App[Any], text: str, what: str) -> None:
    """Send ``text`` to the local clipboard and say what was sent (UI thread)."""
    app.copy_to_clipboard(text)
    if os.environ.get("TMUX"):
        threading.Thread(target=_tmux_buffer, args=(text,), name="tmux load-buffer", daemon=True).start()
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    app.notify(
        f"sent {what} ({lines} line{'s' if lines != 1 else ''}) to your terminal's clipboard (OSC 52; "
        "the terminal must allow it)",
        timeout=5,
    )
