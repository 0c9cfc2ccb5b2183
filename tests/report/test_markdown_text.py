"""Values a person typed cannot break the Markdown record's structure."""

from __future__ import annotations

from amxwizard.report.markdown import cell, code, fenced


def test_code_spans_survive_backticks_and_pipes() -> None:
    assert code("a`b") == "``a`b``"
    assert code("x | y") == "`x \\| y`"
    assert code("`edge`") == "`` `edge` ``"
    assert code("") == "—"


def test_fences_are_longer_than_any_inside() -> None:
    body = "cat <<'EOF'\n```\nnested\n````\nEOF\n"
    block = fenced(body, "bash")
    assert block.startswith("`````bash\n") and block.endswith("\n`````")


def test_cells_keep_text_inert() -> None:
    assert cell("**bold** <script> [link](x) | next") == "\\*\\*bold\\*\\* &lt;script&gt; \\[link\\](x) \\| next"
    assert cell("one\ntwo") == "one<br>two"
    assert cell("") == "—"
