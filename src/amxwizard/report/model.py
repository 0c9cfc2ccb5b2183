"""The reviewer's record as data: what was done, by whom, when, with what result — and the events that prove it.

A :class:`Record` is built from a session's events (see :mod:`amxwizard.report.build`) and rendered as Markdown, HTML
or JSON. Every section except ``generated``, ``signatures`` and (for a session that never recorded them) the
``machine`` facts is derived from the events and the runbook text, so :mod:`amxwizard.report.verify` rebuilds it and
catches a section edited by hand. ``signatures`` are checked with ssh-keygen; ``generated`` and unchained machine
facts are covered by the operator's signature, when there is one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

RECORD_FORMAT = "amxwizard-record"
RECORD_VERSION = 2  # the format_version this amxwizard writes
KNOWN_VERSIONS = (2,)  # the format versions this amxwizard can verify
SIGNOFF_KIND = "reviewer_signoff"
MACHINE_KIND = "machine_observed"

# Sections that are facts of the moment the record was written, or signatures over it, not derived from the events.
UNCHAINED_SECTIONS = ("generated", "signatures")


@dataclass(frozen=True, slots=True)
class GpuInfo:
    name: str
    driver: str


MACHINE_NOTE_CHAINED = "facts the session recorded (event {seq}, machine_observed), checked against the chain"
MACHINE_NOTE_UNCHAINED = (
    "not verified: the session recorded no machine facts, so these are of the machine that wrote this record, "
    "collected when it was written, and not part of the chain"
)


@dataclass(frozen=True, slots=True)
class MachineFacts:
    """A machine: the one the session recorded (``event`` is its machine_observed event), else the record's writer."""

    hostname: str
    kernel: str
    os: str
    cpu_model: str
    cpu_count: int
    cpu_flags: dict[str, bool]
    gpus: tuple[GpuInfo, ...]
    gpu_query: str
    collected_at: str
    numa_nodes: int | None = None
    event: int | None = None
    note: str = MACHINE_NOTE_UNCHAINED

    @property
    def amx(self) -> bool:
        """True when the CPU reports every AMX flag the runbook needs."""
        return all(self.cpu_flags.get(flag, False) for flag in ("amx_tile", "amx_int8", "amx_bf16"))

    @property
    def in_chain(self) -> bool:
        """True when these facts come from an event of the chain (and verify checks them)."""
        return self.event is not None

    def event_data(self) -> dict[str, Any]:
        """The facts as the data of a ``machine_observed`` event."""
        return {
            "hostname": self.hostname,
            "kernel": self.kernel,
            "os": self.os,
            "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count,
            "cpu_flags": dict(self.cpu_flags),
            "numa_nodes": self.numa_nodes,
            "gpus": [{"name": g.name, "driver": g.driver} for g in self.gpus],
            "gpu_query": self.gpu_query,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, event: int | None = None, ts: str = "") -> MachineFacts:
        """Machine facts from a JSON record or a machine_observed event's data (missing keys become empty)."""
        listed = d.get("gpus")
        gpus = tuple(
            GpuInfo(str(g.get("name", "")), str(g.get("driver", "")))
            for g in (listed if isinstance(listed, list) else [])
            if isinstance(g, dict)
        )
        flags = d.get("cpu_flags", {})
        count = d.get("cpu_count")
        numa = d.get("numa_nodes")
        if event is None:
            recorded = d.get("event")
            event = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None
        return cls(
            hostname=str(d.get("hostname", "")),
            kernel=str(d.get("kernel", "")),
            os=str(d.get("os", "")),
            cpu_model=str(d.get("cpu_model", "")),
            cpu_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
            cpu_flags={str(k): bool(v) for k, v in flags.items()} if isinstance(flags, dict) else {},
            gpus=gpus,
            gpu_query=str(d.get("gpu_query", "")),
            collected_at=ts or str(d.get("collected_at", "")),
            numa_nodes=numa if isinstance(numa, int) and not isinstance(numa, bool) else None,
            event=event,
            note=MACHINE_NOTE_CHAINED.format(seq=event) if event is not None else MACHINE_NOTE_UNCHAINED,
        )


@dataclass(frozen=True, slots=True)
class Generated:
    """Who wrote the record, when, with which amxwizard."""

    at: str
    by: str
    amxwizard: str


@dataclass(frozen=True, slots=True)
class Status:
    """COMPLETE only when every step passed or was skipped with a reason, every criterion is met (or not applicable
    with a reason) and the checklist is confirmed; otherwise ``label`` says exactly what is missing."""

    complete: bool
    label: str
    counts: str
    steps_total: int
    steps_done: int
    step_counts: dict[str, int]
    criteria_met: int
    criteria_total: int
    criteria_open: tuple[str, ...]
    checklist_confirmed: int
    checklist_total: int
    checklist_open: tuple[str, ...]
    missing: tuple[str, ...]
    next_step: str
    failed: tuple[str, ...]
    interrupted: tuple[str, ...]
    running: tuple[str, ...]
    session_closed: bool
    signed_off: bool


@dataclass(frozen=True, slots=True)
class RunbookInfo:
    title: str
    path: str
    sha256: str
    recorded_sha256: str
    text: str


@dataclass(frozen=True, slots=True)
class SessionInfoView:
    id: str
    dir: str
    created: str
    created_by: str
    target: str
    amxwizard: str
    hosts: tuple[str, ...]
    people: tuple[str, ...]
    opened: int
    finished: bool
    events: int
    first_ts: str
    last_ts: str
    last_hash: str


@dataclass(frozen=True, slots=True)
class VariableView:
    name: str
    value: str
    source: str
    description: str


@dataclass(frozen=True, slots=True)
class RepoView:
    path: str
    head_before: str
    head_after: str
    commit: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ChecklistView:
    """An item with its text rendered with the session's variables, and how it was confirmed (if it was)."""

    id: str
    text: str
    check: str
    ticked: bool | None
    note: str
    by: str
    ts: str
    auto: bool
    finding: str
    check_status: str


@dataclass(frozen=True, slots=True)
class RunView:
    """One command as actually run."""

    run_id: str
    step: str
    attempt: int
    index: int
    script: str
    cwd: str
    by: str
    started: str
    finished: bool
    ended: str
    outcome: str
    exit_code: int | None
    signal: int | None
    duration: float | None
    log: str
    log_size: int | None
    log_sha256: str
    head_before: str
    head_after: str
    fingerprint: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StepView:
    id: str
    phase: str
    phase_title: str
    title: str
    kind: str
    status: str
    required: bool
    by: str
    started: str
    finished: str
    attempts: int
    summary: str
    skip_reason: str
    evidence: dict[str, Any]
    exit_codes: tuple[int | None, ...]
    duration: float | None
    runs: tuple[RunView, ...]


@dataclass(frozen=True, slots=True)
class AnswerView:
    field: str
    label: str
    step: str
    required: bool
    value: str | None
    suggested: str | None
    by: str
    ts: str


@dataclass(frozen=True, slots=True)
class ApproachView:
    step: str
    letter: str
    title: str
    use_if: str
    reason: str
    by: str
    ts: str


@dataclass(frozen=True, slots=True)
class ResultView:
    """A test or benchmark step's outcome against what the runbook expects."""

    step: str
    title: str
    kind: str
    detail: str
    expect: str
    baseline: str
    status: str
    summary: str
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CriterionView:
    """A criterion, the evidence engine's verdict on it and what that was judged from (events, logs or files)."""

    id: str
    text: str
    check: str
    steps: tuple[str, ...]
    step_states: tuple[str, ...]
    verdict: str
    verdict_evidence: tuple[str, ...]
    ticked: bool | None
    note: str
    by: str
    ts: str
    judged_from: str


@dataclass(frozen=True, slots=True)
class SkipView:
    step: str
    title: str
    reason: str
    by: str
    ts: str


@dataclass(frozen=True, slots=True)
class SignoffView:
    """A reviewer's sign-off: the event, and the chain head it covers (the event before it)."""

    seq: int
    reviewer: str
    note: str
    by: str
    ts: str
    hash: str
    covers_seq: int
    covers_hash: str
    self_review: bool
    key: str
    signed: bool
    not_covered: tuple[int, ...]  # session events recorded after this sign-off (it does not cover them)


@dataclass(frozen=True, slots=True)
class SignatureView:
    """An SSH signature over the chain head (``ssh-keygen -Y sign -n amxwizard-record``); ``message`` is what was
    signed, ``key`` the signer's key fingerprint as ssh-keygen prints it."""

    role: str
    seq: int
    hash: str
    key: str
    message: str
    signature: str


@dataclass(frozen=True, slots=True)
class Record:
    """Everything a reviewer gets. ``events`` is the whole chain (session events, then sign-offs)."""

    generated: Generated
    status: Status
    runbook: RunbookInfo
    session: SessionInfoView
    machine: MachineFacts
    variables: tuple[VariableView, ...]
    repo: RepoView
    checklist: tuple[ChecklistView, ...]
    steps: tuple[StepView, ...]
    answers: tuple[AnswerView, ...]
    approach: ApproachView | None
    tests: tuple[ResultView, ...]
    benchmarks: tuple[ResultView, ...]
    criteria_evaluation: str
    criteria: tuple[CriterionView, ...]
    skips: tuple[SkipView, ...]
    backup: dict[str, Any] | None
    edits: tuple[dict[str, Any], ...]
    documents: tuple[dict[str, Any], ...]
    notes: tuple[dict[str, Any], ...]
    signoffs: tuple[SignoffView, ...]
    model_hashes: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    last_hash: str
    events: tuple[dict[str, Any], ...] = field(repr=False)
    signatures: tuple[SignatureView, ...] = ()

    @property
    def title(self) -> str:
        """The runbook's title (what the record is a record of)."""
        return self.runbook.title or "amxwizard session"

    def step(self, step_id: str) -> StepView | None:
        """The step view with ``step_id``, if the runbook has it."""
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def signed(self) -> bool:
        """True when the record carries at least one signature of the operator over its chain."""
        return bool(self.signatures)

    def to_document(self) -> dict[str, Any]:
        """The JSON record: format header, every section, and the events last (they are the long part)."""
        doc: dict[str, Any] = {"format": RECORD_FORMAT, "format_version": RECORD_VERSION}
        for name in Record.__dataclass_fields__:
            value = getattr(self, name)
            if name == "events":
                continue
            doc[name] = asdict(value) if hasattr(value, "__dataclass_fields__") else _plain(value)
        doc["machine"] = {**doc["machine"], "amx": self.machine.amx}
        doc["events"] = [dict(e) for e in self.events]
        return doc


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


def normalised(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists, keys as text), for comparing sections."""
    return json.loads(json.dumps(value, ensure_ascii=False, sort_keys=True))


def derived_sections(doc: dict[str, Any]) -> dict[str, Any]:
    """The parts of a JSON record that are rebuilt from its events (everything but the header and unchained facts).

    ``machine`` is among them: verify rebuilds it from the chain's machine_observed event, or (for a session without
    one) keeps the record's own, labelled as not verified.
    """
    skip = {"format", "format_version", "version", "events", *UNCHAINED_SECTIONS}
    return {k: v for k, v in doc.items() if k not in skip}


def format_version(doc: dict[str, Any]) -> int | None:
    """The record's format version (``format_version``; format 1 records wrote ``version``), or ``None``."""
    value = doc.get("format_version", doc.get("version"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None
