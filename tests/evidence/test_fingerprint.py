"""The fingerprint of what a test or benchmark ran, on a real git repository, real files and real processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine import fingerprint as fp

CACHE = """\
# This is the CMakeCache file.
CMAKE_BUILD_TYPE:STRING=Release
GGML_CUDA:BOOL=ON
GGML_AMX_INT8:BOOL=ON
GGML_NATIVE:BOOL=OFF
GGML_AVX512:BOOL=ON
//A comment
CMAKE_CUDA_ARCHITECTURES:STRING=90
"""
MACHINE = {"cpu_model": "Xeon", "amx_flags": ["amx_tile"], "numa_nodes": [0], "gpus": [], "gpu_query": "none"}
SCRIPT = (
    "numactl -N 2,3 -m 2,3 ./build/bin/llama-bench \\\n  -m {model} \\\n  -t 64 -ngl 15 -p 512 -n 128 \\\n"
    '  2>&1 | tee "$BACKUP_DIR/bench_generation.log"\n'
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "ggml" / "src").mkdir(parents=True)
    (repo / "ggml" / "src" / "ggml-backend.cpp").write_text("void ggml_backend_tensor_copy() {}\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "seed")
    bin_dir = repo / "build" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "llama-bench").write_bytes(b"\x7fELF llama-bench")
    (bin_dir / "llama-bench").chmod(0o755)
    (bin_dir / "libggml-base.so").write_bytes(b"\x7fELF libggml-base before the fix")
    (bin_dir / "llama-cli").write_bytes(b"\x7fELF another program, not hashed for llama-bench")
    (repo / "build" / "CMakeCache.txt").write_text(CACHE)
    (repo / ".gitignore").write_text("build/\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-qm", "ignore build")
    return repo


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "model.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


def _collect(repo: Path, model: Path, cache: Path) -> dict[str, Any]:
    return fp.collect_fingerprint(SCRIPT.format(model=model), repo, {"model": str(model)}, cache, machine=MACHINE)


def test_a_benchmark_command_is_fingerprinted(checkout: Path, model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = _collect(checkout, model, cache)
    assert json.loads(json.dumps(data)) == data
    assert data["program"] == "./build/bin/llama-bench"
    assert data["args"] == ["-m", str(model), "-t", "64", "-ngl", "15", "-p", "512", "-n", "128"]
    binary = checkout / "build" / "bin" / "llama-bench"
    assert data["binary"]["path"] == str(binary)
    assert data["binary"]["sha256"] == hashlib.sha256(binary.read_bytes()).hexdigest()
    libs = data["binary"]["libraries"]
    assert [Path(lib["path"]).name for lib in libs] == ["libggml-base.so"]
    assert data["build_id"] is not None
    assert data["model"] == {
        "path": str(model),
        "size": model.stat().st_size,
        "mtime": model.stat().st_mtime_ns / 1e9,
        "sha256": None,  # not hashed yet: that happens in the background
    }
    assert data["build"] == {
        "state": "configured",
        "cache": str(checkout / "build" / "CMakeCache.txt"),
        "options": {
            "CMAKE_BUILD_TYPE": "Release",
            "GGML_AMX_INT8": "ON",
            "GGML_CUDA": "ON",
            "GGML_NATIVE": "OFF",
        },
        "definitions": [],  # no build tree CMake generated, no stand-in build record: nothing compiled in
    }
    head = _git(checkout, "rev-parse", "HEAD").strip()
    assert data["git"] == {"head": head, "dirty_sha256": hashlib.sha256(b"").hexdigest(), "dirty": False}
    assert data["machine"] == MACHINE


def test_a_rebuilt_library_and_an_edited_source_change_the_fingerprint(
    checkout: Path, model: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    before = _collect(checkout, model, cache)
    source = checkout / "ggml" / "src" / "ggml-backend.cpp"
    source.write_text(source.read_text() + "// the fix\n")
    edited = _collect(checkout, model, cache)
    assert edited["git"]["dirty"] is True and edited["git"]["dirty_sha256"] != before["git"]["dirty_sha256"]
    assert edited["build_id"] == before["build_id"]  # the binary has not been rebuilt
    (checkout / "build" / "bin" / "libggml-base.so").write_bytes(b"\x7fELF libggml-base with the fix")
    rebuilt = _collect(checkout, model, cache)
    assert rebuilt["binary"]["sha256"] == before["binary"]["sha256"]  # llama-bench itself is the same file
    assert rebuilt["build_id"] != before["build_id"]  # the fix lands in libggml: a different build


def test_an_unconfigured_checkout_says_so(checkout: Path, model: Path, tmp_path: Path) -> None:
    (checkout / "build" / "CMakeCache.txt").unlink()
    data = _collect(checkout, model, tmp_path / "cache")
    assert data["build"]["state"] == "unconfigured" and data["build"]["options"] == {}


def test_a_program_not_built_yet_has_no_hash(checkout: Path, model: Path, tmp_path: Path) -> None:
    (checkout / "build" / "bin" / "llama-bench").unlink()
    data = _collect(checkout, model, tmp_path / "cache")
    assert data["binary"]["sha256"] is None and "not built yet" in data["binary"]["error"]
    assert data["build_id"] is None


def test_outside_a_repository_git_says_so(model: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    data = fp.collect_fingerprint("./llama-cli -m x", plain, {}, tmp_path / "cache", machine=MACHINE)
    assert data["git"]["head"] is None and data["git"]["error"] == "not a git repository"


def _hash(model: Path, cache: Path, **kw: Any) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    done: list[dict[str, Any]] = []
    progress: list[tuple[int, int]] = []
    thread = fp.hash_model_in_background(model, cache, lambda n, total: progress.append((n, total)), done.append, **kw)
    thread.join(timeout=60)
    assert not thread.is_alive() and len(done) == 1
    return done[0], progress


def test_the_model_is_hashed_once_in_the_background(
    checkout: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fp, "HASH_CHUNK", 4096)
    monkeypatch.setattr(fp, "PROGRESS_EVERY", 4096)
    cache = tmp_path / "cache"
    result, progress = _hash(model, cache)
    size = model.stat().st_size
    assert result == {
        "path": str(model),
        "size": size,
        "mtime": model.stat().st_mtime_ns / 1e9,
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
    }
    assert len(progress) >= 4 and progress[-1] == (size, size) and all(t == size for _, t in progress)
    assert _collect(checkout, model, cache)["model"]["sha256"] == result["sha256"]  # from the cache now
    again, progress = _hash(model, cache)
    assert again["sha256"] == result["sha256"] and progress == []  # answered by the cache: nothing read


def test_a_changed_model_is_not_taken_from_the_cache(model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, _ = _hash(model, cache)
    model.write_bytes(b"GGUF another model of the same name")
    assert fp.cached_sha256(model, cache) is None
    second, _ = _hash(model, cache)
    assert second["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest() != first["sha256"]


def test_a_model_changing_while_it_is_hashed_is_not_remembered(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fp, "HASH_CHUNK", 1024)
    monkeypatch.setattr(fp, "PROGRESS_EVERY", 1024)
    cache = tmp_path / "cache"
    touched: list[bool] = []

    def grow(done: int, total: int) -> None:
        if not touched:
            touched.append(True)
            with open(model, "ab") as fh:
                fh.write(b"more")

    results: list[dict[str, Any]] = []
    fp.hash_model_in_background(model, cache, grow, results.append).join(timeout=60)
    assert results[0]["sha256"] is None and results[0]["error"] == "the file changed while it was hashed"
    assert fp.cached_sha256(model, cache) is None


def test_hashing_can_be_stopped(model: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    result, _ = _hash(model, tmp_path / "cache", stop=stop)
    assert result["sha256"] is None and result["error"] == "stopped"


def test_a_missing_model_is_said(tmp_path: Path) -> None:
    result, _ = _hash(tmp_path / "nope.gguf", tmp_path / "cache")
    assert result["sha256"] is None and result["error"] == "no such file"


@pytest.mark.parametrize(
    ("script", "program", "args"),
    [
        ("./build/bin/llama-cli -m m.gguf -n 100 | head -50", "./build/bin/llama-cli", ["-m", "m.gguf", "-n", "100"]),
        (
            "numactl -N 2,3 -m 2,3 ./build/bin/llama-cli -p 'two words' 2>&1 | tee x.log",
            "./build/bin/llama-cli",
            ["-p", "two words"],
        ),
        (
            "cd /repo\ncat > /tmp/d.sh << 'EOF'\n#!/bin/bash\nnumactl -N 0 ./build/bin/llama-cli \\\n  -n 100\nEOF\n",
            "./build/bin/llama-cli",
            ["-n", "100"],
        ),
        ("CUDA_VISIBLE_DEVICES=0 taskset -c 0-3 ./bench --fast > out", "./bench", ["--fast"]),
        ("cd /repo\necho hi", None, None),
    ],
)
def test_the_program_is_found_in_the_command(script: str, program: str | None, args: list[str] | None) -> None:
    found = fp.program_command(script)
    assert (found[0], found[1]) == (program, args) if found else program is None


def test_machine_facts_from_the_system_files_and_nvidia_smi(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx512f amx_bf16 amx_tile "
        "amx_int8\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    )
    nodes = tmp_path / "online"
    nodes.write_text("0-3\n")
    smi = tmp_path / "nvidia-smi"  # no GPU here: a stand-in printing what nvidia-smi prints for this query
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 580.95.05'\n")
    smi.chmod(0o755)
    facts = fp.machine_facts(cpuinfo, nodes, str(smi), refresh=True)
    assert facts == {
        "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
        "amx_flags": ["amx_bf16", "amx_int8", "amx_tile"],
        "numa_nodes": [0, 1, 2, 3],
        "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "580.95.05"}],
        "gpu_query": f"{smi}: 1 GPU",
    }
    none = fp.machine_facts(tmp_path / "missing", tmp_path / "missing", "no-such-nvidia-smi-here", refresh=True)
    assert none["cpu_model"] is None and none["numa_nodes"] is None
    assert none["gpus"] == [] and none["gpu_query"] == "no-such-nvidia-smi-here not found"


def test_the_definitions_a_build_is_compiled_with_are_read_from_its_build_tree(tmp_path: Path) -> None:
    from amxwizard.engine.fingerprint import compile_definitions

    build = tmp_path / "build"
    flags = build / "ggml" / "src" / "CMakeFiles" / "ggml-base.dir" / "flags.make"
    flags.parent.mkdir(parents=True)
    flags.write_text(
        "# CMAKE generated file: DO NOT EDIT!\n"
        "CXX_DEFINES = -DGGML_BUILD -DGGML_DEBUG_TENSOR_COPY -DGGML_USE_CUDA -D_GNU_SOURCE\n"
        "CXX_FLAGS = -O3 -DNDEBUG\n"
    )
    assert compile_definitions(build) == ["GGML_BUILD", "GGML_DEBUG_TENSOR_COPY", "GGML_USE_CUDA", "_GNU_SOURCE"]
    flags.unlink()
    (build / "build.ninja").write_text("build x.o: CXX_COMPILER y.cpp\n  DEFINES = -DGGML_BUILD -DGGML_USE_CPU\n")
    assert compile_definitions(build) == ["GGML_BUILD", "GGML_USE_CPU"]
