"""Success criteria judged for the record, each with what it was judged from, so verify can judge it again.

The evidence engine decides a criterion from the session's events alone (steps passed, a commit made), from run
logs (no weight copies), or from files on the machine (the backup folder). A log is only read when its sha256 is the
one the chain recorded; a criterion whose logs or files are not at hand cannot be judged again, and verify says so
instead of trusting or rejecting it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..engine.fileio import sha256_file
from .logs import LogLocator

if TYPE_CHECKING:
    from ..engine.state import SessionState
    from ..runbook import RunbookFile

EVALUATED = "evaluated"
JudgedFrom = Literal["events", "logs", "files"]
# Checks that read files on the machine besides the logs (the evidence engine's criteria module).
FILE_CHECKS: dict[str, str] = {"backup_complete": "the backup folder"}


@dataclass
class LogReader:
    """``read_log(run id or recorded log path) -> text``: only a finished run's log with its recorded sha256.

    ``asked`` and ``missing`` say which runs were read and which of them were not at hand (absent, or changed since
    they were recorded); :meth:`reset` clears them between criteria.
    """

    state: SessionState
    locator: LogLocator
    asked: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    _texts: dict[str, str | None] = field(default_factory=dict)

    def reset(self) -> None:
        self.asked, self.missing = set(), set()

    def __call__(self, key: str) -> str:
        run = self.state.runs.get(key) or next((r for r in self.state.runs.values() if r.log and r.log == key), None)
        if run is None:
            return ""
        self.asked.add(run.run_id)
        if run.run_id not in self._texts:
            self._texts[run.run_id] = self._read(run.run_id, run.log, run.log_sha256)
        text = self._texts[run.run_id]
        if text is None:
            self.missing.add(run.run_id)
            return ""
        return text

    def _read(self, run_id: str, recorded: str, digest: str) -> str | None:
        if not digest:
            return None  # a run with no recorded log hash (still running, or never finished): nothing to trust
        path = self.locator.find(run_id, recorded)
        if path is None or sha256_file(path) != digest:
            return None
        with contextlib.suppress(OSError):
            return path.read_text(encoding="utf-8", errors="replace")
        return None


@dataclass(frozen=True, slots=True)
class Judged:
    """One criterion's verdict, its evidence lines, what it was judged from, and whether all of that was at hand."""

    verdict: str
    evidence: tuple[str, ...]
    judged_from: JudgedFrom
    complete: bool
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriteriaVerdicts:
    """What the evidence engine concluded about each criterion, and how that went (``how``)."""

    how: str
    verdicts: Mapping[str, Judged]


def _attr(obj: Any, name: str, default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def files_at_hand(check: str, state: SessionState) -> bool:
    """Whether the files a ``check`` reads are on this machine (the backup folder the chain names)."""
    if check == "backup_complete":
        folder = (state.backup or {}).get("dir")
        return bool(folder) and Path(str(folder)).is_dir()
    return True


def judge_criteria(runbook: RunbookFile, state: SessionState, reader: LogReader) -> CriteriaVerdicts:
    """Every criterion judged on its own (so each one's inputs are known). A failure is reported, not raised."""
    from ..engine.evidence.criteria import evaluate

    model = runbook.model
    out: dict[str, Judged] = {}
    try:
        for crit in model.criteria:
            reader.reset()
            result = evaluate(model.model_copy(update={"criteria": [crit]}), state, reader).get(crit.id)
            status = str(_attr(result, "status", ""))
            evidence = _attr(result, "evidence", ()) or ()
            if isinstance(evidence, str):
                evidence = (evidence,)
            if crit.check in FILE_CHECKS:
                judged_from: JudgedFrom = "files"
                complete = files_at_hand(crit.check, state) and not reader.missing
            else:
                judged_from = "logs" if reader.asked else "events"
                complete = not reader.missing
            out[crit.id] = Judged(
                status, tuple(str(x) for x in evidence), judged_from, complete, tuple(sorted(reader.missing))
            )
    except Exception as exc:  # the record must still be written; the failure is shown in it
        return CriteriaVerdicts(f"failed: {type(exc).__name__}: {exc}", {})
    return CriteriaVerdicts(EVALUATED, out)


__all__ = ["EVALUATED", "FILE_CHECKS", "CriteriaVerdicts", "Judged", "LogReader", "files_at_hand", "judge_criteria"]
