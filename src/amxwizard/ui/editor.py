"""Hand a file to the person's editor at a line, with the terminal handed over while it runs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported

if TYPE_CHECKING:
    from textual.app import App

# Editors that want "file:N" to open at line N; every other takes "+N file" (vi, vim, nano, emacs, micro, ...).
_COLON_LINE = {"code", "codium", "subl", "hx", "zed"}
_FALLBACKS = ("nano", "vim", "vi", "emacs")


def editor_command(path: Path, line: int, environ: dict[str, str] | None = None) -> list[str] | str:
    """The argv that opens ``path`` at ``line``: ``$VISUAL``, else ``$EDITOR``, else the first sensible editor found
    on the machine. A string is the reason there is none (or the variable cannot be read as a command)."""
    env = os.environ if environ is None else environ
    configured = env.get("VISUAL") or env.get("EDITOR")
    if configured:
        try:
            words = shlex.split(configured)
        except ValueError as exc:  # an unbalanced quote in $EDITOR
            return f"cannot use the editor command {configured!r} ($VISUAL / $EDITOR): {exc}"
        if not words:
            return "$VISUAL / $EDITOR is empty"
    else:
        found = next((name for name in _FALLBACKS if shutil.which(name, path=env.get("PATH"))), None)
        if found is None:
            return "no editor: set $EDITOR (none of nano, vim, vi, emacs is installed)"
        words = [found]
    name = Path(words[0]).name
    if name in _COLON_LINE:
        extra = ["--goto"] if name in {"code", "codium"} else []
        return [*words, *extra, f"{path}:{line}"]
    return [*words, f"+{line}", str(path)]


def open_editor(app: App[None], path: Path, line: int) -> bool:
    """Run the editor with the terminal handed over; False (with a notification) when it could not run."""
    argv = editor_command(path, line)
    if isinstance(argv, str):
        app.notify(argv, severity="error", timeout=10)
        return False
    try:
        try:
            with app.suspend():
                subprocess.call(argv)
        except SuspendNotSupported:
            # No terminal to hand over (headless, web): only an editor that needs none can work here.
            subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        app.notify(f"cannot run {argv[0]}: {exc.strerror or exc} (set $EDITOR)", severity="error")
        return False
    return True
