"""Signatures a forger cannot recompute: real ssh-keygen key pairs made in the test sign records and sign-offs, and
``verify --allowed-signers`` says who signed what."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

from amxwizard.report.build import record_from_document
from amxwizard.report.jsonfmt import render_json
from amxwizard.report.signing import sign_record

from .conftest import REVIEWER_ENV, KeyPair, PlayedSession, allowed_signers, cli, load, report, save
from .forge import event, reseal


def first_line(done: Any) -> str:
    return done.stdout.splitlines()[0] if done.stdout else ""


def fingerprint(key: KeyPair) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(key.private)], capture_output=True, text=True, check=True).stdout
    return out.split()[1]  # "256 SHA256:... comment (ED25519)"


def test_a_record_signed_with_a_real_key_verifies_and_says_who_signed(
    complete_session: PlayedSession, signed_json: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    doc = load(signed_json)
    [signature] = doc["signatures"]
    assert signature["role"] == "operator" and signature["seq"] == complete_session.events
    assert signature["hash"] == doc["last_hash"] and fingerprint(keys["operator"]) in signature["key"]
    assert signature["message"].startswith("amxwizard-record operator signature\nformat: 2\n")
    # The signed message is checkable by hand with ssh-keygen alone.
    allowed = allowed_signers(tmp_path / "allowed_signers", keys["operator"], keys["reviewer"])
    (tmp_path / "record.sig").write_text(signature["signature"], encoding="ascii")
    by_hand = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(allowed),
            "-I",
            "operator@example.com",
            "-n",
            "amxwizard-record",
            "-s",
            str(tmp_path / "record.sig"),
        ],
        input=signature["message"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert by_hand.returncode == 0, by_hand.stderr

    done = cli(
        "verify", str(signed_json), "--allowed-signers", str(allowed), "--repo", str(complete_session.sandbox.repo)
    )
    assert done.returncode == 0, done.stdout
    assert (
        f"  signed: operator: events 1–{complete_session.events} signed by operator@example.com (ED25519 "
        f"{fingerprint(keys['operator'])})" in done.stdout
    )
    assert "anchored: commit " in done.stdout
    assert "not verified: who wrote" not in done.stdout and "generated" not in done.stdout
    # Without the allowed signers, the signature is sound but its key is no one in particular.
    done = cli("verify", str(signed_json))
    assert done.returncode == 0
    assert "(whose key is not known: give --allowed-signers FILE)" in done.stdout
    md = report(complete_session, "md", tmp_path / "signed.md", "--sign-key", str(keys["operator"].private))
    text = md.read_text(encoding="utf-8")
    assert text.splitlines()[2].startswith("**State: COMPLETE** — 22 passed, 2 skipped of 24 steps")
    assert text.splitlines()[4].startswith(f"**Signed**: events 1–{complete_session.events} signed by operator key")


def test_a_record_resigned_by_a_forger_fails_against_the_allowed_signers(
    signed_json: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    doc = load(signed_json)
    forged = copy.deepcopy(doc)
    event(forged, "field_answered", field="root_cause")["data"]["value"] = "nothing was wrong, the GPU was"
    forged["signatures"] = []
    forged = reseal(forged)
    resigned = sign_record(record_from_document(forged), str(keys["mallory"].private))
    path = tmp_path / "resigned.json"
    path.write_text(render_json(resigned), encoding="utf-8")
    allowed = allowed_signers(tmp_path / "allowed_signers", keys["operator"])
    done = cli("verify", str(path), "--allowed-signers", str(allowed))
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: signatures[0] (operator): key ED25519 {fingerprint(keys['mallory'])} is not in {allowed}"
    )
    # Without the file it checks, but says it does not know whose key that is.
    done = cli("verify", str(path))
    assert done.returncode == 0 and "whose key is not known" in done.stdout


def test_facts_outside_the_chain_are_covered_by_the_operators_signature(signed_json: Path, tmp_path: Path) -> None:
    doc = load(signed_json)
    doc["generated"]["by"] = "someone-else@elsewhere"
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1
    assert first_line(done) == (
        "not verified: signatures[0] (operator): the signed message is not this record's (its session, chain head "
        "or the facts outside the chain — generated, machine — were changed after it was signed)"
    )
    doc = load(signed_json)
    doc["signatures"][0]["signature"] = doc["signatures"][0]["signature"].replace("A", "B", 3)
    done = cli("verify", str(save(tmp_path / "r.json", doc)))
    assert done.returncode == 1 and "the signature does not check" in first_line(done)


def test_a_signed_signoff_covers_the_head_and_names_the_reviewer(
    signed_json: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    record = save(tmp_path / "record.json", load(signed_json))
    head = load(record)["last_hash"]
    done = cli(
        "signoff",
        str(record),
        "--reviewer",
        "Alice Reviewer",
        "--sign-key",
        str(keys["reviewer"].private),
        env=REVIEWER_ENV,
    )
    assert done.returncode == 0, done.stderr
    doc = load(record)
    data = doc["events"][-1]["data"]
    assert data["covers"]["hash"] == head and fingerprint(keys["reviewer"]) in data["key"]
    assert "BEGIN SSH SIGNATURE" in data["signature"]
    allowed = allowed_signers(tmp_path / "allowed_signers", keys["operator"], keys["reviewer"])
    done = cli("verify", str(record), "--allowed-signers", str(allowed))
    assert done.returncode == 0, done.stdout
    seq = doc["events"][-1]["seq"]
    assert "signed off by Alice Reviewer (alice@" in done.stdout
    assert f"covering events 1–{seq - 1}, signed by reviewer@example.com" in done.stdout
    # An edited note, rehashed by someone without the reviewer's key: the signature no longer checks.
    forged = load(record)
    forged["events"][-1]["data"]["note"] = "looked at everything, all fine"
    forged = reseal(forged)
    done = cli("verify", str(save(tmp_path / "forged.json", forged)), "--allowed-signers", str(allowed))
    assert done.returncode == 1
    assert first_line(done).startswith(
        f"not verified: event {seq} (reviewer_signoff): Alice Reviewer's signature does not check: "
    )


def test_a_reviewer_with_the_operators_key_is_the_operator(
    signed_json: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    record = save(tmp_path / "record.json", load(signed_json))
    before = record.read_bytes()
    done = cli(
        "signoff",
        str(record),
        "--reviewer",
        "Alice Reviewer",
        "--sign-key",
        str(keys["operator"].private),
        env=REVIEWER_ENV,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"amxwizard: the reviewer is the operator: the key ED25519 {fingerprint(keys['operator'])} is the one the "
        "operator signed the record with; a sign-off of one's own work needs --self, and the record shows it"
    )
    assert record.read_bytes() == before


def test_unsigned_events_against_allowed_signers_name_the_first_unsigned_point(
    signed_json: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    record = save(tmp_path / "record.json", load(signed_json))
    assert cli("signoff", str(record), "--reviewer", "Alice", env=REVIEWER_ENV).returncode == 0  # no key
    allowed = allowed_signers(tmp_path / "allowed_signers", keys["operator"])
    done = cli("verify", str(record), "--allowed-signers", str(allowed))
    seq = load(record)["events"][-1]["seq"]
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: event {seq} (reviewer_signoff): Alice's sign-off is unsigned: anyone could have added it"
    )


def test_gits_ssh_signing_key_is_used_when_no_key_is_given(
    complete_session: PlayedSession, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    config = tmp_path / "gitconfig"
    config.write_text(f"[gpg]\n\tformat = ssh\n[user]\n\tsigningkey = {keys['operator'].private}\n", encoding="utf-8")
    out = tmp_path / "r.json"
    done = cli(
        "report",
        "--state-dir",
        str(complete_session.state_dir),
        "--session",
        complete_session.id,
        "--format",
        "json",
        "-o",
        str(out),
        env={"GIT_CONFIG_GLOBAL": str(config)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"signed with ED25519 {fingerprint(keys['operator'])}")
    assert load(out)["signatures"][0]["role"] == "operator"
    done = cli(
        "report",
        "--state-dir",
        str(complete_session.state_dir),
        "--session",
        complete_session.id,
        "--format",
        "json",
        "-o",
        str(out),
        "--no-sign",
        env={"GIT_CONFIG_GLOBAL": str(config)},
    )
    assert done.returncode == 0 and done.stdout.rstrip().endswith("unsigned") and load(out)["signatures"] == []
    bad = cli(
        "report",
        "--state-dir",
        str(complete_session.state_dir),
        "--session",
        complete_session.id,
        "--sign-key",
        str(tmp_path / "no-such-key"),
    )
    assert bad.returncode == 1 and bad.stderr.strip() == (
        f"amxwizard: --sign-key: signing key {tmp_path / 'no-such-key'}: no such file (or write it unsigned with "
        "--no-sign)"
    )
    assert os.environ.get("GIT_CONFIG_GLOBAL") != str(config)


def test_events_appended_after_the_signed_head_are_not_covered(signed_json: Path, tmp_path: Path) -> None:
    from .forge import append

    doc = load(signed_json)
    head = doc["signatures"][0]["seq"]
    forged = reseal(append(doc, "note", text="the GPU-only test passed too (trust me)"))
    done = cli("verify", str(save(tmp_path / "late.json", forged)))
    assert done.returncode == 1
    assert first_line(done) == (
        f"not verified: event {head + 1} (note): event {head + 1} recorded after the head the operator signed "
        f"(event {head}): not covered by the operator's signature"
    )
