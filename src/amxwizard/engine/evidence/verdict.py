"""The judgement of one step from its evidence, in the shape the ``step_finished`` event stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed"]
Level = Literal["pass", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """``status`` decides the step; ``level`` adds the benchmark's middle ground (a warning is still a pass).

    ``findings`` are troubleshooting triggers (``crash``, ``flag_rejected``, ``slow``, ...); ``evidence`` is plain
    JSON and always repeats ``findings`` and ``level`` so the event alone tells the whole story.
    """

    status: Status
    summary: str
    findings: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    level: Level = "pass"

    @classmethod
    def make(
        cls, level: Level, summary: str, findings: list[str] | None = None, evidence: dict[str, Any] | None = None
    ) -> Verdict:
        """A verdict whose status follows its level, with findings and level copied into the evidence."""
        findings = list(dict.fromkeys(findings or []))
        data = dict(evidence or {})
        data["findings"] = findings
        data["level"] = level
        return cls("failed" if level == "fail" else "passed", summary, findings, data, level)

    def event_data(self) -> dict[str, Any]:
        """``status``, ``summary`` and ``evidence`` for a ``StepFinished`` event."""
        return {"status": self.status, "summary": self.summary, "evidence": self.evidence}
