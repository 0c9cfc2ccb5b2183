"""Sessions: one folder each, found again by runbook and target, every reopen on the record."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from amxwizard import __version__
from amxwizard.engine import events as ev
from amxwizard.engine.session import Session, SessionInfo, list_sessions, sessions_root
from amxwizard.engine.state import StepStatus, replay
from amxwizard.engine.store import Event, verify_chain
from amxwizard.runbook import RunbookFile, load_runbook
from amxwizard.runbook.variables import VariableError


def reopen(session: Session) -> Session:
    session.close()
    return Session.open(session.dir, session.runbook)


def test_create_lays_out_the_session_folder(state_dir: Path, runbook_file: RunbookFile) -> None:
    assert runbook_file.path is not None
    with Session.create(state_dir, runbook_file) as session:
        assert session.dir.parent == sessions_root(state_dir) == state_dir / "sessions"
        assert session.id == session.dir.name
        assert {p.name for p in session.dir.iterdir()} >= {"events.db", "runbook.yaml", "lock", "runs"}
        assert session.runs_dir.is_dir()
        # The session keeps the exact runbook text it started with, and the log names its sha256.
        kept = (session.dir / "runbook.yaml").read_bytes()
        assert kept == runbook_file.path.read_bytes()
        digest = hashlib.sha256(kept).hexdigest()
        [created] = session.store.events()
        assert created.kind == "session_created"
        assert created.data["runbook_sha256"] == digest == session.state.runbook_sha256
        assert created.data["session_id"] == session.id
        assert created.data["runbook_path"] == str(runbook_file.path.resolve())
        assert created.data["runbook_title"] == runbook_file.model.title
        assert created.data["target"] == session.values()["repo"] == session.state.target
        assert created.data["host"] == socket.gethostname()
        assert created.data["version"] == __version__
        assert created.data["by"] == session.by and "@" in session.by
        assert session.state.opened == []  # creating is not reopening


def test_every_reopen_records_session_opened(state_dir: Path, runbook_file: RunbookFile) -> None:
    session = Session.create(state_dir, runbook_file)
    session.record(ev.StepStarted(step="1.1"))
    for count in (1, 2, 3):
        session = reopen(session)
        last = session.store.events()[-1]
        assert (last.kind, last.data["pid"]) == ("session_opened", os.getpid())
        assert len(session.state.opened) == count
        assert session.state.step("1.1").status is StepStatus.RUNNING
    assert verify_chain(session.store.events()) is None
    session.close()


def test_the_state_in_memory_always_equals_the_replayed_log(state_dir: Path, runbook_file: RunbookFile) -> None:
    with Session.create(state_dir, runbook_file, {"threads": "8"}) as session:
        session.record(ev.StepStarted(step="1.1"))
        session.record(ev.StepFinished(step="1.1", status="passed", summary="ok"))
        session.record(ev.FieldAnswered(step="1.6", field="tensor", value="blk.0.ffn_up_exps.weight"))
        session.record(ev.CriterionTicked(criterion="no-crashes", ticked=True, note="checked"))
        session.set_variables({"ngl": "20"})
        assert replay(session.store.events()) == session.state
        assert session.values()["threads"] == "8" and session.values()["ngl"] == "20"


def test_concurrent_recorders_apply_events_in_log_order(state_dir: Path, runbook_file: RunbookFile) -> None:
    # The UI thread and worker threads record at once; a slow store subscriber (a live view, say) widens the gap
    # between an append and its apply, which must not let a later event be applied before an earlier one.
    session = Session.create(state_dir, runbook_file)
    jitter = random.Random(5)
    session.store.subscribe(lambda event: time.sleep(jitter.random() * 0.002))
    seen: list[int] = []
    session.subscribe(lambda event: seen.append(event.seq))

    def record_many(worker: int) -> None:
        for n in range(40):
            session.record(ev.Note(text=f"{worker}-{n}"))

    threads = [threading.Thread(target=record_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    events = session.store.events()
    assert len(events) == 1 + 4 * 40
    assert session.state == replay(events)
    assert seen == [event.seq for event in events[1:]]
    session.close()


def test_list_sessions_reads_without_the_lock_and_lists_damaged_ones_as_damaged(
    state_dir: Path, runbook_file: RunbookFile
) -> None:
    finished = Session.create(state_dir, runbook_file)
    finished.record(ev.StepFinished(step="1.1", status="passed", summary=""))
    finished.record(ev.StepSkipped(step="1.2", reason="not needed"))
    finished.record(ev.StepFinished(step="1.3", status="failed", summary=""))
    finished.record(ev.SessionFinished(last_hash=finished.state.last_hash))
    finished.close()
    running = Session.create(state_dir, runbook_file, {"repo": "/srv/other checkout"})
    (sessions_root(state_dir) / "00000000-not-a-session").mkdir()
    broken = sessions_root(state_dir) / "00000001-broken"
    broken.mkdir()
    (broken / "events.db").write_bytes(b"this is not SQLite" * 100)

    infos = list_sessions(state_dir)  # while `running` holds its lock

    # A folder with no store is no session; a store nothing can be read from is a damaged session, still listed.
    assert [info.id for info in infos] == [broken.name, finished.id, running.id]
    damaged, done, live = infos
    assert "not a database" in damaged.damage and damaged.events == 0
    assert done.damage == "" and live.damage == ""
    assert isinstance(done, SessionInfo)
    assert (done.finished, done.steps_done, done.events, done.target) == (True, 2, 5, finished.values()["repo"])
    assert (live.finished, live.steps_done, live.target) == (False, 0, "/srv/other checkout")
    assert live.events == running.state.last_seq
    assert live.runbook_title == runbook_file.model.title and live.dir == running.dir
    assert live.updated == running.state.last_ts and live.created == running.state.created
    running.close()
    assert list_sessions(state_dir / "nowhere") == []


def test_sessions_are_listed_in_the_order_they_were_created(state_dir: Path, runbook_file: RunbookFile) -> None:
    # Several sessions started within one second: "latest" must still mean the last one created.
    created = []
    for _ in range(6):
        with Session.create(state_dir, runbook_file) as session:
            created.append(session.id)
    assert [info.id for info in list_sessions(state_dir)] == created
    with Session.resume_or_create(state_dir, runbook_file) as resumed:
        assert resumed.id == created[-1]


def test_resume_picks_the_latest_unfinished_session_for_the_same_runbook_and_target(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    first_x = Session.create(state_dir, runbook_file, {"repo": "/src/x"})
    first_x.close()
    only_y = Session.create(state_dir, runbook_file, {"repo": "/src/y"})
    only_y.close()
    finished_x = Session.create(state_dir, runbook_file, {"repo": "/src/x"})
    finished_x.record(ev.SessionFinished(last_hash=finished_x.state.last_hash))
    finished_x.close()
    assert runbook_file.path is not None
    other_copy = tmp_path / "elsewhere" / "runbook.yaml"
    other_copy.parent.mkdir()
    shutil.copyfile(runbook_file.path, other_copy)
    other_runbook = load_runbook(other_copy)
    with Session.create(state_dir, other_runbook, {"repo": "/src/x"}):
        pass

    with Session.resume_or_create(state_dir, runbook_file, {"repo": "/src/x"}) as resumed:
        assert resumed.id == first_x.id  # the finished one and the other runbook's are not candidates
        assert resumed.state.opened and resumed.state.target == "/src/x"
    with Session.resume_or_create(state_dir, runbook_file, {"repo": "/src/y"}) as resumed:
        assert resumed.id == only_y.id
    with Session.resume_or_create(state_dir, runbook_file, {"repo": "/src/z"}) as fresh:
        assert fresh.id not in {first_x.id, only_y.id, finished_x.id}
        assert fresh.state.target == "/src/z" and fresh.state.opened == []


def test_resume_records_only_the_variables_that_changed(state_dir: Path, runbook_file: RunbookFile) -> None:
    with Session.create(state_dir, runbook_file, {"repo": "/src/x", "threads": "8"}) as session:
        created_id = session.id
    with Session.resume_or_create(state_dir, runbook_file, {"repo": "/src/x", "threads": "16"}) as resumed:
        assert resumed.id == created_id
        last = resumed.store.events()[-1]
        assert last.kind == "variables_set" and last.data["values"] == {"threads": "16"}
        assert resumed.state.overrides == {"repo": "/src/x", "threads": "16"}
    with Session.resume_or_create(state_dir, runbook_file, {"repo": "/src/x", "threads": "16"}) as again:
        assert again.store.events()[-1].kind == "session_opened"


def test_new_starts_a_session_even_when_one_could_be_resumed(state_dir: Path, runbook_file: RunbookFile) -> None:
    with Session.create(state_dir, runbook_file) as old:
        old.record(ev.StepStarted(step="1.1"))
    with Session.resume_or_create(state_dir, runbook_file, new=True) as new:
        assert new.id != old.id
        assert new.state.steps == {}
    assert len(list_sessions(state_dir)) == 2
    assert not list_sessions(state_dir)[0].finished  # the old one is left as it was, still resumable by id
    with Session.resume_or_create(state_dir, runbook_file) as resumed:
        assert resumed.id == new.id
    with Session.open(old.dir, runbook_file) as again:
        assert again.state.step("1.1").status is StepStatus.RUNNING


@pytest.mark.parametrize("overrides", [{"threads": "many"}, {"no_such_variable": "1"}, {"repo": ""}])
def test_a_bad_variable_refuses_to_start_and_leaves_no_session_behind(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str]
) -> None:
    with pytest.raises(VariableError):
        Session.resume_or_create(state_dir, runbook_file, overrides)
    assert list_sessions(state_dir) == []
    # Nothing half-made is left to be resumed (or locked) later.
    assert not sessions_root(state_dir).exists() or list(sessions_root(state_dir).iterdir()) == []
    with Session.resume_or_create(state_dir, runbook_file, {"threads": "8"}) as good:
        assert good.state.overrides == {"threads": "8"}


def test_opening_a_damaged_session_recovers_and_says_so(state_dir: Path, runbook_file: RunbookFile) -> None:
    session = Session.create(state_dir, runbook_file)
    for step in ("1.1", "1.2", "1.3"):
        session.record(ev.StepStarted(step=step))
        session.record(ev.StepFinished(step=step, status="passed", summary=""))
    written: list[Event] = session.store.events()
    session.close()
    db = sqlite3.connect(session.dir / "events.db")
    with db:
        db.execute("UPDATE events SET data = ? WHERE seq = 4", ('{"step":"1.2","by":"someone@else"}',))
    db.close()

    with Session.open(session.dir, runbook_file) as reopened:
        assert reopened.recovery is not None
        assert "event 4" in str(reopened.recovery) and reopened.recovery.copy.is_file()
        assert session.id in str(reopened.recovery)  # the one line names the session
        events = reopened.store.events()
        # The journal still held event 4 as written: nothing is lost (it was cut away before the journal existed).
        assert events[: len(written)] == written
        assert [e.kind for e in events[len(written) :]] == ["session_opened"]
        assert reopened.state.step("1.1").status is StepStatus.PASSED
        assert reopened.state.step("1.2").status is StepStatus.PASSED
        assert verify_chain(events) is None


def test_a_state_dir_with_uri_characters_in_its_name_still_works(tmp_path: Path, runbook_file: RunbookFile) -> None:
    # Read-only handles open the store through an SQLite URI, where ?, # and % mean something.
    state = tmp_path / "state #2?mode=rw&x=%41"
    with Session.create(state, runbook_file) as session:
        session.record(ev.Note(text="hello"))
    [info] = list_sessions(state)
    assert (info.id, info.events) == (session.id, 2)


def test_reading_the_state_while_another_thread_records_never_breaks(tmp_path: Path, runbook_file: object) -> None:
    """The UI iterates the state on its thread while a worker records: it must never see a dict change size."""
    import threading

    session = Session.create(tmp_path / "state", runbook_file)  # type: ignore[arg-type]
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                for run in session.state.runs.values():
                    _ = run.step
                for step_state in session.state.steps.values():
                    _ = list(step_state.runs)
                _ = list(session.state.edits)
        except BaseException as exc:  # the failure under test
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(300):
        session.record(ev.StepStarted(step="test-1"))
        session.record(
            ev.CommandStarted(
                step="test-1",
                run_id=f"r{i}",
                index=0,
                script="true",
                cwd="/",
                pid=None,
                proc_start=None,
                boot_id="",
                log="",
                git_before={},
            )
        )
        session.record(ev.FileEdited(step="1.2", path=f"/x{i}", before_sha256=None, after_sha256=None, how="found"))
    done.set()
    reader.join()
    assert errors == []
    session.close()
