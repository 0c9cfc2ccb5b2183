"""What is signed: the operator's signature over the record's chain head, and a reviewer's over the head a sign-off
covers. Each signed message is a few plain lines, so a reviewer can check one by hand with ``ssh-keygen -Y verify``.

The operator's message names the record format, the session, the chain head (sequence number and hash: the hash
covers every event before it) and the sha256 of the facts outside the chain (who wrote the record and when, and
machine facts the session did not record). A reviewer's names the head their sign-off covers, their name, whether
they reviewed their own work (``--self``) and the sha256 of their note; the signature is kept in the sign-off event,
so the chain covers it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..engine.store import canonical_json
from .model import RECORD_VERSION, Record, SignatureView
from .sshsig import sign

OPERATOR = "operator"


def unchained_digest(generated: Mapping[str, Any], machine: Mapping[str, Any]) -> str:
    """sha256 of the record's facts that are not in the chain (``generated``; ``machine`` unless it came from it)."""
    chained = isinstance(machine.get("event"), int)
    facts = {"generated": dict(generated), "machine": None if chained else dict(machine)}
    return hashlib.sha256(canonical_json(facts).encode("utf-8")).hexdigest()


def record_digest(record: Record) -> str:
    """:func:`unchained_digest` of a record as its JSON holds it."""
    doc = record.to_document()
    return unchained_digest(doc["generated"], doc["machine"])


def operator_message(session_id: str, seq: int, chain_hash: str, digest: str, version: int = RECORD_VERSION) -> str:
    """The text the operator signs."""
    return (
        "amxwizard-record operator signature\n"
        f"format: {version}\n"
        f"session: {session_id}\n"
        f"chain: {seq} {chain_hash}\n"
        f"unchained: {digest}\n"
    )


def signoff_message(
    session_id: str, covers_seq: int, covers_hash: str, reviewer: str, self_review: bool, note: str
) -> str:
    """The text a reviewer signs."""
    note_sha = hashlib.sha256(note.encode("utf-8")).hexdigest()
    return (
        "amxwizard-record sign-off\n"
        f"format: {RECORD_VERSION}\n"
        f"session: {session_id}\n"
        f"covers: {covers_seq} {covers_hash}\n"
        f"reviewer: {reviewer}\n"
        f"self: {'yes' if self_review else 'no'}\n"
        f"note-sha256: {note_sha}\n"
    )


def sign_record(record: Record, key: str) -> Record:
    """``record`` with the operator's signature over its chain head (made with ``key``; see :mod:`.sshsig`)."""
    head = record.events[-1]
    seq, chain_hash = int(head["seq"]), str(head["hash"])
    message = operator_message(record.session.id, seq, chain_hash, record_digest(record))
    signed = sign(message, key)
    view = SignatureView(OPERATOR, seq, chain_hash, signed.key, message, signed.signature)
    return replace(record, signatures=(*record.signatures, view))


def signing_key(given: str | None, repo: Path | None) -> str | None:
    """The key to sign with: ``given``, else git's configured SSH signing key (see :func:`.sshsig.configured_key`)."""
    from .sshsig import configured_key

    return given or configured_key(repo)


__all__ = [
    "OPERATOR",
    "operator_message",
    "record_digest",
    "sign_record",
    "signing_key",
    "signoff_message",
    "unchained_digest",
]
