"""Issue 17: every path the wizard edits, backs up, documents or writes stays in the repository, unless the runbook
declares another root for it; ``validate`` says where one does not, before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.runbook import RunbookError, load_runbook, load_text
from amxwizard.runbook.paths import PathRoot, confined_fields, path_shape
from tests.conftest import ROOT

BAD_DIR = ROOT / "tests" / "fixtures" / "bad-runbooks"
MINIMAL = (BAD_DIR / "_valid_minimal.yaml").read_text(encoding="utf-8")
AMXWIZARD = Path(sys.executable).with_name("amxwizard")

# The attacks of issue 17, each a copy of the minimal runbook with one path changed, and where validate points.
ATTACKS = {
    "path-edit-climbs-out-of-the-repo": ("57:29", "phases.1.steps.1.edits.0.file", "'..' leads out of the repository"),
    "path-edit-absolute-outside": ("65:19", "phases.1.steps.2.edits.0.file", "an absolute path outside the repository"),
    "path-docs-outside": ("71:19", "phases.1.steps.3.documents.0.path", "a document to update: an absolute path"),
    "path-backup-source-outside": ("41:19", "phases.0.steps.1.files.0.path", "a file to back up: an absolute path"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_validate_reports_each_path_outside_the_repository_where_it_is_written(name: str) -> None:
    path = BAD_DIR / f"{name}.yaml"
    where, dotted, fragment = ATTACKS[name]
    result = subprocess.run([str(AMXWIZARD), "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{path}:{where}: {dotted}: ") and fragment in line for line in lines), lines
    assert lines[-1] == f"amxwizard: 1 problem in {path}"
    assert "Traceback" not in result.stderr


def test_the_attack_fixtures_name_the_paths_of_the_issue() -> None:
    """Guards the fixtures above: they hold exactly the paths the issue lists."""
    texts = {name: (BAD_DIR / f"{name}.yaml").read_text(encoding="utf-8") for name in ATTACKS}
    assert 'file: "{{repo}}/../../../../etc/passwd"' in texts["path-edit-climbs-out-of-the-repo"]
    assert "file: /etc/passwd" in texts["path-edit-absolute-outside"]
    assert "path: /home/shared/NOTES.md" in texts["path-docs-outside"]
    assert "path: /etc/shadow" in texts["path-backup-source-outside"]


def _problems(text: str) -> list[str]:
    try:
        load_text(text)
    except RunbookError as exc:
        return [str(p) for p in exc.problems]
    return []


def _with_edit_file(template: str) -> str:
    return MINIMAL.replace('- file: "{{repo}}/src/a.cpp"', f"- file: {template}", 1)


@pytest.mark.parametrize(
    "template",
    [
        '"{{repo}}/src/../../outside.cpp"',
        '"{{repo}}/./../x"',
        '"{{repo}}/src/{{threads}}/../../../x"',  # a placeholder counts as one folder
        '"~/notes.txt"',
        '"/srv/checkout/src/a.cpp"',  # the repo's default, written out: still not confined to the repository
        '"{{repo}}"',  # the repository itself is not a file in it
        '"{{repo}}/src/.."',
    ],
)
def test_more_paths_that_leave_the_repository_are_refused(template: str) -> None:
    problems = _problems(_with_edit_file(template))
    assert len(problems) == 1, problems
    assert problems[0].startswith("runbook.yaml:56:")
    assert "phases.1.steps.1.edits.0.file: a file to edit: " in problems[0]


@pytest.mark.parametrize(
    "template",
    ['"{{repo}}/src/../include/a.h"', "src/a.cpp", '"{{repo}}/{{threads}}/a.cpp"', '"{{repo}}//src/./a.cpp"'],
)
def test_paths_that_stay_in_the_repository_load(template: str) -> None:
    text = _with_edit_file(template).replace(
        "title: Minimal runbook\n", 'title: Minimal runbook\nworkdir: "{{repo}}"\n'
    )
    assert _problems(text) == []


def test_a_relative_path_climbing_out_of_the_workdir_is_measured_from_the_repository() -> None:
    base = MINIMAL.replace("title: Minimal runbook\n", 'title: Minimal runbook\nworkdir: "{{repo}}/build"\n')
    assert _problems(_with_edit_file("../src/a.cpp")) != []  # no workdir: relative to where the wizard runs
    assert _problems(base.replace('- file: "{{repo}}/src/a.cpp"', "- file: ../src/a.cpp", 1)) == []
    (problem,) = _problems(base.replace('- file: "{{repo}}/src/a.cpp"', "- file: ../../a.cpp", 1))
    assert "'..' leads out of the repository" in problem


DECLARED = MINIMAL.replace(
    "  expected_commit:",
    "  location:\n    type: path\n    default: /tmp/amx/location.txt\n    root: /tmp\n  expected_commit:",
    1,
)


def test_a_declared_root_lets_a_path_live_outside_the_repository() -> None:
    text = DECLARED.replace('location_file: "{{repo}}/backup-location.txt"', 'location_file: "{{location}}"')
    model = load_text(text).model
    assert path_shape("{{location}}", model).root == PathRoot("declared", "location")
    assert path_shape("/tmp/other.txt", model).root == PathRoot("declared", "location")
    assert path_shape("/tmp/../etc/passwd", model).problem is not None
    (problem,) = _problems(text.replace('"{{location}}"', '"{{location}}/../../../etc/passwd"'))
    assert "'..' leads out of /tmp (the root variable 'location' declares)" in problem


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("tmp", "must be an absolute path"),
        ('"{{repo}}"', "no placeholders"),
        ("/tmp/other", "is not inside the root '/tmp/other'"),
        ("/", "'/' would let this path lead anywhere"),
    ],
)
def test_a_declared_root_must_be_a_real_confinement(root: str, message: str) -> None:
    problems = _problems(DECLARED.replace("    root: /tmp\n", f"    root: {root}\n", 1))
    assert len(problems) == 1 and message in problems[0], problems
    assert problems[0].startswith("runbook.yaml:1")  # the variable's lines, 14-17


def test_only_path_variables_declare_a_root() -> None:
    problems = _problems(MINIMAL.replace('    default: "-fa"\n', '    default: "-fa"\n    root: /tmp\n', 1))
    assert problems == [
        "runbook.yaml:12:3: variables.extra_flags: only a path, dir or file variable can declare a 'root' "
        "(this one is of type args)"
    ]


def test_the_shipped_runbook_declares_its_two_tmp_files_and_confines_the_rest() -> None:
    model = load_runbook(ROOT / "runbook.yaml").model
    declared = {name: var.root for name, var in model.variables.items() if var.root}
    assert declared == {"diag_script": "/tmp", "backup_location_file": "/tmp"}
    shapes = {item.loc: path_shape(item.template, model) for item in confined_fields(model)}
    assert all(shape.problem is None for shape in shapes.values())
    roots = [shape.root for shape in shapes.values()]
    assert roots.count(PathRoot("declared", "backup_location_file")) == 1
    assert roots.count(PathRoot("backup", "BACKUP_DIR")) == 1  # 1.6's analysis.txt
    others = [
        root
        for root in roots
        if root not in (PathRoot("declared", "backup_location_file"), PathRoot("backup", "BACKUP_DIR"))
    ]
    assert others and set(others) == {PathRoot("repo")}
    assert (ROOT / "src" / "amxwizard" / "data" / "runbook.yaml").read_bytes() == (ROOT / "runbook.yaml").read_bytes()
