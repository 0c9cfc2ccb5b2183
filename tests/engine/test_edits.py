"""edits: planning runbook edits against real-shaped source, removing #ifdef blocks, writing safely."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from amxwizard.engine.edits import EditError, apply_planned, plan_edit, plan_step, verify_patterns
from amxwizard.engine.source import check_balance, locate_function
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import Anchor, CodeChangeStep, Edit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "source"
BACKEND = (FIXTURES / "backend_copy.cpp").read_text()
CUDA = (FIXTURES / "cuda_cpy.cu").read_text()
MACRO = "GGML_DEBUG_TENSOR_COPY"


def remove_ifdef(text: str) -> tuple[str, str]:
    result = plan_edit(Edit(file="x.cpp", action="remove_ifdef", macro=MACRO), text, "x.cpp")
    assert result.problem is None
    return result.new_text, result.note


def test_every_code_edit_of_the_runbook_applies_to_real_shaped_source(runbook_file: RunbookFile) -> None:
    texts = {"cpp": BACKEND, "cuda": CUDA}
    applied = 0
    for step, edit in runbook_file.model.edits():
        if edit.language not in texts or edit.action not in ("insert", "manual"):
            continue
        result = plan_edit(edit, texts[edit.language], f"fixture for {step.id}")
        assert result.problem is None, f"{step.id}: {result.problem}"
        if edit.action == "insert":
            assert result.new_text != texts[edit.language]
            assert check_balance(result.new_text) is None, step.id
            applied += 1
    assert applied == 5  # 1.2 (two), 2.A (two), 2.C


def test_logging_lands_after_the_early_return_and_in_the_slow_branch(runbook_file: RunbookFile) -> None:
    step = runbook_file.model.step("1.2")
    first = plan_edit(step.edits[0], BACKEND, "backend_copy.cpp")
    second = plan_edit(step.edits[1], first.new_text, "backend_copy.cpp")
    text = second.new_text
    span = locate_function(text, "ggml_backend_tensor_copy")
    assert span is not None
    body = text[span.body_start : span.body_end]
    assert (
        body.index("if (src == dst) {")
        < body.index("// ===== NEW DIAGNOSTIC LOGGING =====")
        < body.index("if (ggml_backend_buffer_is_host(src->buffer))")
    )
    slow = body.index("} else if (!ggml_backend_buffer_copy_tensor(src, dst)) {\n        #ifdef GGML_DEBUG_TENSOR_COPY")
    assert slow < body.index("#ifndef NDEBUG")
    assert first.line == span.start_line + 6  # the blank line the snippet starts with, right after the "}"
    assert "inside ggml_backend_tensor_copy" in first.note


def test_inserting_twice_changes_nothing(runbook_file: RunbookFile) -> None:
    edit = runbook_file.model.step("1.2").edits[0]
    once = plan_edit(edit, BACKEND).new_text
    again = plan_edit(edit, once)
    assert again.new_text == once
    assert again.note == "already applied"


def test_approach_a_puts_the_helper_before_the_function_and_the_guard_inside(runbook_file: RunbookFile) -> None:
    text = BACKEND
    for edit in runbook_file.model.step("2.A").edits:
        result = plan_edit(edit, text, "backend_copy.cpp")
        assert result.problem is None
        text = result.new_text
    helper = locate_function(text, "ggml_tensor_is_weight")
    copy = locate_function(text, "ggml_backend_tensor_copy")
    assert helper is not None and copy is not None
    assert helper.end_line < copy.start_line
    # the helper follows the previous function, with a blank line on each side
    assert text[: helper.start].endswith(
        "    return true;\n}\n\n// Check if tensor is a model weight/parameter "
        "(should not be copied during inference)\n"
    )
    assert text[helper.body_end : copy.start] == "\n\n"
    body = text[copy.body_start : copy.body_end]
    assert (
        body.index("return;\n    }")
        < body.index("if (ggml_tensor_is_weight(src))")
        < body.index("if (ggml_backend_buffer_is_host(src->buffer))")
    )
    assert check_balance(text) is None


def test_approach_c_goes_before_the_last_return_false_of_cpy_tensor(runbook_file: RunbookFile) -> None:
    (edit,) = runbook_file.model.step("2.C").edits
    result = plan_edit(edit, CUDA, "cuda_cpy.cu")
    assert result.problem is None
    span = locate_function(result.new_text, "ggml_backend_cuda_buffer_cpy_tensor")
    assert span is not None
    body = result.new_text[span.body_start : span.body_end]
    # after the CUDA-to-CUDA branch (and its #ifdef'd return false), before the final return false
    assert body.index("return true;\n    }") < body.index("if (!ggml_backend_buffer_is_host(src->buffer))")
    assert body.index("// === END NEW CODE ===\n    return false;\n\n    GGML_UNUSED(buffer);") > 0
    assert body.count("#ifdef GGML_CUDA_NO_PEER_COPY\n            return false;") == 1
    assert check_balance(result.new_text) is None


def test_a_missing_function_or_anchor_is_a_clear_problem() -> None:
    missing = Edit(
        file="f.cpp",
        function="ggml_backend_tensor_copy",
        action="insert",
        insert="x();\n",
        anchor=Anchor(after="anything"),
    )
    result = plan_edit(missing, "int main(void) { return 0; }\n", "ggml/src/ggml-backend.cpp")
    assert result.problem == "function ggml_backend_tensor_copy not found in ggml/src/ggml-backend.cpp"
    no_anchor = Edit(
        file="f.cpp",
        function="ggml_backend_tensor_copy",
        action="insert",
        insert="x();\n",
        anchor=Anchor(after=r"if \(src == NULL\)"),
    )
    result = plan_edit(no_anchor, BACKEND, "ggml/src/ggml-backend.cpp")
    span = locate_function(BACKEND, "ggml_backend_tensor_copy")
    assert span is not None
    assert result.problem == (
        r"anchor /if \(src == NULL\)/ not found inside ggml_backend_tensor_copy "
        f"(lines {span.start_line}-{span.end_line}) in ggml/src/ggml-backend.cpp"
    )
    assert result.new_text == BACKEND


def test_an_anchor_in_a_comment_loses_to_the_same_text_in_code() -> None:
    text = "void f(void) {\n    // if (ready) {\n    int a = 0;\n    if (ready) {\n        go();\n    }\n}\n"
    edit = Edit(
        file="f.c",
        language="c",
        function="f",
        action="insert",
        insert="    log();\n",
        anchor=Anchor(after=r"if \(ready\) \{"),
    )
    result = plan_edit(edit, text)
    assert result.new_text == text.replace("    if (ready) {\n", "    if (ready) {\n    log();\n")


def test_crlf_files_stay_crlf() -> None:
    text = "void f(void) {\r\n    start();\r\n}\r\n"
    edit = Edit(
        file="f.c",
        language="c",
        function="f",
        action="insert",
        insert="    more();\n",
        anchor=Anchor(after=r"start\(\);"),
    )
    assert plan_edit(edit, text).new_text == "void f(void) {\r\n    start();\r\n    more();\r\n}\r\n"


def test_end_of_file_insert_on_a_file_without_final_newline() -> None:
    edit = Edit(
        file="CMakeLists.txt", language="cmake", action="insert", snippet="# added\n", anchor=Anchor(at="end_of_file")
    )
    assert plan_edit(edit, "add_library(ggml a.c)").new_text == "add_library(ggml a.c)\n# added\n"


def test_remove_ifdef_keeps_the_branch_that_compiles_without_the_macro() -> None:
    text = (
        "void f(void) {\n"
        "#ifdef GGML_DEBUG_TENSOR_COPY\n"
        "    debug_only();\n"
        "#else\n"
        "    release_only();\n"
        "#endif\n"
        "#ifndef GGML_DEBUG_TENSOR_COPY\n"
        "    quiet();\n"
        "#else\n"
        "    loud();\n"
        "#endif\n"
        "#if defined(GGML_DEBUG_TENSOR_COPY)\n"
        "    a();\n"
        "#elif defined(OTHER)\n"
        "    b();\n"
        "#else\n"
        "    c();\n"
        "#endif\n"
        "}\n"
    )
    new, note = remove_ifdef(text)
    assert new == (
        "void f(void) {\n    release_only();\n    quiet();\n#if defined(OTHER)\n    b();\n#else\n    c();\n#endif\n}\n"
    )
    assert note == "removed 3 GGML_DEBUG_TENSOR_COPY blocks (lines 2, 7, 12)"


def test_remove_ifdef_is_nesting_aware_and_leaves_other_conditionals() -> None:
    text = (
        "#ifndef NDEBUG\n"
        "    warn();\n"
        "    #ifdef GGML_DEBUG_TENSOR_COPY\n"
        "    #ifdef INNER\n"
        "    inner();\n"
        "    #endif\n"
        "    #endif\n"
        "#endif\n"
        "#if defined(GGML_DEBUG_TENSOR_COPY) && defined(VERBOSE)\n"
        "    both();\n"
        "#endif\n"
    )
    new, note = remove_ifdef(text)
    assert new == (
        "#ifndef NDEBUG\n"
        "    warn();\n"
        "#endif\n"
        "#if defined(GGML_DEBUG_TENSOR_COPY) && defined(VERBOSE)\n"
        "    both();\n"
        "#endif\n"
    )
    assert "left conditions that combine GGML_DEBUG_TENSOR_COPY with other things at line(s) 9" in note


def test_remove_ifdef_takes_the_fences_and_the_blank_line_the_insert_added() -> None:
    text = (
        "    if (src == dst) {\n"
        "        return;\n"
        "    }\n"
        "\n"
        "    // ===== NEW DIAGNOSTIC LOGGING =====\n"
        "    #ifdef GGML_DEBUG_TENSOR_COPY\n"
        "    log();\n"
        "    #endif\n"
        "    // ===== END DIAGNOSTIC LOGGING =====\n"
        "\n"
        "    copy();\n"
    )
    new, _ = remove_ifdef(text)
    assert new == "    if (src == dst) {\n        return;\n    }\n\n    copy();\n"


def test_remove_ifdef_reports_an_unclosed_conditional() -> None:
    result = plan_edit(
        Edit(file="x.c", language="c", action="remove_ifdef", macro=MACRO),
        "#ifdef GGML_DEBUG_TENSOR_COPY\nx();\n",
        "x.c",
    )
    assert result.problem == "x.c: #ifdef at line 1 is never closed by #endif"


def test_remove_ifdef_counts_lines_as_the_compiler_does_across_form_feeds() -> None:
    # GNU-style sources separate sections with a form feed; str.splitlines would count it as a line break.
    text = (
        "int a;\n\f\n#ifdef GGML_DEBUG_TENSOR_COPY\nint dbg;\n#endif\nint b;\n"
        "#ifndef GGML_DEBUG_TENSOR_COPY\nint keep;\n#endif\nint c;\u2028d;\n"
    )
    new, _ = remove_ifdef(text)
    assert new == "int a;\n\f\nint b;\nint keep;\nint c;\u2028d;\n"


def test_remove_lines_and_manual() -> None:
    cmake = (
        "add_library(ggml a.c)\n# Add debug flag for tensor copy logging\n"
        "  target_compile_definitions(ggml PRIVATE X)\n"
    )
    edit = Edit(
        file="CMakeLists.txt",
        language="cmake",
        action="remove_lines",
        lines=["# Add debug flag for tensor copy logging", "target_compile_definitions(ggml PRIVATE X)"],
    )
    result = plan_edit(edit, cmake)
    assert result.new_text == "add_library(ggml a.c)\n"
    assert result.note == "removed 2 lines (lines 2, 3)"
    assert plan_edit(edit, result.new_text).note == "already applied: none of the lines is there"
    manual = Edit(file="x.cpp", action="manual", where="the scheduler", function="ggml_backend_tensor_copy")
    planned = plan_edit(manual, BACKEND)
    assert planned.new_text == BACKEND
    assert planned.note == "edit by hand in your editor: the scheduler"


def _step(tmp_path: Path) -> CodeChangeStep:
    return CodeChangeStep(
        kind="code_change",
        id="9.9",
        title="t",
        verify_present=["NEW_CALL"],
        verify_absent=["OLD_CALL"],
        edits=[
            Edit(
                file="{{repo}}/src/a.c",
                language="c",
                function="f",
                action="insert",
                insert="    NEW_CALL();\n",
                anchor=Anchor(after=r"start\(\);"),
            ),
            Edit(file="{{repo}}/src/missing.c", language="c", action="remove_ifdef", macro=MACRO),
        ],
    )


def test_plan_step_apply_and_verify_on_disk(tmp_path: Path) -> None:
    source = tmp_path / "src" / "a.c"
    source.parent.mkdir()
    source.write_text("void f(void) {\n    start();\n    OLD_CALL();\n}\n")
    source.chmod(0o640)
    step = _step(tmp_path)
    values = {"repo": str(tmp_path)}
    planned = plan_step(step, values, workdir=tmp_path)
    assert [p.path for p in planned] == [source, tmp_path / "src" / "missing.c"]
    good, missing = planned
    assert good.problems == () and good.changed
    assert "+    NEW_CALL();" in good.diff and good.diff.startswith("--- a/src/a.c\n+++ b/src/a.c\n")
    assert missing.problems == (f"{tmp_path / 'src' / 'missing.c'}: file not found",)
    with pytest.raises(EditError, match=r"missing\.c: file not found"):
        apply_planned(planned)
    assert "NEW_CALL" not in source.read_text()  # all or nothing

    assert apply_planned([good]) == [source]
    assert source.read_text() == "void f(void) {\n    start();\n    NEW_CALL();\n    OLD_CALL();\n}\n"
    assert stat.S_IMODE(source.stat().st_mode) == 0o640
    findings = verify_patterns(step, values, workdir=tmp_path)
    assert [(f.path, f.line, f.kind, f.text) for f in findings] == [(source, 4, "remaining", "OLD_CALL();")]


def test_apply_refuses_a_file_that_changed_since_it_was_planned(tmp_path: Path) -> None:
    source = tmp_path / "src" / "a.c"
    source.parent.mkdir()
    source.write_text("void f(void) {\n    start();\n}\n")
    planned = plan_step(_step(tmp_path), {"repo": str(tmp_path)})[:1]
    source.write_text("void f(void) {\n    start();\n    someone_else();\n}\n")
    with pytest.raises(EditError, match="changed since the edit was planned"):
        apply_planned(planned)
    assert "someone_else" in source.read_text()


def test_verify_reports_a_missing_pattern_for_each_file(tmp_path: Path) -> None:
    source = tmp_path / "src" / "a.c"
    source.parent.mkdir()
    source.write_text("void f(void) {\n}\n")
    findings = verify_patterns(_step(tmp_path), {"repo": str(tmp_path)})
    assert {(f.path.name, f.kind, f.pattern) for f in findings} == {
        ("a.c", "missing", "NEW_CALL"),
        ("missing.c", "missing", "NEW_CALL"),
    }
