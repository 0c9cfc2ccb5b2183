"""The reviewer's record as data: what was done, by whom, when, with what result — and the events that prove it.

A :class:`Record` is built from a session's events (see :mod:`amxwizard.report.build`) and rendered as Markdown, HTML
or JSON. Every section except ``generated`` and ``machine`` is derived from the events and the runbook text, so
:mod:`amxwizard.report.verify` can rebuild it and catch a section edited by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

RECORD_FORMAT = "amxwizard-record"
RECORD_VERSION = 1
SIGNOFF_KIND = "reviewer_signoff"

# Sections that are facts of the moment the record was written, not derived from the events.
UNCHAINED_SECTIONS = ("generated", "machine")


@dataclass(frozen=True, slots=True)
class GpuInfo:
    name: str
    driver: str


MACHINE_NOTE = "facts of the machine that wrote this record, collected when it was written; not part of the chain"


@dataclass(frozen=True, slots=True)
class MachineFacts:
    """The machine that wrote the record (not necessarily the one the session ran on)."""

    hostname: str
    kernel: str
    os: str
    cpu_model: str
    cpu_count: int
    cpu_flags: dict[str, bool]
    gpus: tuple[GpuInfo, ...]
    gpu_query: str
    collected_at: str
    note: str = MACHINE_NOTE

    @property
    def amx(self) -> bool:
        """True when the CPU reports every AMX flag the runbook needs."""
        return all(self.cpu_flags.get(flag, False) for flag in ("amx_tile", "amx_int8", "amx_bf16"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MachineFacts:
        """Read machine facts back from a JSON record (missing keys become empty)."""
        listed = d.get("gpus")
        gpus = tuple(
            GpuInfo(str(g.get("name", "")), str(g.get("driver", "")))
            for g in (listed if isinstance(listed, list) else [])
            if isinstance(g, dict)
        )
        flags = d.get("cpu_flags", {})
        count = d.get("cpu_count")
        return cls(
            hostname=str(d.get("hostname", "")),
            kernel=str(d.get("kernel", "")),
            os=str(d.get("os", "")),
            cpu_model=str(d.get("cpu_model", "")),
            cpu_count=count if isinstance(count, int) else 0,
            cpu_flags={str(k): bool(v) for k, v in flags.items()} if isinstance(flags, dict) else {},
            gpus=gpus,
            gpu_query=str(d.get("gpu_query", "")),
            collected_at=str(d.get("collected_at", "")),
            note=str(d.get("note", MACHINE_NOTE)),
        )


@dataclass(frozen=True, slots=True)
class Generated:
    """Who wrote the record, when, with which amxwizard."""

    at: str
    by: str
    amxwizard: str


@dataclass(frozen=True, slots=True)
class Status:
    """COMPLETE when every step the session needs is done (passed or skipped with a reason); else UNFINISHED."""

    complete: bool
    label: str
    done: int
    required: int
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
    id: str
    text: str
    check: str
    ticked: bool | None
    note: str
    by: str
    ts: str
    auto: bool
    finding: str


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


@dataclass(frozen=True, slots=True)
class SkipView:
    step: str
    title: str
    reason: str
    by: str
    ts: str


@dataclass(frozen=True, slots=True)
class SignoffView:
    seq: int
    reviewer: str
    note: str
    by: str
    ts: str
    hash: str


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
    warnings: tuple[str, ...]
    last_hash: str
    events: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def title(self) -> str:
        """The runbook's title (what the record is a record of)."""
        return self.runbook.title or "amxwizard session"

    def step(self, step_id: str) -> StepView | None:
        """The step view with ``step_id``, if the runbook has it."""
        return next((s for s in self.steps if s.id == step_id), None)

    def to_document(self) -> dict[str, Any]:
        """The JSON record: format header, every section, and the events last (they are the long part)."""
        doc: dict[str, Any] = {"format": RECORD_FORMAT, "version": RECORD_VERSION}
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
    """The parts of a JSON record that are rebuilt from its events (everything but the header and unchained facts)."""
    skip = {"format", "version", "events", *UNCHAINED_SECTIONS}
    return {k: v for k, v in doc.items() if k not in skip}
