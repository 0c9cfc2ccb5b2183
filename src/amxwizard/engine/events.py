"""Every kind of event a session records, each a frozen dataclass: the contract between the engine, the UI and the
reviewer's record.

On disk an event is ``(kind, data)`` with ``data`` a JSON object (see :mod:`.store`); :meth:`Fact.to_data` gives
exactly the object earlier versions wrote, so old sessions open and verify unchanged. Reading is lenient: a field an
older session did not write takes its empty value, and data this version does not know is kept on disk (and in the
hash chain) but not read into the state. Every event's data also carries ``by`` (user@host), added by the session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """Base of every event kind. ``OPTIONAL`` fields are written only when they are not ``None``."""

    KIND: ClassVar[str] = ""
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def to_data(self) -> JsonDict:
        """The event's data as stored (without ``by``, which the session adds)."""
        out: JsonDict = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self.OPTIONAL:
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_data(cls, data: JsonDict) -> Self:
        """The event read back from stored data; missing fields take their empty value."""
        return cls(**{name: data[name] if name in data else empty() for name, empty in _FIELDS[cls]})


def _empty(annotation: str) -> Any:
    """The empty value of a field's type, for data an older session did not write."""
    if "None" in annotation:
        return None
    head = annotation.split("[", 1)[0].strip()
    return {"str": "", "int": 0, "float": 0.0, "bool": False, "dict": {}, "JsonDict": {}, "list": []}.get(head)


def _empty_of(f: dataclasses.Field[Any]) -> Callable[[], Any]:
    if f.default is not dataclasses.MISSING:
        return lambda: f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory
    annotation = str(f.type)
    return lambda: _empty(annotation)


# --- the session ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(Fact):
    KIND = "session_created"
    session_id: str
    runbook_path: str
    runbook_sha256: str
    runbook_title: str
    target: str
    host: str
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened(Fact):
    """Every time a wizard takes the session."""

    KIND = "session_opened"
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VariablesSet(Fact):
    """A person's variable overrides (merged over earlier ones), and the workdir they resolve to."""

    KIND = "variables_set"
    values: dict[str, str]
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupAccepted(Fact):
    """Every variable as resolved when the person accepted them."""

    KIND = "setup_accepted"
    values: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecklistTicked(Fact):
    """A checklist item ticked or unticked; ``auto`` when a check decided it, with what it found."""

    KIND = "checklist_ticked"
    item: str
    checked: bool
    note: str = ""
    auto: bool = False
    finding: str | None = None
    check_status: str | None = None  # ok | warn | fail: what the item's check said ("" for a manual item)
    OPTIONAL = frozenset({"finding", "check_status"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineObserved(Fact):
    """The machine the session runs on, recorded when it is opened (``report.machine.observe_machine()``), so the
    reviewer's record shows machine facts from the chain."""

    KIND = "machine_observed"
    hostname: str
    kernel: str
    os: str
    cpu_model: str
    cpu_count: int
    cpu_flags: dict[str, bool]
    numa_nodes: int | None
    gpus: list[JsonDict]
    gpu_query: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFinished(Fact):
    KIND = "session_finished"
    last_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Fact):
    KIND = "note"
    text: str


# --- steps and their runs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Fact):
    """An attempt of a step begins. ``acknowledged`` lists what the person accepted to get here (a binary older than
    the last edit, ...), so the record can say so."""

    KIND = "step_started"
    step: str
    acknowledged: list[JsonDict] | None = None
    OPTIONAL = frozenset({"acknowledged"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandStarted(Fact):
    """One command of a step started (``recovered``: adopted from its run folder after the start went unrecorded)."""

    KIND = "command_started"
    step: str
    run_id: str
    index: int
    script: str
    cwd: str
    pid: int | None
    proc_start: int | None
    boot_id: str
    log: str
    git_before: JsonDict = field(default_factory=dict)
    recovered: bool | None = None
    fingerprint: JsonDict | None = None  # what a test or benchmark ran: binary, model, build, HEAD, machine
    OPTIONAL = frozenset({"recovered", "fingerprint"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFinished(Fact):
    """How one command ended. ``shell_errors``: what the command's shell reported about lines that failed, one
    ``{action, status, line, pipestatus, command}`` each (``action``: exit, sigpipe or expected_crash; see
    :mod:`amxwizard.engine.runner`); ``unwatched``: the run had ended before a wizard recorded it."""

    KIND = "command_finished"
    step: str
    run_id: str
    outcome: str
    exit_code: int | None
    signal: int | None
    ended: str
    duration: float | None
    log_size: int | None
    log_sha256: str
    git_after: JsonDict = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    shell_errors: list[JsonDict] | None = None
    unwatched: bool | None = None
    OPTIONAL = frozenset({"shell_errors", "unwatched"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished(Fact):
    """How an attempt ended: ``status`` is passed, failed or interrupted. An interrupted attempt whose commands ran
    and succeeded up to a point has ``evidence["resume_at"]``: the index of the first command that never started."""

    KIND = "step_finished"
    step: str
    status: str
    summary: str
    evidence: JsonDict = field(default_factory=dict)
    settled: bool | None = None  # reached while no wizard watched the step (recorded when a wizard next opened it)
    OPTIONAL = frozenset({"settled"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(Fact):
    KIND = "step_skipped"
    step: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReset(Fact):
    """Back to pending: an approach skipped by an earlier choice, chosen now."""

    KIND = "step_reset"
    step: str
    reason: str


# --- what a person decides ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldAnswered(Fact):
    """An answer to a fill-in field; ``suggested`` is the wizard's pre-fill, if there was one."""

    KIND = "field_answered"
    step: str
    field: str
    value: str
    suggested: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproachChosen(Fact):
    KIND = "approach_chosen"
    step: str
    approach: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CriterionTicked(Fact):
    KIND = "criterion_ticked"
    criterion: str
    ticked: bool
    note: str = ""


# --- what changed on disk -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupMade(Fact):
    """``files``: [{path, backup, sha256, size, mode, root}] (``root``: the folder the file was confined to; restore
    writes it back below that folder only); ``git``: {capture name: sha256}."""

    KIND = "backup_made"
    step: str
    dir: str
    export: str
    files: list[JsonDict]
    git: dict[str, str] = field(default_factory=dict)
    git_errors: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    location_file: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEdited(Fact):
    """``how``: snippet (the wizard applied the runbook's change), editor (a person's own edit), found (a change
    found on disk), restore (put back from the backup)."""

    KIND = "file_edited"
    step: str
    path: str
    before_sha256: str | None
    after_sha256: str | None
    how: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitMade(Fact):
    KIND = "commit_made"
    sha: str
    subject: str
    files: list[str]
    message_sha256: str
    session_trailer: str
    chain_trailer: str
    repo: str
    found_by_trailer: bool
    unproven_acknowledged: list[str] | None = None  # claim ids the person committed without proof
    OPTIONAL = frozenset({"unproven_acknowledged"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentUpdated(Fact):
    KIND = "document_updated"
    step: str
    path: str
    section: str
    before_sha256: str | None
    after_sha256: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelHashed(Fact):
    """A model file's sha256, computed once per (path, size, mtime) in the background (real models are 17 GB).
    ``sha256`` is ``None`` and ``error`` says why when the file could not be read or changed while it was read."""

    KIND = "model_hashed"
    path: str
    size: int | None
    mtime: float | None
    sha256: str | None
    error: str | None = None
    OPTIONAL = frozenset({"error"})


KINDS: dict[str, type[Fact]] = {
    cls.KIND: cls
    for cls in (
        SessionCreated,
        SessionOpened,
        VariablesSet,
        SetupAccepted,
        ChecklistTicked,
        MachineObserved,
        SessionFinished,
        Note,
        StepStarted,
        CommandStarted,
        CommandFinished,
        StepFinished,
        StepSkipped,
        StepReset,
        FieldAnswered,
        ApproachChosen,
        CriterionTicked,
        BackupMade,
        FileEdited,
        CommitMade,
        DocumentUpdated,
        ModelHashed,
    )
}
_FIELDS: dict[type[Fact], tuple[tuple[str, Callable[[], Any]], ...]] = {
    cls: tuple((f.name, _empty_of(f)) for f in dataclasses.fields(cls)) for cls in KINDS.values()
}


def parse(kind: str, data: JsonDict) -> Fact | None:
    """The typed event for stored ``(kind, data)``; ``None`` for a kind this version does not know."""
    cls = KINDS.get(kind)
    return cls.from_data(data) if cls is not None else None
