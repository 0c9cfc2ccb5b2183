"""The command runner: one step command per run, in its own session, with its output in a file.

A run folder holds everything about one run, so a later wizard (or a person with ``cat``) can tell what happened::

    command.sh     the command, exactly as it runs (placeholders already quoted)
    run.sh         the wrapper: redirects output, runs command.sh with ``bash -o pipefail``, records the exit status
    pid, started   written by the wizard right after the start
    output.log     everything the command wrote to stdout and stderr, byte for byte
    exports        the requested shell variables at the end, NUL-separated NAME=VALUE (when any were requested)
    shell_errors   one line per line of command.sh that failed: action, status, line, PIPESTATUS, the command
    exit_code      the command's exit status; written atomically, so it is either absent or complete

Every line of command.sh is accounted for, the way ``set -e`` would, built on bash's own mechanisms rather than on
reading the script: an ERR trap (inherited by functions and subshells, ``set -E``) sees each command that fails
where ``errexit`` would stop (not in an ``if`` test, not before ``||``; ``|| true`` stays tolerated), with
``$LINENO``, ``$BASH_COMMAND`` and ``PIPESTATUS``, writes it down and ends the command with its status. Two
failures go on instead, because ``set -e`` cannot tell them apart from real ones: a pipeline whose only failures
are SIGPIPE (141) before a last stage that succeeded (``llama-cli | head -50``: head closed the pipe, nothing went
wrong), and, in a step the runbook marks ``expect_crash``, a pipeline that died of a crash signal (the diagnostic
run exists to see that crash). Both are written down too (``sigpipe``, ``expected_crash``).

After ``exit_code``, the wrapper starts ``../on-run-end`` (in the folder holding the run folders) when it exists:
the session's notification hook, so a run that ends with no wizard attached still tells the person.

The child never writes through a pipe to the wizard and runs in its own session, so a closed terminal, a dropped SSH
connection or a killed wizard leaves it running; a later wizard reattaches by following ``output.log``.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .fileio import atomic_write
from .procs import boot_id as current_boot_id
from .procs import group_members, proc_start_ticks, process_alive
from .store import now_iso
from .terminal import ANSI_RE as ANSI_RE  # re-exported: the evidence readers strip the same sequences
from .terminal import CONTROL_RE, INTRODUCER_RE  # one definition of what a screen must not get

if TYPE_CHECKING:
    import sh

# "detached": this wizard stopped following a run that goes on (it is closing); the next wizard reconciles it.
Outcome = Literal["ok", "failed", "cancelled", "timeout", "interrupted", "detached"]
ProbeState = Literal["running", "finished", "gone"]
OutputCallback = Callable[[list[str]], None]

COMMAND_FILE = "command.sh"
WRAPPER_FILE = "run.sh"
PID_FILE = "pid"
STARTED_FILE = "started"
META_FILE = "meta.json"  # the run's step, index and folder, written before it starts
PROCESS_FILE = "process.json"  # pid, start ticks, boot id and start time, written once it has started
LOG_FILE = "output.log"
EXPORTS_FILE = "exports"
EXIT_FILE = "exit_code"

BATCH_SECONDS = 0.05  # the UI gets at most one batch per this interval
POLL_SECONDS = 0.05  # how often a follower at the end of the log looks for more output or the end of the run
READ_CHUNK = 256 * 1024
MAX_PENDING_LINES = 50_000  # above this the follower stops reading until the next batch is delivered
MAX_LINE_CHARS = 64 * 1024  # a longer line (or endless progress bar) is shown in pieces, keeping memory bounded
# A follower this far behind the end of the log, feeding a display that keeps only its newest lines, hashes the bytes
# in between without decoding them (decoding lines the display drops held the GIL the UI needs).
SKIP_BEHIND_BYTES = 1024 * 1024
TAIL_BYTES_PER_LINE = 256  # how much of the log's end is decoded per line the display keeps

_SHELL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The ERR trap of the inner bash (see the module docstring). It ignores failures outside command.sh (the `.` that
# sources it fails again with the script's last status); PIPESTATUS comes as separate words, joined with a space by
# the trap's own IFS (the script may have changed it); it never fails itself (nothing in it can).
_ON_ERROR = r"""__amxwizard_on_err() {
  local IFS=" " __status=$1 __line=$2 __source=$3 __cmd=$4 __s __crash=0 __other=0 __last=0 __action=exit
  shift 4
  if [[ $__source != "$__amxwizard_run/command.sh" ]]; then return 0; fi
  for __s in "$@"; do
    case $__s in
      0|141) ;;
      132|133|134|135|136|139) __crash=1 ;;
      *) __other=1 ;;
    esac
    __last=$__s
  done
  if [[ $__other == 0 && $__crash == 0 && $__last == 0 ]]; then __action=sigpipe
  elif [[ $__other == 0 && $__crash == 1 && $__amxwizard_expect == crash ]]; then __action=expected_crash
  fi
  __cmd=${__cmd//$'\n'/ }
  printf '%s\t%s\t%s\t%s\t%s\n' "$__action" "$__status" "$__line" "$*" "${__cmd//$'\t'/ }" \
    >>"$__amxwizard_run/shell_errors" 2>/dev/null || :
  if [[ $__action == exit ]]; then exit "$__status"; fi
  return 0
}
set -E
trap '__amxwizard_on_err "$?" "$LINENO" "${BASH_SOURCE[0]-}" "$BASH_COMMAND" "${PIPESTATUS[@]}"' ERR
"""

# Runs inside the inner bash: keeps the run folder and export names out of the command's own "$@", saves the
# requested variables when the command's shell exits (also on `exit N`), then runs command.sh in this same shell.
_INNER_WITH_EXPORTS = r"""__amxwizard_run=$1; shift
__amxwizard_names=("$@"); set --
__amxwizard_save_exports() {
  local __amxwizard_name
  for __amxwizard_name in "${__amxwizard_names[@]}"; do
    if [[ -v $__amxwizard_name ]]; then printf '%s=%s\0' "$__amxwizard_name" "${!__amxwizard_name}"; fi
  done >"$__amxwizard_run/exports.tmp" && mv -f "$__amxwizard_run/exports.tmp" "$__amxwizard_run/exports"
}
trap __amxwizard_save_exports EXIT
"""
_INNER_PLAIN = r"""__amxwizard_run=$1; shift
"""
_SOURCE = r""". "$__amxwizard_run/command.sh"
"""


class RunError(Exception):
    """A run cannot be started or followed; the message is one line for the person."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What to run and how. ``env`` is merged over the wizard's own environment, never replacing it."""

    run_id: str
    run_dir: Path
    script: str
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    exports: Sequence[str] = ()
    timeout: float | None = None
    nice: int = 10
    meta: Mapping[str, Any] = field(default_factory=dict)  # written to meta.json before the start (who, which step)
    expect_crash: bool = False  # a crash signal is what the command is for (the diagnostic run): go on after it


@dataclass(frozen=True, slots=True)
class RunStarted:
    """Who the run is: enough to find it again after the wizard is gone."""

    pid: int
    proc_start: int | None
    boot_id: str
    started: str
    log: Path


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended. ``signal`` is set when a signal ended it (exit status 128+N counts as signal N).
    ``shell_errors`` are the lines the command's shell reported failing (see :func:`read_shell_errors`)."""

    outcome: Outcome
    exit_code: int | None
    signal: int | None
    ended: str
    duration: float | None
    log_size: int
    log_sha256: str
    exports: dict[str, str]
    shell_errors: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class TailOutput:
    """An output callback for a display that keeps only the newest ``keep`` lines (a ring).

    A follower far behind the end of the log may skip to near its end for it: the lines in between are then counted
    and passed to ``on_skip`` instead of being decoded. Plain callbacks (``amxwizard step`` printing every line) see
    every line exactly once.
    """

    def __init__(self, deliver: OutputCallback, keep: int, on_skip: Callable[[int], None]) -> None:
        self.deliver = deliver
        self.keep = keep
        self.on_skip = on_skip

    def __call__(self, lines: list[str]) -> None:
        self.deliver(lines)


class DisplayLines:
    """Turns raw output bytes into lines for a screen, incrementally.

    UTF-8 is decoded with U+FFFD for bytes that are not UTF-8, ANSI escape sequences are removed, a line rewritten
    with ``\\r`` (progress bars, CRLF endings) keeps only its last segment, and other control characters are dropped.
    """

    def __init__(self, max_line: int = MAX_LINE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._max_line = max_line

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data`` (the unfinished last line is kept for later)."""
        text = self._decoder.decode(data)
        if self._partial:
            text = self._partial + text
        complete, newline, partial = text.rpartition("\n")
        lines = clean_lines(complete) if newline else []
        self._partial = self._bounded(partial, lines)
        return lines

    def finish(self) -> list[str]:
        """The last line, if the output did not end with a newline."""
        text = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        return clean_lines(text) if text else []

    def _bounded(self, partial: str, lines: list[str]) -> str:
        if len(partial) <= self._max_line:
            return partial
        if "\r" in partial:
            # Only the last rewrite of a progress line can still be shown; keep a trailing \r (a CRLF may follow).
            body = partial.rstrip("\r")
            partial = partial[body.rfind("\r") + 1 :]
        while len(partial) > self._max_line:
            lines.extend(clean_lines(partial[: self._max_line]))
            partial = partial[self._max_line :]
        return partial


def clean_lines(block: str) -> list[str]:
    """``block`` (lines joined by ``\\n``, no trailing newline) as display lines."""
    if CONTROL_RE.search(block) is None:  # the usual case: one scan finds no control character (C0 or C1) at all
        return block.split("\n")
    if INTRODUCER_RE.search(block) is not None:  # ESC, or a C1 introducer (U+009B CSI, U+009D OSC, ...)
        block = ANSI_RE.sub("", block)
    lines = block.split("\n")
    out = []
    for line in lines:
        if "\r" in line:
            line = line.rstrip("\r").rpartition("\r")[2]
        out.append(CONTROL_RE.sub("", line))
    return out


def display_line(text: str) -> str:
    """One line of raw output (decoded, with or without its newline) as it should be shown."""
    return " ".join(clean_lines(text.rstrip("\n")))


def wrapper_script(run_dir: Path, exports: Sequence[str], *, expect_crash: bool = False) -> str:
    """The bash wrapper that runs ``command.sh`` of ``run_dir`` and records its exit status atomically."""
    expect = f"__amxwizard_expect={'crash' if expect_crash else ''}\n"
    inner = (_INNER_WITH_EXPORTS if exports else _INNER_PLAIN) + expect + _ON_ERROR + _SOURCE
    words = [
        "bash",
        "-o",
        "pipefail",
        "-c",
        shlex.quote(inner),
        "amxwizard",
        '"$run"',
        *(shlex.quote(name) for name in exports),
    ]
    lines = [
        "#!/usr/bin/env bash",
        "# One command of an amxwizard step. Rerunning it by hand repeats the command and appends to this folder's",
        "# output.log.",
        f"run={shlex.quote(str(run_dir))}",
        'exec </dev/null >>"$run/output.log" 2>&1',
        " ".join(words),
        "status=$?",
        'printf \'%s\\n\' "$status" >"$run/exit_code.tmp" && mv -f "$run/exit_code.tmp" "$run/exit_code"',
        # The session's notification hook (engine/notify.py), in a session of its own so it is not the run's.
        'hook="${run%/*}/on-run-end"',
        'if [ -x "$hook" ]; then setsid "$hook" "$run" "$status" </dev/null >/dev/null 2>&1 & fi',
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def read_exit_code(run_dir: Path) -> int | None:
    """The exit status the wrapper recorded, or ``None`` if it did not (yet)."""
    try:
        return int((run_dir / EXIT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


SHELL_ERRORS_FILE = "shell_errors"
_ACTIONS = frozenset({"exit", "sigpipe", "expected_crash"})


def read_shell_errors(run_dir: Path) -> tuple[dict[str, Any], ...]:
    """What the command's shell wrote about its failed lines, in order: ``{action, status, line, pipestatus,
    command}`` each. ``action`` is ``exit`` (the command ended there), ``sigpipe`` or ``expected_crash`` (it went on).
    """
    try:
        raw = (run_dir / SHELL_ERRORS_FILE).read_bytes()
    except OSError:
        return ()
    out: list[dict[str, Any]] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        parts = line.split("\t", 4)
        if len(parts) != 5 or parts[0] not in _ACTIONS:
            continue
        try:
            status, number = int(parts[1]), int(parts[2])
            pipestatus = [int(x) for x in parts[3].split()]
        except ValueError:
            continue
        out.append(
            {"action": parts[0], "status": status, "line": number, "pipestatus": pipestatus, "command": parts[4]}
        )
        if len(out) >= 200:  # a loop that fails on every pass: the first ones tell the story
            break
    return tuple(out)


def read_exports(run_dir: Path) -> dict[str, str]:
    """The exported variables the command's shell left, or ``{}``."""
    try:
        raw = (run_dir / EXPORTS_FILE).read_bytes()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            out[name.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
    return out


def _parse_iso(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RunHandle:
    """One run, started here or reattached: follows its log, and knows when and how it ended."""

    def __init__(
        self,
        run_dir: Path,
        started: RunStarted,
        on_output: OutputCallback | None,
        *,
        command: sh.RunningCommand | None = None,
        timeout: float | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.started = started
        self.callback_error: BaseException | None = None
        self._on_output = on_output
        self._command = command
        self._deadline = time.monotonic() + timeout if timeout else None
        self._lock = threading.Lock()
        self._stop_reason: Literal["cancelled", "timeout"] | None = None
        self._signal_sent: int | None = None
        self._wait_status: int | None = None
        self._result: RunResult | None = None
        self._done = threading.Event()
        self._detached = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"run {run_dir.name}", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """True once the run ended and its result is known."""
        return self._done.is_set()

    @property
    def attached(self) -> bool:
        """True when this wizard started the run (it can see the exit status itself)."""
        return self._command is not None

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """The result once the run ended, or ``None`` if it is still running after ``timeout`` seconds."""
        self._done.wait(timeout)
        return self._result

    def result(self) -> RunResult:
        """Wait for the run to end and return how it ended."""
        self._done.wait()
        assert self._result is not None  # set before _done, always
        return self._result

    def cancel(self, grace: float = 5.0) -> None:
        """SIGTERM the run's whole process group now and SIGKILL whatever is left after ``grace`` seconds.

        Returns at once; :meth:`wait` gives the ``cancelled`` result once the group is gone.
        """
        self._stop("cancelled", grace)

    def detach(self) -> None:
        """Stop following the run without stopping it: :meth:`wait` returns a ``detached`` result at once.

        For a wizard that is closing; the run goes on (its timeout is no longer enforced) and the next wizard
        reconciles it.
        """
        self._detached.set()

    # -- stopping ----------------------------------------------------------------------------------------------

    def _stop(self, reason: Literal["cancelled", "timeout"], grace: float) -> None:
        with self._lock:
            if self._done.is_set() or self._stop_reason is not None:
                return
            self._stop_reason = reason
        self._signal_group(signal.SIGTERM)
        threading.Thread(target=self._escalate, args=(grace,), name=f"stop {self.run_dir.name}", daemon=True).start()

    def _escalate(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not self._group_alive():
                return
            time.sleep(0.05)
        self._signal_group(signal.SIGKILL)

    def _group_is_ours(self) -> bool:
        pgid = self.started.pid
        # Never our own group or session: that would stop the wizard itself.
        if pgid <= 1 or pgid in (os.getpgrp(), os.getsid(0)):
            return False
        if self.started.boot_id and self.started.boot_id != current_boot_id():
            return False
        # While the leader (the wrapper) lives, compare start times; once it is gone, a group with its number can
        # only be ours, since a new group would need a new process with that pid.
        ticks = proc_start_ticks(pgid)
        return ticks is None or self.started.proc_start is None or ticks == self.started.proc_start

    def _signal_group(self, sig: int) -> None:
        if not self._group_is_ours():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.started.pid, sig)
            self._signal_sent = sig

    def _group_alive(self) -> bool:
        return self._group_is_ours() and any(True for _ in group_members(self.started.pid))

    # -- following ---------------------------------------------------------------------------------------------

    def _process_ended(self) -> bool:
        if self._command is not None:
            alive, status = self._command.process.is_alive()
            if alive:
                return False
            self._wait_status = status
        elif process_alive(self.started.pid, self.started.proc_start, self.started.boot_id):
            return False
        # After a cancel, wait until the whole group is gone (or killed), not only the wrapper.
        return self._stop_reason is None or not self._group_alive()

    def _deliver(self, lines: list[str]) -> None:
        callback = self._on_output
        if callback is None or not lines:
            return
        try:
            callback(lines)
        except Exception as exc:  # a broken display must not stop the run's bookkeeping
            self.callback_error = exc
            self._on_output = None

    def _follow(self) -> None:
        try:
            self._result = self._follow_log()
        except Exception as exc:  # the result must always arrive, or a waiting wizard would hang
            self._result = RunResult("interrupted", None, None, now_iso(), None, 0, "", {})
            self.callback_error = self.callback_error or exc
        finally:
            self._done.set()

    def _follow_log(self) -> RunResult:
        digest = hashlib.sha256()
        size = 0
        display = DisplayLines() if self._on_output is not None else None
        tail = self._on_output if isinstance(self._on_output, TailOutput) else None
        pending: list[str] = []
        last_batch = 0.0
        ended = False
        log_path = self.started.log
        stream = None
        cut = False  # after a skip: the bytes up to the next newline end a line that was skipped
        try:
            while True:
                if self._detached.is_set():
                    return RunResult("detached", None, None, now_iso(), None, size, digest.hexdigest(), {})
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    self._deadline = None
                    self._stop("timeout", 5.0)
                if stream is None:
                    try:
                        stream = open(log_path, "rb")  # noqa: SIM115 (held across the loop, closed in finally)
                    except FileNotFoundError:
                        stream = None
                if stream is not None and tail is not None and display is not None:
                    skipped_bytes, skipped_lines, at_newline = self._skip_to_tail(stream, digest, tail.keep)
                    if skipped_bytes:
                        size += skipped_bytes
                        # What was decoded but not delivered is older than what was skipped: it goes too; so does
                        # the line the skip cut in two (its newline is still ahead).
                        skipped_lines += len(pending) + (0 if at_newline else 1)
                        pending, display, cut = [], DisplayLines(), not at_newline
                        self._skipped(tail, skipped_lines)
                chunk = stream.read(READ_CHUNK) if stream is not None else b""
                if chunk:
                    digest.update(chunk)
                    size += len(chunk)
                    if display is not None:
                        if cut:
                            newline = chunk.find(b"\n")
                            chunk, cut = (b"", True) if newline < 0 else (chunk[newline + 1 :], False)
                        pending.extend(display.feed(chunk))
                    wait_for = last_batch + BATCH_SECONDS - time.monotonic()
                    if pending and (wait_for <= 0 or len(pending) >= MAX_PENDING_LINES):
                        if wait_for > 0:
                            time.sleep(wait_for)
                        self._deliver(pending)
                        pending, last_batch = [], time.monotonic()
                    continue
                if ended:
                    break
                if self._process_ended():
                    ended = True  # read once more: output written just before the end is still to come
                    continue
                if pending and time.monotonic() - last_batch >= BATCH_SECONDS:
                    self._deliver(pending)
                    pending, last_batch = [], time.monotonic()
                self._wait_for_more()
        finally:
            if stream is not None:
                stream.close()
            self._close_pidfd()
        if display is not None:
            pending.extend(display.finish())
        if pending:
            time.sleep(max(0.0, last_batch + BATCH_SECONDS - time.monotonic()))
            self._deliver(pending)
        return self._conclude(size, digest.hexdigest())

    @staticmethod
    def _skip_to_tail(stream: Any, digest: Any, keep: int) -> tuple[int, int, bool]:
        """When the log's end is far ahead, hash (without decoding) all but its last ``keep`` lines' worth.

        Returns the bytes and the newlines skipped, and whether the skipped part ended with a newline.
        """
        position = stream.tell()
        end = os.fstat(stream.fileno()).st_size
        tail = max(keep * TAIL_BYTES_PER_LINE, 64 * 1024)
        if end - position < SKIP_BEHIND_BYTES + tail:
            return 0, 0, True
        target, skipped, lines, last = end - tail, 0, 0, b"\n"
        while position + skipped < target:
            data = stream.read(min(4 * READ_CHUNK, target - position - skipped))
            if not data:
                break
            digest.update(data)  # hashlib releases the GIL for large buffers
            lines += data.count(b"\n")
            skipped += len(data)
            last = data[-1:]
        return skipped, lines, last == b"\n"

    def _skipped(self, tail: TailOutput, lines: int) -> None:
        try:
            tail.on_skip(lines)
        except Exception as exc:  # as for _deliver: a broken display must not stop the run's bookkeeping
            self.callback_error = exc
            self._on_output = None

    # -- noticing the end ----------------------------------------------------------------------------------------

    _pidfd: int | None = None
    _pidfd_state: Literal["unopened", "open", "done"] = "unopened"

    def _wait_for_more(self) -> None:
        """Wait up to POLL_SECONDS for more output, returning at once when the run's wrapper exits.

        The wrapper's exit is seen through a pidfd (Linux 5.3+), so a step's end is noticed within a millisecond or
        two instead of up to a poll later; where there is none (or once it fired) this is a plain wait.
        """
        fd = self._open_pidfd()
        if fd is None:
            self._detached.wait(POLL_SECONDS)
            return
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if poller.poll(POLL_SECONDS * 1000):
            self._close_pidfd()  # fired: the wrapper ended (a cancelled group may linger: plain waits from now)

    def _open_pidfd(self) -> int | None:
        if self._pidfd_state == "unopened":
            self._pidfd_state = "done"
            pid = self.started.pid
            if pid > 1 and hasattr(os, "pidfd_open"):
                try:
                    fd = os.pidfd_open(pid)
                except OSError:  # gone already, or no pidfd here
                    return None
                # Reattached runs: the pid must still be the run's wrapper, not a reused number.
                if self._command is None and not process_alive(pid, self.started.proc_start, self.started.boot_id):
                    os.close(fd)
                    return None
                self._pidfd, self._pidfd_state = fd, "open"
        return self._pidfd

    def _close_pidfd(self) -> None:
        fd, self._pidfd = self._pidfd, None
        self._pidfd_state = "done"
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _conclude(self, size: int, sha256: str) -> RunResult:
        code = read_exit_code(self.run_dir)
        exit_file = self.run_dir / EXIT_FILE
        ended_at = datetime.now(UTC)
        if code is not None:
            with contextlib.suppress(OSError):
                ended_at = datetime.fromtimestamp(exit_file.stat().st_mtime, UTC)
        start = _parse_iso(self.started.started)
        duration = max(0.0, (ended_at - start).total_seconds()) if start else None
        sig: int | None = None
        outcome: Outcome
        if code is not None:
            outcome = "ok" if code == 0 else "failed"
            if 128 < code < 128 + 65:
                sig = code - 128
            if code != 0 and self._stop_reason is not None:
                outcome = self._stop_reason
        elif self._wait_status is not None and self._wait_status >= 0:
            # The wrapper ended normally but could not write exit_code (the folder vanished, the disk is full).
            code = self._wait_status
            outcome = "ok" if code == 0 else "failed"
        else:
            outcome = self._stop_reason or "interrupted"
            if self._stop_reason is not None and self._signal_sent is not None:
                sig = self._signal_sent  # the last signal it took (SIGKILL when SIGTERM was not enough)
            elif self._wait_status is not None and self._wait_status < 0:
                sig = -self._wait_status
        return RunResult(
            outcome=outcome,
            exit_code=code,
            signal=sig,
            ended=ended_at.isoformat(timespec="microseconds"),
            duration=duration,
            log_size=size,
            log_sha256=sha256,
            exports=read_exports(self.run_dir),
            shell_errors=read_shell_errors(self.run_dir),
        )


class CommandRunner:
    """Starts runs, reattaches to runs a previous wizard started, and tells whether a recorded run still lives."""

    def start(self, spec: RunSpec, on_output: OutputCallback | None = None) -> RunHandle:
        """Start ``spec.script`` in a new session under ``spec.run_dir`` (which must not exist yet).

        Raises :class:`RunError` when the run cannot be started.
        """
        for name in spec.exports:
            if not _SHELL_NAME_RE.match(name):
                raise RunError(f"run {spec.run_id}: {name!r} is not a shell variable name")
        if not spec.cwd.is_dir():
            raise RunError(f"run {spec.run_id}: working folder {spec.cwd} does not exist")
        run_dir = spec.run_dir
        try:
            run_dir.mkdir(parents=True)
            script = spec.script if spec.script.endswith("\n") else spec.script + "\n"
            (run_dir / COMMAND_FILE).write_text(script, encoding="utf-8")
            (run_dir / WRAPPER_FILE).write_text(
                wrapper_script(run_dir, spec.exports, expect_crash=spec.expect_crash), encoding="utf-8"
            )
            (run_dir / LOG_FILE).touch()
            # Before the start, so a run whose start never reached the session's log can still be recognised.
            atomic_write(run_dir / META_FILE, json.dumps({**spec.meta, "run_id": spec.run_id, "cwd": str(spec.cwd)}))
        except FileExistsError:
            raise RunError(f"run {spec.run_id}: the folder {run_dir} already exists") from None
        except OSError as exc:
            # A half-made run folder (a full disk) would look like a run that never said whose it is: remove it.
            shutil.rmtree(run_dir, ignore_errors=True)
            what = "the disk is full" if exc.errno == 28 else exc.strerror or str(exc)
            raise RunError(f"run {spec.run_id}: cannot prepare {run_dir}: {what}") from None

        import sh

        env = {**os.environ, **{str(k): str(v) for k, v in spec.env.items()}}
        try:
            sh.Command("bash")
            nice = sh.Command("nice")
        except sh.CommandNotFound as exc:
            raise RunError(f"{exc} is not installed (every step command runs in bash, under nice)") from None
        devnull = open(os.devnull, "rb")  # noqa: SIM115 (closed right after the fork)
        log = open(run_dir / LOG_FILE, "ab")  # noqa: SIM115
        try:
            # `nice` execs bash in the same process, so the pid is the run's; no Python runs in the forked child
            # (a preexec function is not safe while the wizard has threads).
            command: Any = nice(
                "-n",
                str(spec.nice),
                "bash",
                str(run_dir / WRAPPER_FILE),
                _bg=True,
                _bg_exc=False,
                _new_session=True,
                _in=devnull,
                _out=log,
                _err=log,
                _tty_in=False,
                _tty_out=False,
                _env=env,
                _cwd=str(spec.cwd),
                _ok_code=tuple(range(256)),
                _return_cmd=True,
            )
        except (OSError, sh.ForkException) as exc:
            raise RunError(f"run {spec.run_id}: cannot start bash: {exc}") from None
        finally:
            log.close()
            devnull.close()
        pid = int(command.pid)
        started = RunStarted(
            pid=pid,
            proc_start=proc_start_ticks(pid),
            boot_id=current_boot_id(),
            started=now_iso(),
            log=run_dir / LOG_FILE,
        )
        with contextlib.suppress(OSError):  # copies of what the session's log records, for adopting a lost start
            atomic_write(run_dir / PID_FILE, f"{pid}\n")
            atomic_write(run_dir / STARTED_FILE, f"{started.started}\n")
            atomic_write(
                run_dir / PROCESS_FILE,
                json.dumps(
                    {
                        "pid": pid,
                        "proc_start": started.proc_start,
                        "boot_id": started.boot_id,
                        "started": started.started,
                    }
                ),
            )
        return RunHandle(run_dir, started, on_output, command=command, timeout=spec.timeout)

    def reattach(
        self,
        run_dir: Path,
        on_output: OutputCallback | None,
        *,
        pid: int,
        proc_start: int | None,
        boot_id: str,
        started: str,
    ) -> RunHandle:
        """Follow a run a previous wizard started: the log is replayed from its first byte, then followed.

        ``on_output`` sees every line exactly once. Works for runs that already ended too: the handle then
        finishes as soon as the log is read.
        """
        info = RunStarted(pid=pid, proc_start=proc_start, boot_id=boot_id, started=started, log=run_dir / LOG_FILE)
        return RunHandle(run_dir, info, on_output)

    def probe(self, run_dir: Path, *, pid: int, proc_start: int | None, boot_id: str) -> ProbeState:
        """``running`` (the same process still lives), ``finished`` (exit status recorded) or ``gone`` (neither)."""
        if process_alive(pid, proc_start, boot_id):
            return "running"
        # Checked after the liveness test: the wrapper writes exit_code before it exits.
        return "finished" if read_exit_code(run_dir) is not None else "gone"
