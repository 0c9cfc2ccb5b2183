"""Step 5.4: the wizard's sections of the documents — inserted, replaced, never touching what a person wrote."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from amxwizard.engine import docs
from amxwizard.engine.docs import DocError, begin_marker, end_marker, plan_update
from amxwizard.engine.session import Session
from amxwizard.runbook.models import DocsStep
from amxwizard.runbook.templates import render_text
from tests.finish.support import FINISH, template_values

SECTION = "Current Status"
HAND_WRITTEN = FINISH / "AMX_GPU_HYBRID_SCHEDULER_FIX.md"


def only_insertions(old: str, new: str) -> bool:
    """True when ``new`` is ``old`` with text added and nothing of ``old`` removed or changed."""
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in ops)


def outside_block(text: str, section: str) -> tuple[str, str]:
    start = text.index(begin_marker(section))
    end = text.index(end_marker(section)) + len(end_marker(section))
    return text[:start], text[end:]


def test_a_missing_document_is_created_with_a_title_and_the_section(tmp_path: Path) -> None:
    path = tmp_path / "AMX_SESSION_CURRENT.md"
    plan = plan_update(path, "AMX+GPU scheduler fix", "**Current status**: working\n")
    assert plan.changed and not plan.existed and plan.old_text == ""
    assert plan.new_text == (
        "# AMX_SESSION_CURRENT\n\n## AMX+GPU scheduler fix\n\n"
        "<!-- amxwizard:begin AMX+GPU scheduler fix -->\n\n**Current status**: working\n\n"
        "<!-- amxwizard:end AMX+GPU scheduler fix -->\n"
    )
    assert plan.diff.startswith("--- /dev/null\n+++ b/AMX_SESSION_CURRENT.md\n")


def test_under_a_hand_written_heading_the_block_is_inserted_and_nothing_else_changes(tmp_path: Path) -> None:
    path = tmp_path / HAND_WRITTEN.name
    shutil.copyfile(HAND_WRITTEN, path)
    old = path.read_text()

    plan = plan_update(path, SECTION, "✅ Fixed.\n")

    assert only_insertions(old, plan.new_text)
    # Right under the real heading (not the one in the code block), above the person's own status text.
    lines = plan.new_text.splitlines()
    heading = lines.index("## 📊 Current Status:")
    assert lines[heading + 1 : heading + 8] == ["", begin_marker(SECTION), "", "✅ Fixed.", "", end_marker(SECTION), ""]
    assert lines[heading + 8] == "Investigation started; see the notes below."
    assert plan.new_text.count(begin_marker(SECTION)) == 1


def test_a_second_update_replaces_only_the_block(tmp_path: Path) -> None:
    path = tmp_path / HAND_WRITTEN.name
    shutil.copyfile(HAND_WRITTEN, path)
    path.write_bytes(plan_update(path, SECTION, "first\n").new_text.encode())
    before = path.read_text()

    plan = plan_update(path, SECTION, "second\nwith two lines\n")

    assert outside_block(plan.new_text, SECTION) == outside_block(before, SECTION)
    assert "first" not in plan.new_text and "second\nwith two lines\n" in plan.new_text
    changes = [line for line in plan.diff.splitlines()[2:] if line[:1] in "+-"]
    assert changes == ["-first", "+second", "+with two lines"]


def test_crlf_documents_keep_their_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    original = HAND_WRITTEN.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(original)

    plan = plan_update(path, SECTION, "line one\nline two\n")

    new = plan.new_text.encode()
    assert new.count(b"\n") == new.count(b"\r\n")
    assert only_insertions(original.decode(), plan.new_text)


def test_without_a_heading_the_section_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"# Notes\n\nno newline at the end")

    plan = plan_update(path, SECTION, "appended\n")

    assert plan.new_text == (
        "# Notes\n\nno newline at the end\n\n## Current Status\n\n"
        f"{begin_marker(SECTION)}\n\nappended\n\n{end_marker(SECTION)}\n"
    )


def test_broken_markers_are_refused_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.md"
    path.write_text(f"# Doc\n\n{begin_marker(SECTION)}\nhalf a block\n")
    with pytest.raises(DocError, match=r"not one begin followed by one end \(line 3\); fix them by hand"):
        plan_update(path, SECTION, "x\n")


def test_a_body_holding_a_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocError, match="contains an amxwizard marker"):
        plan_update(tmp_path / "x.md", SECTION, f"text\n{end_marker(SECTION)}\n")


def test_the_runbooks_documents_applied_twice_give_the_same_bytes(session: Session, target_repo: Path) -> None:
    shutil.copyfile(HAND_WRITTEN, target_repo / HAND_WRITTEN.name)
    hand_written = HAND_WRITTEN.read_text()
    step = session.runbook.model.step("5.4")
    assert isinstance(step, DocsStep)
    values = template_values(session)

    def plans() -> list[docs.DocPlan]:
        return [
            plan_update(Path(render_text(doc.path, values)), doc.section, render_text(doc.content, values))
            for doc in step.documents
        ]

    first = plans()
    assert [plan.existed for plan in first] == [False, True]
    written = docs.apply(session, step.id, first)
    assert written == [target_repo / "AMX_SESSION_CURRENT.md", target_repo / HAND_WRITTEN.name]
    after_first = {path: path.read_bytes() for path in written}
    recorded = session.state.documents[str(target_repo / HAND_WRITTEN.name)]
    assert recorded["section"] == SECTION and recorded["before_sha256"] is not None
    assert session.state.documents[str(target_repo / "AMX_SESSION_CURRENT.md")]["before_sha256"] is None
    assert only_insertions(hand_written, (target_repo / HAND_WRITTEN.name).read_text())
    assert "Backup and logs: " + values["session.backup_dir"] in (target_repo / HAND_WRITTEN.name).read_text()

    events = session.state.last_seq
    second = plans()
    assert [plan.changed for plan in second] == [False, False]
    assert docs.apply(session, step.id, second) == []
    assert {path: path.read_bytes() for path in written} == after_first
    assert session.state.last_seq == events


def test_a_document_changed_after_its_diff_was_shown_is_not_written(session: Session, target_repo: Path) -> None:
    path = target_repo / "status.md"  # in the repository: a document outside it is refused (issue 17)
    path.write_text("# Status\n")
    plan = plan_update(path, SECTION, "new\n")
    path.write_text("# Status\n\nedited meanwhile\n")

    with pytest.raises(DocError, match="changed since its diff was shown"):
        docs.apply(session, "5.4", [plan])
    assert path.read_text() == "# Status\n\nedited meanwhile\n"
    assert session.state.documents == {}
