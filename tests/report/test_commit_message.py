"""The commit message tells no lie: a sentence evidence decides is written as true only when its evidence holds;
otherwise it says what was measured, and the claim is listed as unproven for the person to acknowledge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.claims import commit_message
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookError, RunbookFile, load_text

from .conftest import PlayedSession

PROVEN_SENTENCES = (
    "✅ Long prompts (200+ tokens) now work correctly",
    "✅ Token generation speed maintained",
    "✅ No regressions in CPU-only or GPU-only modes",
    "✅ Short prompts still work as before",
    "No performance degradation from fix",
    "Prevents weight tensor copies during inference",
    "Operations now execute on backend where weights reside",
    "**Solution implemented**",
)


def _no_log(run_id: str) -> str:
    return ""


def test_a_message_built_with_no_test_run_claims_nothing_and_lists_every_claim(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        session.record(ev.FieldAnswered(step="5.3", field="solution_details", value="a weight filter"))
        message = commit_message(runbook_file.model, session.state, session.values(), _no_log)
    for sentence in PROVEN_SENTENCES:
        assert sentence not in message.text, sentence
    assert "✅" not in message.text
    assert [c.id for c in message.unproven] == [
        "solution",
        "no_weight_copies",
        "weights_stay",
        "long_prompts",
        "tg_speed",
        "no_regressions",
        "short_prompts",
        "no_degradation",
    ]
    by_id = {c.id: c for c in message.unproven}
    assert by_id["no_regressions"].measured == (
        "Test 3: CPU-Only Mode (Regression Check) not run; Test 4: GPU-Only Mode (Regression Check) not run"
    )
    assert by_id["long_prompts"].sentence == "✅ Long prompts (200+ tokens) now work correctly"
    assert (
        "- CPU-only and GPU-only modes: not shown — Test 3: CPU-Only Mode (Regression Check) not run; " in message.text
    )
    assert "Solution: not shown — no approach chosen (Choose the fix approach not run)" in message.text
    # The optional "other files" answer was left empty: no "- (none)" bullet.
    assert "- (none)" not in message.text and "\n- \n" not in message.text
    assert "ggml/src/ggml-backend.cpp: (not answered)" in message.text


def test_a_complete_session_proves_every_claim(complete_session: PlayedSession) -> None:
    log = subprocess.run(
        ["git", "log", "-1", "--format=%B"], cwd=complete_session.sandbox.repo, capture_output=True, text=True
    ).stdout
    for sentence in PROVEN_SENTENCES:
        assert sentence in log, sentence
    assert "not shown" not in log


def test_a_skipped_test_is_said_as_measured_in_the_commit(full_session: PlayedSession) -> None:
    log = subprocess.run(
        ["git", "log", "-1", "--format=%B"], cwd=full_session.sandbox.repo, capture_output=True, text=True
    ).stdout
    assert "✅ No regressions in CPU-only or GPU-only modes" not in log
    assert (
        "- CPU-only and GPU-only modes: not shown — Test 4: GPU-Only Mode (Regression Check) skipped: the GPU is "
        "shared with another job today" in log
    )
    assert "✅ Long prompts (200+ tokens) now work correctly" in log  # test-1 and test-5 did pass


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{{claims.tg_speed}}", "{{claims.tg_speedy}}"), "the message names claims.tg_speedy, which is not one"),
        (("criteria: [long-prompts]", "criteria: [long-prompt]"), "no criterion has id 'long-prompt'"),
        (("steps: [test-2]", "steps: [test-9]"), "no step has id 'test-9'"),
        (("- {{claims.short_prompts}}\n", ""), "claim 'short_prompts' is not used in the message"),
    ],
)
def test_claims_are_checked_when_the_runbook_loads(
    runbook_file: RunbookFile, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in runbook_file.text
    with pytest.raises(RunbookError) as caught:
        load_text(runbook_file.text.replace(old, new, 1))
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems
    assert all(str(p).startswith("runbook.yaml:") for p in caught.value.problems)


def test_the_record_shows_the_claims_a_commit_was_made_without(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    from amxwizard.report import build_record, render

    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        session.record(
            ev.CommitMade(
                sha="a" * 40,
                subject="Fix AMX+GPU hybrid mode crash with long prompts",
                files=["ggml/src/ggml-backend.cpp"],
                message_sha256="b" * 64,
                session_trailer="",
                chain_trailer="",
                repo=str(tmp_path),
                found_by_trailer=False,
                unproven_acknowledged=["long_prompts", "no_regressions"],
            )
        )
        record = build_record(session)
    assert record.repo.commit is not None
    assert record.repo.commit["unproven_acknowledged"] == ["long_prompts", "no_regressions"]
    md = render(record, "md")
    assert "> **Committed with unproven claims**, acknowledged by `" in md
    assert "`long_prompts`, `no_regressions`. The message says what was measured instead of each." in md
