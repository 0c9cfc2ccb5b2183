"""What a forger with this tool but without the keys can do: edit events, recompute the chain and every section."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from amxwizard.engine.state import replay
from amxwizard.engine.store import Event, event_hash
from amxwizard.report.build import load_document_runbook, record_from_document
from amxwizard.report.criteria import LogReader, judge_criteria
from amxwizard.report.logs import LogLocator


def rechain(doc: dict[str, Any]) -> None:
    """Recompute every event's hash and link, as someone rewriting the whole chain would."""
    prev = "0" * 64
    for ev in doc["events"]:
        if ev["kind"] == "session_finished":
            ev["data"]["last_hash"] = prev
        if ev["kind"] == "commit_made":  # the trailer as the event records it (the commit itself cannot change)
            old = ev["data"].get("chain_trailer", "")
            ev["data"]["session_trailer"] = ev["data"].get("session_trailer", "").replace(old, prev)
            ev["data"]["chain_trailer"] = prev
        ev["prev"] = prev
        ev["hash"] = event_hash(ev["seq"], ev["ts"], ev["kind"], ev["data"], prev)
        prev = ev["hash"]


def reseal(doc: dict[str, Any]) -> dict[str, Any]:
    """The record rebuilt from its (edited) events: chain rehashed, every derived section recomputed, criteria judged
    again from the logs, the unchained facts and any signatures kept as they were."""
    doc = copy.deepcopy(doc)
    rechain(doc)
    events = [Event.from_dict(e) for e in doc["events"]]
    state = replay([e for e in events if e.kind != "reviewer_signoff"])
    runbook = load_document_runbook(doc)
    verdicts = judge_criteria(runbook, state, LogReader(state, LogLocator(session_dir=Path(doc["session"]["dir"]))))
    rebuilt = json.loads(json.dumps(record_from_document(doc, verdicts=verdicts).to_document()))
    rebuilt["generated"], rebuilt["signatures"] = doc["generated"], doc.get("signatures", [])
    return rebuilt


def event(doc: dict[str, Any], kind: str, **match: Any) -> dict[str, Any]:
    """The first event of ``kind`` whose data has the ``match`` values."""
    return next(e for e in doc["events"] if e["kind"] == kind and all(e["data"].get(k) == v for k, v in match.items()))


def append(doc: dict[str, Any], kind: str, **data: Any) -> dict[str, Any]:
    """``doc`` with one more event, chained after its last (as a forger would add it)."""
    doc = copy.deepcopy(doc)
    last = doc["events"][-1]
    seq, ts = last["seq"] + 1, last["ts"]
    data = {**data, "by": "mallory@elsewhere"}
    doc["events"].append(
        {
            "seq": seq,
            "ts": ts,
            "kind": kind,
            "data": data,
            "prev": last["hash"],
            "hash": event_hash(seq, ts, kind, data, last["hash"]),
        }
    )
    return doc
