"""The commit message, with every sentence that evidence decides written as true only when the evidence holds.

A commit step's ``claims`` tie sentences of its message ("Long prompts now work", "No performance degradation") to
criteria, steps or the chosen approach. :func:`judge_claims` decides each from the session's state and logs; where
the evidence is missing or failed, the message carries what was measured instead ("Long prompts (200+ tokens): not
shown — Test 1: Long Prompt (Primary Fix Validation) not run") and the claim is listed as unproven, for the person to
acknowledge before committing.

Plain Python, no UI: :func:`commit_message` is what the commit step calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..runbook import models as m
from .state import StepStatus

if TYPE_CHECKING:
    from .evidence._logs import ReadLog
    from .state import SessionState

NOT_SHOWN = "not shown"
_BARE_ANSWER_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\{\{\s*answers\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}[ \t]*$")


@dataclass(frozen=True, slots=True)
class ClaimVerdict:
    """One claim judged: ``measured`` says what the evidence shows when it does not prove the claim."""

    claim: m.Claim
    proven: bool
    measured: str

    def line(self, values: Mapping[str, str]) -> str:
        """The text written for the claim: its sentence rendered when proven, else what was measured."""
        if self.proven:
            return sentence(self.claim, values)
        return f"{self.claim.label}: {NOT_SHOWN} — {self.measured}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim of the message: its id, the sentence it would write, and (when unproven) what was measured."""

    id: str
    sentence: str
    measured: str
    proven: bool


@dataclass(frozen=True, slots=True)
class CommitMessage:
    """The message as it will be committed (before the session trailers) and every claim in it."""

    text: str
    claims: tuple[Claim, ...]

    @property
    def unproven(self) -> list[Claim]:
        """The claims the evidence does not prove (each replaced in ``text`` by what was measured)."""
        return [c for c in self.claims if not c.proven]


def sentence(claim: m.Claim, values: Mapping[str, str]) -> str:
    """The claim's sentence with its placeholders filled (a name without a value is left as written)."""
    from ..runbook.templates import TemplateError, render_text

    try:
        return render_text(claim.sentence, values)
    except TemplateError:
        return claim.sentence


def commit_step(runbook: m.Runbook) -> m.CommitStep | None:
    """The runbook's first commit step, if it has one."""
    return next((s for _, s in runbook.iter_steps() if isinstance(s, m.CommitStep)), None)


# --- judging ------------------------------------------------------------------------------------------------------


def _step_gap(runbook: m.Runbook, state: SessionState, step_id: str) -> str | None:
    """What keeps ``step_id`` from proving anything ("Test 3: … not run"), or ``None`` when it passed cleanly."""
    step = runbook.steps_by_id.get(step_id)
    name = step.title if step is not None else step_id
    if step is None:
        return f"{step_id} is not a step of this runbook"
    st = state.step(step_id)
    if st.status is StepStatus.PASSED:
        if st.evidence.get("level") == "warn":
            return f"{name} passed with a warning: {st.summary}".rstrip(": ")
        if st.evidence.get("manual"):
            return f"{name} was marked passed by hand: {st.summary}".rstrip(": ")
        return None
    if st.status is StepStatus.FAILED:
        return f"{name} failed: {st.summary}".rstrip(": ")
    if st.status is StepStatus.SKIPPED:
        return f"{name} skipped: {st.skip_reason}".rstrip(": ")
    if st.status is StepStatus.RUNNING:
        return f"{name} still running"
    if st.status is StepStatus.INTERRUPTED:
        return f"{name} interrupted"
    return f"{name} not run"


def _strip_mark(line: str) -> str:
    for mark in ("✔ ", "✘ ", "· ", "⚠ "):
        line = line.removeprefix(mark)
    return line


def _criterion_gaps(
    runbook: m.Runbook, state: SessionState, criterion: m.Criterion, status: str, evidence: Sequence[str]
) -> list[str]:
    if status == "met":
        return []
    gaps = [g for g in (_step_gap(runbook, state, s) for s in criterion.steps) if g]
    if gaps:
        return gaps
    lines = [_strip_mark(line) for line in evidence if not line.startswith("✔")]
    if status == "not_applicable":
        return [f"“{criterion.text}” is not applicable" + (f": {lines[0]}" if lines else "")]
    return lines[:3] or [f"“{criterion.text}” is {status or 'not evaluated'}"]


def _approach_gap(runbook: m.Runbook, state: SessionState) -> str | None:
    if not state.approach:
        chooser = next((s for _, s in runbook.iter_steps() if isinstance(s, m.ChoiceStep)), None)
        gap = _step_gap(runbook, state, chooser.id) if chooser else None
        return "no approach chosen" + (f" ({gap})" if gap else "")
    approach = runbook.steps_by_id.get(state.approach)
    gap = _step_gap(runbook, state, state.approach)
    if gap is None:
        return None
    letter = f"Approach {approach.letter}" if isinstance(approach, m.ApproachStep) else state.approach
    return f"{letter} chosen; {gap}"


def judge_claims(runbook: m.Runbook, step: m.CommitStep, state: SessionState, read_log: ReadLog) -> list[ClaimVerdict]:
    """Each claim of ``step`` judged from the session: criteria by the evidence engine, steps by their state."""
    from .evidence.criteria import evaluate

    wanted = {cid for claim in step.claims for cid in claim.criteria}
    criteria = [c for c in runbook.criteria if c.id in wanted]
    results = evaluate(runbook.model_copy(update={"criteria": criteria}), state, read_log) if criteria else {}
    by_id = {c.id: c for c in criteria}
    out: list[ClaimVerdict] = []
    for claim in step.claims:
        gaps: list[str] = []
        if claim.approach:
            gap = _approach_gap(runbook, state)
            gaps += [gap] if gap else []
        for cid in claim.criteria:
            result = results.get(cid)
            status = str(getattr(result, "status", "")) if result is not None else ""
            evidence = list(getattr(result, "evidence", []) or []) if result is not None else []
            gaps += _criterion_gaps(runbook, state, by_id[cid], status, evidence)
        gaps += [g for g in (_step_gap(runbook, state, s) for s in claim.steps) if g]
        unique = list(dict.fromkeys(gaps))
        out.append(ClaimVerdict(claim, not unique, "; ".join(unique)))
    return out


def claim_values(verdicts: Sequence[ClaimVerdict], values: Mapping[str, str]) -> dict[str, str]:
    """``claims.<id>`` for each verdict: the sentence when proven, what was measured when not."""
    return {f"claims.{v.claim.id}": v.line(values) for v in verdicts}


# --- the message --------------------------------------------------------------------------------------------------


def without_empty_optional_bullets(template: str, runbook: m.Runbook, state: SessionState) -> str:
    """``template`` without the bullet lines that hold only an optional answer left empty (no ``- (none)``)."""
    kept = []
    for line in template.splitlines(keepends=True):
        match = _BARE_ANSWER_BULLET.match(line.rstrip("\r\n"))
        if match:
            fld = runbook.fields.get(match.group(1))
            given = (state.answer(match.group(1)) or "").strip()
            if fld is not None and not fld.required and not given:
                continue
        kept.append(line)
    return "".join(kept)


def commit_message(
    runbook: m.Runbook,
    state: SessionState,
    values: Mapping[str, str],
    read_log: ReadLog,
    *,
    step: m.CommitStep | None = None,
    now: datetime | None = None,
) -> CommitMessage:
    """The commit step's message rendered from the session, and its claims (see :class:`CommitMessage`).

    ``values`` are the resolved runbook variables; ``read_log(run_id)`` gives a run's log. ``step`` defaults to the
    runbook's commit step. Raises ``ValueError`` when the runbook has no commit step.
    """
    from ..runbook.templates import render_text
    from .evidence.context import template_values

    step = step or commit_step(runbook)
    if step is None:
        raise ValueError("the runbook has no commit step")
    filled = template_values(runbook, state, values, read_log, now=now, with_claims=False)
    verdicts = judge_claims(runbook, step, state, read_log)
    filled.update(claim_values(verdicts, filled))
    text = render_text(without_empty_optional_bullets(step.message, runbook, state), filled)
    claims = tuple(Claim(v.claim.id, sentence(v.claim, filled), v.measured, v.proven) for v in verdicts)
    return CommitMessage(text, claims)


__all__ = ["Claim", "ClaimVerdict", "CommitMessage", "claim_values", "commit_message", "commit_step", "judge_claims"]
