"""The extend_condition edit (approach B): one condition gains a requirement, at the located lines, or nothing
happens because it is already there."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from amxwizard.engine.edits import edit_function, plan_edit
from amxwizard.engine.source import check_balance
from amxwizard.runbook.models import Edit

SCHED = Path(__file__).resolve().parent.parent / "fixtures" / "sched"
B = Edit(
    file="x.cpp",
    function="ggml_backend_sched_backend_id_from_cur",
    find_by="op_offload_decision",
    action="extend_condition",
    require="ggml_backend_buffer_is_host(src->buffer)",
)


def _changed_lines(old: str, new: str) -> list[tuple[int, str, str]]:
    return [(n, a, b) for n, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=True), 1) if a != b]


def test_ik_shaped_condition_gains_the_host_buffer_guard() -> None:
    text = (SCHED / "ik_sched.cpp").read_text()
    planned = plan_edit(B, text, "ggml-backend.cpp")
    assert planned.problem is None and planned.line == 69
    assert _changed_lines(text, planned.new_text) == [
        (
            69,
            "            if (offload_enabled && src_backend_id == sched->n_backends - 1) {",
            "            if (offload_enabled && src_backend_id == sched->n_backends - 1 "
            "&& ggml_backend_buffer_is_host(src->buffer)) {",
        )
    ]
    assert planned.note.startswith(
        "the condition at line 69 in ggml_backend_sched_backend_id_from_cur (lines 36-83) now also requires "
        "ggml_backend_buffer_is_host(src->buffer)"
    )
    assert check_balance(planned.new_text) is None
    again = plan_edit(B, planned.new_text, "ggml-backend.cpp")
    assert again.new_text == planned.new_text and again.note.startswith("already applied")


def test_mainline_shaped_has_it_already() -> None:
    text = (SCHED / "mainline_sched.cpp").read_text()
    planned = plan_edit(B, text, "ggml-backend.cpp")
    assert planned.problem is None and planned.new_text == text
    assert planned.note == (
        "already applied: the op-offload condition in ggml_backend_sched_backend_id_from_cur (lines 29-76) already "
        "requires a host buffer (line 62)"
    )


def test_a_fork_that_renamed_everything_is_found_by_what_it_does() -> None:
    text = (SCHED / "fork_sched.cpp").read_text()
    planned = plan_edit(B, text, "sched.cpp")
    assert planned.problem is None
    assert _changed_lines(text, planned.new_text) == [
        (
            42,
            "                w_id == sched->n_backends - 1) {",
            "                w_id == sched->n_backends - 1 && ggml_backend_buffer_is_host(w->buffer)) {",
        )
    ]
    assert "(found by what it does; the runbook names ggml_backend_sched_backend_id_from_cur)" in planned.note
    span = edit_function(B, text)  # where the editor opens for a change by hand
    assert span is not None and (span.name, span.start_line) == ("fork_sched_pick_backend", 30)


def test_no_scheduler_in_the_file_is_a_problem_not_a_change() -> None:
    text = (SCHED / "fork_amx.cpp").read_text()
    planned = plan_edit(B, text, "amx.cpp")
    assert planned.new_text == text
    assert planned.problem is not None and planned.problem.startswith("no scheduler decision found in amx.cpp")


CODE = """\
int pick(int a, int b) {
    if (a > 0 || b > 0) {
        return 1;
    }
    if (a == b) {
        return 2;
    }
    return 0;
}
"""


def test_by_name_and_condition_with_an_or_wrapped_in_parentheses() -> None:
    edit = Edit(
        file="p.c", language="c", function="pick", action="extend_condition", condition=r"a > 0", require="ok(a)"
    )
    planned = plan_edit(edit, CODE, "p.c")
    assert planned.problem is None
    assert _changed_lines(CODE, planned.new_text) == [
        (2, "    if (a > 0 || b > 0) {", "    if ((a > 0 || b > 0) && ok(a)) {")
    ]
    assert plan_edit(edit, planned.new_text, "p.c").note == "already applied: the condition at line 2 requires ok(a)"


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (r"a", "/a/ matches 2 conditions (lines 2, 5) in pick (lines 1-9) of p.c"),
        (r"c > 9", "/c > 9/ matches no condition in pick (lines 1-9) of p.c"),
    ],
)
def test_a_condition_must_match_exactly_one_if(condition: str, problem: str) -> None:
    edit = Edit(file="p.c", language="c", function="pick", action="extend_condition", condition=condition, require="x")
    assert plan_edit(edit, CODE, "p.c").problem == problem


def test_the_model_refuses_what_cannot_be_applied() -> None:
    with pytest.raises(ValidationError, match="needs 'find_by', or 'function' and 'condition'"):
        Edit(file="p.c", action="extend_condition", require="x")
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Edit(file="p.c", function="f", action="extend_condition", condition="(", require="x")
    with pytest.raises(ValidationError, match="unbalanced parentheses"):
        Edit(file="p.c", find_by="op_offload_decision", action="extend_condition", require="f(x")
    with pytest.raises(ValidationError, match="belong to an 'extend_condition' edit"):
        Edit(file="p.c", action="manual", require="x")
    with pytest.raises(ValidationError, match=r"reads C, C\+\+ or CUDA code, not cmake"):
        Edit(file="p.txt", language="cmake", find_by="op_offload_decision", action="extend_condition", require="x")
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Edit(file="p.c", action="insert", insert="x", anchor={"after": "([a-z"})  # type: ignore[arg-type]
