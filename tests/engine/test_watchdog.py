"""The silence watchdog (issue 19): a real process that goes quiet past its step's short limit is flagged and left
running; one that keeps talking is not; a step that runs past its usual time says so; status shows both."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.runner import RunHandle
from amxwizard.engine.runs import run_command
from amxwizard.engine.session import Session
from amxwizard.engine.store import Event
from amxwizard.engine.watchdog import (
    Flag,
    Usual,
    Watch,
    Watchdog,
    passed_durations,
    silence_limit,
    usual_duration,
)
from amxwizard.runbook import load_runbook

from ..cli_session import AMXWIZARD

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "notify" / "steps.yaml"


@pytest.fixture
def session(tmp_path: Path) -> Session:
    (tmp_path / "work").mkdir()
    return Session.create(tmp_path / "state", load_runbook(FIXTURE), {"repo": str(tmp_path / "work")})


def _run_in_thread(
    session: Session, step: str, script: str | None = None
) -> tuple[threading.Thread, list[object], list[RunHandle]]:
    script = script or session.runbook.model.step(step).commands[0]  # type: ignore[union-attr]
    results: list[object] = []
    handles: list[RunHandle] = []
    session.record(ev.StepStarted(step=step))

    def go() -> None:
        results.append(
            run_command(session, step, 0, script, Path(session.values()["repo"]), nice=0, on_started=handles.append)
        )

    thread = threading.Thread(target=go)
    thread.start()
    return thread, results, handles


def test_a_step_silent_for_its_limit_is_flagged_and_not_stopped(session: Session) -> None:
    assert silence_limit(session.runbook.model, "quiet") == pytest.approx(1.2)  # silence_minutes: 0.02
    flags: list[tuple[Flag, Watch]] = []
    dog = Watchdog(session, lambda flag, seen: flags.append((flag, seen)), interval=0.1, usual_of=lambda _: None)
    thread, results, handles = _run_in_thread(session, "quiet")  # echo start; sleep 3; echo done
    dog.start()
    try:
        deadline = time.monotonic() + 20
        while not flags and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flags, "the quiet step was never flagged"
        flag, seen = flags[0]
        assert flag == "silent" and seen.step == "quiet" and seen.silent
        assert seen.quiet >= seen.limit == pytest.approx(1.2)
        assert (
            seen.silence_text()
        ) == "quiet has printed nothing for 1 s (its limit is 1 s); it is still running and is not stopped"
        assert handles and not handles[0].done  # flagged while it still runs: nobody stopped it
    finally:
        thread.join(30)
        dog.stop()
    result = results[0]
    assert getattr(result, "outcome", None) == "ok"  # it ran to its end
    assert Path(session.state.runs[seen.run_id].log).read_text() == "start\ndone\n"
    assert [f for f, _ in flags] == ["silent"]  # flagged once for one silence


def test_a_step_that_keeps_printing_is_not_flagged(session: Session) -> None:
    flags: list[tuple[Flag, Watch]] = []
    dog = Watchdog(session, lambda flag, seen: flags.append((flag, seen)), interval=0.1, usual_of=lambda _: None)
    thread, results, _ = _run_in_thread(session, "chatty")  # a line every 0.2 s for 3 s; limit 1.2 s
    dog.start()
    thread.join(30)
    dog.stop()
    assert getattr(results[0], "outcome", None) == "ok"
    assert flags == []


def _events(*items: tuple[str, dict[str, object]]) -> list[Event]:
    return [Event(i + 1, "", kind, data, "", "") for i, (kind, data) in enumerate(items)]


def test_usual_duration_counts_passed_attempts_only() -> None:
    events = _events(
        ("step_started", {"step": "1.4"}),
        ("command_finished", {"step": "1.4", "outcome": "ok", "duration": 600.0}),
        ("command_finished", {"step": "1.4", "outcome": "ok", "duration": 120.0}),
        ("step_finished", {"step": "1.4", "status": "passed"}),
        ("step_started", {"step": "1.4"}),
        ("command_finished", {"step": "1.4", "outcome": "failed", "duration": 30.0}),
        ("step_finished", {"step": "1.4", "status": "failed"}),
        ("step_started", {"step": "1.5"}),
        ("command_finished", {"step": "1.5", "outcome": "ok", "duration": 9.0}),
        ("step_finished", {"step": "1.5", "status": "passed"}),
    )
    assert passed_durations(events, "1.4") == [720.0]
    assert passed_durations(events, "1.5") == [9.0]


def test_a_step_running_past_its_usual_time_says_so() -> None:
    seen = Watch("1.4", "r", "log", elapsed=19 * 60, quiet=5, limit=600, usual=Usual(12 * 60, 3, 2), alive=True)
    assert seen.overdue and not seen.silent
    assert seen.usual_text() == "1.4 usually takes 12 min; 19 min so far"
    assert seen.lines() == ["1.4 usually takes 12 min; 19 min so far"]
    on_time = Watch("1.4", "r", "log", elapsed=13 * 60, quiet=5, limit=600, usual=Usual(12 * 60, 3, 2), alive=True)
    assert not on_time.overdue


def test_usual_duration_reads_other_sessions_of_the_same_runbook(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    runbook = load_runbook(FIXTURE)
    for minutes in (10, 12, 30):
        other = Session.create(tmp_path / "state", runbook, {"repo": str(tmp_path / "work")})
        other.record(ev.StepStarted(step="quiet"))
        other.record(
            ev.CommandFinished(
                step="quiet",
                run_id="r",
                outcome="ok",
                exit_code=0,
                signal=None,
                ended="",
                duration=minutes * 60.0,
                log_size=0,
                log_sha256="",
            )
        )
        other.record(ev.StepFinished(step="quiet", status="passed", summary=""))
        other.close()
    current = Session.create(tmp_path / "state", runbook, {"repo": str(tmp_path / "work")})
    usual = usual_duration(current, "quiet")
    assert usual == Usual(12 * 60.0, 3, 3)
    assert usual_duration(current, "chatty") is None
    current.close()


def test_status_shows_a_silent_step(session: Session) -> None:
    thread, _, handles = _run_in_thread(session, "quiet", "echo start; sleep 8; echo done")  # time for two calls
    try:
        deadline = time.monotonic() + 20
        while not handles and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.4)  # past the 1.2 s limit, before the 3 s sleep ends
        state = str(session.dir.parent.parent)
        done = subprocess.run(
            [AMXWIZARD, "status", "--json", "--state-dir", state, "--session", session.id],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        running = json.loads(done.stdout)["running"]
        text = subprocess.run(
            [AMXWIZARD, "status", "--state-dir", state, "--session", session.id],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    finally:
        thread.join(30)
    assert running["step"] == "quiet" and running["silent"] is True and running["process_alive"] is True
    assert running["silence_limit_seconds"] == pytest.approx(72.0 / 60)
    assert (
        "! quiet has printed nothing for " in text
        and "(its limit is 1 s); it is still running and is not stopped" in text
    ), text
    assert "▶ quiet running for" in text
