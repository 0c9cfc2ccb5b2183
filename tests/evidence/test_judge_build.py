"""A build judged from its log: compiler errors located, a failed build is build_failed."""

from __future__ import annotations

from amxwizard.engine.evidence.judge import build_errors, judge_build

from .conftest import read_fixture


def test_compiler_errors_fail_the_build_and_are_located() -> None:
    verdict = judge_build(read_fixture("build_failed.txt"), 2)
    assert verdict.status == "failed" and verdict.findings == ["build_failed"]
    first = verdict.evidence["errors"][0]
    assert (first["file"].endswith("ggml/src/ggml-backend.cpp"), first["file_line"], first["line"]) == (True, 371, 9)
    assert first["message"] == "expected ‘;’ before ‘}’ token"
    assert verdict.evidence["warnings"] == 1
    assert "ggml-backend.cpp:371: expected ‘;’ before ‘}’ token (log line 9)" in verdict.summary
    messages = [e.message for e in build_errors(read_fixture("build_failed.txt"))]
    assert messages[1] == "expected declaration before ‘}’ token"
    assert messages[2].startswith("ls: cannot access 'build/bin/llama-cli'")


def test_errors_fail_the_build_even_when_the_exit_status_is_zero() -> None:
    assert judge_build(read_fixture("build_failed.txt"), 0).status == "failed"


def test_clean_build_passes_with_its_warnings_counted() -> None:
    verdict = judge_build(read_fixture("build_ok.txt"), 0)
    assert verdict.status == "passed" and verdict.findings == []
    assert "Linking CXX executable bin/llama-bench" in verdict.summary and "1 warning" in verdict.summary


def test_failure_without_an_error_line_uses_the_exit_status() -> None:
    verdict = judge_build("[1/2] Building CXX object a.o\nninja: build stopped: subcommand failed.\n", 1)
    assert verdict.status == "failed" and verdict.findings == ["build_failed"]
    assert "exit status 1" in verdict.summary and "ninja: build stopped" in verdict.summary


def test_nvcc_and_linker_errors() -> None:
    text = (
        'ggml/src/ggml-cuda.cu(640): error: identifier "ggml_backend_buffer_is_host" is undefined\n'
        "/usr/bin/ld: ggml-backend.cpp.o: undefined reference to `ggml_tensor_is_weight'\n"
        "collect2: error: ld returned 1 exit status\n"
    )
    errors = build_errors(text)
    assert (errors[0].file, errors[0].file_line) == ("ggml/src/ggml-cuda.cu", 640)
    assert [e.line for e in errors] == [1, 2, 3]
