"""The stand-in cmake: real processes, real files, compiler-style failures."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from amxwizard.engine.edits import apply_planned, plan_step
from amxwizard.rehearsal.sandbox import Sandbox
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve


def cmake(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sandbox.tools / "cmake"), *args],
        cwd=sandbox.repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def build_info(sandbox: Sandbox) -> dict[str, object]:
    return json.loads((sandbox.repo / "build" / "bin" / "build-info.json").read_text())


def apply_step(runbook_file: RunbookFile, sandbox: Sandbox, step_id: str) -> None:
    values = resolve(runbook_file.model, sandbox.overrides)
    planned = plan_step(runbook_file.model.step(step_id), values)
    assert all(not p.problems for p in planned), [p.problems for p in planned]
    apply_planned(planned)


def test_clean_then_build_prints_progress_and_writes_the_programs(sandbox: Sandbox) -> None:
    bin_dir = sandbox.repo / "build" / "bin"
    clean = cmake(sandbox, "--build", "build", "--target", "clean")
    assert clean.returncode == 0
    assert not bin_dir.exists()
    built = cmake(sandbox, "--build", "build", "-j", "4")
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    assert all(re.match(r"^\[\s*\d+%\] ", line) for line in lines)
    assert "Building CXX object ggml/src/CMakeFiles/ggml.dir/ggml-backend.cpp.o" in built.stdout
    assert "Building CUDA object ggml/src/CMakeFiles/ggml.dir/ggml-cuda.cu.o" in built.stdout
    assert lines[-1] == "[100%] Built target llama-bench"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["build-info.json", "llama-bench", "llama-cli"]


def test_an_unbalanced_brace_fails_like_a_compiler(sandbox: Sandbox) -> None:
    source = sandbox.repo / "ggml" / "src" / "ggml-backend.cpp"
    text = source.read_text()
    early_return = "    if (src == dst) {\n        return;\n    }\n"
    broken = text.replace(early_return, early_return.removesuffix("    }\n"), 1)
    assert broken != text
    source.write_text(broken)
    result = cmake(sandbox, "--build", "build", "-j", "2")
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(
        rf"{re.escape(str(source))}:\d+:\d+: error: expected '}}' at end of input \(to match "
        r"'\{' at line \d+\)",
        first,
    ), first
    assert result.stderr.splitlines()[-1] == "gmake: *** [Makefile:146: all] Error 2"
    source.write_text(text)
    assert cmake(sandbox, "--build", "build").returncode == 0


def test_build_info_follows_the_sources(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    apply_step(runbook_file, sandbox, "1.2")
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["debug_tensor_copy"] is False  # the source has the logging, CMake does not define it
    apply_step(runbook_file, sandbox, "1.3")
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["debug_tensor_copy"] is True
    apply_step(runbook_file, sandbox, "2.A")
    apply_step(runbook_file, sandbox, "2.C")
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["fixes"] == ["A", "C"]
    apply_step(runbook_file, sandbox, "5.1")
    assert cmake(sandbox, "--build", "build").returncode == 0
    info = build_info(sandbox)
    assert info["debug_tensor_copy"] is False and info["fixes"] == ["A", "C"]


def test_approach_b_is_recognised_by_the_host_buffer_guard(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    source = sandbox.repo / "ggml" / "src" / "ggml-backend.cpp"
    # a variable named like the seed's pseudo-code is not the fix (it used to be how B was recognised)
    source.write_text(
        source.read_text() + "\nstatic int pick(void) {\n    int weight_backend = 0;\n    return weight_backend;\n}\n"
    )
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["fixes"] == []
    apply_step(runbook_file, sandbox, "2.B")
    assert "&& ggml_backend_buffer_is_host(src->buffer)) {" in source.read_text()
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["fixes"] == ["B"]
    # the guard in a comment is no guard
    text = source.read_text().replace(
        " && ggml_backend_buffer_is_host(src->buffer)) {", ") { // && is_host(src->buffer)"
    )
    source.write_text(text)
    assert cmake(sandbox, "--build", "build").returncode == 0
    assert build_info(sandbox)["fixes"] == []


def test_usage_errors(sandbox: Sandbox, tmp_path: Path) -> None:
    bad = cmake(sandbox, "--build", "build", "--frobnicate")
    assert (bad.returncode, bad.stderr.strip()) == (1, "Unknown argument --frobnicate")
    unconfigured = subprocess.run(
        [str(sandbox.tools / "cmake"), "--build", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert (unconfigured.returncode, unconfigured.stderr.strip()) == (1, "Error: could not load cache")
    version = cmake(sandbox, "--version")
    assert version.stdout.startswith("cmake version ") and "stand-in" in version.stdout
