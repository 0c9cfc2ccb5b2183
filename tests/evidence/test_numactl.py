"""numactl's own failures are reported as numactl's, never as "llama-cli exited with status 1"."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from amxwizard.engine.evidence import llama_bench, llama_cli, numactl
from amxwizard.runbook.models import BenchmarkStep, TestStep

from .conftest import Sandbox

# What numactl 2.x prints, through a pipe, for a node the machine does not have (see numactl_standin).
INVALID_NODE = """\
libnuma: Warning: node argument 3 is out of range
usage: numactl [--all | -a] [--balancing | -b]
               [--interleave= | -i <nodes>] [--weighted-interleave= | -w <nodes>]
<2,3> is invalid
"""


@pytest.mark.parametrize(
    ("text", "code", "kind", "says"),
    [
        ("bash: line 3: numactl: command not found\n", 127, "missing", "numactl is not installed on this machine"),
        ("sh: 1: numactl: not found\n", 127, "missing", "install it (e.g. apt install numactl)"),
        ("bash: /opt/bin/numactl: No such file or directory\n", 127, "missing", "numactl variable to empty"),
        (INVALID_NODE, 1, "invalid_nodes", "numactl refused the NUMA nodes <2,3> (node argument 3 is out of range)"),
        (
            "numactl: execution of `./build/bin/llama-cli': No such file or directory\n",
            127,
            "exec_failed",
            "numactl could not start the program",
        ),
        ("numactl: unrecognized option '--bogus'\nusage: numactl [--all | -a]\n", 1, "error", "numactl failed"),
        ("setting membind: Invalid argument\n", 1, "error", "setting membind: Invalid argument"),
    ],
)
def test_numactl_failures_are_told_apart(text: str, code: int, kind: str, says: str) -> None:
    failure = numactl.parse(text, code)
    assert failure is not None and failure.kind == kind
    assert says in failure.describe()


def test_numactl_words_in_a_run_that_started_are_not_a_failure() -> None:
    assert numactl.parse("libnuma: Warning: something odd\nLog start\nmain: build = 1 (abc)\n", 0) is None
    assert numactl.parse("error: unknown argument: --amx\nusage: llama-cli [options]\n", 1) is None
    assert numactl.parse("", 0) is None


def _launcher(folder: Path, name: str, module: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'#!/bin/sh\nexec {sys.executable} -m {module} "$@"\n')
    path.chmod(0o755)
    return path


def _step(sandbox: Sandbox, step_id: str) -> TestStep:
    step = sandbox.runbook.model.step(step_id)
    assert isinstance(step, TestStep)
    return step


def test_a_node_this_machine_lacks_fails_naming_numactl(sandbox: Sandbox, tmp_path: Path) -> None:
    tool = _launcher(tmp_path / "tools", "numactl", "amxwizard.rehearsal.numactl_standin")
    result, _ = sandbox.run_step(
        "test-2",
        env={"AMXWIZARD_STANDIN_NUMA_NODES": "0"},
        numactl=f"{tool} -N 2,3 -m 2,3",
        amx_flag="",
        fa_flag="-fa on",
    )
    assert result.returncode == 1
    text = (sandbox.backup / "test_short_prompt.log").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "libnuma: Warning: node argument 2 is out of range"
    assert text.splitlines()[-1] == "<2,3> is invalid"
    verdict = llama_cli.judge_test(_step(sandbox, "test-2"), llama_cli.parse(text), result.returncode, None, text)
    assert verdict.status == "failed" and verdict.findings == ["numactl_failed"]
    assert verdict.summary.startswith("numactl failed before llama-cli started: numactl refused the NUMA nodes <2,3>")
    assert "numactl -H" in verdict.summary and "llama-cli exited" not in verdict.summary
    assert verdict.evidence["numactl"]["kind"] == "invalid_nodes"


def test_the_runbook_nodes_exist_on_the_standin_machine(sandbox: Sandbox, tmp_path: Path) -> None:
    tool = _launcher(tmp_path / "tools", "numactl", "amxwizard.rehearsal.numactl_standin")
    result, _ = sandbox.run_step("test-2", numactl=f"{tool} -N 2,3 -m 2,3", amx_flag="", fa_flag="-fa on")
    assert result.returncode == 0  # nodes 0-3 by default: the rehearsal walks with the runbook's 2,3


def test_a_missing_numactl_fails_naming_numactl(sandbox: Sandbox, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with bash and tee, and no numactl
    bin_dir.mkdir()
    for program in ("bash", "tee"):
        found = shutil.which(program)
        assert found is not None
        os.symlink(found, bin_dir / program)
    result, _ = sandbox.run_step("test-2", env={"PATH": str(bin_dir)}, amx_flag="", fa_flag="-fa on")
    assert result.returncode == 127
    text = (sandbox.backup / "test_short_prompt.log").read_text(encoding="utf-8")
    assert "numactl: command not found" in text
    verdict = llama_cli.judge_test(_step(sandbox, "test-2"), llama_cli.parse(text), 127, None, text)
    assert verdict.findings == ["numactl_failed"] and "numactl is not installed on this machine" in verdict.summary
    assert "llama-cli exited" not in verdict.summary
    bench = sandbox.runbook.model.step("bench-tg")
    assert isinstance(bench, BenchmarkStep)
    current = llama_bench.BenchMeasurement("r", "bench-tg", "t", ())
    bench_verdict = llama_bench.judge(bench, current, [], log_text=text)
    assert bench_verdict.findings == ["numactl_failed"]
    assert bench_verdict.summary.startswith("numactl failed before llama-bench started: numactl is not installed")
