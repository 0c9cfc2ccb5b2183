"""``amxwizard verify``: a faithful record passes; any change to an event, a log or a derived section is named."""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session
from amxwizard.engine.store import canonical_json, event_hash
from amxwizard.report import build_record
from amxwizard.report.build import RecordError
from amxwizard.report.jsonfmt import read_document, render_json
from amxwizard.report.verify import verify_document
from amxwizard.runbook import RunbookFile

from .conftest import PlayedSession, cli, load, save


def first_line(done: Any) -> str:
    return done.stdout.splitlines()[0] if done.stdout else ""


def test_verify_passes_with_the_logs(full_session: PlayedSession, full_json: Path) -> None:
    done = cli("verify", str(full_json), "--logs", str(full_session.dir / "runs"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert first_line(done) == f"verified: {full_session.events} events, {full_session.logs} logs"
    assert load(full_json)["last_hash"] in done.stdout
    assert "not signed off yet" in done.stdout


def test_verify_without_logs_checks_the_chain_only(full_session: PlayedSession, full_json: Path) -> None:
    done = cli("verify", str(full_json))
    assert done.returncode == 0
    assert first_line(done) == f"verified: {full_session.events} events, 0 logs"
    assert "log files not checked" in done.stdout


@pytest.mark.parametrize("layout", ["flat", "session-folder"])
def test_verify_finds_logs_in_a_flat_folder_or_a_copied_session(
    full_session: PlayedSession, full_json: Path, tmp_path: Path, layout: str
) -> None:
    runs = full_session.dir / "runs"
    if layout == "flat":
        target = tmp_path / "logs"
        target.mkdir()
        for run_dir in runs.iterdir():
            if (run_dir / "output.log").is_file():
                shutil.copy(run_dir / "output.log", target / f"{run_dir.name}.log")
    else:
        target = tmp_path / "session-copy"
        shutil.copytree(full_session.dir, target)
    done = cli("verify", str(full_json), "--logs", str(target))
    assert done.returncode == 0, done.stdout
    assert first_line(done) == f"verified: {full_session.events} events, {full_session.logs} logs"


# --- tampering: every kind of change is named --------------------------------------------------------------


def _touch_string(data: dict[str, Any]) -> bool:
    """Change one character of the first string (or number) found in ``data``; False if there is none."""
    for key, value in data.items():
        if isinstance(value, str) and value:
            data[key] = ("X" if value[0] != "X" else "Y") + value[1:]
            return True
        if isinstance(value, bool):
            data[key] = not value
            return True
        if isinstance(value, int | float):
            data[key] = value + 1
            return True
        if isinstance(value, dict) and _touch_string(value):
            return True
    return False


def test_editing_any_event_names_that_event(full_json: Path) -> None:
    original = load(full_json)
    for index, event in enumerate(original["events"]):
        doc = copy.deepcopy(original)
        assert _touch_string(doc["events"][index]["data"]), event
        result = verify_document(doc)
        assert not result.ok
        assert str(result.problems[0]).startswith(f"event {event['seq']} ({event['kind']}"), result.problems[0]
        assert "content does not match its hash" in str(result.problems[0])


@pytest.mark.parametrize("field", ["ts", "kind", "prev", "hash", "seq"])
def test_editing_an_events_envelope_names_it(full_json: Path, field: str) -> None:
    doc = load(full_json)
    event = doc["events"][20]
    if field == "seq":
        event[field] += 1000
    else:
        event[field] = ("0" if event[field][0] != "0" else "1") + event[field][1:]
    result = verify_document(doc)
    assert not result.ok
    assert "event 21" in str(result.problems[0]) or (field == "seq" and "event 1021" in str(result.problems[0]))


def _delete(doc: dict[str, Any]) -> None:
    del doc["events"][30]


def _swap(doc: dict[str, Any]) -> None:
    ev = doc["events"]
    ev[40], ev[41] = ev[41], ev[40]


def _duplicate(doc: dict[str, Any]) -> None:
    doc["events"].insert(50, copy.deepcopy(doc["events"][10]))


def _forge(doc: dict[str, Any]) -> None:
    """Insert a well-formed event, correctly chained to the one before it."""
    before = doc["events"][59]
    data = json.loads(
        canonical_json({"step": "test-1", "status": "passed", "summary": "", "evidence": {}, "by": "mallory@elsewhere"})
    )
    seq, ts, prev = before["seq"] + 1, before["ts"], before["hash"]
    doc["events"].insert(
        60,
        {
            "seq": seq,
            "ts": ts,
            "kind": "step_finished",
            "data": data,
            "prev": prev,
            "hash": event_hash(seq, ts, "step_finished", data, prev),
        },
    )


def _drop_key(doc: dict[str, Any]) -> None:
    del doc["events"][5]["prev"]


def _edit_section(doc: dict[str, Any]) -> None:
    step = next(s for s in doc["steps"] if s["id"] == "test-1")
    step["runs"][0]["exit_code"] = 0


def _edit_answer(doc: dict[str, Any]) -> None:
    doc["answers"][0]["value"] = "blk.1.ffn_down.weight"


def _truncate(doc: dict[str, Any]) -> None:
    doc["events"].pop()


def _edit_runbook(doc: dict[str, Any]) -> None:
    doc["runbook"]["text"] = doc["runbook"]["text"].replace("61.24", "51.24", 1)


TAMPERING: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("delete", _delete, ["event 32 (", "sequence jumps from 30 to 32; no event 31 anywhere: it was deleted"]),
    ("reorder", _swap, ["event 42 (", "event 41 is further down, at position 42: the events were reordered"]),
    (
        "duplicate",
        _duplicate,
        ["event 11 (", "event 11 appears again at position 51: an event was inserted or repeated"],
    ),
    ("forge", _forge, ["event 61 (step_finished, test-1)", "event 61 appears again at position 62"]),
    ("drop a key", _drop_key, ["event at position 6 (seq 6)", "has no 'prev'"]),
    ("edit a section", _edit_section, ["section steps[13].runs[0].exit_code", "the record says 0, the events say 134"]),
    ("edit an answer", _edit_answer, ["section answers[0].value", "'blk.0.attn_q.weight'"]),
    ("truncate", _truncate, ["last_hash", "events added or removed at the end"]),
    ("edit the runbook", _edit_runbook, ["runbook.text", "the runbook text was edited"]),
]


@pytest.mark.parametrize(("name", "tamper", "expected"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_named_by_the_cli(
    full_json: Path, tmp_path: Path, name: str, tamper: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    doc = load(full_json)
    tamper(doc)
    done = cli("verify", str(save(tmp_path / "tampered.json", doc)))
    assert done.returncode == 1, done.stdout
    assert first_line(done).startswith("not verified: ")
    for part in expected:
        assert part in first_line(done), first_line(done)
    assert "Traceback" not in done.stdout + done.stderr


def test_a_changed_or_missing_log_is_named(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    logs = tmp_path / "runs"
    shutil.copytree(full_session.dir / "runs", logs)
    doc = load(full_json)
    run = next(r for s in doc["steps"] if s["id"] == "1.5" for r in s["runs"])
    log = logs / run["run_id"] / "output.log"
    data = bytearray(log.read_bytes())
    data[len(data) // 2] ^= 0x01
    log.write_bytes(bytes(data))
    done = cli("verify", str(full_json), "--logs", str(logs))
    assert done.returncode == 1
    assert first_line(done).startswith(
        f"not verified: log of run {run['run_id']} (step 1.5): output.log does not match the sha256 recorded in event "
    )
    log.unlink()
    done = cli("verify", str(full_json), "--logs", str(logs))
    assert done.returncode == 1
    assert first_line(done).startswith(f"not verified: log of run {run['run_id']} (step 1.5): not found in {logs}")


def test_random_byte_changes_never_pass(full_json: Path, tmp_path: Path) -> None:
    """Change one byte anywhere in the events; every change that alters an event is caught (or the file is refused)."""
    raw = full_json.read_bytes()
    original_events = json.loads(raw)["events"]
    start = raw.index(b'"events": [')
    rng = random.Random(20251006)
    caught = unchanged = 0
    for _ in range(400):
        pos = rng.randrange(start + len(b'"events": ['), len(raw) - 3)
        mutated = bytearray(raw)
        mutated[pos] = rng.choice([b for b in range(32, 127) if b != raw[pos]])
        path = tmp_path / "mutated.json"
        path.write_bytes(bytes(mutated))
        try:
            doc = read_document(path)
        except RecordError as exc:
            assert str(exc).startswith(str(path)), exc
            caught += 1
            continue
        if doc.get("events") == original_events:
            unchanged += 1  # e.g. indentation: the events mean exactly what they meant
            continue
        result = verify_document(doc)
        assert not result.ok, f"byte {pos} changed to {chr(mutated[pos])!r} was not caught"
        caught += 1
    assert caught > 300 and unchanged < 100


def test_unreadable_records_and_folders_are_one_line(full_json: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(full_json.read_text(encoding="utf-8")[:500], encoding="utf-8")
    done = cli("verify", str(broken))
    assert done.returncode == 1
    assert done.stderr.startswith(f"amxwizard: {broken}:") and "not valid JSON" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = cli("verify", str(full_json), "--logs", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and done.stderr.strip() == f"amxwizard: --logs {tmp_path / 'nowhere'}: not a folder"
    other = save(tmp_path / "other.json", {"format": "something-else"})
    done = cli("verify", str(other))
    assert (
        done.returncode == 1
        and first_line(done) == "not verified: format: not an amxwizard record (format is 'something-else')"
    )


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("generated", "by hand"),
        ("machine", [1]),
        ("machine", {"gpus": 5, "cpu_count": "many"}),
        ("runbook", [1]),
        ("criteria", [{"id": "x", "verdict_evidence": 5}]),
    ],
)
def test_sections_edited_into_other_shapes_are_one_line_not_a_traceback(
    full_json: Path, tmp_path: Path, section: str, value: Any
) -> None:
    doc = load(full_json)
    doc[section] = value
    path = save(tmp_path / "edited.json", doc)
    for args in (("verify", str(path)), ("signoff", str(path), "--reviewer", "A. Reviewer")):
        done = cli(*args)
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        assert done.returncode in (0, 1)


def _rechain(doc: dict[str, Any]) -> None:
    """Recompute every hash, as someone forging a whole chain would (dropping the commit trailer's anchor)."""
    prev = doc["events"][0]["prev"]
    for item in doc["events"]:
        if item["kind"] == "commit_made":
            item["data"]["session_trailer"] = ""
        if item["kind"] == "session_finished":
            item["data"]["last_hash"] = prev
        item["prev"], item["hash"] = prev, event_hash(item["seq"], item["ts"], item["kind"], item["data"], prev)
        prev = item["hash"]
    doc["last_hash"] = doc["session"]["last_hash"] = prev


def test_a_chain_forged_with_data_no_wizard_writes_is_named(full_json: Path, tmp_path: Path) -> None:
    doc = load(full_json)
    next(e for e in doc["events"] if e["kind"] == "step_finished")["data"]["status"] = "probably fine"
    _rechain(doc)
    done = cli("verify", str(save(tmp_path / "forged.json", doc)))
    assert done.returncode == 1, done.stdout
    assert "the record's events cannot be replayed" in first_line(done), first_line(done)
    assert "Traceback" not in done.stdout + done.stderr


# --- anchors: session_finished and the commit trailer -----------------------------------------------------


def _record_with(state_dir: Path, runbook_file: RunbookFile, trailer_hash: str | None) -> dict[str, Any]:
    with Session.create(state_dir, runbook_file, {}) as session:
        session.record(ev.Note(text="before the commit"))
        named = trailer_hash or session.state.last_hash
        trailer = f"Runbook-Session: {session.id}\nRunbook-Chain: {named}"
        session.record(
            ev.CommitMade(
                sha="a" * 40,
                subject="Fix",
                files=["ggml/src/ggml-backend.cpp"],
                message_sha256="b" * 64,
                session_trailer=trailer,
                chain_trailer="",
                repo="",
                found_by_trailer=False,
            )
        )
        session.record(ev.SessionFinished(last_hash=session.state.last_hash))
        return json.loads(render_json(build_record(session)))


def test_commit_trailer_must_name_an_earlier_event(state_dir: Path, runbook_file: RunbookFile) -> None:
    assert verify_document(_record_with(state_dir, runbook_file, None)).ok
    bogus = _record_with(state_dir, runbook_file, "c" * 64)
    result = verify_document(bogus)
    assert not result.ok
    assert str(result.problems[0]).startswith("event 3 (commit_made): the commit's trailer names chain hash cccccccc")


def test_session_finished_must_name_the_hash_before_it(state_dir: Path, runbook_file: RunbookFile) -> None:
    with Session.create(state_dir, runbook_file, {}) as session:
        session.record(ev.Note(text="last words"))
        session.record(ev.SessionFinished(last_hash="d" * 64))
        doc = json.loads(render_json(build_record(session)))
    result = verify_document(doc)
    assert str(result.problems[0]) == "event 3 (session_finished): its last_hash is not the hash of the event before it"
