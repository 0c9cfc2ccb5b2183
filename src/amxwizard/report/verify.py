"""Check a JSON record: its format, the hash chain, the logs, that every section says what the events say, and the
signatures and commit that anchor the chain where a forger cannot recompute it.

What is checked, in order (the first problem found is the one named first):

1. the format: ``format_version`` must be one this amxwizard knows (a record of another or no version fails —
   "cannot verify a record of format N" — it never passes with a note); each event's shape;
2. the hash chain (:func:`amxwizard.engine.store.verify_chain`): an edited, deleted, reordered or inserted event is
   named by its sequence number;
3. sign-offs name a reviewer and cover the event before them; ``session_finished.last_hash`` is the hash before it;
   a commit's ``Runbook-Chain`` trailer names a hash of an earlier event; fingerprints agree with the model hashes;
4. the summary: the record's ``last_hash`` and the session's ``last_hash`` and event count are the chain's;
5. the runbook text's sha256 is the one the record states;
6. every section derived from the events — steps and runs, answers, approach, results, fingerprints, criteria
   verdicts, machine facts the session recorded, the COMPLETE label and its counts — equals the one rebuilt from
   the events and the runbook. Criteria are judged again: from the events alone, or from run logs whose sha256 is
   the recorded one (``logs_dir``, else the recorded paths), or from the backup folder; one whose logs or files are
   not at hand is listed as not verified;
7. signatures (``ssh-keygen -Y``): the operator's over the chain head and each reviewer's over the head their
   sign-off covers; with ``allowed_signers`` each must be by a key that file names, and every event must be covered
   (the first uncovered or mismatching point is named); events after a sign-off are not covered by it; a reviewer
   who is the operator must have said so (``--self``);
8. with ``repo``: the commit the chain names exists there and its ``Runbook-Chain`` trailer is a hash of this chain;
9. with ``logs_dir``: every finished run's log is there and has the recorded sha256.

What a check could not decide is listed in ``not_verified``, never silently passed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.fileio import sha256_file
from ..engine.store import Event, verify_chain
from .build import RecordError, document_verdicts, load_document_runbook, record_from_document
from .criteria import CriteriaVerdicts, Judged, LogReader, judge_criteria
from .logs import LogLocator
from .model import (
    KNOWN_VERSIONS,
    MACHINE_KIND,
    RECORD_FORMAT,
    SIGNOFF_KIND,
    derived_sections,
    format_version,
    normalised,
)
from .signing import OPERATOR, operator_message, signoff_message, unchained_digest

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
    covers_seq: int = 0
    self_review: bool = False
    key: str = ""
    principal: str = ""
    signed: bool = False
    valid: bool = False


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """One signature as checked: who signed (``principal`` from the allowed-signers file), which events it covers."""

    role: str
    covers_seq: int
    key: str
    principal: str
    valid: bool
    problem: str = ""

    def describe(self) -> str:
        who = self.principal or f"key {self.key or '?'} (whose key is not known: give --allowed-signers FILE)"
        if self.principal:
            who = f"{self.principal} ({self.key})"
        state = "" if self.valid else f" — DOES NOT CHECK: {self.problem}"
        return f"{self.role}: events 1–{self.covers_seq} signed by {who}{state}"


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
    not_verified: tuple[str, ...] = ()
    signatures: tuple[SignatureReport, ...] = ()
    anchors: tuple[str, ...] = ()
    format_version: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong (what could not be checked is in ``not_verified``)."""
        return not self.problems


@dataclass
class _Findings:
    problems: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_verified: list[str] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    signatures: list[SignatureReport] = field(default_factory=list)
    signoffs: list[Signoff] = field(default_factory=list)


def verify_document(
    doc: dict[str, Any],
    *,
    logs_dir: Path | None = None,
    allowed_signers: Path | None = None,
    repo: Path | None = None,
) -> Verification:
    """Check a parsed JSON record (see the module docstring for what is checked)."""
    found = _Findings()
    problems = found.problems
    version = format_version(doc)

    def result(events: Sequence[Event] = (), logs: int = 0) -> Verification:
        session = [e for e in events if e.kind != SIGNOFF_KIND]
        signoffs = found.signoffs or [
            Signoff(
                e.seq, str(e.data.get("reviewer", "")), str(e.data.get("note", "")), str(e.data.get("by", "")), e.ts
            )
            for e in events
            if e.kind == SIGNOFF_KIND
        ]
        return Verification(
            len(events),
            logs,
            events[-1].hash if events else "",
            session[-1].hash if session else "",
            tuple(signoffs),
            tuple(problems),
            tuple(found.notes),
            tuple(dict.fromkeys(found.not_verified)),
            tuple(found.signatures),
            tuple(found.anchors),
            version,
        )

    if doc.get("format") != RECORD_FORMAT:
        problems.append(Mismatch("format", f"not an amxwizard record (format is {doc.get('format')!r})"))
        return result()
    if version not in KNOWN_VERSIONS:
        shown = "(none)" if version is None else str(version)
        known = ", ".join(str(v) for v in KNOWN_VERSIONS)
        problems.append(
            Mismatch(
                "format_version",
                f"cannot verify a record of format {shown}: this amxwizard verifies format {known} "
                "(write the record again from its session with `amxwizard report`)",
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
    _check_fingerprints(events, problems)
    _check_summary(doc, events, problems)
    _check_runbook(doc, events, problems, found.notes)
    if not problems:
        _check_sections(doc, events, logs_dir, found)
    _check_signatures(doc, events, allowed_signers, found)
    if repo is not None:
        _check_repo(repo, doc, events, found)
    logs = 0
    if logs_dir is not None:
        logs = _check_logs(events, logs_dir, problems)
    else:
        found.notes.append("log files not checked against their hashes (give --logs DIR with the session's runs)")
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
    hashes: set[str] = set()
    prev: Event | None = None
    for ev in events:
        where = _event_name(events, ev.seq)
        if ev.kind == SIGNOFF_KIND:
            if not str(ev.data.get("reviewer", "")).strip():
                problems.append(Mismatch(where, "a sign-off without a reviewer"))
            covers = ev.data.get("covers")
            if (
                prev is not None
                and isinstance(covers, dict)
                and (covers.get("seq"), covers.get("hash"))
                != (
                    prev.seq,
                    prev.hash,
                )
            ):
                problems.append(Mismatch(where, f"it says it covers event {covers.get('seq')}, but follows {prev.seq}"))
        if ev.kind == "session_finished" and ev.data.get("last_hash") not in (None, prev.hash if prev else ""):
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
        prev = ev


def _check_fingerprints(events: Sequence[Event], problems: list[Mismatch]) -> None:
    """A run's fingerprint names the HEAD its run started at and the model sha256 the model_hashed events give."""
    hashed: dict[tuple[Any, Any, Any], tuple[str, int]] = {}
    for ev in events:
        if ev.kind == "model_hashed" and ev.data.get("sha256"):
            hashed[(ev.data.get("path"), ev.data.get("size"), ev.data.get("mtime"))] = (str(ev.data["sha256"]), ev.seq)
    seen: dict[tuple[Any, Any, Any], tuple[str, int]] = {}
    for ev in events:
        fp = ev.data.get("fingerprint") if ev.kind == "command_started" else None
        if not isinstance(fp, dict):
            continue
        where = _event_name(events, ev.seq)
        model = _dict(fp.get("model"))
        key = (model.get("path"), model.get("size"), model.get("mtime"))
        sha = model.get("sha256")
        if isinstance(sha, str) and sha:
            for other, (other_sha, seq) in ((key, hashed.get(key, ("", 0))), (key, seen.get(key, ("", 0)))):
                if other_sha and other_sha != sha:
                    problems.append(
                        Mismatch(
                            where,
                            f"its fingerprint gives the model {other[0]} sha256 {sha[:12]}…, event {seq} gives "
                            f"{other_sha[:12]}… for the same file, size and mtime",
                        )
                    )
            seen.setdefault(key, (sha, ev.seq))
        git = _dict(fp.get("git"))
        before = _dict(ev.data.get("git_before"))
        head, recorded = git.get("head"), before.get("head") or before.get("HEAD")
        if head and recorded and head != recorded:
            problems.append(
                Mismatch(where, f"its fingerprint names HEAD {str(head)[:12]}, the run started at {recorded}")
            )


def _check_sections(doc: dict[str, Any], events: Sequence[Event], logs_dir: Path | None, found: _Findings) -> None:
    """Rebuild every derived section from the events (criteria judged again) and name the first difference."""
    from ..engine.state import replay

    problems = found.problems
    try:
        runbook = load_document_runbook(doc)
    except RecordError as exc:
        problems.append(Mismatch("runbook", str(exc)))
        return
    session_events = [e for e in events if e.kind != SIGNOFF_KIND]
    try:
        state = replay(session_events)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        problems.append(Mismatch("events", f"the record's events cannot be replayed: {type(exc).__name__}: {exc}"))
        return
    session = _dict(doc.get("session"))
    locator = (
        LogLocator(logs_dir=logs_dir)
        if logs_dir is not None
        else LogLocator(session_dir=Path(str(session.get("dir", ""))))  # the recorded paths, hash-checked
    )
    judged = judge_criteria(runbook, state, LogReader(state, locator))
    claimed = document_verdicts(doc)
    verdicts: dict[str, Judged] = {}
    if judged.how.startswith("failed"):
        found.not_verified.append(
            f"criteria verdicts (judging them here failed: {judged.how.removeprefix('failed: ')})"
        )
        verdicts = dict(claimed.verdicts)
    else:
        for crit in runbook.model.criteria:
            mine = judged.verdicts.get(crit.id)
            theirs = claimed.verdicts.get(crit.id)
            if mine is None:
                continue
            if mine.complete or theirs is None:
                verdicts[crit.id] = mine
                continue
            verdicts[crit.id] = Judged(theirs.verdict, theirs.evidence, mine.judged_from, False)
            if mine.judged_from == "files":
                folder = (state.backup or {}).get("dir", "")
                found.not_verified.append(
                    f"criterion {crit.id}: judged from the backup folder {folder}, which is not on this machine"
                )
            else:
                runs = ", ".join(mine.missing)
                found.not_verified.append(
                    f"criterion {crit.id}: judged from run logs not at hand here ({runs}; give --logs DIR)"
                )
    how = claimed.how if judged.how.startswith("failed") else judged.how
    try:
        rebuilt = record_from_document(doc, verdicts=CriteriaVerdicts(how, verdicts)).to_document()
    except RecordError as exc:
        problems.append(Mismatch("events", str(exc)))
        return
    diff = first_difference(normalised(derived_sections(doc)), normalised(derived_sections(rebuilt)))
    if diff is not None:
        path, claimed_value, actual = diff
        source = "the events say"
        if re.match(r"criteria\[\d+\]\.verdict", path):
            index = int(path.split("[", 1)[1].split("]", 1)[0])
            crit_id = runbook.model.criteria[index].id if index < len(runbook.model.criteria) else "?"
            source = f"judged again ({crit_id}) it is"
        problems.append(
            Mismatch(f"section {path}", f"the record says {_show(claimed_value)}, {source} {_show(actual)}")
        )
    if not any(e.kind == MACHINE_KIND for e in session_events):
        found.not_verified.append(
            "machine facts: the session recorded none (no machine_observed event), so the record shows the writer's "
            "machine as it was when the record was written"
        )


def _check_signatures(doc: dict[str, Any], events: Sequence[Event], allowed: Path | None, found: _Findings) -> None:
    """Every signature checked with ssh-keygen; who covers which events; the first point no one covers."""
    from .signoff import same_person
    from .sshsig import SignatureCheck, SigningError, check

    problems = found.problems
    by_seq = {e.seq: e for e in events}
    session_events = [e for e in events if e.kind != SIGNOFF_KIND]
    session = _dict(doc.get("session"))
    session_id = str(session.get("id", ""))
    generated = _dict(doc.get("generated"))
    machine = _dict(doc.get("machine"))
    digest = unchained_digest(generated, machine)

    def checked(message: str, signature: str) -> SignatureCheck | None:
        try:
            return check(message, signature, allowed)
        except SigningError as exc:
            found.not_verified.append(f"signatures: {exc}")
            return None

    covered = 0  # events 1..covered are covered by a good operator signature
    operator_keys: set[str] = set()
    operator_principals: set[str] = set()
    raw = doc.get("signatures", [])
    for i, sig in enumerate(raw if isinstance(raw, list) else []):
        where = f"signatures[{i}]"
        if not isinstance(sig, dict) or sig.get("role") != OPERATOR:
            problems.append(Mismatch(where, "not an operator signature this amxwizard writes"))
            continue
        seq, chain_hash = sig.get("seq"), str(sig.get("hash", ""))
        event = by_seq.get(seq) if isinstance(seq, int) else None
        key = str(sig.get("key", ""))
        if event is None or event.hash != chain_hash:
            there = f"the chain has {event.hash[:12]}… there" if event else "the chain has no such event"
            problems.append(
                Mismatch(
                    f"{where} (operator, key {key or '?'})",
                    f"covers event {seq} with hash {chain_hash[:12]}…; {there}: the events up to it were changed "
                    "after it was signed, or the record was cut",
                )
            )
            continue
        expected = operator_message(session_id, event.seq, event.hash, digest)
        if sig.get("message") != expected:
            problems.append(
                Mismatch(
                    f"{where} (operator)",
                    "the signed message is not this record's (its session, chain head or the facts outside the "
                    "chain — generated, machine — were changed after it was signed)",
                )
            )
            continue
        result = checked(expected, str(sig.get("signature", "")))
        if result is None:
            continue
        report = SignatureReport(OPERATOR, event.seq, result.key, result.principal, result.valid, result.problem)
        found.signatures.append(report)
        if not result.valid:
            problems.append(Mismatch(f"{where} (operator)", f"the signature does not check: {result.problem}"))
            continue
        if allowed is not None and not result.trusted:
            problems.append(Mismatch(f"{where} (operator)", result.problem))
            continue
        operator_keys.add(result.key)
        if result.principal:
            operator_principals.add(result.principal)
        covered = max(covered, event.seq)

    if covered:
        # The operator signs the head of the session when the record is written; a session event after it was added
        # to the record later, by someone who could not sign it.
        after = [e for e in session_events if e.seq > covered]
        if after:
            span = f"event {after[0].seq}" if len(after) == 1 else f"events {after[0].seq}–{after[-1].seq}"
            problems.append(
                Mismatch(
                    _event_name(events, after[0].seq),
                    f"{span} recorded after the head the operator signed (event {covered}): not covered by the "
                    "operator's signature",
                )
            )
    reviewer_cover: set[int] = set()  # events a good reviewer signature covers (their head, and the sign-off itself)
    for ev in events:
        if ev.kind != SIGNOFF_KIND:
            continue
        d = ev.data
        where = _event_name(events, ev.seq)
        reviewer = str(d.get("reviewer", ""))
        self_review = d.get("self") is True
        signoff = Signoff(
            ev.seq,
            reviewer,
            str(d.get("note", "")),
            str(d.get("by", "")),
            ev.ts,
            ev.seq - 1,
            self_review,
            str(d.get("key", "")),
        )
        if d.get("signature"):
            prev = by_seq.get(ev.seq - 1)
            message = signoff_message(
                session_id, ev.seq - 1, prev.hash if prev else "", reviewer, self_review, signoff.note
            )
            result = checked(message, str(d.get("signature")))
            if result is not None:
                signoff = Signoff(
                    signoff.seq,
                    reviewer,
                    signoff.note,
                    signoff.by,
                    ev.ts,
                    ev.seq - 1,
                    self_review,
                    result.key,
                    result.principal,
                    True,
                    result.valid and (allowed is None or result.trusted),
                )
                found.signatures.append(
                    SignatureReport(
                        f"sign-off by {reviewer}",
                        ev.seq - 1,
                        result.key,
                        result.principal,
                        result.valid,
                        result.problem,
                    )
                )
                if not result.valid:
                    problems.append(Mismatch(where, f"{reviewer}'s signature does not check: {result.problem}"))
                elif allowed is not None and not result.trusted:
                    problems.append(Mismatch(where, f"{reviewer}'s signature: {result.problem}"))
                else:
                    reviewer_cover.update(range(1, ev.seq + 1))
                if result.valid and not self_review:
                    why = same_person(reviewer, signoff.by, list(events))
                    if result.key in operator_keys:
                        why = f"same key {result.key} as the operator's signature"
                    elif result.principal and result.principal in operator_principals:
                        why = f"same signer {result.principal} as the operator's signature"
                    if why:
                        problems.append(
                            Mismatch(
                                where,
                                f"the reviewer {reviewer} is the operator ({why}), but the sign-off "
                                "does not say so (--self)",
                            )
                        )
        else:
            if allowed is not None:
                problems.append(Mismatch(where, f"{reviewer}'s sign-off is unsigned: anyone could have added it"))
            else:
                found.not_verified.append(
                    f"{reviewer}'s sign-off (event {ev.seq}): unsigned, anyone could have added it"
                )
            if not self_review:
                why = same_person(reviewer, signoff.by, list(events))
                if why:
                    problems.append(
                        Mismatch(
                            where,
                            f"the reviewer {reviewer} is the operator ({why}), but the sign-off does not "
                            "say so (--self)",
                        )
                    )
        found.signoffs.append(signoff)
        late = [e for e in session_events if e.seq > ev.seq and e.seq > covered]
        if late:
            span = f"event {late[0].seq}" if len(late) == 1 else f"events {late[0].seq}–{late[-1].seq}"
            problems.append(
                Mismatch(
                    _event_name(events, late[0].seq),
                    f"{span} recorded after {reviewer}'s sign-off (event {ev.seq}): not covered by {reviewer}'s "
                    "sign-off, and no operator signature covers them",
                )
            )

    first_uncovered = next((e for e in events if e.seq > covered and e.seq not in reviewer_cover), None)
    if allowed is not None and first_uncovered is not None:
        if not found.signatures:
            what = "the record is unsigned: nothing covers its events against someone who rewrites the chain"
        else:
            what = f"not covered by any signature {allowed} allows (the first unsigned point)"
        problems.append(Mismatch(_event_name(events, first_uncovered.seq), what))
    elif not found.signatures:
        found.not_verified.append(
            "who wrote the chain: the record is unsigned — the hash chain shows its events agree with each other, "
            "not who wrote them; anyone can edit an event and recompute every hash after it (ask for a record "
            "signed with --sign-key, and give --repo to check the commit's Runbook-Chain trailer)"
        )
    elif allowed is None:
        found.not_verified.append(
            "whose keys signed: give --allowed-signers FILE (git's allowed-signers format) to know who holds them"
        )
    if not covered:
        found.not_verified.append("when and by whom the record was written (generated): not covered by a signature")


def _commit_trailers(repo_path: Path, sha: str) -> tuple[str | None, dict[str, str]]:
    """``(message sha256, {trailer: value})`` of commit ``sha`` in ``repo_path``, or ``(None, {})`` if absent."""
    import hashlib
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(repo_path), *args], capture_output=True, timeout=30, check=False)

    if not re.fullmatch(r"[0-9a-f]{7,64}", sha) or git("cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
        return None, {}
    raw = git("cat-file", "commit", sha).stdout
    message = raw.partition(b"\n\n")[2]
    listed = git("log", "-1", "--format=%(trailers:only,unfold)", sha).stdout.decode("utf-8", "replace")
    trailers: dict[str, str] = {}
    for line in listed.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            trailers.setdefault(name.strip(), value.strip())
    return hashlib.sha256(message).hexdigest(), trailers


def _session_commits(repo_path: Path, session_id: str) -> list[str]:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(repo_path), "log", "--all", "--format=%H%x1f%(trailers:key=Runbook-Session,valueonly)%x1e"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = []
    for entry in done.stdout.split("\x1e"):
        sha, _, value = entry.strip().partition("\x1f")
        if sha and session_id and session_id in (v.strip() for v in value.splitlines()):
            out.append(sha)
    return out


def _check_repo(repo_path: Path, doc: dict[str, Any], events: Sequence[Event], found: _Findings) -> None:
    """The commit the chain records exists in ``repo_path`` and its ``Runbook-Chain`` trailer names this chain."""
    problems = found.problems
    session = _dict(doc.get("session"))
    session_id = str(session.get("id", ""))
    if not (repo_path / ".git").exists() and not (repo_path / "HEAD").is_file():
        problems.append(Mismatch("--repo", f"{repo_path} is not a git repository"))
        return
    commits = [e for e in events if e.kind == "commit_made"]
    if not commits:
        made = _session_commits(repo_path, session_id)
        if made:
            problems.append(
                Mismatch(
                    "commit",
                    f"{repo_path} has commit {made[0][:12]} of this session (Runbook-Session: {session_id}), "
                    "but the record has no commit_made event: the record was cut before it, or the event removed",
                )
            )
        else:
            found.not_verified.append(f"anchor: no commit of this session in {repo_path}, so nothing anchors the chain")
        return
    hashes = {e.hash: e.seq for e in events}
    for ev in commits:
        sha = str(ev.data.get("sha", ""))
        where = _event_name(events, ev.seq)
        message_sha, trailers = _commit_trailers(repo_path, sha)
        if message_sha is None:
            problems.append(Mismatch(where, f"commit {sha[:12]} is not in {repo_path}"))
            continue
        if trailers.get("Runbook-Session") != session_id:
            problems.append(
                Mismatch(
                    where, f"commit {sha[:12]} names session {trailers.get('Runbook-Session')!r}, not {session_id}"
                )
            )
            continue
        named = trailers.get("Runbook-Chain", "")
        if named not in hashes or hashes[named] >= ev.seq:
            problems.append(
                Mismatch(
                    where,
                    f"commit {sha[:12]} in {repo_path} names chain hash {named[:12]}…, which no event before it in "
                    f"this record has: events 1–{ev.seq - 1} were changed after the commit was made",
                )
            )
            continue
        if ev.data.get("message_sha256") and ev.data.get("message_sha256") != message_sha:
            problems.append(Mismatch(where, f"commit {sha[:12]}'s message is not the one the event recorded"))
            continue
        found.anchors.append(
            f"commit {sha[:12]} in {repo_path} names event {hashes[named]} ({named[:12]}…) of this chain: "
            f"events 1–{hashes[named]} are as they were when it was committed"
        )


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
