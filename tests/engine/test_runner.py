"""The command runner with real processes: streaming, exit codes, environment, cancel, timeout, sessions, reattach."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from amxwizard.engine.procs import boot_id, proc_start_ticks, process_alive
from amxwizard.engine.runner import (
    CommandRunner,
    DisplayLines,
    RunError,
    RunHandle,
    RunResult,
    RunSpec,
    display_line,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runner"


class Collector:
    """An output callback that keeps every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, lines: list[str]) -> None:
        self.batches.append(list(lines))

    @property
    def lines(self) -> list[str]:
        return [line for batch in self.batches for line in batch]


def start(
    tmp_path: Path, script: str, name: str = "run", collector: Collector | None = None, **options: object
) -> RunHandle:
    spec = RunSpec(run_id=name, run_dir=tmp_path / "runs" / name, script=script, cwd=tmp_path, **options)  # type: ignore[arg-type]
    return CommandRunner().start(spec, collector)


def finish(handle: RunHandle, seconds: float = 60) -> RunResult:
    result = handle.wait(seconds)
    assert result is not None, "the run did not end in time"
    return result


def eventually(condition: object, seconds: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.02)


def pids_in_group(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``, read straight from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


# -- streaming --------------------------------------------------------------------------------------------------

NOISY_PROGRAM = r"""
import sys, time
out = sys.stdout.buffer
def put(data):
    out.write(data); out.flush()
for i in range(3000):
    put(b"line %d\n" % i)
put(b"\x1b[1;31mred\x1b[0m and \x1b]0;title\x07plain\n")
put(b"progress  10%\r")
time.sleep(0.06)
put(b"progress  50%\rprogress 100%\n")
put(b"windows\r\n")
put(b"bad \xff\xfe bytes\n")
put(b"caf\xc3")
time.sleep(0.06)
put(b"\xa9 split\n")
sys.stderr.buffer.write(b"to stderr\n"); sys.stderr.flush()
put(b"tab\tand bell\x07\n")
put(b"no newline at the end")
"""
NOISY_EXPECTED = [
    *(f"line {i}" for i in range(3000)),
    "red and plain",
    "progress 100%",
    "windows",
    "bad \ufffd\ufffd bytes",
    "café split",
    "to stderr",
    "tab\tand bell",
    "no newline at the end",
]


def test_output_streams_cleaned_lines_in_batches_and_logs_exact_bytes(tmp_path: Path) -> None:
    program = tmp_path / "noisy.py"
    program.write_text(NOISY_PROGRAM)
    collector = Collector()
    result = finish(start(tmp_path, f"{sys.executable} {program}", collector=collector))

    assert result.outcome == "ok"
    assert collector.lines == NOISY_EXPECTED
    assert len(collector.batches) < len(NOISY_EXPECTED) / 10  # batched, not a call per line

    plain = tmp_path / "plain.log"
    subprocess.run(["bash", "-c", f"{sys.executable} {program} > {plain} 2>&1"], check=True)
    logged = (tmp_path / "runs" / "run" / "output.log").read_bytes()
    assert logged == plain.read_bytes()
    assert result.log_size == len(logged)
    import hashlib

    assert result.log_sha256 == hashlib.sha256(logged).hexdigest()


def test_display_lines_bound_an_endless_line() -> None:
    display = DisplayLines(max_line=100)
    lines: list[str] = []
    for _ in range(50):
        lines += display.feed(b"x" * 37)
    assert all(len(line) == 100 for line in lines)
    assert len(lines) == 18
    assert display.finish() == ["x" * (50 * 37 - 1800)]


def test_display_lines_keep_only_the_last_progress_rewrite_in_memory() -> None:
    display = DisplayLines(max_line=100)
    for i in range(1000):
        assert display.feed(f"{i:4d}%\r".encode()) == []
    assert display.feed(b"\n") == [" 999%"]


CHUNK_ALPHABET = [
    b"a",
    b"b",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\t",
    b"\x07",
    b"\xff",
    b"\xc3",
    b"\xa9",
    b"\xe2\x82\xac",
    b"\x1b",
    b"\x1b]",
    b"\x1b[",
    b"\x1b[31m",
    b"\x1b]0;t\x07",
]


@settings(max_examples=300, deadline=None)
@example(pieces=[b"\x1b]", b"a", b"\r", b"b", b"\x07", b"\n"], cuts=[4])  # a title holding \r, cut after the \r
@given(pieces=st.lists(st.sampled_from(CHUNK_ALPHABET), max_size=60), cuts=st.lists(st.integers(0, 200), max_size=8))
def test_display_lines_do_not_depend_on_how_output_is_chunked(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    whole = DisplayLines()
    expected = whole.feed(data) + whole.finish()
    chunked = DisplayLines()
    got: list[str] = []
    previous = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        got += chunked.feed(data[previous:cut])
        previous = cut
    got += chunked.feed(data[previous:]) + chunked.finish()
    assert got == expected
    assert all("\x1b" not in line and "\r" not in line and "\n" not in line for line in got)


# -- exit codes, pipefail, environment, exports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "outcome", "code", "sig"),
    [
        ("true", "ok", 0, None),
        ("echo failing; exit 3", "failed", 3, None),
        ("false | cat", "failed", 1, None),
        ("cat /nonexistent-file | sort", "failed", 1, None),
        ("kill -TERM $$", "failed", 128 + signal.SIGTERM, signal.SIGTERM),
    ],
)
def test_exit_status_and_pipefail(tmp_path: Path, script: str, outcome: str, code: int, sig: int | None) -> None:
    result = finish(start(tmp_path, script))
    assert (result.outcome, result.exit_code, result.signal) == (outcome, code, sig)
    assert (tmp_path / "runs" / "run" / "exit_code").read_text().strip() == str(code)


def test_exports_reach_a_later_run_and_env_is_merged_over_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMX_TEST_FROM_WIZARD", "outer value")
    first = finish(
        start(
            tmp_path,
            'BACKUP_DIR="$PWD/backup dir $(echo x)"\nmkdir -p "$BACKUP_DIR"\nMULTI=$\'two\\nlines\'\nexit 0',
            name="first",
            exports=("BACKUP_DIR", "MULTI", "NEVER_SET"),
        )
    )
    assert first.outcome == "ok"
    assert first.exports == {"BACKUP_DIR": f"{tmp_path}/backup dir x", "MULTI": "two\nlines"}

    second = start(
        tmp_path,
        'printf "%s|%s|%s|%s" "$BACKUP_DIR" "$MULTI" "$AMX_TEST_FROM_WIZARD" '
        '"$(command -v bash >/dev/null && echo path-ok)"',
        name="second",
        env=first.exports,
    )
    assert finish(second).outcome == "ok"
    assert (tmp_path / "runs" / "second" / "output.log").read_text() == (
        f"{tmp_path}/backup dir x|two\nlines|outer value|path-ok"
    )


def test_exports_are_saved_when_the_command_exits_early(tmp_path: Path) -> None:
    result = finish(start(tmp_path, "STAGE=half\nexit 4\nSTAGE=never", exports=("STAGE",)))
    assert (result.exit_code, result.exports) == (4, {"STAGE": "half"})


def test_a_bad_start_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"working folder .*missing does not exist"):
        CommandRunner().start(RunSpec("r", tmp_path / "r", "true", tmp_path / "missing"))
    with pytest.raises(RunError, match="not a shell variable name"):
        CommandRunner().start(RunSpec("r", tmp_path / "r", "true", tmp_path, exports=("X; rm",)))
    finish(start(tmp_path, "true", name="once"))
    with pytest.raises(RunError, match="already exists"):
        start(tmp_path, "true", name="once")


# -- sessions, priority, cancel, timeout ------------------------------------------------------------------------


def test_child_runs_in_its_own_session_at_the_nice_level_asked(tmp_path: Path) -> None:
    own_nice = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = max(own_nice, 15)
    script = 'read -r -a f < /proc/$$/stat; echo "${f[5]} ${f[18]} $(nice)"'
    handle = start(tmp_path, script, nice=wanted)
    assert finish(handle).outcome == "ok"
    sid, stat_nice, nice_says = (tmp_path / "runs" / "run" / "output.log").read_text().split()
    assert int(sid) == handle.started.pid
    assert int(sid) != os.getsid(0)
    assert int(stat_nice) == int(nice_says) == wanted


def test_default_priority_is_lower_than_ours(tmp_path: Path) -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) >= 10:
        pytest.skip("this test process already runs at nice 10 or more")
    assert finish(start(tmp_path, "nice")).outcome == "ok"
    assert (tmp_path / "runs" / "run" / "output.log").read_text().strip() == "10"


@pytest.fixture
def sigterm_watch() -> Iterator[list[int]]:
    """Records SIGTERMs this test process receives (there must be none)."""
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_cancel_stops_the_whole_group_and_never_the_wizard(tmp_path: Path, sigterm_watch: list[int]) -> None:
    handle = start(tmp_path, 'bash -c "sleep 100 & sleep 100; wait"')
    pgid = handle.started.pid
    assert pgid != os.getpgrp()
    eventually(lambda: len(pids_in_group(pgid)) >= 5, what="the run's processes to appear")  # run.sh, bash x2, sleep x2

    handle.cancel()
    result = finish(handle, 30)

    assert result.outcome == "cancelled"
    assert result.signal == signal.SIGTERM
    assert result.exit_code is None
    eventually(lambda: not pids_in_group(pgid), seconds=5, what="the group to be gone")
    assert sigterm_watch == []
    assert os.getpgrp() == os.getpgid(0)  # we are still here, in our own group


def test_cancel_kills_what_ignores_sigterm_after_the_grace(tmp_path: Path, sigterm_watch: list[int]) -> None:
    collector = Collector()
    handle = start(tmp_path, 'trap "" TERM; echo ready; sleep 100 & sleep 100; wait', collector=collector)
    pgid = handle.started.pid
    eventually(lambda: "ready" in collector.lines and len(pids_in_group(pgid)) >= 4, what="the run to be ready")

    handle.cancel(grace=0.5)
    result = finish(handle, 30)

    assert result.outcome == "cancelled"
    assert result.signal == signal.SIGKILL
    assert not pids_in_group(pgid)
    assert sigterm_watch == []


def test_timeout_kills_the_group_and_says_timeout(tmp_path: Path, sigterm_watch: list[int]) -> None:
    handle = start(tmp_path, "sleep 100 & sleep 100; wait", timeout=0.5)
    result = finish(handle, 30)
    assert result.outcome == "timeout"
    assert result.signal == signal.SIGTERM
    assert not pids_in_group(handle.started.pid)
    assert sigterm_watch == []


# -- identity, probe, reattach ----------------------------------------------------------------------------------


def test_process_identity_needs_same_boot_pid_and_start(tmp_path: Path) -> None:
    ticks = proc_start_ticks(os.getpid())
    assert ticks is not None
    assert process_alive(os.getpid(), ticks, boot_id())
    assert not process_alive(os.getpid(), ticks + 1, boot_id())
    assert not process_alive(os.getpid(), ticks, "another-boot")
    zombie = subprocess.Popen(["true"])
    eventually(
        lambda: Path(f"/proc/{zombie.pid}/stat").read_bytes().split(b") ")[1][:1] == b"Z",
        what="the child to become a zombie",
    )
    assert not process_alive(zombie.pid, proc_start_ticks(zombie.pid), boot_id())
    zombie.wait()


def test_proc_start_ticks_survive_odd_process_names(tmp_path: Path) -> None:
    odd = tmp_path / "a b) (c"
    odd.symlink_to("/bin/sleep")
    child = subprocess.Popen([str(odd), "30"])
    try:
        eventually(lambda: b"(a b) (c)" in Path(f"/proc/{child.pid}/stat").read_bytes(), what="exec")
        ticks = proc_start_ticks(child.pid)
        assert ticks is not None and ticks >= (proc_start_ticks(os.getpid()) or 0)
        assert process_alive(child.pid, ticks, boot_id())
    finally:
        child.kill()
        child.wait()


GATED_SCRIPT = (
    'for i in $(seq 1 20); do echo "line $i"; done\n'
    "while [ ! -e go ]; do sleep 0.02; done\n"
    'for i in $(seq 21 40); do echo "line $i"; sleep 0.01; done\n'
    "exit 7"
)


def start_in_doomed_wizard(tmp_path: Path, script: str, name: str = "orphan") -> tuple[Path, dict[str, object]]:
    """Start a run from a separate wizard process and SIGKILL that wizard; returns the run folder and identity."""
    run_dir = tmp_path / "runs" / name
    wizard = subprocess.Popen(
        [sys.executable, str(FIXTURES / "start_run.py"), str(run_dir), str(tmp_path), script],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert wizard.stdout is not None
    line = wizard.stdout.readline()
    assert line.startswith("STARTED "), line
    wizard.kill()
    assert wizard.wait() == -signal.SIGKILL
    return run_dir, json.loads(line.removeprefix("STARTED "))


def test_reattach_after_the_wizard_died_sees_every_line_once(tmp_path: Path) -> None:
    run_dir, who = start_in_doomed_wizard(tmp_path, GATED_SCRIPT)
    runner = CommandRunner()
    identity = {"pid": who["pid"], "proc_start": who["proc_start"], "boot_id": who["boot_id"]}
    eventually(lambda: (run_dir / "output.log").read_text().count("\n") >= 20, what="the first half")
    assert runner.probe(run_dir, **identity) == "running"  # type: ignore[arg-type]

    collector = Collector()
    handle = runner.reattach(run_dir, collector, started=str(who["started"]), **identity)  # type: ignore[arg-type]
    assert not handle.attached
    (tmp_path / "go").touch()
    result = finish(handle)

    assert collector.lines == [f"line {i}" for i in range(1, 41)]
    assert (result.outcome, result.exit_code) == ("failed", 7)
    assert result.duration is not None and result.duration > 0
    assert result.log_size == (run_dir / "output.log").stat().st_size
    assert runner.probe(run_dir, **identity) == "finished"  # type: ignore[arg-type]


def test_a_run_killed_without_exit_status_is_interrupted(tmp_path: Path) -> None:
    run_dir, who = start_in_doomed_wizard(tmp_path, "echo started; sleep 100")
    pgid = int(who["pid"])  # type: ignore[call-overload]
    eventually(lambda: (run_dir / "output.log").read_text() == "started\n", what="the run to start")
    os.killpg(pgid, signal.SIGKILL)
    eventually(lambda: not pids_in_group(pgid), what="the group to die")

    runner = CommandRunner()
    identity = {"pid": pgid, "proc_start": who["proc_start"], "boot_id": who["boot_id"]}
    assert runner.probe(run_dir, **identity) == "gone"  # type: ignore[arg-type]
    collector = Collector()
    result = finish(runner.reattach(run_dir, collector, started=str(who["started"]), **identity))  # type: ignore[arg-type]
    assert (result.outcome, result.exit_code) == ("interrupted", None)
    assert collector.lines == ["started"]
    assert not (run_dir / "exit_code").exists()


def test_a_recorded_run_from_another_boot_is_not_running(tmp_path: Path) -> None:
    handle = start(tmp_path, "sleep 30")
    try:
        started = handle.started
        assert (
            CommandRunner().probe(
                handle.run_dir, pid=started.pid, proc_start=started.proc_start, boot_id=started.boot_id
            )
            == "running"
        )
        assert (
            CommandRunner().probe(
                handle.run_dir,
                pid=started.pid,
                proc_start=started.proc_start,
                boot_id="00000000-0000-0000-0000-000000000000",
            )
            == "gone"
        )
    finally:
        handle.cancel(grace=1)
        finish(handle)


def test_detach_leaves_the_run_going_for_a_later_wizard(tmp_path: Path) -> None:
    collector = Collector()
    handle = start(tmp_path, GATED_SCRIPT, collector=collector)
    eventually(lambda: len(collector.lines) == 20, what="the first half")
    handle.detach()
    assert finish(handle, 30).outcome == "detached"

    who = handle.started
    runner = CommandRunner()
    assert runner.probe(handle.run_dir, pid=who.pid, proc_start=who.proc_start, boot_id=who.boot_id) == "running"
    again = Collector()
    later = runner.reattach(
        handle.run_dir, again, pid=who.pid, proc_start=who.proc_start, boot_id=who.boot_id, started=who.started
    )
    (tmp_path / "go").touch()
    assert (finish(later).outcome, later.result().exit_code) == ("failed", 7)
    assert again.lines == [f"line {i}" for i in range(1, 41)]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain\n", "plain"),
        ("\x1b[32mgreen\x1b[0m\n", "green"),
        ("[ 10%]\r[ 55%]\r[100%] Built target ggml\r\n", "[100%] Built target ggml"),
        ("no newline", "no newline"),
    ],
)
def test_display_line_cleans_one_line(raw: str, shown: str) -> None:
    assert display_line(raw) == shown
