"""Tell the person that a step ended or went quiet, wherever they are: no daemon, nothing installed on their laptop.

Channels (each can be turned off; all are on by default):

- ``terminal``: the terminal's own notification escape, ``OSC 9`` (iTerm2, kitty, WezTerm, Windows Terminal) or
  ``OSC 777;notify`` for the terminals known to read that one instead (rxvt-unicode, foot, VTE, Ghostty, Konsole).
  Inside tmux it is wrapped in tmux's passthrough (``ESC P tmux; ... ESC \\``, which needs
  ``set -g allow-passthrough on``). It travels over SSH like any other output.
- ``bell``: a plain BEL after it, which every terminal and tmux's ``monitor-bell`` surface, passthrough or not.
- ``tmux``: ``tmux display-message`` on the tmux client, when the wizard runs inside tmux.
- ``command``: a command of the person's own (ntfy, mail, a chat hook). It is run with an argument vector, never
  through a shell, and gets what happened only as environment variables (``AMXWIZARD_STEP``,
  ``AMXWIZARD_STATE``, ``AMXWIZARD_DURATION``, ``AMXWIZARD_SUMMARY``, ...): a value is never parsed as shell text.

The settings are the session's (``<session>/notify.json``, written by ``--notify`` and the setup screen), else the
environment's (``AMXWIZARD_NOTIFY``, ``AMXWIZARD_NOTIFY_COMMAND``, ``AMXWIZARD_NOTIFY_AFTER``), else the defaults.
They are kept out of the event log on purpose: a notify command often holds a webhook's secret, and the log is
what a reviewer receives.

A run that ends while no wizard is attached tells the person itself: the run's wrapper starts the session's
``runs/on-run-end`` (written here when a wizard attaches, see :func:`attach`), which finds the session unlocked and
sends the notice through the same channels, the terminal sequence going to the tty the wizard was started from if
that terminal is still the same one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .fileio import atomic_write, folder_locked
from .terminal import safe_line

CHANNELS = ("terminal", "bell", "tmux", "command")
SETTINGS_FILE = "notify.json"
HOOK_FILE = "on-run-end"  # in the session's runs/ folder: the wrapper of every run starts it when it exists
LOG_FILE = "notify.log"  # what a notification sent without a wizard could not do
ENV_NOTIFY = "AMXWIZARD_NOTIFY"
ENV_COMMAND = "AMXWIZARD_NOTIFY_COMMAND"
ENV_AFTER = "AMXWIZARD_NOTIFY_AFTER"
DEFAULT_AFTER = 10.0  # a step shorter than this ends without a notification (the person is still looking)
COMMAND_TIMEOUT = 30.0
MAX_TEXT = 240  # a notification is a line, not a log

# Terminals that read OSC 777;notify (and would show OSC 9 as well, or not at all): matched in TERM, TERM_PROGRAM,
# LC_TERMINAL and, inside tmux, the outer terminal's name.
_OSC777_NAMES = ("rxvt", "foot", "ghostty", "konsole", "vte", "contour")

Event = Literal["ended", "silent", "overdue", "test"]


class NotifyError(ValueError):
    """A setting that cannot be used; the message is one line naming where it came from."""


# --- settings ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Which channels are on, the person's command (an argument vector), and how long a step must have run before
    its end is worth a notification. ``source`` says where they came from (shown by ``amxwizard notify``)."""

    channels: frozenset[str] = frozenset(CHANNELS)
    command: tuple[str, ...] = ()
    after: float = DEFAULT_AFTER
    source: str = "default"

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def wants(self, channel: str) -> bool:
        if channel == "command":
            return "command" in self.channels and bool(self.command)
        return channel in self.channels

    def describe(self) -> str:
        """One line: ``terminal, bell, tmux; command: ntfy pub t; after 10 s (from the session)``."""
        if not self.enabled:
            return f"off (from the {self.source})"
        on = ", ".join(c for c in CHANNELS if c in self.channels and c != "command")
        cmd = f"; command: {shlex.join(self.command)}" if self.wants("command") else "; no command"
        return f"{on or 'no terminal channel'}{cmd}; ends after {self.after:g} s or more (from the {self.source})"

    def to_json(self) -> dict[str, Any]:
        channels = [c for c in CHANNELS if c in self.channels]
        return {"channels": channels, "command": list(self.command), "after": self.after}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> NotifySettings:
        channels = data.get("channels", list(CHANNELS))
        command = data.get("command", [])
        after = data.get("after", DEFAULT_AFTER)
        if not isinstance(channels, list) or not all(c in CHANNELS for c in channels):
            raise NotifyError(f"{source}: 'channels' must be a list of {', '.join(CHANNELS)}")
        if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
            raise NotifyError(f"{source}: 'command' must be a list of strings")
        if not isinstance(after, int | float) or isinstance(after, bool) or after < 0:
            raise NotifyError(f"{source}: 'after' must be a number of seconds, 0 or more")
        return cls(frozenset(channels), tuple(command), float(after), source)


def parse_channels(text: str, where: str = "--notify") -> frozenset[str]:
    """``on`` (every channel), ``off``, or a comma list of ``terminal``, ``bell``, ``tmux``, ``command``."""
    word = text.strip().lower()
    if word in ("on", "yes", "true", "1", "all"):
        return frozenset(CHANNELS)
    if word in ("off", "no", "false", "0", "none", ""):
        return frozenset()
    parts = {p.strip() for p in word.split(",") if p.strip()}
    unknown = sorted(parts - set(CHANNELS))
    if unknown:
        raise NotifyError(f"{where}: {unknown[0]!r} is not a channel (on, off, or a list of {', '.join(CHANNELS)})")
    return frozenset(parts)


def parse_command(text: str, where: str = "--notify-command") -> tuple[str, ...]:
    """A command line split as the shell would split it, into the argument vector it is run with."""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise NotifyError(f"{where}: {exc}") from None


def parse_after(text: str, where: str = "--notify-after") -> float:
    try:
        value = float(text)
    except ValueError:
        raise NotifyError(f"{where}: {text!r} is not a number of seconds") from None
    if value < 0 or value != value:
        raise NotifyError(f"{where}: {text!r} must be 0 or more seconds")
    return value


def settings_from_env(environ: Mapping[str, str]) -> NotifySettings | None:
    """The environment's settings, or ``None`` when it sets none."""
    if not any(name in environ for name in (ENV_NOTIFY, ENV_COMMAND, ENV_AFTER)):
        return None
    base = NotifySettings(source="environment")
    if ENV_NOTIFY in environ:
        base = replace(base, channels=parse_channels(environ[ENV_NOTIFY], ENV_NOTIFY))
    if ENV_COMMAND in environ:
        base = replace(base, command=parse_command(environ[ENV_COMMAND], ENV_COMMAND))
    if ENV_AFTER in environ:
        base = replace(base, after=parse_after(environ[ENV_AFTER], ENV_AFTER))
    return base


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise NotifyError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise NotifyError(f"{path}: not a JSON object")
    return data


def load_settings(session_dir: Path, environ: Mapping[str, str] | None = None) -> NotifySettings:
    """The session's own settings, else the environment's, else the defaults. Raises :class:`NotifyError`."""
    data = _read_json(session_dir / SETTINGS_FILE)
    if data is not None and isinstance(data.get("settings"), dict):
        return NotifySettings.from_json(data["settings"], "session")
    from_env = settings_from_env(os.environ if environ is None else environ)
    return from_env if from_env is not None else NotifySettings()


def save_settings(session_dir: Path, settings: NotifySettings) -> None:
    """Make ``settings`` the session's own (kept with what :func:`attach` recorded)."""
    data = _read_json(session_dir / SETTINGS_FILE) or {}
    data["settings"] = settings.to_json()
    if "effective" in data:
        data["effective"] = settings.to_json()  # the hook follows the change at once, not at the next attach
    atomic_write(session_dir / SETTINGS_FILE, json.dumps(data, indent=2) + "\n", mode=0o600)


def override(
    base: NotifySettings, *, notify: str | None = None, command: str | None = None, after: str | None = None
) -> NotifySettings:
    """``base`` with the command line's ``--notify``, ``--notify-command`` and ``--notify-after`` applied."""
    out = base
    if notify is not None:
        out = replace(out, channels=parse_channels(notify))
    if command is not None:
        out = replace(out, command=parse_command(command))
        if out.command and notify is None:
            out = replace(out, channels=out.channels | {"command"})
    if after is not None:
        out = replace(out, after=parse_after(after))
    return replace(out, source="session") if out != base else base


# --- where the person is ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terminal:
    """The terminal a wizard was started from: its tty (and how to tell it is still the same one), tmux, and names."""

    tty: str = ""
    rdev: int = 0
    ctime_ns: int = 0
    tmux: str = ""  # $TMUX: the server's socket, its pid and the session
    tmux_pane: str = ""
    names: str = ""  # TERM, TERM_PROGRAM, LC_TERMINAL and the outer terminal's name, lower case

    @classmethod
    def here(cls, environ: Mapping[str, str] | None = None, fds: Iterable[int] = (1, 2, 0)) -> Terminal:
        """The terminal of this process (the first of ``fds`` that is one) and tmux, from the environment."""
        env = os.environ if environ is None else environ
        tty, rdev, ctime = "", 0, 0
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.isatty(fd):
                    tty = os.ttyname(fd)
                    st = os.stat(tty)
                    rdev, ctime = st.st_rdev, st.st_ctime_ns
                    break
        tmux = env.get("TMUX", "")
        names = [env.get(k, "") for k in ("TERM", "TERM_PROGRAM", "LC_TERMINAL")]
        if tmux:
            names.append(_tmux_query(env, "#{client_termname} #{client_termtype}"))
        return cls(tty, rdev, ctime, tmux, env.get("TMUX_PANE", ""), " ".join(n for n in names if n).lower())

    @property
    def in_tmux(self) -> bool:
        return bool(self.tmux)

    @property
    def osc(self) -> Literal["9", "777"]:
        """Which notification sequence this terminal reads."""
        return "777" if any(name in self.names for name in _OSC777_NAMES) else "9"

    def still_open(self) -> bool:
        """The recorded tty exists and is the same terminal (a closed pty's number may have been given to another)."""
        if not self.tty:
            return False
        try:
            st = os.stat(self.tty)
        except OSError:
            return False
        return stat.S_ISCHR(st.st_mode) and st.st_rdev == self.rdev and st.st_ctime_ns == self.ctime_ns

    def to_json(self) -> dict[str, Any]:
        return {
            "tty": self.tty,
            "rdev": self.rdev,
            "ctime_ns": self.ctime_ns,
            "tmux": self.tmux,
            "tmux_pane": self.tmux_pane,
            "names": self.names,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Terminal:
        def text(key: str) -> str:
            value = data.get(key, "")
            return value if isinstance(value, str) else ""

        def number(key: str) -> int:
            value = data.get(key, 0)
            return value if isinstance(value, int) else 0

        return cls(text("tty"), number("rdev"), number("ctime_ns"), text("tmux"), text("tmux_pane"), text("names"))


def _tmux_env(terminal_tmux: str) -> dict[str, str]:
    return {**os.environ, "TMUX": terminal_tmux}


def _tmux_query(env: Mapping[str, str], fmt: str) -> str:
    try:
        done = subprocess.run(
            ["tmux", "display-message", "-p", fmt],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=2,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


# --- what is said -----------------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def one_line(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as one line a terminal can show and nothing can act on: controls removed, shortened."""
    flat = " ".join(safe_line(part) for part in text.splitlines()).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing worth telling: a step ended (``state``: passed, failed, ...), went quiet, or runs long."""

    event: Event
    step: str
    state: str
    summary: str = ""
    title: str = ""
    duration: float | None = None
    session: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """What the notification says, on one line."""
        if self.event == "ended":
            took = f" after {_minutes(self.duration)}" if self.duration is not None else ""
            head = f"{self.step} {self.state}{took}"
        elif self.event == "silent":
            head = f"{self.step} silent: {self.state}"
        elif self.event == "overdue":
            head = f"{self.step} runs long: {self.state}"
        else:
            head = f"test from {self.step or 'amxwizard'}"
        return one_line(f"{head}: {self.summary}" if self.summary else head)

    def environment(self) -> dict[str, str]:
        """What a notify command receives: every value as an environment variable, never as shell text."""
        values = {
            "AMXWIZARD_EVENT": self.event,
            "AMXWIZARD_STEP": self.step,
            "AMXWIZARD_STEP_TITLE": self.title,
            "AMXWIZARD_STATE": self.state,
            "AMXWIZARD_DURATION": "" if self.duration is None else str(round(self.duration)),
            "AMXWIZARD_SUMMARY": self.summary,
            "AMXWIZARD_SESSION": self.session,
            "AMXWIZARD_MESSAGE": self.text(),
            **{f"AMXWIZARD_{k.upper()}": v for k, v in self.extra.items()},
        }
        return {k: v.replace("\0", "") for k, v in values.items()}


# --- the channels -----------------------------------------------------------------------------------------------


def tmux_wrap(sequence: str) -> str:
    """``sequence`` in tmux's passthrough: ``ESC P tmux;`` + the sequence with every ESC doubled + ``ESC \\``."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def terminal_sequence(notice: Notice, settings: NotifySettings, terminal: Terminal) -> str:
    """The bytes (as text) the terminal gets: the notification escape (wrapped inside tmux), then the bell."""
    out = ""
    if settings.wants("terminal"):
        text = notice.text()
        # OSC 9's text starts with "amxwizard: ": a number and ';' first would mean something else to ConEmu.
        osc = f"\x1b]777;notify;amxwizard;{text}\x07" if terminal.osc == "777" else f"\x1b]9;amxwizard: {text}\x07"
        out += tmux_wrap(osc) if terminal.in_tmux else osc
    if settings.wants("bell"):
        out += "\x07"
    return out


def tmux_message(notice: Notice, terminal: Terminal) -> str | None:
    """Show the notice on the tmux client's status line; ``None`` when done, else what went wrong."""
    argv = ["tmux", "display-message"]
    if terminal.tmux_pane:
        argv += ["-t", terminal.tmux_pane]
    argv.append(("amxwizard: " + notice.text()).replace("#", "##"))  # '#' starts a tmux format
    try:
        done = subprocess.run(
            argv, env=_tmux_env(terminal.tmux), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tmux display-message: {exc}"
    if done.returncode != 0:
        return f"tmux display-message: {one_line(done.stderr) or f'exit {done.returncode}'}"
    return None


def run_notify_command(
    argv: Sequence[str], notice: Notice, *, timeout: float = COMMAND_TIMEOUT, cwd: Path | None = None
) -> str | None:
    """Run the person's command with the notice in its environment; ``None`` when it succeeded, else why not.

    It runs with an argument vector (no shell parses it), without a terminal (stdin is /dev/null, its output is
    kept only to explain a failure) and in its own session, so it cannot write into the wizard's screen.
    """
    if not argv:
        return None
    try:
        done = subprocess.run(
            list(argv),
            env={**os.environ, **notice.environment()},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,
            cwd=cwd,
        )
    except FileNotFoundError:
        return f"notify command {argv[0]!r} not found"
    except subprocess.TimeoutExpired:
        return f"notify command {shlex.join(argv)} still running after {timeout:g} s; left to finish on its own"
    except OSError as exc:
        return f"notify command {shlex.join(argv)}: {exc.strerror or exc}"
    if done.returncode != 0:
        said = one_line(done.stderr.decode("utf-8", "replace"), 120)
        return f"notify command {shlex.join(argv)} exited {done.returncode}" + (f": {said}" if said else "")
    return None


def write_tty(terminal: Terminal, data: str) -> str | None:
    """Write ``data`` to the recorded tty if it is still the same terminal; ``None`` when written, else why not."""
    if not terminal.still_open():
        return f"the terminal {terminal.tty or '(none)'} is closed"
    try:
        fd = os.open(terminal.tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"{terminal.tty}: {exc.strerror or exc}"
    try:
        if not os.isatty(fd):
            return f"{terminal.tty} is not a terminal"
        os.write(fd, data.encode("utf-8"))
    except OSError as exc:
        return f"{terminal.tty}: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return None


class Notifier:
    """Sends notices through the channels the settings turn on.

    ``write`` puts text on the person's terminal (the TUI passes its driver's writer, so the bytes go in order
    with its frames; the CLI writes to its own terminal); without it the terminal channels are skipped.
    """

    def __init__(
        self,
        settings: NotifySettings,
        terminal: Terminal,
        write: Callable[[str], None] | None = None,
        *,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.terminal = terminal
        self.write = write
        self.command_timeout = command_timeout

    def worth_it(self, notice: Notice) -> bool:
        """An end shorter than ``after`` is not announced (the person is still looking); the rest always are."""
        if not self.settings.enabled:
            return False
        if notice.event == "ended":
            return notice.duration is None or notice.duration >= self.settings.after
        return True

    def on_terminal(self, notice: Notice) -> str:
        """The text for the terminal (empty when its channels are off or there is nowhere to write it)."""
        if self.write is None:
            return ""
        return terminal_sequence(notice, self.settings, self.terminal)

    def send_terminal(self, notice: Notice) -> list[str]:
        data = self.on_terminal(notice)
        if not data or self.write is None:
            return []
        try:
            self.write(data)
        except OSError as exc:
            return [f"terminal: {exc.strerror or exc}"]
        return []

    def send_others(self, notice: Notice) -> list[str]:
        """tmux and the command (they start processes: call off the UI thread). Returns what went wrong."""
        problems: list[str] = []
        if self.settings.wants("tmux") and self.terminal.in_tmux:
            problem = tmux_message(notice, self.terminal)
            if problem:
                problems.append(problem)
        if self.settings.wants("command"):
            problem = run_notify_command(self.settings.command, notice, timeout=self.command_timeout)
            if problem:
                problems.append(problem)
        return problems

    def send(self, notice: Notice, *, force: bool = False) -> list[str]:
        """Every channel, now (``force``: also an end shorter than ``after``). Returns what went wrong."""
        if not force and not self.worth_it(notice):
            return []
        return self.send_terminal(notice) + self.send_others(notice)


def own_terminal_writer(fds: Iterable[int] = (2, 1)) -> Callable[[str], None] | None:
    """A writer to this process's terminal (standard error first, so piped output stays clean), or ``None``."""
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.isatty(fd):

                def write(data: str, fd: int = fd) -> None:
                    os.write(fd, data.encode("utf-8"))

                return write
    return None


# --- when no wizard is attached ---------------------------------------------------------------------------------


def attach(session_dir: Path, terminal: Terminal, titles: Mapping[str, str], settings: NotifySettings) -> bool:
    """Record where this wizard's person is, and install the hook a run's wrapper calls when it ends.

    The hook is there only when some channel can reach the person (a terminal, tmux or a command); it starts
    this Python with ``amxwizard _run-ended``. Returns whether it was installed.
    """
    data = _read_json(session_dir / SETTINGS_FILE) or {}
    data["terminal"] = terminal.to_json()
    data["titles"] = dict(titles)
    data["effective"] = settings.to_json()  # what this wizard uses, environment included: the hook follows it
    data["attached_at"] = time.time()
    atomic_write(session_dir / SETTINGS_FILE, json.dumps(data, indent=2) + "\n", mode=0o600)
    hook = session_dir / "runs" / HOOK_FILE
    reachable = settings.enabled and (
        bool(terminal.tty and ({"terminal", "bell"} & settings.channels))
        or (terminal.in_tmux and settings.wants("tmux"))
        or settings.wants("command")
    )
    if not reachable:
        with contextlib.suppress(FileNotFoundError):
            hook.unlink()
        return False
    script = (
        "#!/bin/sh\n"
        "# Written by amxwizard: a run that ends while no wizard is attached tells the person (../notify.json).\n"
        f'exec {shlex.quote(sys.executable)} -m amxwizard.cli _run-ended "$@"\n'
    )
    hook.parent.mkdir(exist_ok=True)
    atomic_write(hook, script, mode=0o700)
    return True


def wizard_attached(session_dir: Path) -> bool:
    """Whether a wizard holds the session's lock (it then sends its own notice when the step ends).

    The lock is an flock on the session folder itself (see ``engine.session.SessionLock``), asked about with a
    shared lock released at once: a wizard that starts in that instant is refused and says the session is locked,
    the only cost of asking.
    """
    return folder_locked(session_dir, shared=True)


def _started_seconds(run_dir: Path) -> float | None:
    from datetime import UTC, datetime

    try:
        started = datetime.fromisoformat((run_dir / "started").read_text().strip())
    except (OSError, ValueError):
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - started).total_seconds())


def run_ended(run_dir: Path, status: str) -> list[str]:
    """Called by a run's wrapper (through the hook) after it wrote the exit status.

    Does nothing while a wizard holds the session (it notifies itself). Otherwise sends the notice through the
    session's channels: the terminal sequence to the tty the wizard was started from if it is still open, the
    tmux message, the command. Returns what went wrong (also appended to ``notify.log`` in the session).
    """
    session_dir = run_dir.parent.parent
    if wizard_attached(session_dir):
        return []
    try:
        data = _read_json(session_dir / SETTINGS_FILE) or {}
        effective = data.get("effective")
        if isinstance(effective, dict):
            settings = NotifySettings.from_json(effective, "wizard that started it")
        else:
            settings = load_settings(session_dir)
    except NotifyError as exc:
        return _log(session_dir, [str(exc)])
    if not settings.enabled:
        return []
    terminal = Terminal.from_json(data.get("terminal") or {})
    try:
        meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    step = str(meta.get("step", "")) or run_dir.name
    index = meta.get("index", 0)
    raw_titles = data.get("titles")
    titles = raw_titles if isinstance(raw_titles, dict) else {}
    code = status.strip()
    notice = Notice(
        event="ended",
        step=step,
        state=f"exit {code}" if code.isdigit() else "ended",
        summary=f"command {int(index) + 1 if isinstance(index, int) else '?'} ended while no wizard was watching; "
        "open the wizard to judge it",
        title=str(titles.get(step, "")),
        duration=_started_seconds(run_dir),
        session=session_dir.name,
        extra={"exit_code": code, "run_dir": str(run_dir)},
    )
    notifier = Notifier(settings, terminal)
    if not notifier.worth_it(notice):
        return []
    problems = []
    sequence = terminal_sequence(notice, settings, terminal)
    if sequence and terminal.tty:
        problem = write_tty(terminal, sequence)
        if problem:
            problems.append(f"terminal: {problem}")
    problems += notifier.send_others(notice)
    return _log(session_dir, problems)


def _log(session_dir: Path, problems: list[str]) -> list[str]:
    if problems:
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with contextlib.suppress(OSError), (session_dir / LOG_FILE).open("a", encoding="utf-8") as fh:
            fh.writelines(f"{stamp} {p}\n" for p in problems)
    return problems
