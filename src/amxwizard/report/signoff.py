"""A reviewer's sign-off: one more event, chained from the record's last hash exactly like the session's own."""

from __future__ import annotations

import json
from typing import Any

from ..engine.store import Event, canonical_json, event_hash, now_iso
from .build import RecordError, record_from_document
from .model import SIGNOFF_KIND, Record
from .verify import verify_document

MAX_REVIEWER = 200
MAX_NOTE = 10_000


def sign(doc: dict[str, Any], reviewer: str, note: str = "", *, by: str | None = None) -> Record:
    """The record with a ``reviewer_signoff`` event appended. Refuses a record that does not verify."""
    from ..engine.session import actor

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
    data = json.loads(canonical_json({"reviewer": reviewer, "note": note, "by": by or actor()}))
    seq, ts = last.seq + 1, now_iso()
    signed = Event(seq, ts, SIGNOFF_KIND, data, last.hash, event_hash(seq, ts, SIGNOFF_KIND, data, last.hash))
    return record_from_document({**doc, "events": [*doc["events"], signed.as_dict()]})
