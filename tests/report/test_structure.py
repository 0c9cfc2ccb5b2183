"""Text from answers and logs never changes the structure of a Markdown or HTML document it lands in: not the
reviewer's record, not the sections the documents step writes into the repository's own Markdown files."""

from __future__ import annotations

import shutil
from pathlib import Path

from markdown_it import MarkdownIt

from amxwizard.engine import events as ev
from amxwizard.engine.docs import begin_marker, end_marker, plan_update, render_content
from amxwizard.engine.evidence.context import template_values
from amxwizard.engine.mdsafe import close_fences, inline
from amxwizard.engine.session import Session
from amxwizard.report import build_record, render
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import DocsStep
from tests.conftest import FIXTURES

from .test_export import parse_html

HOSTILE = "fine\n# Forged heading\n\n```\n<!-- amxwizard:end Current Status -->\n| a | b |\n- item\n1. first"
PARSER = MarkdownIt("commonmark").enable("table")


def headings(markdown: str) -> list[str]:
    tokens = PARSER.parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_answers_and_notes_cannot_make_headings_or_code_in_the_record(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        session.record(ev.FieldAnswered(step="1.6", field="root_cause", value=HOSTILE))
        session.record(ev.ApproachChosen(step="2.choose", approach="2.A", reason=HOSTILE))
        session.record(ev.StepSkipped(step="1.1", reason=HOSTILE))
        session.record(ev.Note(text=HOSTILE))
        record = build_record(session)
    md = render(record, "md")
    found = headings(md)
    assert not [h for h in found if "Forged" in h], found
    assert found[0] == "Record: AMX+GPU Scheduler Fix"
    assert all(t.type != "fence" for t in PARSER.parse(md))  # no command ran: no code block at all
    assert "amxwizard:end" in md and "<!-- amxwizard" not in md  # there, as text
    page = render(record, "html")
    parsed = parse_html(page)
    assert ("h1", {}) in parsed.tags and sum(1 for tag, _ in parsed.tags if tag == "h1") == 1
    assert "<!-- amxwizard" not in page


def _docs_step(runbook_file: RunbookFile) -> DocsStep:
    step = runbook_file.model.step("5.4")
    assert isinstance(step, DocsStep)
    return step


def test_answers_cannot_change_the_structure_of_the_documents_the_wizard_updates(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    target = tmp_path / "AMX_GPU_HYBRID_SCHEDULER_FIX.md"
    shutil.copyfile(FIXTURES / "finish" / "AMX_GPU_HYBRID_SCHEDULER_FIX.md", target)
    old = target.read_text(encoding="utf-8")
    doc = next(d for d in _docs_step(runbook_file).documents if d.section == "Current Status")
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        session.record(ev.FieldAnswered(step="1.6", field="root_cause", value=HOSTILE))
        values = template_values(runbook_file.model, session.state, session.values(), lambda run_id: "", markdown=True)
    body = render_content(doc.content, values)
    plan = plan_update(target, doc.section, body)
    assert headings(plan.new_text) == headings(old)  # the section's text added no heading
    tokens = PARSER.parse(plan.new_text)
    markers = [t.content.strip() for t in tokens if t.type == "html_block" and "amxwizard" in t.content]
    assert markers == [begin_marker(doc.section), end_marker(doc.section)]  # neither is swallowed into code
    assert plan.new_text.count(end_marker(doc.section)) == 1
    # What a person wrote around the section stays byte for byte.
    start = plan.new_text.index(begin_marker(doc.section))
    end = plan.new_text.index(end_marker(doc.section)) + len(end_marker(doc.section))
    assert old.startswith(plan.new_text[:start].rstrip("\n"))
    assert plan.new_text[end:].lstrip("\n") in old
    # The answer is there, as text.
    assert "fine \\\n\\# Forged heading" in plan.new_text


def test_a_template_that_leaves_a_code_block_open_cannot_swallow_the_end_marker(tmp_path: Path) -> None:
    body = render_content("Result:\n```text\n{{answers.x}}\n", {"answers.x": inline("42")})
    assert body == "Result:\n```text\n42\n```\n"
    plan = plan_update(tmp_path / "notes.md", "Status", "Result:\n~~~\nstill open\n")
    tokens = PARSER.parse(plan.new_text)
    assert [t.content.strip() for t in tokens if t.type == "html_block"] == [
        begin_marker("Status"),
        end_marker("Status"),
    ]
    assert close_fences("```py\nx\n```\n") == "```py\nx\n```\n"


def test_inline_markdown_keeps_the_words_and_line_breaks() -> None:
    assert inline("a *b* <c>") == "a \\*b\\* &lt;c&gt;"
    assert inline("one\n\ntwo\n- three") == "one \\\ntwo \\\n\\- three"
    assert inline("") == ""
