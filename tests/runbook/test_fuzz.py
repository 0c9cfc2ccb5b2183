"""Fuzzing the loader: whatever the text, the only failure is a RunbookError of one-line, located problems."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from amxwizard.runbook import RunbookError, load_text
from amxwizard.runbook.source import read_yaml_text

ROOT = Path(__file__).resolve().parent.parent.parent
PROBLEM_LINE_RE = re.compile(r"^\S+:\d+:\d+: \S+: .+$")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(text: str) -> None:
    """Load ``text``: success, or a RunbookError whose every problem prints as one located line."""
    try:
        load_text(text)
    except RunbookError as exc:
        assert exc.problems, "a RunbookError with no problems"
        lines = max(text.count("\n") + 1, 1)
        for problem in exc.problems:
            shown = str(problem)
            assert "\n" not in shown and "\r" not in shown, shown
            assert PROBLEM_LINE_RE.match(shown), shown
            assert 1 <= problem.line <= lines + 1, shown
            assert problem.col >= 1, shown


# --- arbitrary text -----------------------------------------------------------------------------------------

YAML_BITS = [
    ":",
    ": ",
    "-",
    "- ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "!!str ",
    "!!python/name:os ",
    "!x ",
    "|",
    "|2",
    ">-",
    "'",
    '"',
    "''",
    "\\",
    "\n",
    "\n  ",
    "\n    ",
    "\t",
    "#",
    "<<: ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "key",
    "kind",
    "shell",
    "steps",
    "phases",
    "id",
    "1.10",
    "no",
    "~",
    "null",
    ".inf",
    "0x1F",
    "0o17",
    "1e999",
    "-0",
    "9" * 5000,
    "{{x}}",
    "{{ repo }}",
    "{{answers.",
    "\u2028",
    "\x85",
    "\ufeff",
    "é",
    "𝔘",
    "\x7f",
    "\x1b[31m",
]


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_unicode_text(text: str) -> None:
    _check(text)


@FUZZ
@given(st.lists(st.sampled_from(YAML_BITS), max_size=60).map("".join))
@example("\u2028\u2028::")  # libyaml counts U+2028 as a line break; the reported position must not
@example("\u2028\u2028!!python/name:os ")
def test_yaml_shaped_noise(text: str) -> None:
    _check(text)


# Each case past the parser's recursion limit costs about a second here, so few examples, bounded depth.
@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=1500), st.sampled_from(["[", "{", "[{", "- ", "a:"]), st.booleans())
@example(1500, "[", False)  # past Python's recursion limit inside the YAML composer
@example(1500, "{", True)
@example(300, "- ", True)  # past the loader's own depth limit
def test_deep_nesting(depth: int, opener: str, closed: bool) -> None:
    if opener in ("- ", "a:"):  # block nesting: one level per line, indented
        body = "".join(f"\n{' ' * (2 * i + 2)}{opener}" for i in range(min(depth, 300))) + " x"
    else:
        closer = {"[": "]", "{": "}", "[{": "}]"}[opener]
        body = opener * depth + "x" + (closer * depth if closed else "")
    _check("schema_version: 1\ntitle:" + body)


@FUZZ
@given(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="0123456789", min_size=1, max_size=6000),
)
@example(0, 0.0, "9" * 5000)  # Python refuses int() of more than 4300 digits
def test_huge_and_odd_numbers(integer: int, real: float, digits: str) -> None:
    for value in (str(integer), repr(real), digits, f"-{digits}", f"0x{digits}", f"{digits}.{digits}e{digits}"):
        _check(f"schema_version: {value}\ntitle: {value}\nphases: [{value}]\n")


# --- the real runbook, mutated ------------------------------------------------------------------------------

REAL = read_yaml_text((ROOT / "runbook.yaml").read_text(encoding="utf-8"), "runbook.yaml").data


def _paths(data: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*here, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*here, i))
    return out


PATHS = [p for p in _paths(REAL) if p]
ACTIONS = ["delete", "replace", "retype", "rename", "duplicate", "add_key"]

TRICKY = [
    "1.1",
    "2.A",
    "test-1",
    "shell",
    "approach",
    "{{repo}}",
    "{{nope}}",
    "{{answers.x}}",
    '"unterminated',
    "cat <<EOF",
    "`{{repo}}`",
    "{{numactl}}",
    "no",
    "",
]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), st.sampled_from(TRICKY))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    try:
        parent = _parent(data, path)
        key = path[-1]
        current = parent[key]
    except (KeyError, IndexError, TypeError):
        return  # an earlier mutation removed or replaced this path
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif action == "retype":  # the same content as another type: "64" <-> 64, x -> [x], x -> {x: x}
        if isinstance(current, str):
            parent[key] = int(current) if current.isdigit() else [current]
        elif isinstance(current, bool | int | float):
            parent[key] = str(current)
        elif isinstance(current, list):
            parent[key] = {str(i): v for i, v in enumerate(current)}
        elif isinstance(current, dict):
            parent[key] = list(current.values())
    elif action == "rename" and isinstance(parent, dict):
        parent[f"{key}x" if isinstance(key, str) else key] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(current))
    elif action == "add_key" and isinstance(current, dict):  # an unknown key, named by whatever text was drawn
        current[value if isinstance(value, str) else repr(value)] = "x"


def _dump(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(ACTIONS), values), min_size=1, max_size=4))
def test_mutated_real_runbook(mutations: list[tuple[tuple[Any, ...], str, Any]]) -> None:
    data = copy.deepcopy(REAL)
    for path, action, value in mutations:
        _mutate(data, path, action, value)
    _check(_dump(data))


def test_the_unmutated_dump_loads() -> None:
    """The dump/load round trip itself is sound, so mutated failures are about the mutation."""
    assert load_text(_dump(copy.deepcopy(REAL))).model.title == "AMX+GPU Scheduler Fix"
