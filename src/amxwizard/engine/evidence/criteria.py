"""Success criteria, decided from the evidence wherever the runbook says how, and by a person's tick otherwise.

``met`` / ``unmet`` come from evidence; ``unknown`` means the evidence is not there yet (a step not run, a log
without debug output, a benchmark with nothing comparable to judge it against); ``manual`` is a criterion only a
person can tick, not yet ticked; ``not_applicable`` is a criterion whose premise this build does not have (one that
``requires: [amx]`` when no run of its steps used an AMX buffer) — neither met nor unmet, with the reason. A
person's tick is always shown: for a manual criterion it is the verdict (its note the evidence), for a checked one
it sits beside it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ...runbook import models as m
from ..fileio import sha256_file
from ..state import StepStatus
from . import backends, tensor_copy
from ._logs import ReadLog, cached, read, step_text

if TYPE_CHECKING:
    from ..state import SessionState

CriterionStatus = Literal["met", "unmet", "unknown", "manual", "not_applicable"]
NOT_APPLICABLE: CriterionStatus = "not_applicable"
_BACKUP_FILE_RE = re.compile(r"\$\{?BACKUP_DIR\}?/([A-Za-z0-9._-]+)")


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion's verdict and the lines that support it."""

    status: CriterionStatus
    evidence: list[str] = field(default_factory=list)
    ticked_by_person: bool = False
    check: str = "manual"


def evaluate(runbook: m.Runbook, state: SessionState, read_log: ReadLog) -> dict[str, CriterionResult]:
    """Every criterion of ``runbook`` by id. ``read_log(run_id)`` returns a run's log text."""
    out: dict[str, CriterionResult] = {}
    for criterion in runbook.criteria:
        tick = state.criteria.get(criterion.id)
        ticked = bool(tick and tick.ticked)
        tick_line = []
        if tick is not None:
            verb = "ticked" if tick.ticked else "unticked"
            tick_line = [f"{verb} by {tick.by or 'a person'}" + (f": {tick.note}" if tick.note else "")]
        check = _CHECKS.get(criterion.check)
        premise = _premise(runbook, state, criterion, read_log)
        if premise is not None:
            status, evidence = premise
            if status == NOT_APPLICABLE:
                out[criterion.id] = CriterionResult(status, evidence + tick_line, ticked, criterion.check)
                continue
        else:
            evidence = []
        if check is None:
            status = "met" if ticked else "manual"
            out[criterion.id] = CriterionResult(status, evidence + tick_line, ticked, criterion.check)
            continue
        status, found = check(runbook, state, criterion.steps, read_log)
        if premise is not None and premise[0] == "unknown" and status == "met":
            status = "unknown"  # met only once the premise is shown, not while it cannot be seen
        out[criterion.id] = CriterionResult(status, evidence + found + tick_line, ticked, criterion.check)
    return out


def _run_backends(state: SessionState, step_id: str, read_log: ReadLog) -> list[backends.BackendUse]:
    """The backend facts of every run of the step's latest attempt."""
    return [
        cached("backends", text, backends.parse)
        for run in state.attempt_runs(step_id)
        if (text := read(read_log, run.run_id))
    ]


def _premise(
    runbook: m.Runbook, state: SessionState, criterion: m.Criterion, read_log: ReadLog
) -> tuple[CriterionStatus, list[str]] | None:
    """Whether what ``criterion.requires`` was there: ``None`` when it requires nothing; ``met`` when a run of its
    steps used an AMX buffer; ``not_applicable`` when the runs that say which buffers they used had none; ``unknown``
    when no run says (yet). The evidence lines say which runs showed what."""
    if "amx" not in criterion.requires:
        return None
    amx_runs: list[str] = []
    without: list[str] = []
    silent: list[str] = []
    amx_feature = False
    for step_id in criterion.steps:
        for use in _run_backends(state, step_id, read_log):
            amx_feature = amx_feature or bool(use.amx_feature)
            if use.amx_buffers:
                amx_runs.append(f"{step_id}: {', '.join(f'AMX {b.mib:.2f} MiB' for b in use.amx_buffers)}")
            elif use.reported:
                names = ", ".join(dict.fromkeys(b.name for b in use.in_use())) or "none"
                without.append(f"{step_id}: buffers {names}")
            else:
                silent.append(step_id)
    if amx_runs:
        return "met", [f"✔ an AMX buffer was in use — {'; '.join(amx_runs)}"]
    if without:
        if amx_feature:
            why = (
                "no AMX buffer in any run: this build has AMX kernels (system_info AMX_INT8 = 1), but no run put "
                "weights in an AMX buffer (with a GPU, mainline llama.cpp prefers host buffers; --no-host uses AMX)"
            )
        else:
            why = "no AMX buffer in any run: this build has no AMX backend"
        return NOT_APPLICABLE, [f"not applicable on this build — {why}", *(f"· {line}" for line in without)]
    if silent:
        return "unknown", [
            f"· cannot tell whether AMX was used: the logs of {', '.join(dict.fromkeys(silent))} do not list "
            "their buffers"
        ]
    return "unknown", ["· AMX use unknown: none of its steps has run yet"]


def _title(runbook: m.Runbook, step_id: str) -> str:
    step = runbook.steps_by_id.get(step_id)
    return f"{step_id} ({step.title})" if step else step_id


def _combine(statuses: list[CriterionStatus]) -> CriterionStatus:
    if "unmet" in statuses:
        return "unmet"
    if not statuses or "unknown" in statuses:
        return "unknown"
    return "met"


def _step_line(runbook: m.Runbook, state: SessionState, step_id: str) -> tuple[CriterionStatus, str]:
    if step_id not in runbook.steps_by_id:
        return "unknown", f"{step_id}: no such step in the runbook"
    st = state.step(step_id)
    name = _title(runbook, step_id)
    if st.status is StepStatus.PASSED:
        warn = "⚠ " if st.evidence.get("level") == "warn" else ""
        return "met", f"✔ {name} passed: {warn}{st.summary}".rstrip(": ")
    if st.status is StepStatus.FAILED:
        return "unmet", f"✘ {name} failed: {st.summary}".rstrip(": ")
    if st.status is StepStatus.SKIPPED:
        return "unmet", f"✘ {name} was skipped: {st.skip_reason}".rstrip(": ")
    words = {
        StepStatus.PENDING: "not run yet",
        StepStatus.RUNNING: "still running",
        StepStatus.INTERRUPTED: "interrupted (decide it or run it again)",
    }
    return "unknown", f"· {name} {words[st.status]}"


def _steps_passed(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    results = [_step_line(runbook, state, s) for s in steps]
    return _combine([r[0] for r in results]), [r[1] for r in results]


def _no_weight_copies(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    """Met when no weight left a non-host buffer (AMX...) in the steps' logs. Weight copies out of host buffers
    (CPU, CPU_Mapped, CUDA_Host → GPU) are the scheduler's designed op offload: counted and reported, not failed."""
    statuses: list[CriterionStatus] = []
    evidence: list[str] = []
    for step_id in steps:
        st = state.step(step_id)
        if st.status in (StepStatus.PENDING, StepStatus.RUNNING) or not st.runs:
            statuses.append("unknown")
            evidence.append(f"· {_title(runbook, step_id)}: not run yet")
            continue
        report = cached("tensor_copy", step_text(state, step_id, read_log), tensor_copy.parse)
        bug, offload, unplaced = report.bug_weights, report.offloaded_weights, report.unplaced_weights
        if bug or report.blocked:
            statuses.append("unmet")
            evidence.append(
                f"✘ {step_id}: {len(bug)} weight cop{'y' if len(bug) == 1 else 'ies'} out of non-host buffers "
                "(the bug)"
                + (f"; {len(offload)} out of host buffers (designed op offload, not counted)" if offload else "")
            )
            evidence += [f"✘ {step_id}: weight copied: {c.describe()}" for c in bug[:5]]
            evidence += [
                f"✘ {step_id}: the weight filter refused to copy {b.name} at line {b.line}" for b in report.blocked[:5]
            ]
        elif unplaced:
            statuses.append("unknown")
            evidence.append(
                f"· {step_id}: {len(unplaced)} weight copies whose source buffer the log does not name "
                f"(first: {unplaced[0].describe()}), so they cannot be told from designed offload"
            )
        elif not report.copies:
            statuses.append("unknown")
            evidence.append(
                f"· {step_id}: no {tensor_copy.MARKER} output in its log, so copies cannot be seen "
                "(run it with the debug build)"
            )
        else:
            statuses.append("met")
            line = f"✔ {step_id}: 0 weight copies out of non-host buffers (counted: AMX and other non-host sources)"
            if offload:
                pairs = ", ".join(f"{pair} ×{n}" for pair, n in Counter(c.pair for c in offload).most_common(3))
                line += (
                    f"; {len(offload)} weight copies out of host buffers ({pairs}): the scheduler's designed op "
                    "offload, reported, not counted"
                )
            else:
                line += f"; {len(report.copies)} tensor copies logged, none of a weight"
            evidence.append(line)
    return _combine(statuses), evidence


def _benchmark(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    """Met when each benchmark step was compared with a run before the fix (or a comparable reference) and was
    not significantly slower. A benchmark with nothing comparable, or one whose noise hides the difference, leaves
    the criterion unknown: it was measured, not shown to be maintained."""
    statuses: list[CriterionStatus] = []
    evidence: list[str] = []
    for step_id in steps:
        status, line = _step_line(runbook, state, step_id)
        st = state.step(step_id)
        comparison = st.evidence.get("comparison") if isinstance(st.evidence, dict) else None
        verdict = comparison.get("verdict") if isinstance(comparison, dict) else None
        basis = st.evidence.get("basis") if isinstance(st.evidence, dict) else None
        if status == "met" and (
            verdict not in ("faster", "no significant difference") or basis not in ("before_fix", "reference")
        ):
            status = "unknown"
            line = f"· {_title(runbook, step_id)} measured, but not shown to keep its speed: {st.summary}"
        statuses.append(status)
        evidence.append(line)
    return _combine(statuses), evidence


def _commit_made(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    if state.commit:
        sha = str(state.commit.get("sha", ""))
        files = ", ".join(state.commit.get("files", []) or [])
        line = f"✔ commit {sha[:12]} {state.commit.get('subject', '')}" + (f" ({files})" if files else "")
        return "met", [line]
    status, evidence = _steps_passed(runbook, state, steps, read_log)
    return ("unmet" if status == "unmet" else "unknown"), [*evidence, "no commit recorded yet"]


def _docs_updated(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    status, evidence = _steps_passed(runbook, state, steps, read_log)
    for path, doc in sorted(state.documents.items()):
        evidence.append(
            f"{path}: section “{doc.get('section', '')}”"
            + (" updated" if doc.get("before_sha256") != doc.get("after_sha256") else " already current")
        )
    return status, evidence


def _result_files(step: m.Step) -> list[str]:
    """Names of the files a step writes into the backup folder (``$BACKUP_DIR/name`` in its commands)."""
    command = getattr(step, "command", None)
    texts: list[str] = [*getattr(step, "commands", []), *getattr(step, "outputs", []), *([command] if command else [])]
    return list(dict.fromkeys(name for text in texts for name in _BACKUP_FILE_RE.findall(text)))


def _backup_complete(
    runbook: m.Runbook, state: SessionState, steps: list[str], read_log: ReadLog
) -> tuple[CriterionStatus, list[str]]:
    backup = state.backup
    if not backup or not backup.get("dir"):
        failed = any(
            isinstance(runbook.steps_by_id.get(s), m.BackupStep) and state.step(s).status is StepStatus.FAILED
            for s in steps
        )
        return ("unmet" if failed else "unknown"), ["no backup made yet"]
    folder = Path(str(backup["dir"]))
    if not folder.is_dir():
        return "unmet", [f"✘ the backup folder {folder} is gone"]
    statuses: list[CriterionStatus] = []
    evidence: list[str] = []
    for entry in backup.get("files", []):
        saved = Path(str(entry.get("backup", "")))
        if sha256_file(saved) == entry.get("sha256"):
            statuses.append("met")
        else:
            statuses.append("unmet")
            evidence.append(f"✘ {saved.name} is missing or changed since the backup")
    for name, digest in (backup.get("git") or {}).items():
        if sha256_file(folder / name) != digest:
            statuses.append("unmet")
            evidence.append(f"✘ {name} is missing or changed since the backup")
    kept = len(backup.get("files", [])) + len(backup.get("git") or {})
    evidence.insert(0, f"backup folder {folder}: {kept} files checked against their sha256")
    for step_id in steps:
        step = runbook.steps_by_id.get(step_id)
        if step is None or isinstance(step, m.BackupStep):
            continue
        names = _result_files(step)
        if not names:
            continue
        st = state.step(step_id)
        if st.status in (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.SKIPPED):
            statuses.append("unmet" if st.status is StepStatus.SKIPPED else "unknown")
            why = "was skipped" if st.status is StepStatus.SKIPPED else "has not run yet"
            evidence.append(f"· {step_id} {why}, so {', '.join(names)} is not in the backup")
            continue
        for name in names:
            path = folder / name
            if path.is_file() and path.stat().st_size > 0:
                statuses.append("met")
                evidence.append(f"✔ {name} ({path.stat().st_size} bytes, from {step_id})")
            else:
                statuses.append("unmet")
                evidence.append(f"✘ {name} from {step_id} is missing or empty in the backup folder")
    return _combine(statuses), evidence


_CHECKS = {
    "steps_passed": _steps_passed,
    "benchmark": _benchmark,
    "no_weight_copies": _no_weight_copies,
    "commit_made": _commit_made,
    "docs_updated": _docs_updated,
    "backup_complete": _backup_complete,
}
