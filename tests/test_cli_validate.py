"""``amxwizard validate``, run as a person runs it: a real process, real files."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.runbook import load_runbook

ROOT = Path(__file__).resolve().parent.parent
AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
MINIMAL = ROOT / "tests" / "fixtures" / "bad-runbooks" / "_valid_minimal.yaml"


def _validate(*args: str, cwd: Path = ROOT, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([AMXWIZARD, "validate", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def _section(lines: list[str], header: str) -> list[str]:
    """The indented lines under the line ``header``."""
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def test_validate_the_shipped_runbook() -> None:
    result = _validate("runbook.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    model = load_runbook(ROOT / "runbook.yaml").model
    assert lines[0].startswith("runbook.yaml: AMX+GPU Scheduler Fix  (sha256 ")
    assert "5 phases, 24 steps, 9 criteria, 4 checklist items, 4 troubleshooting entries" in lines[1]

    phases = _section(lines, "phases:")
    assert len(phases) == 5
    for line, phase in zip(phases, model.phases, strict=True):
        assert re.match(rf"^  {re.escape(phase.id)}  {re.escape(phase.title)}", line), line
        assert phase.steps[0].id in line
    assert "test-1 test-2 test-3 test-4 test-5" in phases[2]

    criteria = _section(lines, "criteria: 9 judged from evidence, 0 by hand")
    assert " ".join(criteria).split() == [c.id for c in model.criteria]

    variables = _section(lines, "variables (as --var would take them):")
    shown = dict(word.split("=", 1) for line in variables for word in shlex.split(line))
    assert list(shown) == list(model.variables)
    assert shown["repo"] == "/home/ron/src/ik_llama.cpp"
    assert shown["numactl"] == "numactl -N 2,3 -m 2,3"  # defaults are shown resolved, quoted as --var takes them
    assert shown["threads"] == "64"
    assert shown["baseline_tps"] == "61.24"
    assert shown["backup_root"] == "<session_dir>/backups"
    from amxwizard.runbook.variables import resolve

    # Every value whole, exactly as --var takes it back: a clipped value could not be pasted.
    assert shown == {name: value for name, value in resolve(model).items() if name in model.variables}
    assert len(shown["prompt_long"]) > 700


def _one_long_value(line: str, columns: int) -> bool:
    """A line that holds a single variable too long for any line, printed whole on its own."""
    words = shlex.split(line)
    return len(line) > columns and len(words) == 1 and "=" in words[0]


def test_the_summary_fits_one_screen_of_80x24() -> None:
    lines = _validate("runbook.yaml", columns=80).stdout.splitlines()
    # The long prompts are whole, each on its own line (the terminal wraps them).
    assert len([line for line in lines if not _one_long_value(line, 80)]) <= 24


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
def test_every_line_fits_the_terminal(columns: int) -> None:
    result = _validate("runbook.yaml", columns=columns)
    assert result.returncode == 0, result.stderr
    too_wide = [line for line in result.stdout.splitlines()[1:] if len(line) > columns]
    # The first line is the file name and title, as long as they are; a value longer than the terminal is printed
    # whole on a line of its own (the terminal wraps it), never cut.
    assert [line for line in too_wide if not _one_long_value(line, columns)] == []


def test_validate_a_minimal_runbook_by_path(tmp_path: Path) -> None:
    result = _validate(str(MINIMAL), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{MINIMAL}: Minimal runbook")
    assert "2 phases, 6 steps, 1 criteria" in result.stdout


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("missing.yaml", "missing.yaml:1:1: (document): cannot read: No such file or directory"),
        (".", ".:1:1: (document): cannot read: Is a directory"),
    ],
)
def test_unreadable_runbook_is_one_line(tmp_path: Path, target: str, fragment: str) -> None:
    result = _validate(target, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [fragment, f"amxwizard: 1 problem in {target}"]


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace("goto: 2.B", "goto: 2.X").replace('steps: ["1.1"]', 'steps: ["9.9"]')
    broken = tmp_path / "two.yaml"
    broken.write_text(text, encoding="utf-8")
    result = _validate(str(broken), cwd=tmp_path)
    assert result.returncode == 1
    problems = result.stderr.splitlines()[:-1]
    assert [p.split(": ", 2)[1] for p in problems] == ["criteria.0.steps.0", "troubleshooting.0.goto"]
    assert result.stderr.splitlines()[-1] == f"amxwizard: 2 problems in {broken}"


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    """`amxwizard validate | head -1`: the closed pipe ends the command quietly, without a traceback."""
    process = subprocess.Popen(
        [AMXWIZARD, "validate", "runbook.yaml"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # nobody reads: the first write fails with EPIPE
    code = process.wait(timeout=60)
    assert code == 141
    assert process.stderr.read() == b""
