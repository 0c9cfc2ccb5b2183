"""Broken runbooks: each fails with RunbookError (never another exception) at the line and column its header names.

Every ``tests/fixtures/bad-runbooks/*.yaml`` not starting with ``_`` breaks one thing in a copy of
``_valid_minimal.yaml`` and says what it expects in a header comment::

    # expect: LINE:COL dotted.path: message fragment

(``(document)`` stands for the empty path of a whole-file problem).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.runbook import RunbookError, load_runbook, load_text
from amxwizard.runbook.models import ShellStep
from amxwizard.runbook.source import MAX_BYTES

BAD_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "bad-runbooks"
BAD = sorted(p for p in BAD_DIR.glob("*.yaml") if not p.name.startswith("_"))
EXPECT_RE = re.compile(r"^# expect: (\d+):(\d+) (\S+): (.+)$", re.MULTILINE)
PROBLEM_LINE_RE = re.compile(r"^\S+:\d+:\d+: \S+: .+$")
AMXWIZARD = Path(sys.executable).with_name("amxwizard")


def _expectations(text: str) -> list[tuple[int, int, str, str]]:
    return [
        (int(line), int(col), "" if path == "(document)" else path, fragment)
        for line, col, path, fragment in EXPECT_RE.findall(text)
    ]


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(BAD) >= 25
    for path in BAD:
        assert _expectations(path.read_text(encoding="utf-8")), f"{path.name} has no '# expect:' header"


def test_the_minimal_runbook_is_valid() -> None:
    loaded = load_runbook(BAD_DIR / "_valid_minimal.yaml")
    assert [p.id for p in loaded.model.phases] == ["1", "2"]
    assert loaded.model.troubleshooting[0].goto == "2.B"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_runbook_fails_where_it_says(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    with pytest.raises(RunbookError) as caught:  # any other exception fails the test
        load_text(text, filename=path.name)
    problems = caught.value.problems
    shown = "\n".join(str(p) for p in problems)
    for line, col, dotted, fragment in _expectations(text):
        assert any((p.line, p.col, p.path) == (line, col, dotted) and fragment in p.message for p in problems), (
            f"expected {line}:{col} {dotted or '(document)'}: ...{fragment}...\ngot:\n{shown}"
        )
    for problem in problems:
        assert PROBLEM_LINE_RE.match(str(problem)), str(problem)
        assert str(problem).startswith(f"{path.name}:{problem.line}:{problem.col}: ")


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_reading_the_file_reports_the_same(path: Path) -> None:
    """Loading from disk (size check, UTF-8 decode) finds the same problems as loading the text."""
    with pytest.raises(RunbookError) as from_file:
        load_runbook(path, display=path.name)
    with pytest.raises(RunbookError) as from_text:
        load_text(path.read_text(encoding="utf-8"), filename=path.name)
    assert [str(p) for p in from_file.value.problems] == [str(p) for p in from_text.value.problems]


def test_no_stays_text() -> None:
    """YAML 1.2: no/yes/on/off, quoted numbers and dates keep the text they are written as."""
    model = load_runbook(BAD_DIR / "_valid_no_is_text.yaml").model
    assert model.title == "no"
    assert model.criteria[0].text == "no"
    assert model.variables["answer"].default == "yes"
    assert model.variables["toggle"].default == "on"
    assert model.phases[0].id == "1.10"
    assert model.phases[0].title == "n"
    assert model.phases[0].steps[0].id == "1.10.1"
    assert model.phases[0].steps[0].title == "NO"
    assert model.document is not None
    assert (model.document.version, model.document.created, model.document.last_updated, model.document.status) == (
        "1.10",
        "2025-10-06",
        "2025-10-06 14:45",
        "off",
    )


def test_every_variant_differs_from_the_minimal_runbook_in_little() -> None:
    """Each broken file is the minimal runbook with one change (so its failure is about that change)."""
    minimal = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8").splitlines()[1:]
    derived = 0
    for path in BAD:
        lines = path.read_text(encoding="utf-8").splitlines()[2:]
        same = sum(1 for a, b in zip(minimal, lines, strict=False) if a == b)
        if same > len(minimal) // 2:
            derived += 1
            changed = len(set(lines) ^ set(minimal))
            assert changed <= 10, f"{path.name} changes {changed} lines"
    assert derived >= 25


# --- limits: size, bytes ------------------------------------------------------------------------------------


def _oversized(minimal: str) -> str:
    return minimal + "# " + "x" * MAX_BYTES + "\n"


def test_text_over_the_size_limit_is_refused() -> None:
    text = _oversized((BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8"))
    with pytest.raises(RunbookError) as caught:
        load_text(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.col, problem.path) == (1, 1, "")
    assert f"the limit is {MAX_BYTES:,}" in problem.message


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(_oversized((BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert "bytes; the limit is" in caught.value.problems[0].message


def test_a_file_just_under_the_limit_loads(tmp_path: Path) -> None:
    minimal = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")
    padding = MAX_BYTES - len(minimal.encode()) - 3
    path = tmp_path / "big.yaml"
    path.write_text(minimal + "#" + "x" * padding + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_BYTES - 1
    assert load_runbook(path).model.title == "Minimal runbook"


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"schema_version: 1\ntitle: caf\xe9\n")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert [(p.line, p.message) for p in caught.value.problems] == [(2, "not UTF-8 text")]


def test_nul_and_control_characters_are_located() -> None:
    with pytest.raises(RunbookError) as caught:
        load_text("schema_version: 1\ntitle: a\x00b\n")
    assert [(p.line, "NUL" in p.message) for p in caught.value.problems] == [(2, True)]
    with pytest.raises(RunbookError) as caught:
        load_text("schema_version: 1\ntitle: a\x01b\n")
    (problem,) = caught.value.problems
    assert (problem.line, problem.col) == (2, 9)
    assert "\n" not in str(problem)


def test_a_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert caught.value.problems[0].message == "the file is empty"


def test_a_missing_file_is_one_located_line(tmp_path: Path) -> None:
    with pytest.raises(RunbookError) as caught:
        load_runbook(tmp_path / "nope.yaml")
    (problem,) = caught.value.problems
    assert "cannot read" in problem.message


def test_placeholder_columns_survive_quoting_styles() -> None:
    """Undefined names are located exactly in plain, single- and double-quoted (with escapes) scalars."""
    base = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")
    cases = {
        "plain": ("    title: Prepare\n", "    title: Prepare\n    goal: see {{nope}}\n", (25, 15)),
        "single": ("    title: Prepare\n", "    title: Prepare\n    goal: 'it''s {{nope}}'\n", (25, 18)),
        "double": ("    title: Prepare\n", '    title: Prepare\n    goal: "tab\\there \\"{{nope}}\\""\n', (25, 24)),
        "hex": ("    title: Prepare\n", '    title: Prepare\n    goal: "\\x41\\u00e9 {{nope}}"\n', (25, 23)),
        "wrapped": ("    title: Prepare\n", '    title: Prepare\n    goal: "one\n      two {{nope}}"\n', (26, 11)),
    }
    for name, (old, new, where) in cases.items():
        with pytest.raises(RunbookError) as caught:
            load_text(base.replace(old, new, 1))
        located = [(p.line, p.col) for p in caught.value.problems if "'nope'" in p.message]
        assert located == [where], (name, [str(p) for p in caught.value.problems])


def test_block_scalar_with_indentation_indicator_is_located() -> None:
    base = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")
    text = base.replace(
        "          - |\n            cd {{repo}}\n",
        "          - |2\n              cd {{repo}}\n             echo {{nope}}\n",
        1,
    )
    with pytest.raises(RunbookError) as caught:
        load_text(text)
    assert [(p.line, p.col) for p in caught.value.problems] == [(35, 19)]


def test_the_shell_step_of_the_minimal_runbook_is_what_the_variants_break() -> None:
    """Guards the fixtures: the variants assume step 1.1 is the shell step with the `|` block command."""
    model = load_runbook(BAD_DIR / "_valid_minimal.yaml").model
    step = model.step("1.1")
    assert isinstance(step, ShellStep)
    assert step.commands == ["cd {{repo}}\nmake -j {{threads}} {{extra_flags}}\n"]


# --- through the real command line --------------------------------------------------------------------------

CLI_SAMPLE = [
    "unclosed-quote",
    "duplicate-key",
    "unknown-step-kind",
    "undefined-variable-in-command",
    "billion-laughs",
    "yaml-tag-python-object",
    "empty",
    "tab-indentation",
]


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_validate_command_prints_located_problems(name: str) -> None:
    path = BAD_DIR / f"{name}.yaml"
    result = subprocess.run([str(AMXWIZARD), "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    *problem_lines, summary = result.stderr.splitlines()
    assert problem_lines
    for line in problem_lines:
        assert PROBLEM_LINE_RE.match(line), line
        assert line.startswith(f"{path}:")
    assert re.fullmatch(rf"amxwizard: \d+ problems? in {re.escape(str(path))}", summary), summary
    line, col, dotted, fragment = _expectations(path.read_text(encoding="utf-8"))[0]
    assert any(
        x.startswith(f"{path}:{line}:{col}: {dotted or '(document)'}: ") and fragment in x for x in problem_lines
    )


def test_keys_with_blanks_and_line_breaks_print_on_one_line() -> None:
    """A key is part of the printed path; blanks and line breaks in it are escaped, not printed."""
    text = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("title: Minimal runbook\n", 'title: Minimal runbook\n"bad key\\nhere": 1\n"a\\u2028b": 2\n', 1)
    with pytest.raises(RunbookError) as caught:
        load_text(text)
    shown = [str(p) for p in caught.value.problems]
    assert shown[0].startswith("runbook.yaml:4:1: bad\\x20key\\nhere: unknown key 'bad key\\nhere'")
    assert shown[1].startswith("runbook.yaml:5:1: a\\u2028b: unknown key")
    for line in shown:
        assert PROBLEM_LINE_RE.match(line) and len(line.splitlines()) == 1, line
