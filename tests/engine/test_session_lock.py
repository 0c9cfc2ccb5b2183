"""One wizard per session: a second is refused with who holds it; a dead holder's lock is free at once."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session, SessionError, SessionLocked
from amxwizard.engine.store import Event, EventStore
from amxwizard.runbook import RunbookFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "store"
LOCKED = re.compile(r"locked by PID (\d+) on (\S+) since (\S+)")


class Holder:
    """A child process that holds a session open until it is killed."""

    def __init__(self, folder: Path, runbook: RunbookFile, *, spawn: bool = False) -> None:
        assert runbook.path is not None
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(FIXTURES / "hold_session.py"),
                str(folder),
                str(runbook.path),
                *(["--spawn"] if spawn else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            assert self.proc.stderr is not None
            raise AssertionError(f"the holder did not start: {self.proc.stderr.read()}")
        report = json.loads(line)
        self.pid: int = report["pid"]
        self.children: list[int] = report["children"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def closed_session(state_dir: Path, runbook_file: RunbookFile) -> Path:
    """A session folder with some history, not held by anyone."""
    with Session.create(state_dir, runbook_file) as session:
        session.record(ev.StepStarted(step="1.1"))
    return session.dir


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.kill()
        for pid in holder.children:  # long-running commands our holder started; theirs to end is ours here
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def read_events(folder: Path) -> list[Event]:
    """The session's events as a reader sees them, without the lock."""
    reader = EventStore(folder / "events.db", readonly=True)
    try:
        return reader.events()
    finally:
        reader.close()


def open_within(folder: Path, runbook: RunbookFile, deadline_s: float = 5.0) -> Session:
    """Open ``folder``, retrying while it is locked, until the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return Session.open(folder, runbook)
        except SessionLocked:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def test_a_second_wizard_is_refused_with_who_holds_the_session(
    closed_session: Path, runbook_file: RunbookFile, holders: list[Holder]
) -> None:
    holder = Holder(closed_session, runbook_file)
    holders.append(holder)
    before = read_events(closed_session)

    with pytest.raises(SessionLocked) as refused:
        Session.open(closed_session, runbook_file)

    match = LOCKED.search(str(refused.value))
    assert match is not None, str(refused.value)
    assert int(match.group(1)) == holder.pid
    assert match.group(2) == socket.gethostname()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", match.group(3))
    # Being refused writes nothing: no session_opened for the wizard that did not get in.
    after = read_events(closed_session)
    assert after == before and after[-1].kind == "session_opened" and after[-1].data["pid"] == holder.pid


def test_deleting_the_lock_file_admits_no_second_wizard(
    closed_session: Path, runbook_file: RunbookFile, holders: list[Holder]
) -> None:
    holder = Holder(closed_session, runbook_file)
    holders.append(holder)
    (closed_session / "lock").unlink()  # what a person clearing a "stale" lock by hand would do
    before = read_events(closed_session)

    with pytest.raises(SessionLocked):
        Session.open(closed_session, runbook_file)  # the flock is on the folder: the holder still has it

    assert read_events(closed_session) == before


def test_the_lock_of_a_killed_wizard_is_taken_over(
    closed_session: Path, runbook_file: RunbookFile, holders: list[Holder]
) -> None:
    holder = Holder(closed_session, runbook_file)
    holders.append(holder)
    with pytest.raises(SessionLocked):
        Session.open(closed_session, runbook_file)

    holder.kill()
    session = open_within(closed_session, runbook_file)

    assert (closed_session / "lock").read_text().split()[0] == str(os.getpid())
    assert [opened["pid"] for opened in session.state.opened] == [holder.pid, os.getpid()]
    session.close()


def test_commands_started_by_the_wizard_do_not_inherit_the_lock(
    closed_session: Path, runbook_file: RunbookFile, holders: list[Holder]
) -> None:
    holder = Holder(closed_session, runbook_file, spawn=True)
    holders.append(holder)
    lock = (closed_session / "lock").resolve()
    assert len(holder.children) == 2
    for pid in holder.children:
        fds = Path(f"/proc/{pid}/fd")
        assert all(Path(os.readlink(fd)) != lock for fd in fds.iterdir()), f"child {pid} holds the lock file open"

    holder.kill()
    for pid in holder.children:
        os.kill(pid, 0)  # still running: a long build outlives the wizard that started it
    session = open_within(closed_session, runbook_file)
    assert session.state.opened[-1]["pid"] == os.getpid()
    session.close()


def test_the_same_process_cannot_open_a_session_twice(closed_session: Path, runbook_file: RunbookFile) -> None:
    first = Session.open(closed_session, runbook_file)
    with pytest.raises(SessionLocked, match=rf"locked by PID {os.getpid()} on "):
        Session.open(closed_session, runbook_file)
    first.close()
    assert (closed_session / "lock").read_text() == ""  # a clean close leaves no holder named
    with Session.open(closed_session, runbook_file) as second:
        assert len(second.state.opened) == 2


def test_a_lock_that_cannot_be_written_is_one_clear_error_and_not_kept(
    closed_session: Path, runbook_file: RunbookFile
) -> None:
    # A process that may not grow any file (the closest a test gets to a full disk without privileges): opening
    # must say so in one line, twice in a row, and never answer the second time with "locked by" itself.
    assert runbook_file.path is not None
    done = subprocess.run(
        [
            sys.executable,
            str(FIXTURES / "open_session.py"),
            str(closed_session),
            str(runbook_file.path),
            "--attempts",
            "2",
            "--fsize",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    attempts = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.get("type") == "SessionError", attempt
        assert "File too large" in attempt["error"] and str(closed_session) in attempt["error"]
        assert "\n" not in attempt["error"] and "locked by" not in attempt["error"]
    with Session.open(closed_session, runbook_file) as session:
        assert session.recovery is None
        assert len(session.state.opened) == 1


def test_a_missing_session_folder_is_a_clear_error(tmp_path: Path, runbook_file: RunbookFile) -> None:
    with pytest.raises(SessionError, match="no session at"):
        Session.open(tmp_path / "gone", runbook_file)


def test_a_file_system_without_locks_is_one_clear_error_and_leaks_nothing(
    closed_session: Path, runbook_file: RunbookFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NFS without a lock daemon answers flock with ENOLCK: say so, and keep no descriptor open.
    import errno
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(SessionError, match=r"cannot lock the session .*No locks available"):
        Session.open(closed_session, runbook_file)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_release_that_cannot_clear_the_holder_still_lets_go(
    closed_session: Path, runbook_file: RunbookFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = Session.open(closed_session, runbook_file)

    def failing_truncate(fd: int, length: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "ftruncate", failing_truncate)
    session.close()
    monkeypatch.undo()
    with Session.open(closed_session, runbook_file) as again:  # not "locked by" this very process
        assert len(again.state.opened) == 2
