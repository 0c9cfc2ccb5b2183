"""The silence watchdog: a running step that has printed nothing for its limit is flagged, never stopped; a step
that has run longer than it usually takes says so.

Everything comes from what is already on disk: the run's log (its modification time is when the command last
wrote) and the events of this and other sessions of the same runbook (how long the step took when it passed).
The runner is not involved, so a run followed after a restart is watched the same way.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..runbook.models import DEFAULT_SILENCE_MINUTES
from .procs import process_alive

if TYPE_CHECKING:
    from ..runbook.models import Runbook
    from .session import Session
    from .state import SessionState
    from .store import Event

OVERDUE_FACTOR = 1.25  # "longer than usual": a quarter longer than the median of earlier passes ...
OVERDUE_MARGIN = 60.0  # ... and at least a minute longer (a 20-second step is not "late" at 26 s)
MAX_OTHER_SESSIONS = 20  # the most recent sessions of the same runbook whose durations count
_DURATION_KINDS = ("step_started", "command_finished", "step_finished")

Flag = Literal["silent", "overdue"]


def epoch(iso: str) -> float | None:
    """Seconds since 1970 of an event's ISO timestamp (UTC when it names no zone), or ``None``."""
    try:
        parsed = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def minutes(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 05 min``: how long, as a person says it."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def silence_limit(runbook: Runbook, step_id: str) -> float:
    """The step's silence limit in seconds (its ``silence_minutes``, else the default)."""
    try:
        step = runbook.step(step_id)
    except KeyError:
        return DEFAULT_SILENCE_MINUTES * 60
    value = getattr(step, "silence_minutes", None)
    return float(value if value is not None else DEFAULT_SILENCE_MINUTES) * 60


@dataclass(frozen=True, slots=True)
class Usual:
    """How long a step took when it passed before: the median of ``samples`` durations (seconds)."""

    seconds: float
    samples: int
    sessions: int  # how many sessions they came from


@dataclass(frozen=True, slots=True)
class Watch:
    """What the watchdog sees of the running step at one moment."""

    step: str
    run_id: str
    log: str
    elapsed: float  # since the attempt's first command started
    quiet: float  # since the log last grew (or since the command started, if it has written nothing)
    limit: float  # the step's silence limit
    usual: Usual | None
    alive: bool | None  # the run's process still exists (None: not asked)

    @property
    def silent(self) -> bool:
        return self.quiet >= self.limit

    @property
    def overdue(self) -> bool:
        usual = self.usual
        return (
            usual is not None
            and self.elapsed > usual.seconds * OVERDUE_FACTOR
            and self.elapsed - usual.seconds >= OVERDUE_MARGIN
        )

    def silence_text(self) -> str:
        return (
            f"{self.step} has printed nothing for {minutes(self.quiet)} (its limit is {minutes(self.limit)}); "
            "it is still running and is not stopped"
        )

    def usual_text(self) -> str:
        """``1.4 usually takes 12 min; 19 min so far`` (empty without earlier passes)."""
        if self.usual is None:
            return ""
        return f"{self.step} usually takes {minutes(self.usual.seconds)}; {minutes(self.elapsed)} so far"

    def lines(self) -> list[str]:
        """What ``status`` and the screen say beyond "running"."""
        out = []
        if self.alive is False:
            out.append(f"{self.step}: its process is gone; open the wizard (or run a step) to settle it")
        elif self.silent:
            out.append(self.silence_text())
        if self.overdue:
            out.append(self.usual_text())
        return out


def watch(
    state: SessionState, runbook: Runbook, *, usual: Usual | None = None, now: float | None = None, probe: bool = False
) -> Watch | None:
    """The running step as the watchdog sees it, or ``None`` when nothing runs. ``probe``: ask whether its
    process is still there (for ``status``, which may read a session whose wizard is gone)."""
    running = state.running_runs()
    if not running:
        return None
    run = running[-1]
    now = time.time() if now is None else now
    started = epoch(run.started) or now
    try:
        wrote = Path(run.log).stat().st_mtime
    except OSError:
        wrote = started
    first = min((epoch(r.started) or started for r in state.attempt_runs(run.step)), default=started)
    alive = None
    if probe:
        alive = run.pid is not None and process_alive(run.pid, run.proc_start, run.boot_id)
    return Watch(
        step=run.step,
        run_id=run.run_id,
        log=run.log,
        elapsed=max(0.0, now - min(first, started)),
        quiet=max(0.0, now - max(wrote, started)),
        limit=silence_limit(runbook, run.step),
        usual=usual,
        alive=alive,
    )


# --- how long a step usually takes ------------------------------------------------------------------------------


def passed_durations(events: Iterable[Event], step_id: str) -> list[float]:
    """Durations of the attempts of ``step_id`` that passed: the sum of their commands' run times."""
    out: list[float] = []
    current: float | None = None
    for event in events:
        data = event.data
        if data.get("step") != step_id:
            continue
        if event.kind == "step_started":
            current = 0.0
        elif event.kind == "command_finished" and current is not None:
            duration = data.get("duration")
            if data.get("outcome") == "ok" and isinstance(duration, int | float):
                current += float(duration)
            else:
                current = None  # a command that did not succeed: this attempt does not say how long a pass takes
        elif event.kind == "step_finished":
            if data.get("status") == "passed" and current:
                out.append(current)
            current = None
    return out


def usual_duration(session: Session, step_id: str, state_dir: Path | None = None) -> Usual | None:
    """The median time ``step_id`` took to pass in this session and in other sessions of the same runbook.

    ``state_dir`` is where the other sessions are (default: the folder holding this session's folder).
    """
    from .session import list_sessions
    from .store import EventStore, StoreError

    samples: list[float] = []
    sessions = 0
    own = passed_durations(session.store.events(kinds=_DURATION_KINDS), step_id)
    if own:
        samples += own
        sessions += 1
    root = state_dir if state_dir is not None else session.dir.parent.parent
    key = session.state.runbook_path
    others = [i for i in list_sessions(root) if i.id != session.id and i.runbook_path == key]
    for info in others[-MAX_OTHER_SESSIONS:]:
        try:
            store = EventStore(info.dir / "events.db", readonly=True)
        except StoreError:
            continue
        try:
            found = passed_durations(store.events(kinds=_DURATION_KINDS), step_id)
        except StoreError:
            found = []
        finally:
            store.close()
        if found:
            samples += found
            sessions += 1
    if not samples:
        return None
    return Usual(statistics.median(samples), len(samples), sessions)


# --- watching while a step runs ---------------------------------------------------------------------------------


class Watchdog:
    """Looks at the running step every ``interval`` seconds and reports each flag once: ``silent`` when it goes
    quiet for its limit (again after it printed something in between), ``overdue`` when it runs past its usual
    time. It never stops anything.

    ``check()`` does one look (the TUI calls it from its clock); ``start()`` runs it in a thread (the CLI).
    """

    def __init__(
        self,
        session: Session,
        on_flag: Callable[[Flag, Watch], None],
        *,
        interval: float = 5.0,
        usual_of: Callable[[str], Usual | None] | None = None,
    ) -> None:
        self.session = session
        self.on_flag = on_flag
        self.interval = interval
        self._usual_of = usual_of or (lambda step: usual_duration(session, step))
        self._usual: dict[str, Usual | None] = {}
        self._flagged: set[tuple[str, Flag]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Watch | None = None

    def usual(self, step_id: str, *, compute: bool = True) -> Usual | None:
        """How long the step usually takes (read from the sessions' stores once per step; ``compute=False``:
        only what is known already, for a caller that must not wait, such as the UI's clock)."""
        if step_id not in self._usual:
            if not compute:
                return None
            try:
                self._usual[step_id] = self._usual_of(step_id)
            except Exception:  # another session's unreadable store must not stop the watching
                self._usual[step_id] = None
        return self._usual[step_id]

    def check(self, now: float | None = None, *, compute_usual: bool = True) -> list[tuple[Flag, Watch]]:
        """One look; returns (and reports) the flags raised by it."""
        state = self.session.state
        running = state.running_runs()
        if not running:
            self.last = None
            return []
        usual = self.usual(running[-1].step, compute=compute_usual)
        seen = watch(state, self.session.runbook.model, usual=usual, now=now)
        self.last = seen
        if seen is None:
            return []
        raised: list[tuple[Flag, Watch]] = []
        silent_key: tuple[str, Flag] = (seen.run_id, "silent")
        if seen.silent and silent_key not in self._flagged:
            self._flagged.add(silent_key)
            raised.append(("silent", seen))
        elif not seen.silent:
            self._flagged.discard(silent_key)  # it spoke again: the next silence is news
        overdue_key: tuple[str, Flag] = (seen.step + "@" + str(state.step(seen.step).attempts), "overdue")
        if seen.overdue and overdue_key not in self._flagged:
            self._flagged.add(overdue_key)
            raised.append(("overdue", seen))
        for flag, what in raised:
            self.on_flag(flag, what)
        return raised

    def start(self) -> Watchdog:
        self._thread = threading.Thread(target=self._loop, name="watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a watchdog that fails stops watching; the step goes on regardless
                return


def flag_notice_state(flag: Flag, seen: Watch) -> str:
    """The notice's state for a flag: ``quiet for 10 min`` or ``usually 12 min, 19 min so far``."""
    if flag == "silent":
        return f"nothing printed for {minutes(seen.quiet)}"
    usual = seen.usual
    return f"usually {minutes(usual.seconds)}, {minutes(seen.elapsed)} so far" if usual else "runs long"


def describe(flags: Sequence[tuple[Flag, Watch]]) -> list[str]:
    return [what.silence_text() if flag == "silent" else what.usual_text() for flag, what in flags]
