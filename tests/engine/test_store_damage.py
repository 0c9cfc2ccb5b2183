"""Every form of damage to a session's store loses no answer: each is named in one line with the session, the damaged
file is kept aside, the session is rebuilt from the copy that checks out, listed while damaged, and never replaced
by a new session. Real sessions, the real CLI, a real wizard process killed to leave a WAL behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session, list_sessions, sessions_root
from amxwizard.engine.state import StepStatus
from amxwizard.runbook import RunbookFile

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "store"
AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
FIELDS = ("tensor", "src_buffer", "dst_buffer", "op", "root_cause")
# Enough answers (60, ~200 bytes each) for the store to span several pages once checkpointed.
ANSWERS = [(field, f"{field} answer {n}: " + "x" * 150) for n in range(12) for field in FIELDS]
FINAL = dict(ANSWERS)


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [AMXWIZARD, *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AMXWIZARD_NICE": "0"},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def answered(state: Path) -> tuple[dict[str, str], str]:
    """The answers ``status --json`` shows, and what it said on standard error."""
    done = cli(state, "status", "--json", "--runbook", str(ROOT / "runbook.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    return {k: v for k, v in data["answers"].items() if k in FIELDS}, done.stderr


def written_session(state: Path, runbook_file: RunbookFile, repo: Path) -> Path:
    session = Session.create(state, runbook_file, {"repo": str(repo)})
    session.accept_setup()
    for field, value in ANSWERS:
        session.record(ev.FieldAnswered(step="1.6", field=field, value=value))
    session.close()  # a clean close: every event is in events.db itself, no WAL left
    return session.dir


def truncate(fraction: float | int) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        size = fraction if isinstance(fraction, int) else int(db.stat().st_size * fraction)
        with db.open("r+b") as handle:
            handle.truncate(size)

    return damage


def flip_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[0:4] = bytes(b ^ 0xFF for b in data[0:4])
    db.write_bytes(bytes(data))


def flip_in_row(db: Path) -> None:
    data = bytearray(db.read_bytes())
    at = data.find(b"tensor answer 1: ")  # the sixth event of the session, an answer
    assert at > 0
    data[at + 7] ^= 0x20
    db.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "zero-length": truncate(0),
    "one-page": truncate(4096),
    "half": truncate(0.5),
    "flipped-header": flip_header,
    "flipped-row": flip_in_row,
}


@pytest.mark.parametrize("form", list(DAMAGE))
def test_each_form_of_damage_keeps_every_answer(
    form: str, state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    folder = written_session(state_dir, runbook_file, repo)
    db = folder / "events.db"
    assert db.stat().st_size > 3 * 4096, "the store must span pages for the page forms to mean anything"
    DAMAGE[form](db)
    damaged = db.read_bytes()

    answers, said = answered(state_dir)

    assert answers == FINAL, f"{form}: answers lost"
    [line] = [ln for ln in said.splitlines() if "damaged" in ln]
    assert folder.name in line, "the one line names the session"
    [copy] = [p for p in folder.glob("events.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert copy.read_bytes() == damaged, "the damaged file is kept aside as it was"
    with Session.open(folder, runbook_file) as reopened:
        assert reopened.recovery is None  # rebuilt for good
        kept = [(e.data["field"], e.data["value"]) for e in reopened.store.events() if e.kind == "field_answered"]
        assert kept == ANSWERS, f"{form}: every answer event, in order"
    # Starting again resumes the damaged-and-repaired session; nothing starts a new one in its place.
    started = cli(
        state_dir, "setup", "--runbook", str(ROOT / "runbook.yaml"), "--var", f"repo={repo}", "--accept", "--force"
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert [p.name for p in sessions_root(state_dir).iterdir()] == [folder.name]


def test_a_deleted_wal_loses_no_answer_and_counts_no_evidence_twice(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    assert runbook_file.path is not None
    repo = tmp_path / "repo"
    repo.mkdir()
    wizard = subprocess.Popen(
        [
            sys.executable,
            str(FIXTURES / "record_and_hold.py"),
            str(state_dir),
            str(runbook_file.path),
            str(repo),
            json.dumps(ANSWERS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert wizard.stdout is not None
    info = json.loads(wizard.stdout.readline())
    wizard.send_signal(signal.SIGKILL)  # dies with its events in the WAL, never checkpointed
    wizard.wait()
    wizard.stdout.close()
    folder = Path(info["session_dir"])
    wal = folder / "events.db-wal"
    assert wal.stat().st_size > 0
    wal.unlink()
    (folder / "events.db-shm").unlink(missing_ok=True)

    answers, said = answered(state_dir)

    assert answers == FINAL
    assert folder.name in said and "WAL" in said
    with Session.open(folder, runbook_file) as reopened:
        ends = [e for e in reopened.store.events() if e.kind == "command_finished"]
        assert [e.data["run_id"] for e in ends] == [info["run_id"]]  # the run's end once, not recorded again
        assert reopened.state.step("1.0").status is StepStatus.PASSED  # judged once, from its log
        assert reopened.state.step("1.0").attempts == 1


def test_a_session_damaged_while_a_wizard_holds_it_is_listed_as_damaged_and_read(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    assert runbook_file.path is not None
    repo = tmp_path / "repo"
    repo.mkdir()
    folder = written_session(state_dir, runbook_file, repo)
    holder = subprocess.Popen(
        [sys.executable, str(FIXTURES / "hold_session.py"), str(folder), str(runbook_file.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline()
        (folder / "events.db").write_bytes(b"")  # damaged under the wizard's feet

        listed = cli(state_dir, "sessions")
        assert listed.returncode == 0
        # (the line under it says how to resume the session)
        [line] = [ln for ln in listed.stdout.splitlines() if folder.name in ln and "resume:" not in ln]
        assert "damaged" in line and "events.db is empty" in line
        [info] = list_sessions(state_dir, thorough=True)
        # created, the variables, accepted, the answers, the holder's open
        assert info.damage and info.events == len(ANSWERS) + 4

        answers, said = answered(state_dir)  # read-only: the holder has it; read through the journal
        assert answers == FINAL
        assert "damaged" in said and "locked by PID" in said
        assert (folder / "events.db").read_bytes() == b""  # a reader repairs nothing
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    answers, said = answered(state_dir)  # free now: repaired on the way
    assert answers == FINAL and "damaged" in said
    assert [p.name for p in sessions_root(state_dir).iterdir()] == [folder.name]


def test_a_session_nothing_can_be_read_from_stops_a_new_one_starting_in_its_place(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    folder = written_session(state_dir, runbook_file, repo)
    (folder / "events.db").write_bytes(b"garbage" * 1000)
    (folder / "events.jsonl").write_bytes(b"")  # both copies gone

    refused = cli(
        state_dir, "setup", "--runbook", str(ROOT / "runbook.yaml"), "--var", f"repo={repo}", "--accept", "--force"
    )
    assert refused.returncode != 0
    assert folder.name in refused.stderr and "--new" in refused.stderr
    assert [p.name for p in sessions_root(state_dir).iterdir()] == [folder.name]
    listed = cli(state_dir, "sessions")
    assert folder.name in listed.stdout and "damaged" in listed.stdout
    # Listing rebuilt it from nothing (its damaged store kept aside): it stays a damaged session, still in the way.
    again = cli(
        state_dir, "setup", "--runbook", str(ROOT / "runbook.yaml"), "--var", f"repo={repo}", "--accept", "--force"
    )
    assert again.returncode != 0 and folder.name in again.stderr
    assert [p.name for p in sessions_root(state_dir).iterdir()] == [folder.name]
    assert "damaged" in cli(state_dir, "sessions").stdout
