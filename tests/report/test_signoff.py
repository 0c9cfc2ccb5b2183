"""``amxwizard signoff``: a chained sign-off event, the record rewritten, and verify showing who signed."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import PlayedSession, cli, load, report, save


def _copy(full_json: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(full_json, tmp_path / "record.json"))


def test_signoff_is_chained_and_shown_by_verify(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    before = load(record)
    md = report(full_session, "md", tmp_path / "record.md")
    done = cli("signoff", str(record), "--reviewer", "Alice Reviewer", "--note", "checked the logs of test-1")
    assert done.returncode == 0, done.stderr
    doc = load(record)
    signoff = doc["events"][-1]
    assert doc["events"][:-1] == before["events"]
    assert signoff["kind"] == "reviewer_signoff" and signoff["seq"] == full_session.events + 1
    assert signoff["prev"] == before["last_hash"] and doc["last_hash"] == signoff["hash"]
    assert signoff["data"]["reviewer"] == "Alice Reviewer" and "@" in signoff["data"]["by"]
    assert doc["signoffs"][0]["reviewer"] == "Alice Reviewer" and doc["status"]["signed_off"] is True
    assert doc["session"]["last_hash"] == before["session"]["last_hash"]
    assert doc["machine"] == before["machine"] and doc["generated"] == before["generated"]
    assert f"signed off by Alice Reviewer: event {signoff['seq']}" in done.stdout
    assert "**Alice Reviewer**" in md.read_text(encoding="utf-8")  # the Markdown beside it was rewritten too

    done = cli("verify", str(record), "--logs", str(full_session.dir / "runs"))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == f"verified: {full_session.events + 1} events, {full_session.logs} logs"
    assert "signed off by Alice Reviewer (" in done.stdout and "checked the logs of test-1" in done.stdout

    done = cli("signoff", str(record), "--reviewer", "Bob")
    assert done.returncode == 0, done.stderr
    done = cli("verify", str(record))
    assert done.stdout.splitlines()[0] == f"verified: {full_session.events + 2} events, 0 logs"
    assert "signed off by Alice Reviewer" in done.stdout and "signed off by Bob" in done.stdout


def test_an_edited_signoff_is_named(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    assert cli("signoff", str(record), "--reviewer", "Alice").returncode == 0
    doc = load(record)
    doc["events"][-1]["data"]["reviewer"] = "Mallory"
    done = cli("verify", str(save(tmp_path / "edited.json", doc)))
    assert done.returncode == 1
    assert done.stdout.startswith(
        f"not verified: event {full_session.events + 1} (reviewer_signoff): content does not match its hash"
    )
    doc = load(record)
    doc["signoffs"][0]["reviewer"] = "Mallory"
    done = cli("verify", str(save(tmp_path / "section.json", doc)))
    assert done.returncode == 1
    assert done.stdout.startswith("not verified: section signoffs[0].reviewer: the record says 'Mallory'")


def test_a_record_that_does_not_verify_is_not_signed(full_json: Path, tmp_path: Path) -> None:
    doc = load(full_json)
    doc["events"][3]["data"]["by"] = "someone@else"
    record = save(tmp_path / "tampered.json", doc)
    before = record.read_bytes()
    done = cli("signoff", str(record), "--reviewer", "Alice")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("amxwizard: cannot sign a record that does not verify: event 4 (")
    assert record.read_bytes() == before


def test_a_reviewer_name_is_required(full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    done = cli("signoff", str(record), "--reviewer", "  ")
    assert done.returncode == 1 and done.stderr.strip() == "amxwizard: --reviewer: a name is required"
    assert record.read_bytes() == full_json.read_bytes()
