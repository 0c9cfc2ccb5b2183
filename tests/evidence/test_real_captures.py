"""The parsers and judges on the real captures (tests/fixtures/real): ik_llama.cpp with CUDA and no AMX backend,
and mainline llama.cpp with its AMX backend."""

from __future__ import annotations

import pytest

from amxwizard.engine.evidence import backends, criteria, llama_bench, llama_cli, tensor_copy
from amxwizard.engine.evidence.llama_bench import BenchMeasurement
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BenchmarkStep, TestStep
from amxwizard.runbook.templates import render_shell
from amxwizard.runbook.variables import resolve

from .conftest import SessionKit
from .real import CAPTURE_MACHINE, exit_code, ik, mainline, with_generated


def _test(runbook_file: RunbookFile, step_id: str) -> TestStep:
    step = runbook_file.model.step(step_id)
    assert isinstance(step, TestStep)
    return step


def _bench(runbook_file: RunbookFile, step_id: str) -> BenchmarkStep:
    step = runbook_file.model.step(step_id)
    assert isinstance(step, BenchmarkStep)
    return step


def _judge(runbook_file: RunbookFile, step_id: str, text: str) -> llama_cli.Verdict:
    return llama_cli.judge_test(_test(runbook_file, step_id), llama_cli.parse(text), exit_code(text), None, text)


# --- tokens: the dialect of the log decides ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "tokens"),
    [("hybrid_fixed.log", 100), ("gpu_ngl99.log", 100), ("cpu_fixed.log", 100), ("verylong_fixed.log", 500)],
)
def test_ik_counts_every_generated_token_in_its_eval_line(capture: str, tokens: int) -> None:
    run = llama_cli.parse(ik(capture))
    assert run.token_unit == "tokens" and run.eval_runs == tokens
    assert run.tokens_generated == tokens == run.n_predict  # not tokens + 1


def test_mainline_counts_runs_and_the_last_token_is_added() -> None:
    run = llama_cli.parse(mainline("hybrid_default_no_amx_buffer.log"))
    assert (run.token_unit, run.eval_runs, run.tokens_generated, run.n_predict) == ("runs", 99, 100, 100)


@pytest.mark.parametrize(
    ("step_id", "capture", "tokens"),
    [
        ("test-1", "hybrid_fixed.log", 1000),  # the capture ran -n 100; test 1 asks for 1000 (see with_generated)
        ("test-2", "hybrid_fixed.log", 100),
        ("test-4", "gpu_ngl99.log", 100),
        ("test-5", "verylong_fixed.log", 500),
    ],
)
def test_tests_pass_on_exactly_the_tokens_they_ask_for(
    runbook_file: RunbookFile, step_id: str, capture: str, tokens: int
) -> None:
    text = ik(capture)
    if tokens != llama_cli.parse(text).n_predict:
        text = with_generated(text, tokens)
    verdict = _judge(runbook_file, step_id, text)
    assert verdict.status == "passed" and verdict.level == "pass", verdict.summary
    assert verdict.evidence["tokens_generated"] == tokens == verdict.evidence["tokens_expected"]
    assert f"{tokens}/{tokens} tokens" in verdict.summary
    short = _judge(runbook_file, step_id, with_generated(text, tokens - 1))
    assert short.status == "failed" and f"generated {tokens - 1} of {tokens} tokens" in short.summary


# --- what each run used -----------------------------------------------------------------------------------------


def test_the_hybrid_log_is_judged_hybrid_15_of_25(runbook_file: RunbookFile) -> None:
    use = backends.parse(ik("hybrid_fixed.log"))
    assert (use.offloaded, use.layers, use.mode()) == (15, 25, "hybrid")
    assert [(b.name, b.kind, b.mib) for b in use.in_use("model")] == [("CPU", "model", 5.94), ("CUDA0", "model", 9.39)]
    assert {b.name for b in use.in_use("KV")} == {"CUDA_Host", "CUDA0"}
    assert [(d.device, d.name) for d in use.devices] == [("CUDA0", "NVIDIA H100 80GB HBM3")]
    assert use.amx_buffers == [] and use.amx_feature is False
    verdict = _judge(runbook_file, "test-2", ik("hybrid_fixed.log"))
    assert verdict.level == "pass" and "hybrid as intended: 15/25 layers on the GPU" in verdict.summary
    assert verdict.evidence["backends"]["mode"] == "hybrid" and verdict.evidence["mode_check"]["ok"] is True
    assert verdict.evidence["backends"]["gpu_model_buffers"] == ["CUDA0"]


def test_the_gpu_only_log_is_judged_all_gpu(runbook_file: RunbookFile) -> None:
    use = backends.parse(ik("gpu_ngl99.log"))
    assert (use.offloaded, use.layers, use.mode()) == (25, 25, "gpu")
    verdict = _judge(runbook_file, "test-4", ik("gpu_ngl99.log"))
    assert verdict.level == "pass" and "GPU-only as intended: 25/25 layers on the GPU" in verdict.summary


def test_the_cpu_only_capture_ran_every_layer_on_the_gpu_and_fails(runbook_file: RunbookFile) -> None:
    """The runbook's CPU-only command (no -ngl) offloaded all 25 layers on today's ik: that is not CPU-only."""
    verdict = _judge(runbook_file, "test-3", ik("cpu_fixed.log"))
    assert verdict.status == "failed" and "wrong_mode" in verdict.findings
    assert "not CPU-only: offloaded 25/25 layers to GPU" in verdict.summary and "-ngl 0" in verdict.summary
    assert verdict.evidence["tokens_generated"] == 100  # it did generate; it just was not the mode it claims


def test_the_runbook_cpu_test_now_asks_for_no_gpu_layers(runbook_file: RunbookFile) -> None:
    rb = runbook_file.model
    command = render_shell(_test(runbook_file, "test-3").command, resolve(rb, {}), rb.args_variables)
    assert "-ngl 0" in command


def test_a_cpu_log_with_no_layer_offloaded_is_judged_no_gpu(runbook_file: RunbookFile) -> None:
    # What ik prints for -ngl 0, put into the real CPU capture in place of its offload lines.
    real = ik("cpu_fixed.log")
    offload = (
        "llm_load_tensors: offloading 24 repeating layers to GPU\n"
        "llm_load_tensors: offloading non-repeating layers to GPU\n"
        "llm_load_tensors: offloaded 25/25 layers to GPU\n"
        "llm_load_tensors:        CPU buffer size =     0.15 MiB\n"
        "llm_load_tensors:      CUDA0 buffer size =    15.18 MiB\n"
    )
    assert offload in real
    text = real.replace(
        offload,
        "llm_load_tensors: offloaded 0/25 layers to GPU\nllm_load_tensors:        CPU buffer size =    15.33 MiB\n",
    )
    verdict = _judge(runbook_file, "test-3", text)
    assert verdict.level == "pass", verdict.summary
    assert "CPU-only as intended: 0/25 layers on the GPU, no weights on a GPU" in verdict.summary


def test_a_log_that_does_not_say_passes_only_with_a_warning(runbook_file: RunbookFile) -> None:
    verdict = _judge(runbook_file, "test-2", mainline("hybrid_default_no_amx_buffer.log"))
    assert verdict.status == "passed" and verdict.level == "warn"
    assert "cannot tell whether the run was hybrid" in verdict.summary
    assert verdict.evidence["mode_check"]["ok"] is None


def test_mainline_verbose_log_shows_the_amx_buffer_of_the_last_load() -> None:
    use = backends.parse(mainline("hybrid_nohost_amx_buffer_ok_verbose.log"))
    assert (use.offloaded, use.layers, use.mode()) == (15, 25, "hybrid")
    model = {b.name: b.mib for b in use.in_use("model")}
    assert model == {"AMX": 90.0, "CPU_Mapped": 88.0, "CUDA0": 126.36}  # not the 0.00 MiB of the fitting pass
    assert [b.name for b in use.amx_buffers] == ["AMX"] and use.amx_feature is True
    assert use.cpu_layers == range(0, 10)  # 14 repeating layers and the output layer went to the GPU


@pytest.mark.parametrize(
    ("capture", "flag"), [("hybrid_aswritten.log", "--amx"), ("hybrid_noamx_fa_novalue.log", "-fa")]
)
def test_real_flag_rejections(runbook_file: RunbookFile, capture: str, flag: str) -> None:
    verdict = _judge(runbook_file, "test-1", ik(capture))
    assert verdict.findings == ["flag_rejected"] and verdict.evidence["flag"] == flag
    assert "AMX is used when the build has it" not in verdict.summary


# --- AMX criteria ---------------------------------------------------------------------------------------------


def _amx_criteria(runbook_file: RunbookFile) -> list[str]:
    ids = [c.id for c in runbook_file.model.criteria if "amx" in c.requires]
    assert ids == ["long-prompts"]  # every criterion whose text names AMX+GPU hybrid mode
    assert all("AMX" in c.text for c in runbook_file.model.criteria if c.id in ids)
    return ids


def test_every_amx_criterion_is_not_applicable_on_ik(kit: SessionKit, runbook_file: RunbookFile) -> None:
    for step_id, text in (
        ("test-1", with_generated(ik("hybrid_fixed.log"), 1000)),
        ("test-5", ik("verylong_fixed.log")),
    ):
        kit.run(step_id, text, script="./build/bin/llama-cli ...")
        kit.finish(step_id, _judge(runbook_file, step_id, text))
    results = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)
    for cid in _amx_criteria(runbook_file):
        result = results[cid]
        assert result.status == "not_applicable", result
        assert result.evidence[0] == (
            "not applicable on this build — no AMX buffer in any run: this build has no AMX backend"
        )
        assert "· test-1: buffers CPU, CUDA0, CUDA_Host" in result.evidence


def test_an_amx_criterion_applies_when_an_amx_buffer_was_used(kit: SessionKit, runbook_file: RunbookFile) -> None:
    for step_id in ("test-1", "test-5"):
        kit.run(step_id, mainline("hybrid_nohost_amx_buffer_ok_verbose.log"), script="./build/bin/llama-completion")
        kit.passed(step_id)
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["long-prompts"]
    assert result.status == "met"
    assert result.evidence[0] == "✔ an AMX buffer was in use — test-1: AMX 90.00 MiB; test-5: AMX 90.00 MiB"


def test_an_amx_criterion_is_unknown_while_the_logs_do_not_say(kit: SessionKit, runbook_file: RunbookFile) -> None:
    for step_id in ("test-1", "test-5"):
        kit.run(step_id, mainline("hybrid_nohost_amx_buffer_ok.log"), script="./build/bin/llama-completion")
        kit.passed(step_id)
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["long-prompts"]
    assert result.status == "unknown"
    assert (
        "cannot tell whether AMX was used: the logs of test-1, test-5 do not list their buffers" in result.evidence[0]
    )


# --- the diagnostic log -----------------------------------------------------------------------------------------


def _diagnosis(text: str) -> tensor_copy.Diagnosis:
    return tensor_copy.diagnose(tensor_copy.parse(text), backends.parse(text), llama_cli.parse(text).prompt_tokens)


def test_the_ik_diagnostic_log_is_the_schedulers_designed_offload() -> None:
    diagnosis = _diagnosis(ik("diagnostic_run.log"))
    report = diagnosis.report
    assert (len(report.copies), len(report.weights), len(report.offloaded_weights)) == (744, 162, 162)
    assert report.bug_weights == [] and report.findings() == ["weight_offload"]
    assert {c.pair for c in report.weights} == {"CPU → CUDA0"} and {c.op for c in report.weights} == {"NONE"}
    assert diagnosis.weight_layers == list(range(9)) and diagnosis.cpu_layers == range(0, 9)
    assert diagnosis.cpu_layers_only is True
    assert diagnosis.batches == (2, 2) and report.copies_per_weight() == 2 and diagnosis.during_prompt is True
    summary = diagnosis.summary()
    assert "162 weight copies of layers 0–8 (the CPU layers), all out of host buffers (CPU → CUDA0 ×162)" in summary
    assert "during prompt batches: the scheduler's designed op offload" in summary and "no crash expected" in summary
    lines = diagnosis.lines()
    assert "out of non-host buffers (cannot be read back — the bug): 0" in lines
    assert any(
        line.startswith("Op: NONE for every weight — this logging prints the copied tensor's own op") for line in lines
    )
    assert any("696-token prompt ran in 2 micro-batches of up to 512 tokens" in line for line in lines)


def test_the_ik_diagnostic_suggests_no_approach_and_says_what_a_would_do() -> None:
    text = ik("diagnostic_run.log")
    report = tensor_copy.parse(text)
    suggestion = tensor_copy.suggest(report, _diagnosis(text))
    assert suggestion.approach is None and "approach" not in suggestion.values
    assert suggestion.values["src_buffer"] == "CPU" and suggestion.values["dst_buffer"] == "CUDA0"
    assert suggestion.values["op"] != "NONE" and "not the operation that uses it" in suggestion.values["op"]
    assert "abort of every long-prompt hybrid run and every llama-bench run" in suggestion.reason
    assert "no crash expected here" in suggestion.values["root_cause"]


def test_the_mainline_amx_to_cuda0_copy_is_the_bug(runbook_file: RunbookFile) -> None:
    text = mainline("hybrid_nohost_amx_guard_removed_diag_abort.log")
    report = tensor_copy.parse(text)
    assert [(c.name, c.src_buffer, c.dst_buffer, c.size) for c in report.bug_weights] == [
        ("blk.0.attn_q.weight", "AMX", "CUDA0", 589824)
    ]
    assert report.findings() == ["weight_copy"]
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach == "B" == suggestion.values["approach"]
    assert "host buffer" in suggestion.reason and "(as mainline llama.cpp does)" in suggestion.reason
    verdict = _judge(runbook_file, "test-1", text)
    assert verdict.status == "failed" and verdict.findings == ["crash", "weight_copy"]
    assert "weight copied out of a non-host buffer: blk.0.attn_q.weight AMX → CUDA0" in verdict.summary


def test_the_mainline_segfault_is_a_crash_by_its_exit_status(runbook_file: RunbookFile) -> None:
    text = mainline("hybrid_nohost_amx_guard_removed_segfault.log")
    assert exit_code(text) == 139
    verdict = _judge(runbook_file, "test-1", text)
    assert verdict.findings == ["crash"] and "SIGSEGV" in verdict.summary


@pytest.mark.parametrize(
    ("capture", "status", "line"),
    [
        (
            ik("diagnostic_run.log"),
            "met",
            "✔ test-1: 0 weight copies out of non-host buffers (counted: AMX and other non-host sources); 162 weight "
            "copies out of host buffers (CPU → CUDA0 ×162): the scheduler's designed op offload, reported, not counted",
        ),
        (
            mainline("hybrid_nohost_amx_guard_removed_diag_abort.log"),
            "unmet",
            "✘ test-1: 1 weight copy out of non-host buffers (the bug)",
        ),
    ],
)
def test_the_no_weight_copies_criterion_counts_only_the_bug(
    kit: SessionKit, runbook_file: RunbookFile, capture: str, status: str, line: str
) -> None:
    steps = next(c.steps for c in runbook_file.model.criteria if c.check == "no_weight_copies")
    for step_id in steps:
        kit.run(step_id, capture, script="./build/bin/llama-cli ...")
        kit.passed(step_id)
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["no-weight-copies"]
    assert result.status == status
    assert result.evidence[0] == line
    if status == "unmet":
        assert "✘ test-1: weight copied: blk.0.attn_q.weight AMX → CUDA0 at line 17" in result.evidence


# --- benchmarks -------------------------------------------------------------------------------------------------


def _measurement(step: str, text: str, started: str = "2026-01-05T10:00:00Z") -> BenchMeasurement:
    rows = llama_bench.parse(text)
    args = ("-m", "/root/models/tiny24.gguf", "-ngl", "15", "-p", "512", "-n", "128")
    fingerprint = {
        "model": {"path": "/root/models/tiny24.gguf", "size": 16073216, "mtime": 1.0, "sha256": None},
        "machine": CAPTURE_MACHINE,
    }
    return BenchMeasurement(f"{step}-run", step, started, tuple(rows), args, fingerprint, None, rows.trouble)


@pytest.mark.parametrize("tg", [None, 1201.0])
def test_the_runbook_reference_is_not_comparable_on_another_model_and_machine(
    runbook_file: RunbookFile, tg: float | None
) -> None:
    current = _measurement("bench-tg", ik("bench_md.log"))
    if tg is not None:  # the figure the issue quotes
        current = BenchMeasurement(
            current.run_id,
            current.step,
            current.started,
            (llama_bench.BenchRow("tg128", tg, 9.0),),
            current.args,
            current.fingerprint,
        )
    verdict = llama_bench.judge(_bench(runbook_file, "bench-tg"), current, [], reference_tps=61.24)
    assert verdict.status == "passed" and verdict.level == "warn"  # measured; nothing to judge it against
    assert "not comparable: measured on tiny24.gguf on Intel(R) Xeon(R) Processor; NUMA node 0" in verdict.summary
    assert "the reference (61.24 t/s) is for Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf on the runbook author's" in (
        verdict.summary
    )
    assert "re-run" not in verdict.summary and "%" not in verdict.summary
    assert verdict.evidence["comparison"] is None and verdict.evidence["reference"]["comparable"] is False


def test_real_benchmarks_with_wide_noise_are_inconclusive_and_do_not_pass(runbook_file: RunbookFile) -> None:
    before = _measurement("bench-pp-before", ik("bench_md.log"), "2026-01-05T09:00:00Z")
    after = _measurement("bench-pp", ik("bench_json.log"), "2026-01-05T11:00:00Z")
    edits = [{"path": "ggml/src/ggml-backend.cpp", "ts": "2026-01-05T10:00:00Z"}]
    verdict = llama_bench.judge(_bench(runbook_file, "bench-pp"), after, [before], edits=edits)
    assert verdict.status == "failed" and verdict.findings == []
    assert "67426.59 ± 24326.16 t/s, before the fix (bench-pp-before" in verdict.summary
    assert "inconclusive" in verdict.summary and "run with more repetitions (-r)" in verdict.summary
    assert verdict.evidence["comparison"]["verdict"] == "inconclusive"
