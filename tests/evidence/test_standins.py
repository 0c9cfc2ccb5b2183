"""The stand-in llama-cli and llama-bench, run as real processes through the runbook's own commands, read back
by the evidence parsers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from amxwizard.engine.evidence import llama_bench, llama_cli, tensor_copy
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BenchmarkStep, ShellStep, TestStep
from amxwizard.runbook.templates import render_shell
from amxwizard.runbook.variables import resolve

LAUNCHER = """#!/bin/sh
AMXWIZARD_STANDIN_BUILD="$(dirname "$0")/build-info.json" exec {python} -m amxwizard.rehearsal.{module} "$@"
"""
WORKING_FLAGS = {"numactl": "", "amx_flag": "", "fa_flag": "-fa on"}


@dataclass
class Sandbox:
    repo: Path
    model: Path
    backup: Path
    runbook: RunbookFile

    def build(self, *, debug: bool, fixes: list[str]) -> None:
        info = {"standin": True, "debug_tensor_copy": debug, "fixes": fixes, "built_at": "2025-10-06T14:45:00"}
        (self.repo / "build" / "bin" / "build-info.json").write_text(json.dumps(info))

    def run_step(self, step_id: str, **overrides: str) -> tuple[subprocess.CompletedProcess[str], str]:
        """Run the step's command as the runner does (bash -o pipefail, in the repo, BACKUP_DIR exported)."""
        rb = self.runbook.model
        step = rb.step(step_id)
        # Step 1.5's helper script goes next to the backup folder, not to the seed's fixed /tmp path.
        values = resolve(
            rb,
            {
                "repo": str(self.repo),
                "model": str(self.model),
                "diag_script": str(self.backup.parent / "diag_test.sh"),
                **overrides,
            },
            {"session_dir": str(self.repo.parent), "session_id": "test"},
        )
        if isinstance(step, TestStep | BenchmarkStep):
            commands = [step.command]
        else:
            assert isinstance(step, ShellStep)
            commands = step.commands
        script = "\n".join(render_shell(c, values, rb.args_variables) for c in commands)
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", script],
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "BACKUP_DIR": str(self.backup)},
        )
        return result, result.stdout + result.stderr


@pytest.fixture
def sandbox(tmp_path: Path, runbook_file: RunbookFile) -> Sandbox:
    repo = tmp_path / "repo"
    bin_dir = repo / "build" / "bin"
    bin_dir.mkdir(parents=True)
    for program, module in (("llama-cli", "llama_cli"), ("llama-bench", "llama_bench")):
        launcher = bin_dir / program
        launcher.write_text(LAUNCHER.format(python=sys.executable, module=module))
        launcher.chmod(0o755)
    model = tmp_path / "models" / "Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf"
    model.parent.mkdir()
    model.write_bytes(b"GGUF stand-in model, never read")
    backup = tmp_path / "backup"
    backup.mkdir()
    box = Sandbox(repo, model, backup, runbook_file)
    box.build(debug=False, fixes=[])
    return box


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
        "MUL_MAT",
    )
    assert len(report.activations) >= 2 and report.findings() == ["weight_copy"]
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach == "A" and suggestion.values["tensor"] == "blk.0.attn_q.weight"
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
    assert run.tokens_generated == 1000 and run.timing_style == "llama_perf_context_print"
    assert run.eval_tps is not None and 60.0 < run.eval_tps < 62.0
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-1"), run, code, None, text)
    assert verdict.status == "passed", verdict.summary
    report = tensor_copy.parse(text)
    assert report.copies and not report.weights  # activations still move; no weight does


@pytest.mark.parametrize("step_id", ["test-2", "test-3", "test-4"])
def test_regression_modes_work_without_a_fix(sandbox: Sandbox, step_id: str) -> None:
    run, text, code = _judge(sandbox, step_id, **WORKING_FLAGS)
    verdict = llama_cli.judge_test(_test_step(sandbox, step_id), run, code, None, text)
    assert verdict.status == "passed", verdict.summary
    assert run.tokens_generated == 100


def test_stress_prompt_is_long_enough_and_completes_with_a_fix(sandbox: Sandbox) -> None:
    sandbox.build(debug=False, fixes=["C"])
    run, text, code = _judge(sandbox, "test-5", **WORKING_FLAGS)
    step = _test_step(sandbox, "test-5")
    assert run.prompt_tokens is not None and step.min_prompt_tokens is not None
    assert run.prompt_tokens >= step.min_prompt_tokens
    assert llama_cli.judge_test(step, run, code, None, text).status == "passed"


def test_amx_flag_is_rejected_before_anything_loads(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-2", numactl="")
    assert code == 1 and "error: invalid argument: --amx" in text and "llama_model_loader" not in text
    verdict = llama_cli.judge_test(_test_step(sandbox, "test-2"), run, code, None, text)
    assert verdict.findings == ["flag_rejected"] and "crash" not in verdict.findings


def test_bare_fa_swallows_the_next_flag(sandbox: Sandbox) -> None:
    run, text, code = _judge(sandbox, "test-2", numactl="", amx_flag="")
    assert code == 1 and "unknown value for --flash-attn: '-p'" in text
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
    fa = next(line for line in lines if line.startswith("-fa,"))
    assert fa.startswith("-fa,   --flash-attn [on|off|auto]") and fa.index("set Flash Attention") == 40
    assert not any("--amx" in line for line in lines)
    assert any(line.startswith("-ngl,  --gpu-layers, --n-gpu-layers N") for line in lines)


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
    assert [r.test for r in rows] == ["pp512", "tg128"] and rows[1].ngl == 15 and rows[1].threads == 64
    assert 60.5 < rows[1].avg_ts < 62.0 and 0 < rows[1].stddev_ts < 1.0
    verdict = llama_bench.judge_benchmark(_bench_step(sandbox, "bench-tg"), rows, 61.24, pp_rows)
    assert verdict.status == "passed" and verdict.level == "pass", verdict.summary
    pp_verdict = llama_bench.judge_benchmark(_bench_step(sandbox, "bench-pp"), pp_rows, None, rows)
    assert pp_verdict.level == "pass" and "earliest earlier run" in pp_verdict.summary


def test_bench_rejects_amx(sandbox: Sandbox) -> None:
    result, _ = sandbox.run_step("bench-tg", numactl="")
    text = (sandbox.backup / "bench_generation.log").read_text(encoding="utf-8")
    assert result.returncode == 1 and "error: invalid parameter for argument: --amx" in text
    verdict = llama_bench.judge_benchmark(_bench_step(sandbox, "bench-tg"), llama_bench.parse(text), 61.24, [])
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
    assert rows[1].ngl == 15 and rows[1].threads == 64 and 60.5 < rows[1].avg_ts < 62.0
    if fmt != "md":
        json_or_csv = result.stdout
        assert "avg_ts" in json_or_csv and "[stand-in]" not in json_or_csv  # machine output stays clean


def test_bench_missing_model_fails_like_the_real_one(sandbox: Sandbox) -> None:
    result = _standin("llama_bench", "-m", str(sandbox.model) + ".missing", "-p", "512", "-n", "0")
    assert result.returncode == 1
    assert "main: error: failed to load model" in result.stderr
    rows = llama_bench.parse(result.stdout + result.stderr)
    assert rows == [] and rows.trouble is not None and rows.trouble.load_error is not None
