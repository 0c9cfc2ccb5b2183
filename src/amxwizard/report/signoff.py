"""A reviewer's sign-off: one more event, chained from the record's last hash exactly like the session's own.

It covers the chain head at the time (the event before it) and, with a key, carries the reviewer's SSH signature
over that head, their name, their note and whether they reviewed their own work. A reviewer is not the operator:
the same name (or the same ``user@host`` running ``signoff``) as anyone who recorded the session's events, or the
same key as the operator's signature, is refused unless ``self_review`` is given — and then the record says so.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.store import Event, canonical_json, event_hash, now_iso
from .build import RecordError, record_from_document
from .model import SIGNOFF_KIND, Record
from .signing import signoff_message
from .verify import verify_document

MAX_REVIEWER = 200
MAX_NOTE = 10_000


def operators(events: list[Event]) -> tuple[set[str], set[str]]:
    """Who recorded the session's events: ``user@host`` values, and the user names alone."""
    people = {str(e.data.get("by", "")) for e in events if e.kind != SIGNOFF_KIND and e.data.get("by")}
    users = {p.partition("@")[0] for p in people}
    return people, users


def same_person(reviewer: str, by: str, events: list[Event]) -> str:
    """Why ``reviewer`` (signing off as ``by``) is one of the session's operators, or "" when they are not."""
    people, users = operators(events)
    name = reviewer.strip().casefold()
    if name in {p.casefold() for p in people | users}:
        return f"the name {reviewer!r} is one of the session's operators ({', '.join(sorted(people))})"
    if by in people:
        return f"{by} signs off and recorded events of the session"
    return ""


def sign(
    doc: dict[str, Any],
    reviewer: str,
    note: str = "",
    *,
    by: str | None = None,
    key: str | None = None,
    self_review: bool = False,
) -> Record:
    """The record with a ``reviewer_signoff`` event appended. Refuses a record that does not verify, and a reviewer
    who is the operator unless ``self_review``. With ``key``, the sign-off is signed (see :mod:`.signing`)."""
    from ..engine.session import actor
    from .sshsig import SigningError
    from .sshsig import sign as ssh_sign

    reviewer = reviewer.strip()
    if not reviewer:
        raise RecordError("--reviewer: a name is required")
    if "\n" in reviewer or "\r" in reviewer or len(reviewer) > MAX_REVIEWER:
        raise RecordError(f"--reviewer: one line of at most {MAX_REVIEWER} characters")
    if len(note) > MAX_NOTE:
        raise RecordError(f"--note: at most {MAX_NOTE} characters")
    checked = verify_document(doc)
    if not checked.ok:
        raise RecordError(f"cannot sign a record that does not verify: {checked.problems[0]}")
    events = [Event.from_dict(e) for e in doc["events"]]
    last = events[-1]
    by = by or actor()
    session_id = str((doc.get("session") or {}).get("id", ""))
    data: dict[str, Any] = {
        "reviewer": reviewer,
        "note": note,
        "by": by,
        "self": self_review,
        "covers": {"seq": last.seq, "hash": last.hash},
    }
    why = same_person(reviewer, by, events)
    if key is not None:
        message = signoff_message(session_id, last.seq, last.hash, reviewer, self_review, note)
        try:
            signed = ssh_sign(message, key)
        except SigningError as exc:
            raise RecordError(f"--sign-key: {exc}") from None
        operator_keys = {s.key for s in checked.signatures if s.role == "operator" and s.key}
        if signed.key in operator_keys and not why:
            why = f"the key {signed.key} is the one the operator signed the record with"
        data.update(key=signed.key, signature=signed.signature)
    if why and not self_review:
        raise RecordError(
            f"the reviewer is the operator: {why}; a sign-off of one's own work needs --self, and the record shows it"
        )
    data = json.loads(canonical_json(data))
    seq, ts = last.seq + 1, now_iso()
    signed_event = Event(seq, ts, SIGNOFF_KIND, data, last.hash, event_hash(seq, ts, SIGNOFF_KIND, data, last.hash))
    return record_from_document({**doc, "events": [*doc["events"], signed_event.as_dict()]})
