"""SVG snapshots of every main screen at 80x24 (a tmux pane) and 120x40.

Each test builds the same world at the same place — a rehearsal sandbox with fixed commit dates, a session with a
fixed id, a frozen clock and host name — so a screen renders the same bytes on any machine. Update them with
``pytest tests/ui/test_snapshots.py --snapshot-update`` after a deliberate UI change, and look at the diff.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import RunbookFile, load_runbook
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.fulllog import FullLogScreen
from amxwizard.ui.widgets.logview import LogView
from amxwizard.ui.widgets.outline import StepOutline

from .conftest import wait_until

ROOT = Path(tempfile.gettempdir()) / "amxwizard-snapshot-world"
SNAPSHOT_MACHINE = ev.MachineObserved(
    hostname="gpu-box",
    kernel="6.8.0",
    os="Linux",
    cpu_model="Intel(R) Xeon(R) Platinum 8480+",
    cpu_count=16,
    cpu_flags={"amx_bf16": True, "amx_int8": True, "amx_tile": True},
    numa_nodes=1,
    gpus=[{"name": "NVIDIA H100 80GB HBM3", "driver": "580.65.06", "memory": "81559 MiB"}],
    gpu_query="",
)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
FIXTURE_LOG = Path(__file__).resolve().parent.parent / "fixtures" / "evidence" / "diag_weight_copy.txt"


@pytest.fixture
def world_lock() -> Iterator[None]:
    """The world lives at one fixed path (it is on screen): one test at a time may build and use it, whichever
    checkout or process runs it."""
    with open(f"{ROOT}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def snapshot_app(
    runbook_file: RunbookFile, frozen_clock: None, monkeypatch: pytest.MonkeyPatch, world_lock: None
) -> Iterator[Callable[..., WizardApp]]:
    sessions: list[Session] = []

    def make(
        *, accepted: bool = True, notes: list[str] | None = None, extra: dict[str, str] | None = None
    ) -> WizardApp:
        shutil.rmtree(ROOT, ignore_errors=True)
        # Preflight shows where each tool the commands call was found; found in the world's own bin/, the screen
        # is the same on systems that keep them in /bin or /usr/bin.
        tools = ROOT / "bin"
        tools.mkdir(parents=True)
        for name in ("cat", "chmod", "grep", "head", "ls", "tee"):
            found = shutil.which(name)
            assert found, name
            (tools / name).symlink_to(found)
        monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
        # The machine the session records is this one's: a fixed one keeps the chain (and its hash) the same anywhere.
        monkeypatch.setattr("amxwizard.report.machine.observe_machine", lambda: SNAPSHOT_MACHINE)
        sandbox = build_sandbox(ROOT / "sandbox")
        # The session records the runbook's path (it is part of the hashed chain the record screen shows): load it
        # from the fixed folder, not from wherever this checkout happens to be.
        (ROOT / "runbook.yaml").write_text(runbook_file.text, encoding="utf-8")
        runbook = load_runbook(ROOT / "runbook.yaml")
        session = Session.create(ROOT / "state", runbook, {**sandbox.overrides, **(extra or {})}, session_id="snapshot")
        if accepted:
            session.record(ev.SetupAccepted(values=session.values()))
        sessions.append(session)
        return WizardApp(session, notes=notes)

    yield make
    for session in sessions:
        session.close()


def _still(pilot: Pilot[None]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


async def _idle(pilot: Pilot[None]) -> None:
    """Let the workers (the detail pane's plan, a step's plan) finish and the screen catch up."""
    await pilot.pause(0.1)
    # A step's walk waits for the person at its dialog; everything else must finish.
    busy = [w for w in pilot.app.workers if w.group != "flow"]
    if busy:  # (an empty list would mean "every worker")
        await pilot.app.workers.wait_for_complete(busy)
    await pilot.pause(0.1)


def _select(step_id: str, *keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.1)
        pilot.app.main.query_one(StepOutline).select_step(step_id)
        await _idle(pilot)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(0.4)
            await _idle(pilot)
        _still(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await wait_until(
            pilot,
            lambda: "checking" not in str(pilot.app.screen.query_one("#preflight-results").render()),
            what="the preflight",
        )
        _still(pilot)

    assert snap_compare(snapshot_app(accepted=False), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_code_change(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("1.2"))


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_test_step(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("test-1"))


@pytest.mark.parametrize("size", SIZES)
def test_diff_before_applying(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    app = snapshot_app()
    cuda = ROOT / "sandbox" / "repo" / "ggml" / "src" / "ggml-cuda.cu"
    backed_up = [{"path": str(cuda), "backup": str(ROOT / "backup" / "ggml-cuda.cu"), "sha256": "", "size": 0}]
    app.session.record(
        ev.BackupMade(step="1.1", dir=str(ROOT / "backup"), files=backed_up, git={}, location_file="", export="")
    )
    assert snap_compare(app, terminal_size=size, run_before=_select("2.C", "r"))


@pytest.mark.parametrize("size", SIZES)
def test_analysis_form(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("1.6", "a"))


@pytest.mark.parametrize("size", SIZES)
def test_choose_the_approach(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("2.choose", "a"))


@pytest.mark.parametrize("size", SIZES)
def test_commit_screen(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("5.3", "r"))


@pytest.mark.parametrize("size", SIZES)
def test_success_criteria(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("1.1", "k"))


@pytest.mark.parametrize("size", SIZES)
def test_record_screen(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _select("1.1", "f")(pilot)
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "shown", False), what="the record's state")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_select("1.1", "question_mark"))


@pytest.mark.parametrize("size", SIZES)
def test_full_log(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp], size: tuple[int, int]
) -> None:
    app = snapshot_app()
    log = ROOT / "diagnostic_run.log"
    shutil.copyfile(FIXTURE_LOG, log)

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.1)
        screen = FullLogScreen(log, start_line=20)
        pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.is_mounted and screen.query_one(LogView).ready, what="the index")
        # The scrollbar follows the centring a frame or two later.
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# --- the engineer's flow at 80x24 (a tmux pane): what leads, what is asked, what is reachable --------------------

NARROW = (80, 24)


def test_a_new_session_opens_on_the_checklist(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.1)
        await _idle(pilot)  # the checks that tick what they decide
        await pilot.pause(0.2)
        await _idle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=NARROW, run_before=run_before)


def test_a_resumed_rehearsal_says_so_in_the_banner(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]
) -> None:
    note = (
        f"resuming the rehearsal in {ROOT / 'sandbox'} (session snapshot, at step 1.0 (0 of 24 steps done)); "
        "'amxwizard rehearse --new' builds a fresh one"
    )
    assert snap_compare(snapshot_app(notes=[note]), terminal_size=NARROW, run_before=_select("1.0"))


def test_stale_build_question(snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]) -> None:
    app = snapshot_app()
    session = app.session
    backend = ROOT / "sandbox" / "repo" / "ggml" / "src" / "ggml-backend.cpp"
    session.record(ev.BackupMade(step="1.1", dir=str(ROOT / "backup"), files=[], export="BACKUP_DIR", location_file=""))
    session.record(ev.StepStarted(step="1.4"))
    session.record(ev.StepFinished(step="1.4", status="passed", summary="built"))
    session.record(ev.FileEdited(step="2.A", path=str(backend), before_sha256=None, after_sha256=None, how="snippet"))

    async def run_before(pilot: Pilot[None]) -> None:
        from amxwizard.ui.screens.dialogs import ChoiceDialog

        await _select("test-1", "r")(pilot)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog), what="the stale-build question")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_setup_preflight_scrolled_by_keyboard(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await wait_until(
            pilot,
            lambda: "checking" not in str(pilot.app.screen.query_one("#preflight-results").render()),
            what="the preflight",
        )
        await pilot.press("f2", "end")
        await pilot.pause(0.3)
        _still(pilot)

    assert snap_compare(snapshot_app(accepted=False), terminal_size=NARROW, run_before=run_before)


def test_full_log_search_bar(snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]) -> None:
    app = snapshot_app()
    log = ROOT / "diagnostic_run.log"
    shutil.copyfile(FIXTURE_LOG, log)

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.1)
        screen = FullLogScreen(log)
        pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.is_mounted and screen.query_one(LogView).ready, what="the index")
        await pilot.press("end", "slash", *"AMX buffer")
        await pilot.pause(0.3)
        _still(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_full_log_found_above(snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]) -> None:
    app = snapshot_app()
    log = ROOT / "diagnostic_run.log"
    shutil.copyfile(FIXTURE_LOG, log)

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.1)
        screen = FullLogScreen(log)
        pilot.app.push_screen(screen)
        await wait_until(pilot, lambda: screen.is_mounted and screen.query_one(LogView).ready, what="the index")
        await pilot.press("end", "slash", *"AMX buffer", "enter")
        await pilot.pause(0.3)
        _still(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_palette_offers_the_actions(snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        from textual.command import CommandList

        await _select("1.4")(pilot)
        await pilot.press("ctrl+p", *"1.4")
        await wait_until(
            pilot,
            lambda: (
                bool(pilot.app.screen.query(CommandList)) and pilot.app.screen.query_one(CommandList).option_count >= 3
            ),
            what="the matches",
        )
        await pilot.pause(0.5)
        _still(pilot)

    assert snap_compare(snapshot_app(), terminal_size=NARROW, run_before=run_before)


def test_a_banner_says_how_a_run_ended_while_away(
    snap_compare: Callable[..., bool], snapshot_app: Callable[..., WizardApp]
) -> None:
    """A build left running when the wizard quit ends unwatched; the next wizard says how it ended."""
    import asyncio
    import stat
    import time

    from amxwizard.ui.screens.dialogs import ConfirmScreen

    slow = ROOT.parent / "amxwizard-snapshot-slow-cmake"
    slow.write_text(
        "#!/bin/bash\n"
        'case " $* " in *" clean "*) ;; *) '
        'for i in $(seq 1 15); do echo "slow build line $i"; sleep 0.1; done ;; esac\n'
        f'exec {ROOT / "sandbox" / "tools" / "cmake"} "$@"\n'
    )
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    first = snapshot_app(extra={"cmake": str(slow)})
    session = first.session

    async def leave_it_running() -> int:
        async with first.run_test(size=NARROW) as pilot:
            await pilot.pause(0.2)
            first.main.query_one(StepOutline).select_step("1.4")
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(first.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: first.main.run_handle is not None, what="the build to start")
            pid: int = first.main.run_handle.started.pid
            await pilot.press("q", "y")
        return pid

    pid = asyncio.run(leave_it_running())
    session.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the build ends while no wizard is open
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    reopened = Session.open(session.dir, session.runbook)
    app = WizardApp(reopened)

    async def run_before(pilot: Pilot[None]) -> None:
        await wait_until(pilot, lambda: "while you were away" in str(pilot.app.main.query_one("#notice").render()))
        await _idle(pilot)
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=NARROW, run_before=run_before)
    finally:
        reopened.close()


def test_the_first_frame_before_the_session_opens(
    snap_compare: Callable[..., bool], runbook_file: RunbookFile, request: pytest.FixtureRequest
) -> None:
    """The outline from the runbook cache, at 80x24, while the session is still opening: titles, no states."""
    import threading

    from amxwizard.runbook.cache import Outline
    from amxwizard.ui.app import Opening

    release = threading.Event()
    request.addfinalizer(release.set)

    def never() -> Session:
        # Until the snapshot is taken and the app exits with it: failing then leaves the app's result as it was
        # (tests/ui/test_opening.py), where it used to replace the snapshot with an exit code now and then.
        while not release.wait(0.05) and not app._exit:
            pass
        raise RuntimeError("the snapshot was taken; the session is not needed")

    app = WizardApp(opening=Opening(Outline.of(runbook_file.model), never))

    async def run_before(pilot: Pilot[None]) -> None:
        from amxwizard.ui.screens.opening import OpeningOutline, OpeningScreen

        # The opening screen mounted and its outline focused (a loaded machine
        # gets there later than a pause).
        def drawn() -> bool:
            screen = pilot.app.screen
            if not isinstance(screen, OpeningScreen):
                return False
            outline = screen.query_one(OpeningOutline)
            return outline.has_focus

        await wait_until(pilot, drawn, what="the opening screen")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
