"""source.locate_function / check_balance on C, C++ and CUDA shaped like ik_llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amxwizard.engine.source import check_balance, locate_all, locate_function, scan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "source"
BACKEND = (FIXTURES / "backend_copy.cpp").read_text()
CUDA = (FIXTURES / "cuda_cpy.cu").read_text()


def line_of(text: str, needle: str) -> int:
    """Line of the last occurrence (the fixtures mention names in comments first, on purpose)."""
    return text[: text.rindex(needle)].count("\n") + 1


def test_finds_the_definition_not_the_comment_string_declaration_macro_or_call() -> None:
    span = locate_function(BACKEND, "ggml_backend_tensor_copy")
    assert span is not None
    signature = "void ggml_backend_tensor_copy(struct ggml_tensor * src, struct ggml_tensor * dst) {"
    assert span.start_line == line_of(BACKEND, signature)
    assert span.signature == signature[:-2]
    # the body is the function's own braces: from its "{" to the "}" closing it
    assert BACKEND[span.body_start] == "{"
    assert BACKEND[span.body_end - 1] == "}"
    body = BACKEND[span.body_start : span.body_end]
    assert "free(data);" in body
    assert "ggml_backend_tensor_copy_async" not in body
    assert span.end_line == line_of(BACKEND, "void ggml_backend_tensor_copy_async") - 2
    assert len(locate_all(BACKEND, "ggml_backend_tensor_copy")) == 1


def test_a_declaration_alone_is_not_a_definition() -> None:
    assert locate_function(BACKEND, "ggml_backend_register") is None
    assert locate_function(BACKEND, "COPY_MACRO") is None
    assert locate_function("int f(int);\nint g(void) { return f(1); }\n", "f") is None


def test_ggml_call_static_prefix_multiline_parameters_and_brace_on_its_own_line() -> None:
    span = locate_function(BACKEND, "ggml_backend_cpu_buffer_cpy_tensor")
    assert span is not None
    assert span.start_line == line_of(BACKEND, "GGML_CALL static bool\n")
    assert span.signature.startswith("GGML_CALL static bool ggml_backend_cpu_buffer_cpy_tensor(")
    # the #ifdef/#else branches each open a brace; only one of them counts
    assert BACKEND[span.body_end - 1] == "}"
    assert "GGML_UNUSED(buffer);" in BACKEND[span.body_start : span.body_end]
    assert span.end_line == line_of(BACKEND, "namespace detail") - 2


def test_the_real_cuda_cpy_tensor_shape() -> None:
    span = locate_function(CUDA, "ggml_backend_cuda_buffer_cpy_tensor")
    assert span is not None
    assert span.signature.startswith("GGML_CALL static bool ggml_backend_cuda_buffer_cpy_tensor(")
    assert span.start_line == line_of(CUDA, "GGML_CALL static bool ggml_backend_cuda_buffer_cpy_tensor")
    assert span.end_line == line_of(CUDA, "static ggml_backend_buffer_i ggml_backend_cuda_buffer_interface") - 2
    kernel = locate_function(CUDA, "k_fill")
    assert kernel is not None and kernel.signature.startswith("static __global__ void k_fill(")


def test_templates_namespaces_members_and_trailing_qualifiers() -> None:
    clamp = locate_function(BACKEND, "clamp_value")
    assert clamp is not None and clamp.signature.startswith("template <typename T>")
    member = locate_function(BACKEND, "count_copies")
    assert member is not None and member.signature.endswith(") const")


def test_extern_c_block_and_qualified_names() -> None:
    text = 'extern "C" {\nvoid exported(int x)\n{\n    (void) x;\n}\n}\n\nvoid Backend::run(int n) noexcept {\n}\n'
    exported = locate_function(text, "exported")
    assert exported is not None and (exported.start_line, exported.end_line) == (2, 5)
    run = locate_function(text, "run")
    assert run is not None and run.start_line == 8


def test_strings_chars_raw_strings_and_comments_cannot_unbalance_braces() -> None:
    text = (
        'static const char * a = "}}}";\n'
        "static const char b = '}';\n"
        'static const char * c = R"x(})x";\n'
        "/* } */\n"
        "// }\n"
        "int target(void) {\n"
        "    return 1'000;\n"
        "}\n"
    )
    span = locate_function(text, "target")
    assert span is not None and (span.start_line, span.end_line) == (6, 8)
    assert check_balance(text) is None


def test_dead_if_0_code_is_not_a_definition() -> None:
    text = "#if 0\nvoid ghost(void) {\n}\n#endif\nvoid alive(void) {\n}\n"
    assert locate_function(text, "ghost") is None
    assert locate_function(text, "alive") is not None


def test_a_definition_only_in_an_else_branch_is_still_found() -> None:
    text = "#ifdef FAST\nvoid pick(void) {\n    fast();\n}\n#else\nvoid pick(void) {\n    slow();\n}\n#endif\n"
    spans = locate_all(text, "pick")
    assert [s.start_line for s in spans] == [2]
    assert locate_function("#ifdef X\n#else\nvoid only_else(void) {\n}\n#endif\n", "only_else") is not None


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("void f(void) {\n    if (x) {\n        g();\n}\n", 4, 2, "expected '}' at end of input"),
        ("void f(void) {\n}\n}\n", 3, 1, "expected declaration before '}' token"),
        ("void f(void) {\n    g(1, (2);\n}\n", 3, 1, "expected ')' before '}' token"),
    ],
)
def test_check_balance_reports_like_a_compiler(text: str, line: int, column: int, message: str) -> None:
    problem = check_balance(text)
    assert problem is not None
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith(message)


def test_the_fixtures_are_balanced() -> None:
    assert check_balance(BACKEND) is None
    assert check_balance(CUDA) is None


def test_directives_are_read_with_continuations_and_comments_removed() -> None:
    src = scan("#include <a.h>\n#  ifdef  GGML_DEBUG_TENSOR_COPY // why\n#define X(a, b) \\\n    a + b\nint x;\n")
    assert [(d.line, d.keyword, d.argument) for d in src.directives] == [
        (1, "include", "<a.h>"),
        (2, "ifdef", "GGML_DEBUG_TENSOR_COPY"),
        (3, "define", "X(a, b) a + b"),
    ]


@given(st.text(alphabet=st.sampled_from(list("ab{}()\"'/*\\#\n R<>x0 "))))
def test_masking_never_moves_a_character(text: str) -> None:
    src = scan(text)
    assert len(src.masked) == len(text)
    assert [i for i, c in enumerate(src.masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]
    assert len(src.brace_masked) == len(text)
