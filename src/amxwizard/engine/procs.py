"""Process identity from /proc: is the process we started earlier still the one running under that pid?

A pid alone is not an identity: after a reboot or a long time the number is reused. A run is identified by
(boot id, pid, start time in clock ticks since boot), which no other process can share.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@functools.cache  # it cannot change while this process lives, and runs are polled every 50 ms
def boot_id() -> str:
    """The kernel's random id of this boot ("" where /proc does not provide it)."""
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the runner needs."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    nice: int
    start_ticks: int


def proc_stat(pid: int) -> ProcStat | None:
    """``/proc/<pid>/stat`` parsed, or ``None`` when there is no such process."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except (OSError, ValueError):
        return None
    # comm (field 2) may hold spaces and parentheses; everything after the last ')' is well-formed.
    close = raw.rfind(b")")
    if close < 0:
        return None
    fields = raw[close + 2 :].split()
    # fields[0] is field 3 (state), so field N is fields[N - 3].
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode("ascii", "replace"),
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            nice=int(fields[16]),
            start_ticks=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def proc_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or ``None`` if it is gone."""
    stat = proc_stat(pid)
    return stat.start_ticks if stat else None


def process_alive(pid: int, start_ticks: int | None, boot: str) -> bool:
    """True when ``pid`` is the same process as recorded: same boot, still there, same start time, not a zombie.

    A ``start_ticks`` of ``None`` (not recorded) skips that comparison.
    """
    if pid <= 0 or (boot and boot != boot_id()):
        return False
    stat = proc_stat(pid)
    if stat is None or stat.state in ("Z", "X", "x"):
        return False
    return start_ticks is None or stat.start_ticks == start_ticks


def group_members(pgid: int) -> Iterator[ProcStat]:
    """Every live (non-zombie) process whose process group is ``pgid``."""
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return
    for name in entries:
        if not name.isdigit():
            continue
        stat = proc_stat(int(name))
        if stat is not None and stat.pgrp == pgid and stat.state not in ("Z", "X", "x"):
            yield stat


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a short probe program printed; ``returncode`` is ``None`` when it was killed at its time limit."""

    returncode: int | None
    stdout: str
    stderr: str


def run_probe(argv: Sequence[str], timeout: float, *, merge_stderr: bool = False) -> ProbeResult:
    """Run a short program (``--help``, ``nvidia-smi``) in its own session, stdin closed; after ``timeout`` its whole
    process group is killed, so a hung driver query cannot leave anything behind. Raises ``OSError`` if it cannot
    start."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return ProbeResult(None, out.decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"))
    return ProbeResult(proc.returncode, out.decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"))
