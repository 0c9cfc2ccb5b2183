"""Variable values: what a person may type for each type, how defaults resolve, and --var parsing."""

from __future__ import annotations

from typing import Any

import pytest

from amxwizard.commands import CommandError, parse_vars
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import Runbook, Variable
from amxwizard.runbook.variables import VariableError, check_value, default_order, parse_assignments, resolve

# --- check_value ----------------------------------------------------------------------------------------------

THREADS = Variable(type="int", default=64, min=1, max=4096)
BASELINE = Variable(type="number", default=61.24, min=0)


@pytest.mark.parametrize("text", ["64", " 8 ", "1", "4096", "+12", "0064"])
def test_int_accepts_whole_numbers_in_range(text: str) -> None:
    assert check_value("threads", THREADS, text) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("eight", "'eight' is not a whole number"),
        ("1.5", "is not a whole number"),
        ("", "is not a whole number"),
        ("0x10", "is not a whole number"),
        ("1_000", "is not a whole number"),  # Python's int() takes it; a command line would not
        ("１２", "is not a whole number"),  # full-width digits: int() takes them too
        ("0", "0 is below the minimum 1"),
        ("-3", "-3 is below the minimum 1"),
        ("4097", "4097 is above the maximum 4096"),
        ("9" * 5000, "digits is too large"),  # int() itself refuses this many digits
        ("6\n4", "must be one line"),
        ("6\x004", "NUL"),
    ],
)
def test_int_refuses(text: str, fragment: str) -> None:
    problem = check_value("threads", THREADS, text)
    assert problem is not None and problem.startswith("threads: ")
    assert fragment in problem


@pytest.mark.parametrize("text", ["61.24", "0", "0.5", ".5", "7.", "1e3", " 61.24 ", "+1.5E-2"])
def test_number_accepts(text: str) -> None:
    assert check_value("baseline_tps", BASELINE, text) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fast", "is not a number"),
        ("nan", "is not a number"),
        ("inf", "is not a number"),
        ("1e999", "must be a finite number"),
        ("6_1.24", "is not a number"),
        ("-0.1", "is below the minimum 0"),
        ("61,24", "is not a number"),
    ],
)
def test_number_refuses(text: str, fragment: str) -> None:
    problem = check_value("baseline_tps", BASELINE, text)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize("kind", ["path", "dir", "file", "repo"])
def test_paths_need_one_nonblank_line(kind: str) -> None:
    var = Variable(type=kind, default="/x")  # type: ignore[arg-type]
    assert check_value("p", var, "/home/ron/src/ik_llama.cpp") is None
    assert check_value("p", var, "/with space/and'quote") is None
    assert check_value("p", var, "   ") == "p: a path is required"
    assert check_value("p", var, "/a\n/b") == "p: must be one line"
    assert check_value("p", var, "/a\r") == "p: must be one line"


def test_text_may_span_lines_but_holds_no_nul() -> None:
    var = Variable(type="text", default="")
    assert check_value("t", var, "") is None
    assert check_value("t", var, "line one\nline two; $(rm -rf /)") is None  # quoting is the template's job
    assert check_value("t", var, "a\x00b") == "t: contains a NUL byte"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("--amx", True),
        ("", True),
        ("-fa on", True),
        ("-p 'two words'", True),
        ('--x "a b" c', True),
        ("-p 'unbalanced", False),
        ('"', False),
        ("trailing\\", False),
    ],
)
def test_args_must_split_like_a_shell(text: str, ok: bool) -> None:
    problem = check_value("fa_flag", Variable(type="args", default="-fa"), text)
    assert (problem is None) is ok, problem
    if not ok:
        assert problem is not None and problem.startswith("fa_flag: cannot split")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("fb91d1c5", True),
        ("FB91", True),
        ("a" * 40, True),
        ("", True),
        ("fb9", False),
        ("a" * 41, False),
        ("main", False),
        ("HEAD~1", False),
        ("fb91d1c5 ", True),
        ("fb91\nd1c5", False),
    ],
)
def test_commit_is_four_to_forty_hex_digits(text: str, ok: bool) -> None:
    problem = check_value("expected_commit", Variable(type="commit", default="fb91d1c5"), text)
    assert (problem is None) is ok, problem


# --- resolve ------------------------------------------------------------------------------------------------


def _runbook(variables: dict[str, dict[str, Any]]) -> Runbook:
    """A runbook model with these variables, built without the loader's cross-checks (so cycles can exist)."""
    return Runbook.model_validate(
        {
            "schema_version": 1,
            "title": "t",
            "variables": variables,
            "backup": {"root": "/b", "pattern": "p", "location_file": "/l"},
            "phases": [
                {"id": "1", "title": "p", "steps": [{"id": "1.1", "kind": "shell", "title": "s", "commands": ["true"]}]}
            ],
        }
    )


def test_resolve_renders_defaults_from_other_variables(runbook_file: RunbookFile) -> None:
    values = resolve(runbook_file.model)
    assert values["numactl"] == "numactl -N 2,3 -m 2,3"
    assert values["backup_root"] == "<session_dir>/backups"  # a builtin, shown by name until a session exists
    assert values["threads"] == "64"
    assert values["baseline_tps"] == "61.24"
    assert set(runbook_file.model.variables) <= set(values)


def test_overrides_flow_into_defaults_that_use_them(runbook_file: RunbookFile) -> None:
    values = resolve(
        runbook_file.model,
        {"numa_nodes": "0", "threads": " 32 "},
        builtins={"session_dir": "/state/s1", "session_id": "s1"},
    )
    assert values["numactl"] == "numactl -N 0 -m 0"
    assert values["threads"] == "32"  # typed values are trimmed
    assert values["backup_root"] == "/state/s1/backups"
    assert values["session_id"] == "s1"


def test_an_overridden_default_template_is_used_as_given(runbook_file: RunbookFile) -> None:
    values = resolve(runbook_file.model, {"numactl": "", "prompt_short": "  keep my spaces  "})
    assert values["numactl"] == ""
    assert values["prompt_short"] == "  keep my spaces  "  # text is not trimmed


def test_a_value_is_never_rendered_again(runbook_file: RunbookFile) -> None:
    """A value that looks like a placeholder stays text: no second round of substitution."""
    values = resolve(runbook_file.model, {"numa_nodes": "{{repo}}"})
    assert values["numa_nodes"] == "{{repo}}"
    assert values["numactl"] == "numactl -N {{repo}} -m {{repo}}"


def test_unknown_override_names_the_known_variables(runbook_file: RunbookFile) -> None:
    with pytest.raises(VariableError) as caught:
        resolve(runbook_file.model, {"thread": "8"})
    assert "unknown variable 'thread'" in str(caught.value)
    assert "threads" in str(caught.value)


def test_a_bad_override_is_refused_with_its_reason(runbook_file: RunbookFile) -> None:
    with pytest.raises(VariableError, match=r"^threads: 0 is below the minimum 1$"):
        resolve(runbook_file.model, {"threads": "0"})
    with pytest.raises(VariableError, match=r"^ngl: 'all' is not a whole number$"):
        resolve(runbook_file.model, {"ngl": "all"})


def test_defaults_may_refer_forward() -> None:
    model = _runbook({"b": {"default": "{{a}}/b"}, "a": {"default": "{{root}}/a"}, "root": {"default": "/r"}})
    assert default_order(model.variables) == ["root", "a", "b"]
    assert resolve(model)["b"] == "/r/a/b"


def test_a_cycle_names_its_members() -> None:
    model = _runbook({"a": {"default": "{{b}}"}, "b": {"default": "x{{c}}"}, "c": {"default": "{{a}}"}})
    with pytest.raises(VariableError) as caught:
        resolve(model)
    assert str(caught.value) == "a: defaults refer to each other in a cycle (a -> b -> c -> a)"
    assert caught.value.name == "a"


def test_a_variable_cannot_default_to_itself() -> None:
    with pytest.raises(VariableError, match=r"cycle \(a -> a\)"):
        default_order(_runbook({"a": {"default": "{{a}}"}}).variables)


def test_a_default_naming_an_unknown_variable_fails_resolve() -> None:
    with pytest.raises(VariableError, match=r"^a: default refers to undefined variable 'nope'$"):
        resolve(_runbook({"a": {"default": "{{nope}}"}}))


# --- --var NAME=VALUE ---------------------------------------------------------------------------------------


def test_assignments_split_at_the_first_equals() -> None:
    assert parse_assignments(["repo=/x", "numactl=numactl -N 0 -m 0", "fa_flag=-fa=on", "empty=", " ngl =5"]) == {
        "repo": "/x",
        "numactl": "numactl -N 0 -m 0",
        "fa_flag": "-fa=on",
        "empty": "",
        "ngl": "5",
    }


def test_a_later_assignment_wins() -> None:
    assert parse_assignments(["ngl=1", "ngl=2"]) == {"ngl": "2"}


@pytest.mark.parametrize("item", ["repo", "=x", " =x", ""])
def test_malformed_assignments_are_refused(item: str) -> None:
    with pytest.raises(VariableError, match="expected NAME=VALUE"):
        parse_assignments([item])


def test_cli_var_parsing_is_a_usage_error() -> None:
    assert parse_vars(["threads=8"]) == {"threads": "8"}
    with pytest.raises(CommandError) as caught:
        parse_vars(["threads"])
    assert caught.value.code == 2
    assert str(caught.value) == "--var 'threads': expected NAME=VALUE"


def test_a_path_variable_expands_the_home_folder_once_where_values_are_resolved(
    runbook_file: object, monkeypatch: object
) -> None:
    # A command quotes the value, and bash does not expand ~ inside quotes: the value must arrive expanded.
    monkeypatch.setenv("HOME", "/home/engineer")  # type: ignore[attr-defined]
    values = resolve(runbook_file.model, {"repo": "~/src/ik_llama.cpp", "prompt_short": "~/not a path"})  # type: ignore[attr-defined]
    assert values["repo"] == "/home/engineer/src/ik_llama.cpp"
    assert values["prompt_short"] == "~/not a path"  # text stays as typed
    assert resolve(runbook_file.model, {"repo": "~nobody-by-this-name/x"})["repo"] == "~nobody-by-this-name/x"  # type: ignore[attr-defined]
