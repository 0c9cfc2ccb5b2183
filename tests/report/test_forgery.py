"""A record forged each way a reviewer was shown it could be, and verify failing where it was forged.

The forger has this tool and the record, not the keys: they can edit events, recompute every hash after them and
rebuild every section (tests/report/forge.py). What stops them is what they cannot recompute — the format version
verify knows, the sections it rebuilds itself, the operator's and reviewers' SSH signatures, and the commit's
``Runbook-Chain`` trailer in the repository.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine.session import Session
from amxwizard.report import build_record
from amxwizard.report.jsonfmt import render_json
from amxwizard.report.verify import verify_document
from amxwizard.runbook import RunbookFile

from .conftest import REVIEWER_ENV, KeyPair, PlayedSession, allowed_signers, cli, load, save
from .forge import append, event, reseal


def first_line(done: Any) -> str:
    return done.stdout.splitlines()[0] if done.stdout else ""


# --- the version trick --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "shown"), [(1, "1"), (3, "3"), ("2", "(none)"), (None, "(none)")])
def test_a_record_of_another_or_no_format_version_fails(
    full_json: Path, tmp_path: Path, version: Any, shown: str
) -> None:
    doc = load(full_json)
    if version is None:
        del doc["format_version"]
    else:
        doc["format_version"] = version
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1
    assert first_line(done).startswith(f"not verified: format_version: cannot verify a record of format {shown}")
    signed = cli("signoff", str(tmp_path / "r.json"), "--reviewer", "Alice", env=REVIEWER_ENV)
    assert signed.returncode == 1 and "cannot verify a record of format" in signed.stderr


def test_the_old_writer_version_trick_no_longer_skips_the_sections(full_json: Path, tmp_path: Path) -> None:
    """Issue 14's recipe: another writer version, every step passed, COMPLETE, all criteria met, an answer changed."""
    doc = load(full_json)
    doc["generated"]["amxwizard"] = "0.0.1"
    for step in doc["steps"]:
        step["status"] = "passed"
    doc["status"]["complete"], doc["status"]["label"] = True, "COMPLETE"
    for crit in doc["criteria"]:
        crit["verdict"] = "met"
    doc["answers"][0]["value"] = "blk.1.ffn_down.weight"
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1
    # Sections are compared in name order; the first one edited is named (every edit is caught, one at a time).
    assert first_line(done) == (
        "not verified: section answers[0].value: the record says 'blk.1.ffn_down.weight', the events say "
        "'blk.0.attn_q.weight'"
    )
    assert cli("signoff", str(tmp_path / "r.json"), "--reviewer", "Alice", env=REVIEWER_ENV).returncode == 1


# --- an edited event, the chain recomputed --------------------------------------------------------------------------


def _forged_answer(doc: dict[str, Any]) -> dict[str, Any]:
    """The root cause answer rewritten, and everything after it recomputed."""
    doc = copy.deepcopy(doc)
    event(doc, "field_answered", field="root_cause")["data"]["value"] = "nothing was wrong, the GPU was"
    return reseal(doc)


def test_an_unsigned_record_rewritten_with_a_recomputed_chain_is_only_as_good_as_its_anchors(
    complete_session: PlayedSession, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from .conftest import report

    unsigned = load(report(complete_session, "json", tmp_path / "unsigned.json"))
    forged = save(tmp_path / "forged.json", _forged_answer(unsigned))
    # Alone, the chain cannot tell: verify passes, and says what it cannot know.
    done = cli("verify", str(forged))
    assert done.returncode == 0, done.stdout
    assert "not verified: who wrote the chain: the record is unsigned" in done.stdout
    assert "anyone can edit an event and recompute every hash after it" in done.stdout
    # A reviewer who expects signatures finds none: the first unsigned point is the first event.
    allowed = allowed_signers(tmp_path / "allowed", keys["operator"])
    done = cli("verify", str(forged), "--allowed-signers", str(allowed))
    assert done.returncode == 1
    assert first_line(done) == (
        "not verified: event 1 (session_created): the record is unsigned: nothing covers its events against "
        "someone who rewrites the chain"
    )
    # The commit in the repository names the chain as it was when it was made.
    repo = complete_session.sandbox.repo
    done = cli("verify", str(forged), "--repo", str(repo))
    assert done.returncode == 1
    commit = load(forged)["repo"]["commit"]
    line = first_line(done)
    assert line.startswith("not verified: event ") and f"(commit_made): commit {commit['sha'][:12]} in {repo}" in line
    assert "which no event before it in this record has: events 1–" in line and "were changed after the commit" in line
    # The genuine record is anchored by the same commit.
    done = cli("verify", str(tmp_path / "unsigned.json"), "--repo", str(repo))
    assert done.returncode == 0 and f"anchored: commit {commit['sha'][:12]} in {repo} names event " in done.stdout


def test_a_signed_record_rewritten_with_a_recomputed_chain_names_the_signed_point(
    signed_json: Path, tmp_path: Path
) -> None:
    original = load(signed_json)
    forged = _forged_answer(original)
    signature = original["signatures"][0]
    done = cli("verify", str(save(tmp_path / "forged.json", forged)))
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: signatures[0] (operator, key {signature['key']}): covers event {signature['seq']} with hash "
        f"{signature['hash'][:12]}…; the chain has {forged['events'][-1]['hash'][:12]}… there: the events up to it "
        "were changed after it was signed, or the record was cut"
    )


# --- a changed criterion verdict ------------------------------------------------------------------------------------


def _criterion(doc: dict[str, Any], crit_id: str) -> tuple[int, dict[str, Any]]:
    return next((i, c) for i, c in enumerate(doc["criteria"]) if c["id"] == crit_id)


def test_a_criterion_verdict_judged_from_the_events_is_judged_again(full_json: Path, tmp_path: Path) -> None:
    doc = load(full_json)
    index, crit = _criterion(doc, "no-crashes")
    assert crit["verdict"] == "unmet" and crit["judged_from"] == "events"
    crit["verdict"] = "met"
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: section criteria[{index}].verdict: the record says 'met', judged again (no-crashes) it is "
        "'unmet'"
    )


def test_a_criterion_verdict_judged_from_logs_is_judged_again_from_the_logs(
    full_session: PlayedSession, full_json: Path, tmp_path: Path
) -> None:
    doc = load(full_json)
    index, crit = _criterion(doc, "no-weight-copies")
    assert crit["verdict"] == "met" and crit["judged_from"] == "logs"
    crit["verdict"] = "unmet"
    path = save(tmp_path / "r.json", doc)
    done = cli("verify", str(path), "--logs", str(full_session.dir / "runs"))
    assert done.returncode == 1
    assert first_line(done).startswith(f"not verified: section criteria[{index}].verdict: the record says 'unmet', ")


def test_a_criterion_judged_from_logs_not_at_hand_is_listed_as_not_verified(
    runbook_file: RunbookFile, tmp_path: Path
) -> None:
    """On a reviewer's machine without the logs, verify cannot judge it again: it says so, and does not vouch."""
    import shutil

    from .conftest import _played, report

    played = _played(tmp_path / "played", runbook_file, None)
    path = report(played, "json", tmp_path / "r.json")
    shutil.rmtree(played.dir / "runs")
    done = cli("verify", str(path))
    assert done.returncode == 0, done.stdout
    assert "not verified: criterion no-weight-copies: judged from run logs not at hand here (" in done.stdout


# --- a changed machine fact -----------------------------------------------------------------------------------------


def test_a_changed_machine_fact_is_named(full_json: Path, tmp_path: Path) -> None:
    doc = load(full_json)
    recorded = doc["machine"]["cpu_model"]
    doc["machine"]["cpu_model"] = "Intel(R) Xeon(R) Platinum 8480+"
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: section machine.cpu_model: the record says 'Intel(R) Xeon(R) Platinum 8480+', the events "
        f"say {recorded!r}"
    )
    doc = load(full_json)
    doc["machine"]["cpu_flags"]["amx_tile"] = True
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1 and first_line(done).startswith("not verified: section machine.cpu_flags.amx_tile:")


def test_machine_facts_a_session_never_recorded_are_labelled_not_verified(
    state_dir: Path, runbook_file: RunbookFile
) -> None:
    with Session.create(state_dir, runbook_file, {}) as session:
        record = build_record(session)
    assert record.machine.event is None and record.machine.note.startswith("not verified:")
    result = verify_document(load_text(render_json(record)))
    assert result.ok
    assert any(item.startswith("machine facts: the session recorded none") for item in result.not_verified)


def load_text(text: str) -> dict[str, Any]:
    import json

    return json.loads(text)


# --- sign-offs: deleted, and events after one ---------------------------------------------------------------------


def _signed_off(full_json: Path, tmp_path: Path, *reviewers: str) -> dict[str, Any]:
    record = save(tmp_path / "record.json", load(full_json))
    for reviewer in reviewers:
        name = reviewer.lower()
        done = cli("signoff", str(record), "--reviewer", reviewer, env={"USER": name, "LOGNAME": name})
        assert done.returncode == 0, done.stderr
    return load(record)


def test_a_deleted_signoff_is_named(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    doc = _signed_off(full_json, tmp_path, "Alice", "Bob")
    first = full_session.events + 1
    # The first of two removed: the second no longer links.
    cut = copy.deepcopy(doc)
    del cut["events"][first - 1]
    done = cli("verify", str(save(tmp_path / "cut.json", cut)))
    assert done.returncode == 1
    assert first_line(done).startswith(f"not verified: event {first + 1} (reviewer_signoff): sequence jumps from ")
    assert f"no event {first} anywhere: it was deleted" in first_line(done)
    # The last one removed: the record's summary and its sign-off section still name it.
    cut = copy.deepcopy(doc)
    cut["events"].pop()
    done = cli("verify", str(save(tmp_path / "cut.json", cut)))
    assert done.returncode == 1
    assert first_line(done).startswith("not verified: last_hash: the record says ")
    cut["last_hash"] = cut["events"][-1]["hash"]
    done = cli("verify", str(save(tmp_path / "cut.json", cut)))
    assert first_line(done).startswith("not verified: section signoffs[1]: the record says {'by': 'bob@")
    assert first_line(done).endswith(", the events say nothing")


def test_events_appended_after_a_signoff_are_not_covered_by_it(
    full_session: PlayedSession, full_json: Path, tmp_path: Path
) -> None:
    doc = _signed_off(full_json, tmp_path, "Alice")
    signoff_seq = full_session.events + 1
    forged = reseal(append(doc, "step_finished", step="test-4", status="passed", summary="fine", evidence={}))
    done = cli("verify", str(save(tmp_path / "late.json", forged)))
    assert done.returncode == 1
    late = signoff_seq + 1
    assert first_line(done) == (
        f"not verified: event {late} (step_finished, test-4): event {late} recorded after Alice's sign-off (event "
        f"{signoff_seq}): not covered by Alice's sign-off, and no operator signature covers them"
    )
    md = tmp_path / "late.md"
    from amxwizard.report import render
    from amxwizard.report.build import record_from_document

    md.write_text(render(record_from_document(forged), "md"), encoding="utf-8")
    assert f"event {late}: not covered by Alice's sign-off" in md.read_text(encoding="utf-8")
