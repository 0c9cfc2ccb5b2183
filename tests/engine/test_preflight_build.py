"""Preflight and the build folder: configured or not, with which options, and a configure step that follows the
machine — run for real through ``amxwizard step 1.0`` with the rehearsal's stand-in cmake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.engine.preflight import Check, check_variable, run_preflight
from amxwizard.engine.preflight.build import CudaMachine, cuda_machine, read_cmake_cache, suggested_options
from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox
from amxwizard.runbook import RunbookFile, load_text
from amxwizard.runbook.models import ShellStep
from amxwizard.runbook.variables import resolve
from tests.cli_session import accept_setup

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
NO_CUDA = CudaMachine(None, (), "no nvidia-smi on PATH (test)")
CUDA = CudaMachine(Path("/opt/cuda/bin/nvcc"), ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)",), "1 NVIDIA GPU (H100)")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return build_sandbox(tmp_path / "rehearsal")


def _checks(runbook: RunbookFile, sandbox: Sandbox, machine: CudaMachine, **extra: str) -> dict[str, Check]:
    values = resolve(runbook.model, {**sandbox.overrides, **extra})
    return {c.name: c for c in run_preflight(runbook, values, machine=machine)}


def test_the_runbook_configures_before_it_builds(runbook_file: RunbookFile) -> None:
    steps = [step.id for _, step in runbook_file.model.iter_steps()]
    configure = runbook_file.model.step("1.0")
    assert isinstance(configure, ShellStep) and not configure.destructive
    assert steps.index("1.0") < steps.index("1.4") < steps.index("5.2")
    assert "{{cmake}} -S . -B build {{cmake_options}}" in configure.commands[0]
    assert runbook_file.model.variables["cmake_options"].type == "args"


def test_an_unconfigured_build_is_reported_as_such(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    (sandbox.repo / "build" / "CMakeCache.txt").unlink()
    (sandbox.repo / "build" / "bin" / "llama-cli").unlink()
    checks = _checks(runbook_file, sandbox, NO_CUDA)
    assert checks["build build/"] == Check(
        "build build/",
        "warn",
        "not configured (CMakeCache.txt is missing): step 1.0 configures it before the builds (steps 1.4, 5.2)",
    )
    assert checks["tool build/bin/llama-cli"].finding == (
        "not built yet, and build/ is not configured: step 1.0 configures it, steps 1.4, 5.2 build it "
        "(steps 1.5, test-1, test-2, test-3, test-4, test-5, 5.2 run it)"
    )
    # a machine without CUDA: the configure step's options must not ask for it
    options = checks["variable cmake_options"]
    assert options.status == "warn"
    assert options.fixes == {"cmake_options": ""}
    assert options.finding.endswith("set cmake_options= for step 1.0")
    with_cuda = _checks(runbook_file, sandbox, CUDA)["variable cmake_options"]
    assert with_cuda.status == "ok" and with_cuda.finding.startswith("-DGGML_CUDA=ON fits this machine (nvcc at")
    asked = _checks(runbook_file, sandbox, CUDA, cmake_options="-DGGML_NATIVE=ON")["variable cmake_options"]
    assert asked.fixes == {"cmake_options": "-DGGML_CUDA=ON -DGGML_NATIVE=ON"}


def test_without_a_configure_step_an_unconfigured_build_fails(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    text = runbook_file.text
    start = text.index('      - id: "1.0"\n')
    runbook = load_text(text[:start] + text[text.index('      - id: "1.1"\n') :], filename="runbook.yaml")
    (sandbox.repo / "build" / "CMakeCache.txt").unlink()
    values = resolve(runbook.model, sandbox.overrides)
    checks = {c.name: c for c in run_preflight(runbook, values, machine=NO_CUDA)}
    build = checks["build build/"]
    assert build.status == "fail"
    assert build.finding.startswith("not configured (CMakeCache.txt is missing) and no step configures it")


def test_configured_options_are_reported_and_held_against_the_machine(
    runbook_file: RunbookFile, sandbox: Sandbox
) -> None:
    (sandbox.repo / "build" / "CMakeCache.txt").write_text(
        "# cache\n//comment\nGGML_CUDA:BOOL=OFF\nGGML_NATIVE:BOOL=ON\nGGML_AMX_INT8:BOOL=OFF\n"
        "CMAKE_BUILD_TYPE:STRING=Release\nCMAKE_HOME_DIRECTORY:INTERNAL=/x\n"
    )
    build = _checks(runbook_file, sandbox, NO_CUDA)["build build/"]
    assert build == Check(
        "build build/",
        "ok",
        "configured: GGML_CUDA=OFF, GGML_AMX_INT8=OFF, GGML_NATIVE=ON, CMAKE_BUILD_TYPE=Release",
        evidence=(
            "build/CMakeCache.txt: GGML_CUDA=OFF",
            "build/CMakeCache.txt: GGML_AMX_INT8=OFF",
            "build/CMakeCache.txt: GGML_NATIVE=ON",
            "build/CMakeCache.txt: CMAKE_BUILD_TYPE=Release",
        ),
    )
    on_gpu = _checks(runbook_file, sandbox, CUDA)
    assert on_gpu["build build/"].status == "warn"
    assert "built without CUDA although this machine has nvcc at /opt/cuda/bin/nvcc" in on_gpu["build build/"].finding
    assert on_gpu["variable cmake_options"].finding == (
        "not used: build/ is already configured, and step 1.0 leaves it as it is"
    )
    assert read_cmake_cache(sandbox.repo / "build" / "CMakeCache.txt")["GGML_NATIVE"] == "ON"


def test_the_machine_is_read_from_nvcc_and_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert cuda_machine(cuda_dirs=()) == CudaMachine(None, (), "no nvidia-smi on PATH (no NVIDIA driver)")
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a0c)'\n")
    smi.chmod(0o755)
    (bin_dir / "nvcc").write_text("#!/bin/sh\n")
    (bin_dir / "nvcc").chmod(0o755)
    machine = cuda_machine(cuda_dirs=())
    assert machine.ready and machine.gpus == ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a0c)",)
    assert machine.describe() == f"nvcc at {bin_dir / 'nvcc'}; 1 NVIDIA GPU (NVIDIA H100 80GB HBM3)"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the driver'\nexit 9\n")
    broken = cuda_machine(cuda_dirs=())
    assert not broken.ready and broken.gpu_note.startswith("nvidia-smi lists no GPU (NVIDIA-SMI has failed")
    assert suggested_options(["-DGGML_CUDA=OFF", "-DX=1"], machine) == ["-DGGML_CUDA=ON", "-DX=1"]


def test_options_are_not_programs_on_the_setup_screen(runbook_file: RunbookFile) -> None:
    variables = runbook_file.model.variables
    assert check_variable("cmake_options", variables["cmake_options"], "-DGGML_CUDA=ON") == ("ok", "")
    assert check_variable("fa_flag", variables["fa_flag"], "-fa on") == ("ok", "")
    assert check_variable("numactl", variables["numactl"], "no-such-numactl -N 0") == (
        "warn",
        "no-such-numactl is not installed here (not on PATH)",
    )


def _step(sandbox: Sandbox, state: Path, step_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    accept_setup(state, sandbox.overrides, cwd=sandbox.root)
    args = [a for name, value in sandbox.overrides.items() for a in ("--var", f"{name}={value}")]
    return subprocess.run(
        [AMXWIZARD, "step", step_id, *extra, *args, "--state-dir", str(state)],
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_step_1_0_configures_once_and_then_leaves_the_build_alone(
    runbook_file: RunbookFile, sandbox: Sandbox, tmp_path: Path
) -> None:
    build = sandbox.repo / "build"
    cache = build / "CMakeCache.txt"
    cache.unlink()
    configured = _step(sandbox, tmp_path / "state", "1.0")
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert "-- Build files have been written to:" in configured.stdout
    assert "GGML_CUDA:BOOL=ON" in cache.read_text()
    before = cache.read_bytes(), cache.stat().st_mtime_ns
    checks = _checks(runbook_file, sandbox, NO_CUDA)
    assert checks["build build/"].finding.startswith("configured: GGML_CUDA=ON, GGML_AMX=ON, GGML_NATIVE=not set")

    again = _step(sandbox, tmp_path / "state2", "1.0")  # a new session: the step runs again
    assert again.returncode == 0, again.stdout + again.stderr
    assert "build/ is already configured: nothing to do" in again.stdout
    assert "GGML_CUDA:BOOL=ON" in again.stdout  # the options it was made with, shown
    assert "Build files have been written" not in again.stdout
    assert (cache.read_bytes(), cache.stat().st_mtime_ns) == before
