"""Issue 17: a hostile runbook gets a located error and exit 1, whatever its shape; never a signal death.

libyaml's composer recurses once per nesting level: 30,000 nested ``[`` (60 KB) overflowed the C stack and killed
``validate``, ``step`` and ``status`` with SIGSEGV. The depth is now counted from the parser's events first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.runbook import RunbookError, load_text
from amxwizard.runbook.source import MAX_BYTES, MAX_DEPTH

AMXWIZARD = Path(sys.executable).with_name("amxwizard")
PROBLEM_LINE_RE = re.compile(r"^\S+:\d+:\d+: \S+: .+$")


def _deep_file(tmp_path: Path, depth: int = 30_000) -> Path:
    path = tmp_path / "deep.yaml"
    path.write_text("schema_version: 1\ntitle: " + "[" * depth + "x" + "]" * depth + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{runbook}"],
        ["step", "1.1", "--runbook", "{runbook}", "--state-dir", "{state}"],
        ["status", "--runbook", "{runbook}", "--state-dir", "{state}"],
    ],
    ids=["validate", "step", "status"],
)
def test_thirty_thousand_nested_brackets_are_a_located_error_not_a_crash(tmp_path: Path, command: list[str]) -> None:
    runbook = _deep_file(tmp_path)
    assert 55_000 < runbook.stat().st_size < 65_000  # the 60 KB file of the issue
    args = [part.format(runbook=runbook, state=tmp_path / "state") for part in command]
    result = subprocess.run([str(AMXWIZARD), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1, (result.returncode, result.stderr[-500:])  # was -11 (SIGSEGV)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{runbook}:2:71: (document): YAML nested deeper than {MAX_DEPTH} levels",
        f"amxwizard: 1 problem in {runbook}",
    ]
    assert not (tmp_path / "state").exists()  # nothing was started


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("[" * (MAX_BYTES - 100), (2, 71)),  # the most brackets the size limit lets through
        ("{a: " * 200_000, (2, 8 + 4 * 63)),
        ("[{" * 200_000, (2, 8 + 63)),
        ("\n  " + "- " * 400_000 + "x", (3, 3 + 2 * 63)),  # block sequences, all on one line
        ("[" * 64 + "x" + "]" * 64, (2, 71)),  # closed, and one level too deep
    ],
    ids=["flow-sequences", "flow-mappings", "mixed-flow", "block-on-one-line", "closed"],
)
def test_any_deep_shape_is_located_at_the_first_level_too_many(body: str, where: tuple[int, int]) -> None:
    text = "schema_version: 1\ntitle:" + ("" if body.startswith("\n") else " ") + body
    text = text[: MAX_BYTES - 10]
    with pytest.raises(RunbookError) as caught:
        load_text(text, "deep.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.col) == where, str(problem)
    assert problem.message == f"YAML nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_is_not_refused_for_depth() -> None:
    """63 levels under the top mapping is as deep as the loader goes: the error is about the schema, not depth."""
    text = "schema_version: 1\ntitle: " + "[" * 63 + "x" + "]" * 63 + "\n"
    with pytest.raises(RunbookError) as caught:
        load_text(text)
    assert all("nested" not in p.message for p in caught.value.problems)


def test_a_deep_file_with_a_syntax_error_later_reports_the_depth_first(tmp_path: Path) -> None:
    text = "schema_version: 1\ntitle: " + "[" * 100 + "\n: : :\n"
    with pytest.raises(RunbookError) as caught:
        load_text(text)
    assert [(p.line, p.col, p.message) for p in caught.value.problems] == [
        (2, 71, f"YAML nested deeper than {MAX_DEPTH} levels")
    ]


def test_the_pure_parser_path_counts_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml (ruamel.yaml.clib missing) the same check runs on the pure parser's events."""
    from amxwizard.runbook import source

    monkeypatch.setattr(source, "_compose_fast", lambda text: (_ for _ in ()).throw(LookupError("no clib")))
    real_yaml = __import__("ruamel.yaml", fromlist=["YAML"]).YAML

    def pure_yaml(*args: object, **kwargs: object) -> object:
        return real_yaml(typ="safe", pure=True)

    monkeypatch.setattr("ruamel.yaml.YAML", pure_yaml)
    with pytest.raises(RunbookError) as caught:
        load_text("schema_version: 1\ntitle: " + "[" * 5_000)
    assert [(p.line, p.col) for p in caught.value.problems] == [(2, 71)]


def test_aliases_sizes_and_long_lines_still_fail_cleanly(tmp_path: Path) -> None:
    """The limits that held before the depth check still hold, as one located line and exit 1."""
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)
    )
    cases = {
        "laughs.yaml": "schema_version: 1\n" + laughs,
        "huge.yaml": "schema_version: 1\ntitle: x\n# " + "y" * MAX_BYTES + "\n",
        "long-line.yaml": "schema_version: 1\ntitle: " + "z" * (MAX_BYTES - 100) + "\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [str(AMXWIZARD), "validate", str(path)], capture_output=True, text=True, timeout=120, env=os.environ
        )
        assert result.returncode == 1, (name, result.returncode, result.stderr[-300:])
        *problems, summary = result.stderr.splitlines()
        assert problems and all(PROBLEM_LINE_RE.match(line) for line in problems), (name, problems)
        assert summary.startswith("amxwizard: ") and "Traceback" not in result.stderr
