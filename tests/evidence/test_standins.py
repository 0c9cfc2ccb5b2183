"""The stand-in llama-cli and llama-bench, run as real processes through the runbook's own commands, read back
by the evidence parsers."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from amxwizard.engine.evidence import backends, llama_bench, llama_cli, tensor_copy
from amxwizard.runbook.models import BenchmarkStep, TestStep

from .conftest import WORKING_FLAGS, Sandbox
from .real import IK, ik


def _test_step(sandbox: Sandbox, step_id: str) -> TestStep:
    step = sandbox.runbook.model.step(step_id)
    assert isinstance(step, TestStep)
    return step


def _judge(sandbox: Sandbox, step_id: str, **overrides: str) -> tuple[llama_cli.CliRun, str, int]:
    result, _ = sandbox.run_step(step_id, **overrides)
    log_name = {
        "test-1": "test_long_prompt.log",
        "test-2": "test_short_prompt.log",
        "test-3": "test_cpu_only.log",
        "test-4": "test_gpu_only.log",
        "test-5": "test_very_long_prompt.log",
    }[step_id]
    text = (sandbox.backup / log_name).read_text(encoding="utf-8")
    return llama_cli.parse(text), text, result.returncode


def test_long_prompt_without_a_fix_crashes_with_the_weight_copy_in_the_diagnostic_log(sandbox: Sandbox) -> None:
    sandbox.build(debug=True, fixes=[])
    result, _ = sandbox.run_step("1.5", **WORKING_FLAGS)
    assert result.returncode == 0  # the step ends with grep || true: its status says nothing about the crash
    text = (sandbox.backup / "diagnostic_run.log").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("[stand-in] llama-cli")
    run = llama_cli.parse(text)
    assert run.crashed and run.crash_kind == "assert" and run.flag_error is None
    report = tensor_copy.parse(text)
    first = report.first_weight
    assert first is not None and (first.name, first.src_buffer, first.dst_buffer, first.op) == (
        "blk.0.attn_q.weight",
        "AMX",
        "CUDA0",
        "NONE",  # the weight's own op, as the real logging prints it
    )
    assert len(report.activations) >= 2 and report.findings() == ["weight_copy"]
    assert {c.src_buffer for c in report.activations} == {"CUDA_Host"}
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach == "B" and suggestion.values["tensor"] == "blk.0.attn_q.weight"
    copies = (sandbox.backup / "tensor_copies.log").read_text(encoding="utf-8")
    assert tensor_copy.parse(copies).first_weight is not None  # the grep -A 10 extract reads the same


def test_test_1_crashes_by_sigabrt_without_a_fix(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-1", **WORKING_FLAGS)
    assert code == 134  # pipefail: llama-cli died of SIGABRT
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-1"), run, code, None, text)
    assert verdict.status == "failed" and verdict.findings == ["crash"]
    assert tensor_copy.parse(text).copies == ()  # no debug define, no debug output


def test_test_1_completes_with_a_fix(sandbox: Sandbox) -> None:
    sandbox.build(debug=True, fixes=["A"])
    run, text, code = _judge(sandbox, "test-1", **WORKING_FLAGS)
    assert code == 0 and not run.crashed
    assert run.tokens_generated == 1000 and run.token_unit == "tokens" and run.timing_style == "main"
    assert run.eval_tps is not None and 60.0 < run.eval_tps < 62.0
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-1"), run, code, None, text)
    assert verdict.status == "passed" and verdict.level == "pass", verdict.summary
    assert "hybrid as intended: 15/49 layers on the GPU" in verdict.summary
    report = tensor_copy.parse(text)
    assert report.copies and not report.weights  # activations still move; no weight does


@pytest.mark.parametrize(
    ("step_id", "mode", "offloaded"), [("test-2", "hybrid", 15), ("test-3", "cpu", 0), ("test-4", "gpu", 49)]
)
def test_regression_modes_work_without_a_fix(sandbox: Sandbox, step_id: str, mode: str, offloaded: int) -> None:
    run, text, code = _judge(sandbox, step_id, **WORKING_FLAGS)
    verdict = llama_cli.judge_test(_test_step(sandbox, step_id), run, code, None, text)
    assert verdict.status == "passed" and verdict.level == "pass", verdict.summary
    assert run.tokens_generated == 100
    use = backends.parse(text)
    assert (use.mode(), use.offloaded, use.layers) == (mode, offloaded, 49)
    assert bool(use.amx_buffers) == (mode != "gpu")  # the fork keeps the CPU layers' weights in its AMX buffer


def test_without_ngl_every_layer_is_offloaded_as_on_today_builds(sandbox: Sandbox) -> None:
    args = ["-m", str(sandbox.model), "-n", "10", "-p", "Test prompt for CPU-only"]
    env = {"AMXWIZARD_STANDIN_BUILD": str(sandbox.repo / "build" / "bin" / "build-info.json")}
    result = _standin("llama_cli", *args, env=env)
    assert result.returncode == 0
    assert backends.parse(result.stderr).mode() == "gpu"


def test_stress_prompt_is_long_enough_and_completes_with_a_fix(sandbox: Sandbox) -> None:
    sandbox.build(debug=False, fixes=["C"])
    run, text, code = _judge(sandbox, "test-5", **WORKING_FLAGS)
    step = _test_step(sandbox, "test-5")
    assert run.prompt_tokens is not None and step.min_prompt_tokens is not None
    assert run.prompt_tokens >= step.min_prompt_tokens
    assert llama_cli.judge_test(step, run, code, None, text).status == "passed"


def test_amx_flag_is_rejected_before_anything_loads(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-2", numactl="")
    assert code == 1 and "error: unknown argument: --amx" in text and "llama_model_loader" not in text
    assert "usage: llama-cli [options]" in text  # the usage follows, as on ik_llama.cpp
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-2"), run, code, None, text)
    assert verdict.findings == ["flag_rejected"] and "crash" not in verdict.findings


def test_bare_fa_swallows_the_next_flag(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-2", numactl="", amx_flag="")
    assert code == 1 and "error: invalid parameter for argument: -fa" in text
    assert run.flag == "-fa"
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-2"), run, code, None, text)
    assert verdict.findings == ["flag_rejected"] and "-fa on" in verdict.summary


def test_missing_model_fails_like_the_real_loader(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-3", **WORKING_FLAGS, model=str(sandbox.model) + ".missing")
    assert code == 1 and run.load_error is not None
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-3"), run, code, None, text)
    assert verdict.status == "failed" and "model could not be loaded" in verdict.summary


def _standin(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"amxwizard.rehearsal.{module}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_fa_with_a_value_and_no_amx() -> None:
    result = _standin("llama_cli", "--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[stand-in] llama-cli")
    real = ik("llama-cli_help.txt").splitlines()
    for name in ("-fa, --flash-attn", "-ngl,  --gpu-layers", "-t,    --threads", "-m,    --model", "-op,   --offload"):
        ours = next(line for line in lines if line.lstrip().startswith(name))
        theirs = next(line for line in real if line.lstrip().startswith(name))
        assert ours.split("  ")[:2] == theirs.split("  ")[:2], (ours, theirs)  # same names, same value notation
    assert "  -fa, --flash-attn (auto|on|off|0|1)" in lines
    assert not any("--amx" in line for line in lines)


def test_same_arguments_same_output(sandbox: Sandbox) -> None:
    sandbox.build(debug=True, fixes=["A"])
    args = ["-m", str(sandbox.model), "-n", "50", "-ngl", "15", "-fa", "on", "-p", "Test prompt"]
    env = {"AMXWIZARD_STANDIN_BUILD": str(sandbox.repo / "build" / "bin" / "build-info.json")}
    first, second = _standin("llama_cli", *args, env=env), _standin("llama_cli", *args, env=env)
    assert first.returncode == 0 and (first.stdout, first.stderr) == (second.stdout, second.stderr)


def _bench_step(sandbox: Sandbox, step_id: str) -> BenchmarkStep:
    step = sandbox.runbook.model.step(step_id)
    assert isinstance(step, BenchmarkStep)
    return step


def test_benchmarks_through_the_runbook_commands(sandbox: Sandbox) -> None:
    _, pp_out = sandbox.run_step("bench-pp", **WORKING_FLAGS)
    pp_rows = llama_bench.parse((sandbox.backup / "bench_prompt.log").read_text(encoding="utf-8"))
    assert [r.test for r in pp_rows] == ["pp512"] and 700 < pp_rows[0].avg_ts < 900
    assert pp_out.splitlines()[0].startswith("[stand-in] llama-bench")
    sandbox.run_step("bench-tg", **WORKING_FLAGS)
    rows = llama_bench.parse((sandbox.backup / "bench_generation.log").read_text(encoding="utf-8"))
    assert [r.test for r in rows] == ["pp512", "tg128"] and rows[1].ngl == 15
    assert 60.5 < rows[1].avg_ts < 62.0 and 0 < rows[1].stddev_ts < 1.0
    sandbox.run_step("bench-tg-before", **WORKING_FLAGS)
    before = llama_bench.parse((sandbox.backup / "bench_generation_before.log").read_text(encoding="utf-8"))
    assert [r.test for r in before] == ["tg128"]  # -p 0: a prompt batch would crash a build with the bug


def test_bench_rejects_amx(sandbox: Sandbox) -> None:
    result, _ = sandbox.run_step("bench-tg", numactl="")
    text = (sandbox.backup / "bench_generation.log").read_text(encoding="utf-8")
    assert result.returncode == 1 and "error: invalid parameter for argument: --amx" in text
    current = llama_bench.BenchMeasurement("r", "bench-tg", "t", ())
    verdict = llama_bench.judge(_bench_step(sandbox, "bench-tg"), current, [], reference_tps=61.24, log_text=text)
    assert verdict.findings == ["flag_rejected"]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "md"])
def test_bench_output_formats_parse_to_the_same_rows(sandbox: Sandbox, fmt: str) -> None:
    result = _standin(
        "llama_bench", "-m", str(sandbox.model), "-t", "64", "-ngl", "15", "-p", "512", "-n", "128", "-o", fmt
    )
    assert result.returncode == 0
    assert result.stderr.startswith("[stand-in] llama-bench")
    rows = llama_bench.parse(result.stdout)
    assert [r.test for r in rows] == ["pp512", "tg128"]
    assert rows[1].ngl == 15 and 60.5 < rows[1].avg_ts < 62.0
    assert rows[1].threads == (None if fmt == "md" else 64)  # a CUDA build's table has no threads column
    if fmt != "md":
        json_or_csv = result.stdout
        assert "avg_ts" in json_or_csv and "[stand-in]" not in json_or_csv  # machine output stays clean


def test_bench_missing_model_fails_like_the_real_one(sandbox: Sandbox) -> None:
    result = _standin("llama_bench", "-m", str(sandbox.model) + ".missing", "-p", "512", "-n", "0")
    assert result.returncode == 1
    assert "main: error: failed to load model" in result.stderr
    rows = llama_bench.parse(result.stdout + result.stderr)
    assert rows == [] and rows.trouble is not None and rows.trouble.load_error is not None


def _shape(line: str) -> str:
    """A line with its numbers, names and paths replaced, to compare how lines are built, not what they say. The
    stand-in is a fork with an AMX backend: its AMX buffer and system_info's AMX_INT8 are the fork's additions."""
    line = line.replace("AMX_INT8 = 1 | ", "")
    line = re.sub(r"\b[0-9a-f]{7,8}\b", "HASH", line)
    line = re.sub(r"\b(?:AMX|CPU|CUDA_Host|CUDA\d)\b", "BUF", line)
    line = re.sub(r"Device \d+: [^,]+,", "Device N: NAME,", line)
    line = re.sub(r"\d+(?:\.\d+)?", "#", line)
    return re.sub(r"\s+", " ", line).strip()


SHAPED = re.compile(
    r"buffer size =|offloaded \d+/\d+ layers|offloading \d+ repeating|Device \d+:|found \d+ CUDA devices"
    r"|using device|eval time =|total time =|n_ubatch|n_layer  |^system_info|^Log (?:start|end)$|^main: build"
)


def test_standin_output_has_the_shape_of_the_real_captures(sandbox: Sandbox) -> None:
    """Every line the parsers read, as the stand-in prints it, is built like a line of a real ik capture."""
    sandbox.build(debug=False, fixes=["B"])
    real = {_shape(line) for name in ("hybrid_fixed.log", "gpu_ngl99.log") for line in ik(name).splitlines()}
    real |= {_shape(line) for line in ik("bench_md.log").splitlines()}
    checked = 0
    for step_id in ("test-2", "test-4", "bench-tg"):
        _, output = sandbox.run_step(step_id, **WORKING_FLAGS)
        for line in output.splitlines():
            if SHAPED.search(line):
                checked += 1
                assert _shape(line) in real, line
        if step_id == "bench-tg":
            table = [line for line in output.splitlines() if line.startswith("|")]
            assert _shape(table[0]) in real and _shape(table[1]) in real  # same columns as ik's llama-bench
    assert checked >= 25
    assert (IK / "llama-bench_help.txt").is_file()
    help_text = _standin("llama_bench", "--help").stdout
    assert "  -fa, --flash-attn <0|1>             (default: 1)" in help_text
    assert "  -fa, --flash-attn <0|1>             (default: 1)" in ik("llama-bench_help.txt")
