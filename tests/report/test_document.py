"""One section model (issue 12, item 6): the record's content is decided once, and both writers render it."""

from __future__ import annotations

import re
from pathlib import Path

from amxwizard.report import render
from amxwizard.report.build import record_from_document
from amxwizard.report.document import ItemList, Table, record_document

from .conftest import load
from .test_export import parse_html


def test_markdown_and_html_render_the_same_sections_from_one_model(full_json: Path) -> None:
    record = record_from_document(load(full_json))
    doc = record_document(record)
    titles = [s.title for s in doc.sections]
    assert titles[:3] == ["Machine", "Variables", "Checklist"] and titles[-1] == "Chain"
    md = render(record, "md")
    assert re.findall(r"^## (.+)$", md, re.M) == titles
    page = render(record, "html")
    assert re.findall(r'<section id="[^"]+"><h2>([^<]+)</h2>', page) == [t.replace("&", "&amp;") for t in titles]
    parse_html(page)
    # Every table of the model is a table in both writers, with the same number of rows.
    tables = [b for s in doc.sections for b in s.blocks if isinstance(b, Table)]
    assert page.count("<table") == md.count("\n|---") == len(tables) + 1 + 1  # + the head's facts + the events
    checklist = next(s for s in doc.sections if s.id == "checklist")
    [items] = [b for b in checklist.blocks if isinstance(b, ItemList)]
    assert all(item.box is True for item in items.items) and md.count("- [x] `pre-") == len(items.items)
