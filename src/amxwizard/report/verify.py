"""Check a JSON record: the hash chain, the logs, and that every derived section still says what the events say.

What is checked, in order (the first problem found is the one named first):

1. the header (format, version) and each event's shape;
2. the hash chain (:func:`amxwizard.engine.store.verify_chain`): an edited, deleted, reordered or inserted event is
   named by its sequence number;
3. sign-offs come last and name a reviewer; ``session_finished.last_hash`` is the hash before it; a commit's
   ``Runbook-Chain`` trailer names a hash of an earlier event;
4. the summary: the record's ``last_hash`` and the session's ``last_hash`` and event count are the chain's;
5. the runbook text's sha256 is the one the record states;
6. every derived section (steps, runs, answers, criteria ticks, ...) equals the one rebuilt from the events and
   runbook (when the record was written by this amxwizard version);
7. with ``logs_dir``: every finished run's log is there and has the recorded sha256.

Not covered: the ``machine`` facts and ``generated`` stamp (facts of the moment the record was written); the criteria
verdicts as the evidence engine worded them (it judged them from logs and backup files a reviewer may not have; what
they were judged from is covered); and events removed from the very end together with a matching summary — compare
the last hash with the one in the commit's ``Runbook-Chain`` trailer or the one you were given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.fileio import sha256_file
from ..engine.store import Event, verify_chain
from .build import RecordError, record_from_document
from .logs import LogLocator
from .model import RECORD_FORMAT, RECORD_VERSION, SIGNOFF_KIND, derived_sections, normalised

_EVENT_KEYS = {"seq": int, "ts": str, "kind": str, "data": dict, "prev": str, "hash": str}
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One place where the record is not what it claims."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True, slots=True)
class Signoff:
    seq: int
    reviewer: str
    note: str
    by: str
    ts: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of :func:`verify_document`."""

    events: int
    logs: int
    last_hash: str
    session_last_hash: str
    signoffs: tuple[Signoff, ...]
    problems: tuple[Mismatch, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems


def verify_document(doc: dict[str, Any], *, logs_dir: Path | None = None) -> Verification:
    """Check a parsed JSON record (see the module docstring for what is checked)."""
    problems: list[Mismatch] = []
    notes: list[str] = []

    def result(events: Sequence[Event] = (), logs: int = 0) -> Verification:
        session = [e for e in events if e.kind != SIGNOFF_KIND]
        signoffs = tuple(
            Signoff(
                e.seq, str(e.data.get("reviewer", "")), str(e.data.get("note", "")), str(e.data.get("by", "")), e.ts
            )
            for e in events
            if e.kind == SIGNOFF_KIND
        )
        return Verification(
            len(events),
            logs,
            events[-1].hash if events else "",
            session[-1].hash if session else "",
            signoffs,
            tuple(problems),
            tuple(notes),
        )

    if doc.get("format") != RECORD_FORMAT:
        problems.append(Mismatch("format", f"not an amxwizard record (format is {doc.get('format')!r})"))
        return result()
    if doc.get("version") != RECORD_VERSION:
        problems.append(
            Mismatch(
                "version", f"record version {doc.get('version')!r} is not one this amxwizard reads ({RECORD_VERSION})"
            )
        )
        return result()
    raw_events = doc.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        problems.append(Mismatch("events", "the record holds no events"))
        return result()
    events: list[Event] = []
    for pos, raw in enumerate(raw_events, 1):
        shape = _shape_problem(raw)
        if shape:
            seq = raw.get("seq") if isinstance(raw, dict) else None
            problems.append(Mismatch(f"event at position {pos}" + (f" (seq {seq})" if seq is not None else ""), shape))
            return result()
        events.append(Event.from_dict(raw))

    broken = verify_chain(events)
    if broken is not None:
        hint = _chain_hint(events, broken.reason)
        # The hint says what happened; the store's own guess in parentheses would only contradict it.
        reason = broken.reason.split(" (", 1)[0] if hint else broken.reason
        problems.append(Mismatch(_event_name(events, broken.seq), reason + hint))
        return result()

    _check_order_and_anchors(events, problems)
    _check_summary(doc, events, problems)
    _check_runbook(doc, events, problems, notes)
    if not problems:
        _check_sections(doc, problems, notes)
    logs = 0
    if logs_dir is not None:
        logs = _check_logs(events, logs_dir, problems)
    else:
        notes.append("logs not checked (give --logs DIR with the session's runs folder)")
    return result(events, logs)


def _shape_problem(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "is not an object"
    missing = [k for k in _EVENT_KEYS if k not in raw]
    if missing:
        return f"has no {missing[0]!r}"
    extra = sorted(set(raw) - set(_EVENT_KEYS))
    if extra:
        return f"has a key events do not have: {extra[0]!r}"
    for key, typ in _EVENT_KEYS.items():
        value = raw[key]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            return f"{key!r} is not {'a number' if typ is int else 'an object' if typ is dict else 'text'}"
    return ""


def _event_name(events: Sequence[Event], seq: int) -> str:
    ev = next((e for e in events if e.seq == seq), None)
    if ev is None:
        return f"event {seq}"
    step = ev.data.get("step") or ev.data.get("run_id")
    return f"event {seq} ({ev.kind}" + (f", {step}" if isinstance(step, str) and step else "") + ")"


def _chain_hint(events: Sequence[Event], reason: str) -> str:
    if not reason.startswith("sequence jumps"):
        return ""
    pos = next((i for i, e in enumerate(events) if e.seq != i + 1), None)
    if pos is None:
        return ""
    expected = pos + 1
    if events[pos].seq < expected:
        return f"; event {events[pos].seq} appears again at position {pos + 1}: an event was inserted or repeated"
    later = next((j for j in range(pos + 1, len(events)) if events[j].seq == expected), None)
    if later is not None:
        return f"; event {expected} is further down, at position {later + 1}: the events were reordered"
    if pos + 1 < len(events) and events[pos + 1].seq == expected + 1:
        return f"; it stands where event {expected} belongs: its number was changed"
    return f"; no event {expected} anywhere: it was deleted"


def _check_order_and_anchors(events: Sequence[Event], problems: list[Mismatch]) -> None:
    first_signoff = next((e.seq for e in events if e.kind == SIGNOFF_KIND), None)
    hashes: set[str] = set()
    prev_hash = ""
    for ev in events:
        where = _event_name(events, ev.seq)
        if first_signoff is not None and ev.seq > first_signoff and ev.kind != SIGNOFF_KIND:
            problems.append(Mismatch(where, "recorded after a sign-off; only sign-offs may follow one"))
        if ev.kind == SIGNOFF_KIND and not str(ev.data.get("reviewer", "")).strip():
            problems.append(Mismatch(where, "a sign-off without a reviewer"))
        if ev.kind == "session_finished" and ev.data.get("last_hash") not in (None, prev_hash):
            problems.append(Mismatch(where, "its last_hash is not the hash of the event before it"))
        if ev.kind == "commit_made":
            for named in _HEX64.findall(str(ev.data.get("session_trailer", ""))):
                if named not in hashes:
                    problems.append(
                        Mismatch(
                            where, f"the commit's trailer names chain hash {named[:12]}…, which no earlier event has"
                        )
                    )
        hashes.add(ev.hash)
        prev_hash = ev.hash


def _check_summary(doc: dict[str, Any], events: Sequence[Event], problems: list[Mismatch]) -> None:
    last = events[-1].hash
    if doc.get("last_hash") != last:
        problems.append(
            Mismatch(
                "last_hash",
                f"the record says {str(doc.get('last_hash'))[:12]}…, the chain ends at "
                f"{last[:12]}… (events added or removed at the end?)",
            )
        )
    session = _dict(doc.get("session"))
    session_events = [e for e in events if e.kind != SIGNOFF_KIND]
    if session_events and session.get("last_hash") != session_events[-1].hash:
        problems.append(Mismatch("session.last_hash", "is not the hash of the session's last event"))
    if session.get("events") != len(session_events):
        problems.append(
            Mismatch(
                "session.events",
                f"the record says {session.get('events')!r}, the chain holds {len(session_events)} session events",
            )
        )


def _check_runbook(doc: dict[str, Any], events: Sequence[Event], problems: list[Mismatch], notes: list[str]) -> None:
    import hashlib

    rb = _dict(doc.get("runbook"))
    text = rb.get("text")
    if not isinstance(text, str):
        notes.append("the record holds no runbook text; sections were not rebuilt")
        return
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if digest != rb.get("sha256"):
        problems.append(
            Mismatch(
                "runbook.text",
                f"its sha256 is {digest[:12]}…, the record says "
                f"{str(rb.get('sha256'))[:12]}… (the runbook text was edited)",
            )
        )
        return
    created = next((e for e in events if e.kind == "session_created"), None)
    recorded = str(created.data.get("runbook_sha256", "")) if created else ""
    if created is not None and recorded and recorded != digest:
        notes.append(
            f"the runbook in the record is not the one the session started with (event {created.seq} "
            f"recorded {recorded[:12]}…)"
        )


def _check_sections(doc: dict[str, Any], problems: list[Mismatch], notes: list[str]) -> None:
    generated, runbook = doc.get("generated"), doc.get("runbook")
    writer = str(generated.get("amxwizard", "")) if isinstance(generated, dict) else ""
    if writer != __version__:
        notes.append(
            f"sections not compared with the events: the record was written by amxwizard {writer or '?'}, "
            f"this is {__version__}"
        )
        return
    if not isinstance(runbook, dict) or not isinstance(runbook.get("text"), str):
        return
    try:
        rebuilt = record_from_document(doc).to_document()
    except RecordError as exc:
        problems.append(Mismatch("runbook", str(exc)))
        return
    diff = first_difference(normalised(derived_sections(doc)), normalised(derived_sections(rebuilt)))
    if diff is not None:
        path, claimed, actual = diff
        problems.append(
            Mismatch(f"section {path}", f"the record says {_show(claimed)}, the events say {_show(actual)}")
        )


_ABSENT = object()


def first_difference(claimed: Any, actual: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ, as ``(dotted path, claimed, actual)``."""
    if isinstance(claimed, dict) and isinstance(actual, dict):
        for key in [*actual, *(k for k in claimed if k not in actual)]:
            found = first_difference(
                claimed.get(key, _ABSENT), actual.get(key, _ABSENT), f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
        return None
    if isinstance(claimed, list) and isinstance(actual, list):
        for i in range(max(len(claimed), len(actual))):
            found = first_difference(
                claimed[i] if i < len(claimed) else _ABSENT, actual[i] if i < len(actual) else _ABSENT, f"{path}[{i}]"
            )
            if found:
                return found
        return None
    if claimed is _ABSENT or actual is _ABSENT or claimed != actual or type(claimed) is not type(actual):
        return path or "(top)", claimed, actual
    return None


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _check_logs(events: Sequence[Event], logs_dir: Path, problems: list[Mismatch]) -> int:
    locator = LogLocator(logs_dir=logs_dir)
    steps = {str(e.data.get("run_id")): str(e.data.get("step", "")) for e in events if e.kind == "command_started"}
    checked = 0
    for ev in events:
        if ev.kind != "command_finished" or not ev.data.get("log_sha256"):
            continue
        run_id = str(ev.data.get("run_id", ""))
        where = f"log of run {run_id}" + (f" (step {steps[run_id]})" if steps.get(run_id) else "")
        path = locator.find(run_id, "")
        if path is None:
            problems.append(
                Mismatch(where, f"not found in {logs_dir} (looked for {run_id}/output.log and {run_id}.log)")
            )
            continue
        try:
            digest = sha256_file(path)
            size = path.stat().st_size
        except OSError as exc:
            problems.append(Mismatch(where, f"cannot read {path}: {exc.strerror or exc}"))
            continue
        if digest != ev.data["log_sha256"]:
            recorded_size = ev.data.get("log_size")
            sizes = f" ({size} bytes; recorded {recorded_size})" if recorded_size is not None else ""
            problems.append(Mismatch(where, f"{path.name} does not match the sha256 recorded in event {ev.seq}{sizes}"))
            continue
        checked += 1
    return checked


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
