"""Bytecode for the next start: where Python writes none (``PYTHONDONTWRITEBYTECODE=1``) or nothing compiled the
package at install (an editable install), every start compiles each module again — about 90 ms of a start on a
2-core machine. After the first frame the wizard checks, and when modules lack current bytecode it compiles them
in a separate low-priority process, so no later start pays for it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def stale_modules(root: Path = PACKAGE) -> list[Path]:
    """The modules under ``root`` whose cached bytecode is missing or older than their source."""
    stale = []
    for source in root.rglob("*.py"):
        try:
            cached = Path(importlib.util.cache_from_source(str(source)))
            if cached.stat().st_mtime_ns >= source.stat().st_mtime_ns:
                continue
        except (OSError, NotImplementedError, ValueError):
            pass
        stale.append(source)
    return stale


def compile_stale(root: Path = PACKAGE, *, wait: bool = False) -> subprocess.Popen[bytes] | None:
    """Compile ``root``'s modules in a separate process at the lowest priority when some lack bytecode.

    Returns the process (finished when ``wait``), or None when nothing was stale or the folder is not writable.
    """
    if not os.access(root, os.W_OK) or not stale_modules(root):
        return None
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    nice = shutil.which("nice")
    argv = [sys.executable, "-m", "compileall", "-q", str(root)]
    process = subprocess.Popen(
        [nice, "-n", "19", *argv] if nice else argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a closing terminal does not interrupt it; it is harmless to lose
    )
    if wait:
        process.wait()
    return process
