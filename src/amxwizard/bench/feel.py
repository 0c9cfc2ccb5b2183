"""What a person feels, through a real terminal: the real ``amxwizard`` console script in a pseudo-terminal at 80x24,
keys written to the pty, times taken when the screen's bytes change — each beside a bare Textual app measured the
same way in the same run.

- start: process start to the first frame of an existing session (through the real CLI entry point), to the
  first key handled (a key written as soon as that frame is seen; its effect on the screen), and to the session's
  states on the screen (the first frame is the runbook's outline; the session opens behind it);
- flood: a step printing N lines in 100 bursts as fast as it can; key latency (cursor moves in the outline) while
  it runs, the lines the wizard received and the lines that were ever drawn on the screen;
- busy: a step running twice as many busy processes as cores; key latency while it runs;
- memory: the wizard's peak RSS (VmHWM) over a 3M-line flood.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import GOAL_BUSY_MAX_MS, GOAL_FLOOD_P99_MS, GOAL_PEAK_RSS_MIB, GOAL_START_RATIO, Figure, percentile
from .terminal import PtyApp, Region

COLS, ROWS = 80, 24
# The outline at 80x24 (rows below the top bar, above the log pane; left of the detail pane): a cursor move shows
# here first. The bare app lays out a tree of the same size in the same place.
OUTLINE: Region = (1, 16, 0, 29)
DOWN, UP = b"\x1b[B", b"\x1b[A"
# Only the main screen, drawn from the opened session, shows this (the first frame, from the runbook cache's
# outline, shows titles and no states).
STATES = "passed of"

_RUNBOOK = """\
schema_version: 1
title: Bench
document:
  version: "1"
  created: "2025-01-01"
  last_updated: "2025-01-01 00:00"
  status: benchmark
workdir: "{{{{repo}}}}"
variables:
  repo:
    type: dir
    default: /nonexistent
backup:
  root: "{{{{session_dir}}}}/backups"
  pattern: backup-%Y%m%d-%H%M%S
  location_file: "{{{{session_dir}}}}/backup-location.txt"
phases:
  - id: "1"
    title: Work
    steps:
      - id: work
        kind: shell
        title: Work
        commands:
          - {command}
      - id: after
        kind: shell
        title: After
        commands:
          - "true"
criteria:
  - id: done
    text: the work is done
"""

# The bare app: a tree where the wizard has its outline, a log pane and a footer, nothing else.
_BARE = """
from textual.app import App
from textual.containers import Horizontal
from textual.widgets import Footer, Log, Static, Tree


class Bare(App):
    CSS = "Tree {{ width: 29; }} Log {{ height: 7; }}"
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self):
        tree = Tree("1 Work 0/2")
        tree.root.expand()
        tree.root.add_leaf("· work Work")
        tree.root.add_leaf("· after After")
        with Horizontal():
            yield tree
            yield Static("work  Work")
        yield Log()
        yield Footer()

    def on_mount(self):
        self.query_one(Tree).focus()


Bare().run()
"""


@dataclass
class Keys:
    """Key latencies (seconds) taken while something ran, and what the screen showed meanwhile."""

    latencies: list[float] = field(default_factory=list)
    missed: int = 0  # keys whose effect never showed within the timeout
    drawn: set[int] = field(default_factory=set)  # flood lines ever seen on the screen
    wall: float = 0.0  # seconds from r to the step's end on the screen

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) if self.latencies else float("nan")


class World:
    """A folder with a git repo, a state folder and a bench runbook per scenario; sessions made with the CLI."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="amxwizard-bench-feel-"))
        self.repo = self.root / "repo"
        self.repo.mkdir()
        subprocess.run(["git", "init", "-q", str(self.repo)], check=True)
        self.amxwizard = str(Path(sys.executable).with_name("amxwizard"))
        (self.root / "bare.py").write_text(_BARE.format())
        self._n = 0

    def session(self, command: str) -> list[str]:
        """A new session (accepted through ``amxwizard setup``) of a runbook whose first step runs ``command``;
        the argv that opens the wizard on it."""
        self._n += 1
        folder = self.root / f"s{self._n}"
        folder.mkdir()
        (folder / "runbook.yaml").write_text(_RUNBOOK.format(command=_yaml_str(command)))
        state = folder / "state"
        argv = ["--runbook", str(folder / "runbook.yaml"), "--state-dir", str(state)]
        subprocess.run(
            [self.amxwizard, "setup", *argv, "--var", f"repo={self.repo}", "--accept", "--force"],
            check=True,
            capture_output=True,
        )
        return [self.amxwizard, "tui", str(folder / "runbook.yaml"), "--state-dir", str(state)]

    def bare(self) -> list[str]:
        return [sys.executable, str(self.root / "bare.py")]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _env() -> dict[str, str]:
    # The wizard's own default nice level for children; no notifications to the benchmark's terminal.
    return {"AMXWIZARD_NOTIFY": "off", "AMXWIZARD_NICE": os.environ.get("AMXWIZARD_NICE", "10")}


def start(argv: list[str], cwd: Path, states: str | None = None) -> tuple[float, float, float]:
    """Seconds from process start to the first frame (the outline drawn), to the first key's effect shown, and (when
    ``states`` names what only the opened session shows) to the session's states on the screen."""
    app = PtyApp(argv, cols=COLS, rows=ROWS, env=_env(), cwd=cwd)
    try:
        frame = app.wait_until(lambda a: a.contains("Work") and a.contains("^q"), 30)
        if frame is None:
            raise RuntimeError(f"no first frame from {argv[0]}:\n{app.text()}")
        key = app.key_latency(DOWN, OUTLINE, timeout=10)
        if key is None:
            raise RuntimeError(f"the first key never showed in {argv[0]}:\n{app.text()}")
        shown = frame
        if states is not None:
            shown = app.wait_until(lambda a: a.contains(states), 30) or float("nan")
        return frame - app.started, frame - app.started + key, shown - app.started
    finally:
        app.close()


_NUMBER = re.compile(r"^\s*(\d+)\s*$")


def _drawn_lines(app: PtyApp, seen: set[int]) -> None:
    for line in app.screen.display[OUTLINE[1] :]:
        match = _NUMBER.match(line[:30])
        if match:
            seen.add(int(match.group(1)))


def keys_while(app: PtyApp, running: str, ended: str, timeout: float, watch_lines: bool = False) -> Keys:
    """Press down/up every 50 ms while the screen shows ``running`` until it shows ``ended``."""
    keys = Keys()
    if app.wait_until(lambda a: a.contains(running), timeout) is None:
        raise RuntimeError(f"the step never showed {running!r}:\n{app.text()}")
    deadline = time.perf_counter() + timeout
    i = 0
    while time.perf_counter() < deadline:
        if watch_lines:
            with app._changed:
                _drawn_lines(app, keys.drawn)
        with app._changed:
            if app.contains(ended):
                break
        _press(app, keys, i)
        i += 1
    return keys


def _hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_step(world: World, command: str, *, watch_lines: bool = False, timeout: float = 120) -> tuple[Keys, int]:
    """Open the wizard on a new session whose first step runs ``command``; press r, then keys until it ends.

    Returns the keys and the wizard's peak RSS (KiB)."""
    app = PtyApp(world.session(command), cols=COLS, rows=ROWS, env=_env(), cwd=world.root)
    try:
        if app.wait_until(lambda a: a.contains(STATES) and a.contains("^q"), 30) is None:
            raise RuntimeError(f"the wizard did not start:\n{app.text()}")
        time.sleep(0.5)  # the detail pane and the machine observation settle
        app.write(b"r")
        pressed = time.perf_counter()
        keys = keys_while(app, "running", "work passed", timeout, watch_lines)
        keys.wall = time.perf_counter() - pressed
        if watch_lines:
            time.sleep(0.3)
            with app._changed:
                _drawn_lines(app, keys.drawn)
        return keys, _hwm_kib(app.process.pid)
    finally:
        app.close()


def _press(app: PtyApp, keys: Keys, i: int) -> None:
    """One cursor move (down, then up, in turn), timed to the screen's change, then a pause as a person makes."""
    took = app.key_latency(DOWN if i % 2 == 0 else UP, OUTLINE, timeout=2)
    if took is None:
        keys.missed += 1
    else:
        keys.latencies.append(took)
    time.sleep(0.05)


def _press_for(app: PtyApp, keys: Keys, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        _press(app, keys, i)
        i += 1


def wizard_idle_keys(world: World, seconds: float) -> Keys:
    """The wizard's key latency with nothing running (the cost of its own per-key work)."""
    app = PtyApp(world.session("true"), cols=COLS, rows=ROWS, env=_env(), cwd=world.root)
    keys = Keys()
    try:
        if app.wait_until(lambda a: a.contains(STATES) and a.contains("^q"), 30) is None:
            raise RuntimeError(f"the wizard did not start:\n{app.text()}")
        time.sleep(0.5)
        _press_for(app, keys, seconds)
    finally:
        app.close()
    return keys


def keys_beside(world: World, command: str | None, seconds: float) -> Keys:
    """The bare app's key latency while ``command`` runs beside it (or idle)."""
    child = subprocess.Popen(["bash", "-c", command], start_new_session=True) if command else None
    app = PtyApp(world.bare(), cols=COLS, rows=ROWS, cwd=world.root)
    keys = Keys()
    try:
        if app.wait_until(lambda a: a.contains("Work") and a.contains("^q"), 30) is None:
            raise RuntimeError(f"the bare app did not start:\n{app.text()}")
        _press_for(app, keys, seconds)
    finally:
        app.close()
        if child is not None:
            child.wait()
    return keys


def _after_start(keys: Keys) -> Keys:
    """The keys pressed after the step's start was recorded and shown (for telling the two costs apart)."""
    return Keys(latencies=keys.latencies[3:], missed=keys.missed)


def _ms(keys: Keys) -> str:
    if not keys.latencies:
        return "no keys"
    return (
        f"p50 {statistics.median(keys.latencies) * 1000:5.1f}  p99 {keys.p(0.99) * 1000:5.1f}  "
        f"max {max(keys.latencies) * 1000:5.1f} ms ({len(keys.latencies)} keys"
        + (f", {keys.missed} never shown" if keys.missed else "")
        + ")"
    )


def run(quick: bool = False) -> list[Figure]:
    """Print what a person feels; return the figures for the table."""
    cores = os.cpu_count() or 2
    flood_lines = 100_000 if quick else 1_000_000
    memory_lines = 300_000 if quick else 3_000_000
    busy_seconds = 2 if quick else 5
    starts = 3 if quick else 7
    figures: list[Figure] = []
    world = World()
    try:
        # -- start ---------------------------------------------------------------------------------------------
        ours_argv = world.session("true")
        times: dict[str, list[tuple[float, float, float]]] = {"bare": [], "amxwizard": []}
        start(world.bare(), world.root)  # warm the page cache, bytecode and the runbook cache before timing
        start(ours_argv, world.root, STATES)
        for _ in range(starts):
            times["bare"].append(start(world.bare(), world.root))
            times["amxwizard"].append(start(ours_argv, world.root, STATES))
        bare_frame = statistics.median(t[0] for t in times["bare"])
        ours_frame = statistics.median(t[0] for t in times["amxwizard"])
        bare_key = statistics.median(t[1] for t in times["bare"])
        ours_key = statistics.median(t[1] for t in times["amxwizard"])
        ours_states = statistics.median(t[2] for t in times["amxwizard"])
        print(
            f"   start (median of {starts}, {COLS}x{ROWS} pty): first frame bare Textual {bare_frame * 1000:.0f} ms, "
            f"amxwizard {ours_frame * 1000:.0f} ms ({ours_frame / bare_frame:.2f}x); first key shown bare "
            f"{bare_key * 1000:.0f} ms, amxwizard {ours_key * 1000:.0f} ms ({ours_key / bare_key:.2f}x); the "
            f"session open and its states shown at {ours_states * 1000:.0f} ms",
            flush=True,
        )
        figures.append(Figure("start: first frame / bare Textual", ours_frame / bare_frame, "x", GOAL_START_RATIO))
        figures.append(Figure("start: first key shown / bare Textual", ours_key / bare_key, "x", None))

        # -- keys while a step floods --------------------------------------------------------------------------
        idle = keys_beside(world, None, 2.0)
        ours_idle = wizard_idle_keys(world, 2.0)
        # The flood comes in 100 bursts (seq, then 20 ms of quiet): as fast as a chatty build, and long enough to
        # press a few dozen keys during it.
        burst = flood_lines // 100
        paced = f"for i in $(seq 0 99); do seq $((i * {burst} + 1)) $((i * {burst} + {burst})); sleep 0.02; done"
        flood, _ = run_step(world, paced, watch_lines=True)
        beside = keys_beside(world, f"timeout 3 bash -c 'while :; do seq 1 {flood_lines} > /dev/null; done'", 3.0)
        print(f"   keys, bare Textual idle        {_ms(idle)}", flush=True)
        print(f"   keys, amxwizard idle           {_ms(ours_idle)}")
        print(f"   keys, bare beside seq          {_ms(beside)}")
        print(f"   keys, amxwizard {flood_lines:>9,}-line flood {_ms(flood)}")
        print(f"     the same without the 3 keys pressed while the step starts: {_ms(_after_start(flood))}")
        print(
            f"   flood: {flood_lines:,} lines received and {len(flood.drawn):,} distinct lines ever drawn on the "
            f"screen in {flood.wall:.2f} s from r to the step's end on the screen",
            flush=True,
        )
        figures.append(Figure("keys p99 idle / bare Textual idle", ours_idle.p(0.99) / idle.p(0.99), "x", None))
        figures.append(
            Figure(f"keys p99 during a {flood_lines:,}-line flood", flood.p(0.99) * 1000, "ms", GOAL_FLOOD_P99_MS)
        )

        # -- keys while the step keeps every core busy ---------------------------------------------------------
        burn = f"for i in $(seq {2 * cores}); do timeout {busy_seconds} bash -c 'while :; do :; done' & done; wait"
        busy, _ = run_step(world, burn)
        bare_busy = keys_beside(world, f"nice -n 10 bash -c {_shell_quote(burn)}", busy_seconds)
        print(f"   keys, bare beside {2 * cores} busy procs   {_ms(bare_busy)}")
        print(f"   keys, amxwizard, step runs {2 * cores} busy processes for {busy_seconds} s: {_ms(busy)}")
        print(f"     the same without the 3 keys pressed while the step starts: {_ms(_after_start(busy))}", flush=True)
        busy_max = max(busy.latencies) * 1000 if busy.latencies else float("nan")
        figures.append(Figure(f"keys max, {2 * cores} busy procs on {cores} cores", busy_max, "ms", GOAL_BUSY_MAX_MS))

        # -- memory --------------------------------------------------------------------------------------------
        _, peak = run_step(world, f"seq 1 {memory_lines}", timeout=300)
        print(
            f"   memory: wizard peak RSS (VmHWM) over a {memory_lines:,}-line flood: {peak / 1024:.1f} MiB", flush=True
        )
        figures.append(Figure(f"peak RSS, {memory_lines:,}-line flood", peak / 1024, "MiB", GOAL_PEAK_RSS_MIB))
    finally:
        world.close()
    return figures


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
