"""llama-cli logs: crash or not, rejected flags, tokens and speed; and a test step's verdict."""

from __future__ import annotations

import json

import pytest

from amxwizard.engine.evidence import llama_cli
from amxwizard.engine.evidence._text import log_lines
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import TestStep

from .conftest import read_fixture


def _step(runbook_file: RunbookFile, step_id: str) -> TestStep:
    step = runbook_file.model.step(step_id)
    assert isinstance(step, TestStep)
    return step


def test_assert_and_abort_is_a_crash_located_on_the_assert() -> None:
    text = read_fixture("diag_weight_copy.txt")
    run = llama_cli.parse(text)
    assert run.crashed and run.crash_kind == "assert"
    assert run.crash_line is not None
    assert "GGML_ASSERT(" in log_lines(text)[run.crash_line.line - 1]
    assert run.flag_error is None and run.tokens_generated is None and run.n_predict == 100


def test_segfault_reported_by_the_shell_is_a_crash() -> None:
    run = llama_cli.parse(read_fixture("cli_segfault.txt"))
    assert run.crashed and run.crash_kind == "segfault" and run.crash_line is not None
    assert run.crash_line.line == 7


def test_cuda_error_is_the_cause_not_the_segfault_after_it() -> None:
    run = llama_cli.parse(read_fixture("cli_cuda_segfault.txt"))
    assert run.crash_kind == "cuda_error"
    assert run.crash_line is not None and run.crash_line.text.startswith("CUDA error: an illegal memory access")


@pytest.mark.parametrize(("name", "flag"), [("cli_flag_rejected.txt", "--amx"), ("cli_fa_value_rejected.txt", "-fa")])
def test_rejected_flag_is_not_a_crash(name: str, flag: str) -> None:
    run = llama_cli.parse(read_fixture(name))
    assert run.flag_error is not None and run.flag == flag
    assert not run.crashed


@pytest.mark.parametrize("line", ["error: unknown argument: --amx", "error: invalid parameter for argument: --amx"])
def test_older_spellings_of_a_rejected_flag(line: str) -> None:
    run = llama_cli.parse(f"main: build = 1\n{line}\n")
    assert run.flag == "--amx" and run.flag_error is not None and run.flag_error.line == 2


def test_clean_run_old_timing_style() -> None:
    run = llama_cli.parse(read_fixture("cli_clean_old_timings.txt"))
    assert not run.crashed and run.flag_error is None
    assert run.timing_style == "llama_print_timings"
    assert (run.tokens_generated, run.eval_runs, run.prompt_tokens) == (1000, 999, 152)
    assert run.eval_tps == pytest.approx(61.22) and run.eval_ms_per_token == pytest.approx(16.33)
    assert run.prompt_tps == pytest.approx(808.72) and run.prompt_ms_per_token == pytest.approx(1.24)


def test_clean_run_new_timing_style() -> None:
    run = llama_cli.parse(read_fixture("cli_clean_new_timings.txt"))
    assert run.timing_style == "llama_perf_context_print"
    assert (run.tokens_generated, run.prompt_tokens, run.n_predict) == (500, 621, 500)
    assert run.eval_tps == pytest.approx(61.19) and run.prompt_tps == pytest.approx(795.07)


def test_common_perf_print_style_and_nan_rates() -> None:
    text = (
        "common_perf_print: prompt eval time =     120.15 ms /    10 tokens (   12.02 ms per token,    83.23 "
        "tokens per second)\n"
        "common_perf_print:        eval time =       0.00 ms /     0 runs   (     nan ms per token,      nan "
        "tokens per second)\n"
    )
    run = llama_cli.parse(text)
    assert run.timing_style == "common_perf_print"
    assert run.prompt_tokens == 10 and run.eval_runs == 0 and run.tokens_generated == 1 and run.eval_tps is None


def test_test_step_passes_on_tokens_and_speed(runbook_file: RunbookFile) -> None:
    text = read_fixture("cli_clean_old_timings.txt")
    verdict = llama_cli.judge_test(_step(runbook_file, "test-1"), llama_cli.parse(text), 0, None, text)
    assert verdict.status == "passed" and verdict.level == "pass" and verdict.findings == []
    assert "1000/1000 tokens" in verdict.summary and "61.22 t/s" in verdict.summary
    assert json.loads(json.dumps(verdict.evidence)) == verdict.evidence
    assert verdict.evidence["tokens_generated"] == 1000 and verdict.evidence["findings"] == []


def test_fewer_tokens_than_asked_fails(runbook_file: RunbookFile) -> None:
    text = read_fixture("cli_clean_old_timings.txt").replace("/   999 runs", "/   411 runs")
    verdict = llama_cli.judge_test(_step(runbook_file, "test-1"), llama_cli.parse(text), 0, None, text)
    assert verdict.status == "failed"
    assert "generated 412 of 1000 tokens" in verdict.summary


def test_crash_fails_with_the_crash_finding_even_when_the_pipeline_exit_is_zero(runbook_file: RunbookFile) -> None:
    text = read_fixture("diag_weight_copy.txt")
    verdict = llama_cli.judge_test(_step(runbook_file, "test-1"), llama_cli.parse(text), 0, None, text)
    assert verdict.status == "failed"
    assert verdict.findings == ["crash", "weight_copy"]
    assert "GGML_ASSERT" in verdict.summary and "blk.0.attn_q.weight" in verdict.summary


def test_abort_status_alone_is_a_crash(runbook_file: RunbookFile) -> None:
    verdict = llama_cli.judge_test(_step(runbook_file, "test-2"), llama_cli.parse(""), 134, None, "")
    assert verdict.status == "failed" and verdict.findings == ["crash"]
    assert "SIGABRT" in verdict.summary and verdict.evidence["crash_kind"] == "abort"


def test_flag_rejection_is_flag_rejected_not_crash(runbook_file: RunbookFile) -> None:
    text = read_fixture("cli_flag_rejected.txt")
    verdict = llama_cli.judge_test(_step(runbook_file, "test-1"), llama_cli.parse(text), 1, None, text)
    assert verdict.status == "failed" and verdict.findings == ["flag_rejected"]
    assert "not a crash" in verdict.summary and "amx_flag" in verdict.summary


def test_missing_timing_lines_fail(runbook_file: RunbookFile) -> None:
    text = "generate: n_ctx = 4096, n_batch = 2048, n_predict = 100, n_keep = 1\n\nTest and some text\n"
    verdict = llama_cli.judge_test(_step(runbook_file, "test-2"), llama_cli.parse(text), 0, None, text)
    assert verdict.status == "failed" and "no timing lines" in verdict.summary


def test_stress_test_needs_its_long_prompt(runbook_file: RunbookFile) -> None:
    step = _step(runbook_file, "test-5")
    text = read_fixture("cli_clean_new_timings.txt")
    assert llama_cli.judge_test(step, llama_cli.parse(text), 0, None, text).status == "passed"
    short = text.replace("/   621 tokens", "/   152 tokens")
    verdict = llama_cli.judge_test(step, llama_cli.parse(short), 0, None, short)
    assert verdict.status == "failed" and "only 152 tokens" in verdict.summary


def test_model_that_does_not_load_is_named(runbook_file: RunbookFile) -> None:
    text = (
        "gguf_init_from_file: failed to open GGUF file '/nope.gguf' (No such file or directory)\n"
        "main: error: unable to load model\n"
    )
    verdict = llama_cli.judge_test(_step(runbook_file, "test-2"), llama_cli.parse(text), 1, None, text)
    assert verdict.status == "failed" and "model could not be loaded" in verdict.summary and verdict.findings == []
