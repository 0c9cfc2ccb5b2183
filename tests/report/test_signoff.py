"""``amxwizard signoff``: a chained sign-off event covering the chain head, written only where asked, never by the
operator unless they say so (``--self``), and shown by verify."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import REVIEWER_ENV, PlayedSession, cli, load, report, save


def _copy(full_json: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(full_json, tmp_path / "record.json"))


def test_signoff_covers_the_head_writes_only_what_is_asked_and_verify_shows_it(
    full_session: PlayedSession, full_json: Path, tmp_path: Path
) -> None:
    record = _copy(full_json, tmp_path)
    before = load(record)
    md = report(full_session, "md", tmp_path / "record.md")
    md_before = md.read_bytes()
    done = cli(
        "signoff", str(record), "--reviewer", "Alice Reviewer", "--note", "checked the logs of test-1", env=REVIEWER_ENV
    )
    assert done.returncode == 0, done.stderr
    doc = load(record)
    signoff = doc["events"][-1]
    assert doc["events"][:-1] == before["events"]
    assert signoff["kind"] == "reviewer_signoff" and signoff["seq"] == full_session.events + 1
    assert signoff["prev"] == before["last_hash"] and doc["last_hash"] == signoff["hash"]
    assert signoff["data"]["covers"] == {"seq": full_session.events, "hash": before["last_hash"]}
    assert signoff["data"]["reviewer"] == "Alice Reviewer" and signoff["data"]["by"].startswith("alice@")
    assert signoff["data"]["self"] is False
    assert doc["signoffs"][0]["reviewer"] == "Alice Reviewer" and doc["status"]["signed_off"] is True
    assert doc["signoffs"][0]["covers_seq"] == full_session.events and doc["signoffs"][0]["not_covered"] == []
    assert doc["session"]["last_hash"] == before["session"]["last_hash"]
    assert doc["machine"] == before["machine"] and doc["generated"] == before["generated"]
    assert (
        f"signed off by Alice Reviewer: event {signoff['seq']}, covering events 1–{full_session.events}" in done.stdout
    )
    assert done.stdout.strip().splitlines()[-1] == f"wrote {record}"
    assert md.read_bytes() == md_before  # the Markdown beside it is not touched unless asked for

    done = cli("verify", str(record), "--logs", str(full_session.dir / "runs"))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == f"verified: {full_session.events + 1} events, {full_session.logs} logs"
    assert "signed off by Alice Reviewer (alice@" in done.stdout and "checked the logs of test-1" in done.stdout
    assert f"covering events 1–{full_session.events}, unsigned" in done.stdout
    assert "not verified: Alice Reviewer's sign-off" in done.stdout

    md_out, html_out = tmp_path / "signed.md", tmp_path / "signed.html"
    done = cli(
        "signoff",
        str(record),
        "--reviewer",
        "Bob",
        "--md",
        str(md_out),
        "--html",
        str(html_out),
        env={"USER": "bob", "LOGNAME": "bob"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"wrote {record}, {md_out}, {html_out}"
    assert "**Bob**" in md_out.read_text(encoding="utf-8") and "Bob" in html_out.read_text(encoding="utf-8")
    done = cli("verify", str(record))
    assert done.stdout.splitlines()[0] == f"verified: {full_session.events + 2} events, 0 logs"
    assert "signed off by Alice Reviewer" in done.stdout and "signed off by Bob" in done.stdout


def test_the_operator_cannot_sign_off_their_own_work_unless_they_say_so(full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    original = record.read_bytes()
    operator = load(record)["session"]["created_by"]
    # Same user@host as the one who recorded the session's events (this test process ran it).
    done = cli("signoff", str(record), "--reviewer", "Carol")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"amxwizard: the reviewer is the operator: {operator} signs off and recorded events of the session; a "
        "sign-off of one's own work needs --self, and the record shows it"
    )
    assert record.read_bytes() == original
    # The operator's own name, from another account.
    done = cli("signoff", str(record), "--reviewer", operator.split("@")[0], env=REVIEWER_ENV)
    assert done.returncode == 1 and "is one of the session's operators" in done.stderr
    done = cli("signoff", str(record), "--reviewer", "Carol", "--self")
    assert done.returncode == 0, done.stderr
    assert "a self-review" in done.stdout
    doc = load(record)
    assert doc["events"][-1]["data"]["self"] is True and doc["signoffs"][0]["self_review"] is True
    md = tmp_path / "r.md"
    assert cli("signoff", str(record), "--reviewer", "Dan", "--md", str(md), env={"USER": "dan"}).returncode == 0
    assert "self-review: the reviewer is the operator (--self)" in md.read_text(encoding="utf-8")
    done = cli("verify", str(record))
    assert done.returncode == 0 and "a self-review (--self)" in done.stdout


def test_a_signoff_by_the_operator_forged_as_someone_else_is_named(full_json: Path, tmp_path: Path) -> None:
    """The self flag turned off in a sign-off by the operator (and the chain rehashed): verify names it."""
    from amxwizard.engine.store import event_hash

    record = _copy(full_json, tmp_path)
    assert cli("signoff", str(record), "--reviewer", "Carol", "--self").returncode == 0
    doc = load(record)
    last = doc["events"][-1]
    last["data"]["self"] = False
    last["hash"] = event_hash(last["seq"], last["ts"], last["kind"], last["data"], last["prev"])
    doc["last_hash"] = last["hash"]
    doc["signoffs"][0]["self_review"] = False
    doc["signoffs"][0]["hash"] = last["hash"]
    done = cli("verify", str(save(tmp_path / "forged.json", doc)))
    assert done.returncode == 1
    assert done.stdout.startswith(
        f"not verified: event {last['seq']} (reviewer_signoff): the reviewer Carol is the operator ("
    )
    assert "but the sign-off does not say so (--self)" in done.stdout.splitlines()[0]


def test_an_edited_signoff_is_named(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    assert cli("signoff", str(record), "--reviewer", "Alice", env=REVIEWER_ENV).returncode == 0
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
    done = cli("signoff", str(record), "--reviewer", "Alice", env=REVIEWER_ENV)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("amxwizard: cannot sign a record that does not verify: event 4 (")
    assert record.read_bytes() == before


def test_a_reviewer_name_is_required(full_json: Path, tmp_path: Path) -> None:
    record = _copy(full_json, tmp_path)
    done = cli("signoff", str(record), "--reviewer", "  ", env=REVIEWER_ENV)
    assert done.returncode == 1 and done.stderr.strip() == "amxwizard: --reviewer: a name is required"
    assert record.read_bytes() == full_json.read_bytes()
