"""Notifications (issue 19): the terminal sequence through a real pty (plain and wrapped for tmux), the person's
command with hostile values, and a run that ends with no wizard attached telling the terminal it came from."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from amxwizard.engine.notify import (
    CHANNELS,
    HOOK_FILE,
    Notice,
    Notifier,
    NotifyError,
    NotifySettings,
    Terminal,
    attach,
    load_settings,
    override,
    parse_channels,
    save_settings,
    terminal_sequence,
    tmux_wrap,
    wizard_attached,
)
from amxwizard.engine.runner import CommandRunner, RunSpec, read_exit_code
from amxwizard.engine.session import Session
from amxwizard.runbook import load_runbook

from ..cli_session import AMXWIZARD, accept_setup

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "notify" / "steps.yaml"
HOSTILE = "$(touch pwned); rm -rf nothing `touch pwned2` && echo $HOME > leaked | tee x"


def _read_until(fd: int, pid: int, deadline: float) -> tuple[bytes, int | None]:
    """Everything the child writes to its terminal until it exits (or ``deadline``), and its exit status."""
    seen = b""
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            seen += chunk
            if chunk:
                continue
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(wait_status)
            with contextlib.suppress(OSError):
                while select.select([fd], [], [], 0.1)[0]:
                    more = os.read(fd, 65536)
                    if not more:
                        break
                    seen += more
            break
    return seen, status


def _in_pty(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[bytes, int | None]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the pty
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    try:
        return _read_until(fd, pid, time.monotonic() + 120)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMXWIZARD_", "TMUX"))}
    env.update({"TERM": "xterm-256color", "AMXWIZARD_NICE": "0", **extra})
    return env


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.fixture
def accepted(tmp_path: Path, work: Path) -> Path:
    """A session of the notify runbook, accepted through the real CLI; returns the state folder."""
    state = tmp_path / "state"
    accept_setup(state, {"repo": str(work)}, runbook=FIXTURE, cwd=tmp_path)
    return state


# --- a step's end, on the terminal (a real pty) -------------------------------------------------------------------


def test_a_steps_end_writes_the_notification_sequence_to_the_terminal(tmp_path: Path, accepted: Path) -> None:
    env = _clean_env(AMXWIZARD_NOTIFY_AFTER="0")
    out, status = _in_pty(
        [AMXWIZARD, "step", "loud", "--runbook", str(FIXTURE), "--state-dir", str(accepted)], env, tmp_path
    )
    assert status == 0, out.decode(errors="replace")
    assert b"\x1b]9;amxwizard: loud passed after " in out
    osc = out.index(b"\x1b]9;amxwizard: loud passed")
    end = out.index(b"\x07", osc)  # the sequence ends with BEL ...
    assert out[end + 1 : end + 2] == b"\x07"  # ... and the bell follows it
    assert b"\x1bPtmux;" not in out  # not inside tmux: not wrapped


def test_inside_tmux_the_sequence_is_wrapped_in_its_passthrough(tmp_path: Path, accepted: Path) -> None:
    # No tmux server answers at this socket: the display-message fails (and says so); the terminal still gets it.
    env = _clean_env(AMXWIZARD_NOTIFY_AFTER="0", TMUX=f"{tmp_path}/no-tmux-here,1,0", TMUX_PANE="%0")
    out, status = _in_pty(
        [AMXWIZARD, "step", "fails", "--runbook", str(FIXTURE), "--state-dir", str(accepted)], env, tmp_path
    )
    assert status == 1, out.decode(errors="replace")
    wrapped = b"\x1bPtmux;\x1b\x1b]9;amxwizard: fails failed after "
    assert wrapped in out
    start = out.index(wrapped)
    end = out.index(b"\x1b\\", start + len(wrapped))
    inner = out[start + len(b"\x1bPtmux;") : end]
    assert inner.count(b"\x1b") == 2 and inner.startswith(b"\x1b\x1b]9;")  # every ESC inside is doubled
    assert out[end + 2 : end + 3] == b"\x07"  # the bell goes outside the passthrough: monitor-bell sees it
    assert b"notification: tmux display-message" in out  # the failure is said, not hidden


def test_a_short_step_ends_quietly_and_off_means_off(tmp_path: Path, accepted: Path) -> None:
    argv = [AMXWIZARD, "step", "loud", "--again", "--runbook", str(FIXTURE), "--state-dir", str(accepted)]
    out, status = _in_pty(argv, _clean_env(), tmp_path)  # default: ends shorter than 10 s are not announced
    assert status == 0 and b"\x1b]9;" not in out and b"\x07" not in out
    out, status = _in_pty(argv, _clean_env(AMXWIZARD_NOTIFY="off", AMXWIZARD_NOTIFY_AFTER="0"), tmp_path)
    assert status == 0 and b"\x1b]9;" not in out and b"\x07" not in out


def test_the_sequence_for_each_terminal() -> None:
    notice = Notice(event="ended", step="1.4", state="passed", summary="built\x1b]0;owned\x07 ok", duration=754)
    plain = terminal_sequence(notice, NotifySettings(), Terminal(names="xterm-256color iterm.app"))
    assert plain == "\x1b]9;amxwizard: 1.4 passed after 13 min: built ok\x07\x07"  # tool output's escapes removed
    foot = terminal_sequence(notice, NotifySettings(), Terminal(names="foot"))
    assert foot.startswith("\x1b]777;notify;amxwizard;1.4 passed after 13 min") and foot.endswith("\x07\x07")
    bell_only = terminal_sequence(notice, NotifySettings(channels=frozenset({"bell"})), Terminal())
    assert bell_only == "\x07"
    assert terminal_sequence(notice, NotifySettings(channels=frozenset()), Terminal()) == ""
    assert tmux_wrap("\x1b]9;x\x07") == "\x1bPtmux;\x1b\x1b]9;x\x07\x1b\\"


# --- the person's command --------------------------------------------------------------------------------------

DUMP = """
import json, os, sys
keys = [k for k in os.environ if k.startswith("AMXWIZARD_")]
json.dump({"argv": sys.argv[1:], "env": {k: os.environ[k] for k in keys}}, open(sys.argv[1], "w"))
"""


def test_the_notify_command_gets_the_values_and_cannot_be_injected(tmp_path: Path) -> None:
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    out = tmp_path / "got.json"
    shell_out = tmp_path / "shell.txt"
    notice = Notice(
        event="ended",
        step="1.4",
        state="failed",
        summary=HOSTILE,
        title=f"Build {HOSTILE}",
        duration=61.4,
        session="s1",
    )
    # Configured as a person would type it: a command line, split like a shell splits it, run without one.
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(out))}"
    settings = override(NotifySettings(), notify="command", command=command)
    problems = Notifier(settings, Terminal()).send(notice)
    assert problems == []
    got = json.loads(out.read_text())
    assert got["argv"] == [str(out)]  # no value reached the arguments
    env = got["env"]
    assert env["AMXWIZARD_STEP"] == "1.4" and env["AMXWIZARD_STATE"] == "failed"
    assert env["AMXWIZARD_DURATION"] == "61" and env["AMXWIZARD_SESSION"] == "s1"
    assert env["AMXWIZARD_SUMMARY"] == HOSTILE and env["AMXWIZARD_STEP_TITLE"] == f"Build {HOSTILE}"
    assert env["AMXWIZARD_EVENT"] == "ended" and HOSTILE in env["AMXWIZARD_MESSAGE"]

    # A person's own sh -c that quotes its variables: the value is text to it too.
    sh_command = ("sh", "-c", 'printf %s "$AMXWIZARD_SUMMARY" > "$0"', str(shell_out))
    settings = NotifySettings(channels=frozenset({"command"}), command=sh_command)
    assert Notifier(settings, Terminal()).send(notice) == []
    assert shell_out.read_text() == HOSTILE
    for cwd in (tmp_path, Path.cwd()):
        assert not (cwd / "pwned").exists() and not (cwd / "pwned2").exists() and not (cwd / "leaked").exists()


def test_a_failing_or_missing_command_is_reported_not_raised(tmp_path: Path) -> None:
    notice = Notice(event="silent", step="1.4", state="nothing printed for 10 min")
    failing = NotifySettings(channels=frozenset({"command"}), command=("sh", "-c", "echo boom >&2; exit 4"))
    assert Notifier(failing, Terminal()).send(notice) == ["notify command sh -c 'echo boom >&2; exit 4' exited 4: boom"]
    missing = NotifySettings(channels=frozenset({"command"}), command=(str(tmp_path / "no-such-program"),))
    assert "not found" in Notifier(missing, Terminal()).send(notice)[0]


def test_settings_come_from_the_session_else_the_environment(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {}) == NotifySettings()
    env = {"AMXWIZARD_NOTIFY": "terminal,tmux", "AMXWIZARD_NOTIFY_COMMAND": "ntfy pub 'my topic'"}
    from_env = load_settings(tmp_path, env)
    assert from_env.channels == {"terminal", "tmux"} and from_env.command == ("ntfy", "pub", "my topic")
    assert from_env.source == "environment"
    save_settings(tmp_path, override(from_env, notify="off"))
    assert load_settings(tmp_path, env).channels == frozenset()  # the session's own choice wins
    assert (tmp_path / "notify.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(NotifyError, match="AMXWIZARD_NOTIFY: 'loud' is not a channel"):
        load_settings(tmp_path / "elsewhere", {"AMXWIZARD_NOTIFY": "loud"})
    with pytest.raises(NotifyError, match="--notify-command: No closing quotation"):
        override(NotifySettings(), command="ntfy 'open")
    assert parse_channels("on") == frozenset(CHANNELS) and parse_channels("off") == frozenset()


def test_the_cli_refuses_a_bad_setting_in_one_line(tmp_path: Path, accepted: Path) -> None:
    done = subprocess.run(
        [AMXWIZARD, "notify", "loudly", "--state-dir", str(accepted)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    expected = "amxwizard: --notify: 'loudly' is not a channel (on, off, or a list of terminal, bell, tmux, command)"
    assert done.stderr.strip() == expected


# --- no wizard attached: the run's own wrapper tells the terminal the wizard came from ---------------------------


@pytest.fixture
def terminal_pair() -> Iterator[tuple[int, Terminal]]:
    """A real pty: the wizard's terminal (its slave end) and the reader on the other side."""
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        st = os.stat(name)
        yield master, Terminal(tty=name, rdev=st.st_rdev, ctime_ns=st.st_ctime_ns, names="xterm-256color")
    finally:
        os.close(slave)
        os.close(master)


def _drain(fd: int, until: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            seen += os.read(fd, 65536)
    return seen


def _start_run(session_dir: Path, step: str, script: str, cwd: Path) -> Path:
    run_dir = session_dir / "runs" / f"{step}-1-0-test"
    handle = CommandRunner().start(
        RunSpec(run_id=run_dir.name, run_dir=run_dir, script=script, cwd=cwd, nice=0, meta={"step": step, "index": 0})
    )
    handle.result()
    assert read_exit_code(run_dir) is not None
    return run_dir


def test_a_run_that_ends_with_no_wizard_attached_notifies_the_terminal_it_came_from(
    tmp_path: Path, work: Path, terminal_pair: tuple[int, Terminal]
) -> None:
    master, terminal = terminal_pair
    runbook = load_runbook(FIXTURE)
    session = Session.create(tmp_path / "state", runbook, {"repo": str(work)})
    got = tmp_path / "got.json"
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    settings = NotifySettings(after=0, command=(sys.executable, str(script), str(got)))
    assert attach(session.dir, terminal, {"loud": "Says hello"}, settings)
    assert (session.dir / "runs" / HOOK_FILE).stat().st_mode & 0o777 == 0o700

    # While the wizard holds the session, the wrapper leaves the telling to it.
    assert wizard_attached(session.dir)
    _start_run(session.dir, "loud", "echo hello", work)
    time.sleep(1.5)  # the hook had its chance
    assert not got.exists()
    assert not select.select([master], [], [], 0)[0]

    session.close()  # the wizard is gone; the next run ends unwatched
    assert not wizard_attached(session.dir)
    _start_run(session.dir, "fails", "echo bad; exit 3", work)
    seen = _drain(master, b"\x07\x07")
    assert b"\x1b]9;amxwizard: fails exit 3 after " in seen, seen
    assert seen.endswith(b"\x07\x07")
    deadline = time.monotonic() + 30
    while not got.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    env = json.loads(got.read_text())["env"]
    assert env["AMXWIZARD_STEP"] == "fails" and env["AMXWIZARD_STATE"] == "exit 3"
    assert env["AMXWIZARD_EXIT_CODE"] == "3" and "no wizard was watching" in env["AMXWIZARD_SUMMARY"]


def test_a_closed_terminal_is_not_written_to(tmp_path: Path, work: Path) -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    st = os.stat(name)
    terminal = Terminal(tty=name, rdev=st.st_rdev, ctime_ns=st.st_ctime_ns)
    assert terminal.still_open()
    os.close(slave)
    os.close(master)  # the terminal is gone; its number may be given to someone else's
    reused = Terminal(tty=name, rdev=st.st_rdev, ctime_ns=st.st_ctime_ns - 1)
    assert not reused.still_open()
    assert not Terminal(tty=str(tmp_path / "no-tty")).still_open()


def test_no_hook_when_nothing_can_reach_the_person(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert not attach(tmp_path, Terminal(), {}, NotifySettings())  # no tty, no tmux, no command
    assert not (tmp_path / "runs" / HOOK_FILE).exists()
    assert attach(tmp_path, Terminal(), {}, NotifySettings(command=("true",)))
    assert not attach(tmp_path, Terminal(tty="/dev/pts/0"), {}, NotifySettings(channels=frozenset()))
    assert not (tmp_path / "runs" / HOOK_FILE).exists()  # turned off: removed again
