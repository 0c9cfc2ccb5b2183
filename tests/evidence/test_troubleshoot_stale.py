"""Advice after a failure on a binary built before the fix: rebuild and run again comes before any approach switch."""

from __future__ import annotations

from pathlib import Path

from amxwizard.engine import events as ev
from amxwizard.engine.evidence.troubleshoot import STALE_ENTRY_ID, matching
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile


def _failed_test_1(tmp_path: Path, runbook_file: RunbookFile, *, stale: bool) -> Session:
    session = Session.create(tmp_path / "state", runbook_file, {"repo": str(tmp_path / "repo")})
    session.record(ev.ApproachChosen(step="2.choose", approach="2.A"))
    acknowledged = (
        [
            {
                "blocker": "stale_build",
                "edited": str(tmp_path / "repo" / "ggml" / "src" / "ggml-backend.cpp"),
                "edit_step": "2.A",
                "build_step": "1.4",
            }
        ]
        if stale
        else None
    )
    session.record(ev.StepStarted(step="test-1", acknowledged=acknowledged))
    session.record(ev.StepFinished(step="test-1", status="failed", summary="crashed", evidence={"findings": ["crash"]}))
    return session


def test_a_failure_on_a_stale_binary_is_first_advised_to_rebuild(tmp_path: Path, runbook_file: RunbookFile) -> None:
    with _failed_test_1(tmp_path, runbook_file, stale=True) as session:
        advice = matching(runbook_file.model, session.state, "test-1", {"crash"})
    assert [a.id for a in advice] == [STALE_ENTRY_ID, "still-crashing"]
    first, then = advice
    assert first.symptom == "test-1 ran a binary built before ggml-backend.cpp was edited at step 2.A"
    assert first.solution.startswith("Rebuild (step 1.4) and run test-1 again") and first.goto == "1.4"
    assert then.symptom == "If it still fails on the rebuilt binary: still crashing after Approach A"
    assert then.goto == "2.B"


def test_a_failure_on_a_current_binary_gets_the_runbooks_advice(tmp_path: Path, runbook_file: RunbookFile) -> None:
    with _failed_test_1(tmp_path, runbook_file, stale=False) as session:
        advice = matching(runbook_file.model, session.state, "test-1", {"crash"})
    assert [a.id for a in advice] == ["still-crashing"]
    assert advice[0].symptom == "Still crashing after Approach A"
