"""A real program in a pseudo-terminal, its screen decoded as a person's terminal would show it.

The benchmark measures what a person feels: it writes keys to the pty master exactly as a terminal emulator does,
and times how long until the bytes the program writes back change what is on the screen (decoded by ``pyte``, a
VT100 emulator). Nothing inside the measured program is instrumented: it is the real console script.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# A region of the screen: (first row, last row exclusive, first column, last column exclusive).
Region = tuple[int, int, int, int]
# What a region looks like: its characters with their colours and attributes (a moved highlight changes only these).
Look = tuple[tuple[tuple[str, str, str, bool, bool], ...], ...]


class PtyApp:
    """A program running in a fresh pseudo-terminal of ``cols`` x ``rows``, its output decoded as it arrives.

    A reader thread feeds every chunk to the emulator and notes when it arrived, so a change is timed by the bytes
    that made it, not by when the benchmark looked.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cols: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        import pyte

        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self._changed = threading.Condition()
        self.version = 0  # chunks decoded so far
        self.bytes_in = 0
        self.last_chunk = 0.0  # perf_counter of the newest chunk
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self._master = master
        full_env = {**os.environ, **(env or {}), "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=full_env,
            start_new_session=True,  # its own session: the pty becomes its controlling terminal below
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, name="pty reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the program closed the terminal
                data = b""
            now = time.perf_counter()
            with self._changed:
                if data:
                    self._stream.feed(data)
                    self.bytes_in += len(data)
                self.version += 1
                self.last_chunk = now
                self._changed.notify_all()
            if not data:
                return

    # -- looking at the screen -----------------------------------------------------------------------------------

    def text(self) -> str:
        """The screen as text, one line per row."""
        with self._changed:
            return "\n".join(self.screen.display)

    def look(self, region: Region) -> Look:
        """The characters and their looks inside ``region`` (a selection bar that moves changes them)."""
        top, bottom, left, right = region
        with self._changed:
            return self._look(top, bottom, left, right)

    def _look(self, top: int, bottom: int, left: int, right: int) -> Look:
        buffer = self.screen.buffer
        return tuple(
            tuple((c.data, c.fg, c.bg, c.reverse, c.bold) for c in (buffer[row][col] for col in range(left, right)))
            for row in range(top, bottom)
        )

    def wait_until(self, ready: Callable[[PtyApp], bool], timeout: float) -> float | None:
        """perf_counter of the chunk after which ``ready`` first held (checked after each chunk), or None."""
        deadline = time.perf_counter() + timeout
        with self._changed:
            seen = -1
            while True:
                if self.version != seen:
                    seen = self.version
                    if ready(self):
                        return self.last_chunk
                    if self.process.poll() is not None and not self._reader.is_alive():
                        return None
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def contains(self, text: str) -> bool:
        """Whether ``text`` is on the screen (call from ``wait_until``'s predicate: the lock is held)."""
        return any(text in line for line in self.screen.display)

    def key_latency(self, key: bytes, region: Region, timeout: float = 5.0) -> float | None:
        """Write ``key`` and return seconds until ``region`` of the screen looks different, or None."""
        top, bottom, left, right = region
        with self._changed:
            before = self._look(top, bottom, left, right)
        sent = time.perf_counter()
        os.write(self._master, key)
        changed = self.wait_until(lambda app: app._look(top, bottom, left, right) != before, timeout)
        return None if changed is None else max(0.0, changed - sent)

    def find_row(self, text: str) -> int | None:
        with self._changed:
            for row, line in enumerate(self.screen.display):
                if text in line:
                    return row
        return None

    # -- ending --------------------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        os.write(self._master, data)

    def close(self, quit_keys: bytes = b"\x11", wait: float = 5.0) -> int | None:
        """Quit with ``quit_keys`` (ctrl+q), else SIGTERM, else SIGKILL; the exit status."""
        if self.process.poll() is None:
            try:
                os.write(self._master, quit_keys)
                self.process.wait(wait)
            except (OSError, subprocess.TimeoutExpired):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.process.pid, sig)
                        self.process.wait(wait)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
        self._reader.join(timeout=wait)
        with contextlib.suppress(OSError):
            os.close(self._master)
        return self.process.poll()
