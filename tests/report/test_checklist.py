"""COMPLETE means complete: the checklist is part of the session, ticked from the CLI (``amxwizard check``), each
item verified by its check where it has one, its text rendered with the session's variables."""

from __future__ import annotations

from pathlib import Path

from amxwizard.runbook import RunbookFile

from .conftest import RUNBOOK, _played, cli, load, report


def _check(played_state: Path, *args: str) -> object:
    return cli("check", *args, "--runbook", str(RUNBOOK), "--state-dir", str(played_state))


def test_a_record_with_the_checklist_unticked_is_not_complete_until_it_is_ticked_from_the_cli(
    runbook_file: RunbookFile, tmp_path: Path
) -> None:
    played = _played(tmp_path / "played", runbook_file, None, skips={}, checklist=False, finish=False)
    doc = load(report(played, "json", tmp_path / "before.json"))
    assert doc["status"]["complete"] is False
    assert doc["status"]["label"] == "INCOMPLETE: checklist 0/4"
    assert doc["status"]["checklist_open"] == ["pre-1", "pre-2", "pre-3", "pre-4"]
    # Item 2's text names the commit this session expects (the sandbox's HEAD), not the runbook's fb91d1c5.
    pre2 = next(i for i in doc["checklist"] if i["id"] == "pre-2")
    expected = played.sandbox.overrides["expected_commit"]
    assert pre2["text"] == f'Last commit: {expected} "Fix AMX+GPU segfault by implementing cpy_tensor"'
    assert "fb91d1c5" not in pre2["text"]

    done = _check(played.state_dir, "pre-1", "--note", "short prompts at 61 t/s this morning")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "confirmed pre-1: Current status: Short prompts work (61.24 t/s), long prompts crash",
        "checklist 1/4 (open: pre-2, pre-3, pre-4)",
    ]
    # HEAD has moved on (the fix is committed): the check does not pass, so a person must say why it is fine.
    refused = _check(played.state_dir, "pre-2")
    assert refused.returncode == 1
    assert refused.stderr.startswith("amxwizard: pre-2: the head_commit check says warn: HEAD ")
    assert refused.stderr.strip().endswith("fix it, or confirm the item anyway with a note saying why (--note)")
    done = _check(played.state_dir, "pre-2", "--note", "it was HEAD when the session started (step 1.1 backup)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"confirmed pre-2 by hand: Last commit: {expected} ")
    assert "the check said warn: HEAD" in done.stdout
    for item in ("pre-3", "pre-4"):
        done = _check(played.state_dir, item, "--note", "checked by hand")
        assert done.returncode == 0, done.stderr

    doc = load(report(played, "json", tmp_path / "after.json"))
    assert doc["status"]["complete"] is True and doc["status"]["label"] == "COMPLETE"
    assert doc["status"]["counts"] == "22 passed, 2 skipped of 24"
    items = {i["id"]: i for i in doc["checklist"]}
    assert items["pre-2"]["check_status"] == "warn" and items["pre-2"]["auto"] is False
    assert items["pre-2"]["note"].startswith("it was HEAD") and items["pre-2"]["finding"].startswith("HEAD ")
    assert items["pre-4"]["check_status"] == "ok" and items["pre-4"]["auto"] is True
    md = report(played, "md", tmp_path / "after.md").read_text(encoding="utf-8")
    assert md.splitlines()[2].startswith("**State: COMPLETE** — 22 passed, 2 skipped of 24 steps")
    assert "check head\\_commit: warn: HEAD" in md

    done = _check(played.state_dir, "pre-1", "--untick")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "checklist 3/4 (open: pre-1)"
    doc = load(report(played, "json", tmp_path / "again.json"))
    assert doc["status"]["label"] == "INCOMPLETE: checklist 3/4"


def test_an_unknown_item_is_one_line(runbook_file: RunbookFile, tmp_path: Path) -> None:
    done = cli("check", "pre-9", "--runbook", str(RUNBOOK), "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 1
    assert done.stderr.strip() == "amxwizard: no checklist item 'pre-9' (items: pre-1, pre-2, pre-3, pre-4)"
