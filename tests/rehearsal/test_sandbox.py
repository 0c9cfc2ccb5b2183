"""The rehearsal sandbox: a real git repository shaped like the target, with stand-in tools that really run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.engine.preflight import run_preflight
from amxwizard.engine.source import locate_function
from amxwizard.rehearsal.sandbox import SUBJECT_HEAD, Sandbox, SandboxError, build_sandbox
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_history_and_head_subject(shared_sandbox: Sandbox) -> None:
    repo = shared_sandbox.repo
    assert git(repo, "log", "-1", "--format=%s").strip() == SUBJECT_HEAD
    assert git(repo, "rev-parse", "HEAD").strip() == shared_sandbox.head
    assert len(git(repo, "log", "--format=%H").split()) == 3
    assert git(repo, "status", "--porcelain").strip() == ""  # build/ is ignored
    assert shared_sandbox.overrides["expected_commit"] == shared_sandbox.head[:8]
    # HEAD is the commit that implemented cpy_tensor, as its subject says
    assert "ggml_backend_cuda_buffer_cpy_tensor" in git(repo, "show", "HEAD", "--", "ggml/src/ggml-cuda.cu")


def test_shaped_like_the_target_but_drifted(shared_sandbox: Sandbox) -> None:
    src = shared_sandbox.repo / "ggml" / "src"
    copy = locate_function((src / "ggml-backend.cpp").read_text(), "ggml_backend_tensor_copy")
    assert copy is not None and (copy.start_line, copy.end_line) != (356, 377)
    assert copy.end_line - copy.start_line == 377 - 356  # the same function, elsewhere
    cpy = locate_function((src / "ggml-cuda.cu").read_text(), "ggml_backend_cuda_buffer_cpy_tensor")
    assert cpy is not None and cpy.signature.startswith("GGML_CALL static bool")
    assert not (cpy.start_line <= 626 <= cpy.end_line)
    assert "add_library(ggml " in (src / "CMakeLists.txt").read_text()
    fix_doc = (shared_sandbox.repo / "AMX_GPU_HYBRID_SCHEDULER_FIX.md").read_text()
    assert "\n## Current Status\n" in fix_doc and "## Notes" in fix_doc
    assert "rehearsal sandbox" in (shared_sandbox.repo / "README.md").read_text().lower()
    for path in [*src.iterdir(), shared_sandbox.repo / "README.md"]:
        assert "stand-in" in path.read_text(), path
    assert shared_sandbox.model.read_bytes()[:4] == b"GGUF"
    assert b"stand-in" in shared_sandbox.model.read_bytes()


def test_first_build_wrote_launchers_and_build_info(shared_sandbox: Sandbox) -> None:
    bin_dir = shared_sandbox.repo / "build" / "bin"
    info = json.loads((bin_dir / "build-info.json").read_text())
    assert info["standin"] is True
    assert info["debug_tensor_copy"] is False
    assert info["fixes"] == []
    for program, module in (("llama-cli", "llama_cli"), ("llama-bench", "llama_bench")):
        launcher = bin_dir / program
        assert os.access(launcher, os.X_OK)
        last = launcher.read_text().splitlines()[-1]
        assert shlex.split(last) == [
            f"AMXWIZARD_STANDIN_BUILD={bin_dir / 'build-info.json'}",
            "exec",
            sys.executable,
            "-m",
            f"amxwizard.rehearsal.{module}",
            "$@",
        ]


def test_the_launcher_passes_the_build_info_and_arguments(tmp_path: Path, sandbox: Sandbox) -> None:
    """Run the real launcher with a stand-in module path swapped for one that reports what it got."""
    launcher = sandbox.repo / "build" / "bin" / "llama-cli"
    probe = tmp_path / "probe.py"
    probe.write_text("import json, os, sys\nprint(json.dumps([os.environ['AMXWIZARD_STANDIN_BUILD'], sys.argv[1:]]))\n")
    text = launcher.read_text().replace("-m amxwizard.rehearsal.llama_cli", str(probe))
    launcher.write_text(text)
    out = subprocess.run(
        [str(launcher), "-p", "two words", "-fa", "on"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [
        str(sandbox.repo / "build" / "bin" / "build-info.json"),
        ["-p", "two words", "-fa", "on"],
    ]


def test_numactl_standin_skips_placement_and_runs_the_command(shared_sandbox: Sandbox) -> None:
    numactl = shared_sandbox.tools / "numactl"
    out = subprocess.run(
        [str(numactl), "-N", "2,3", "-m", "2,3", "--physcpubind=0-3", "sh", "-c", 'echo "$0 $1"', "a", "b"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "a b\n"
    bad = subprocess.run([str(numactl), "--bogus", "true"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "unrecognized option '--bogus'" in bad.stderr
    missing = subprocess.run(
        [str(numactl), "-N", "0", "no-such-program-xyz"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 127
    assert missing.stderr.strip() == "numactl: execution of `no-such-program-xyz': No such file or directory"


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(SandboxError, match="is not an empty folder"):
        build_sandbox(tmp_path)


def test_building_leaves_no_git_process_behind(tmp_path: Path) -> None:
    """GitPython keeps `git cat-file` running for an open repository; `rehearse` then opens the wizard for hours."""
    sandbox = build_sandbox(tmp_path / "rehearsal")
    left = []
    for child in Path("/proc").iterdir():
        try:
            if (child / "stat").read_text().rsplit(")", 1)[1].split()[1] != str(os.getpid()):
                continue  # not our child
            cwd = Path(os.readlink(child / "cwd"))
        except (OSError, IndexError):
            continue
        if cwd == sandbox.repo:
            left.append((child / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    assert left == []


def test_preflight_with_the_overrides_has_no_failure(runbook_file: RunbookFile, shared_sandbox: Sandbox) -> None:
    values = resolve(runbook_file.model, shared_sandbox.overrides)
    checks = run_preflight(runbook_file, values)
    failures = [c for c in checks if c.status == "fail"]
    assert failures == []
    by_name = {c.name: c for c in checks}
    assert by_name["head_commit"].status == "ok"
    assert by_name["clean_tree"].status == "ok"
    assert by_name["function ggml_backend_tensor_copy"].finding.startswith("moved:")
    assert by_name["tool build/bin/llama-cli"].status == "ok"


def test_preflight_with_the_seed_flags_names_amx_rejected(runbook_file: RunbookFile, shared_sandbox: Sandbox) -> None:
    pytest.importorskip("amxwizard.rehearsal.llama_cli", reason="the stand-in llama-cli is another engineer's part")
    overrides = {**shared_sandbox.overrides, "amx_flag": "--amx", "fa_flag": "-fa"}
    checks = {c.name: c for c in run_preflight(runbook_file, resolve(runbook_file.model, overrides))}
    rejected = checks["flag llama-cli --amx"]
    assert rejected.status == "fail"
    assert rejected.finding.startswith("rejected: llama-cli --help does not list --amx")
    # the stand-in llama-cli was asked, and refused the bare -fa: no longer a warning from --help alone
    assert checks["flag llama-cli -fa"].status == "fail"
    assert checks["fix llama-cli"].fixes == {"amx_flag": "", "fa_flag": "-fa on"}


def test_preflight_cli_on_the_sandbox(runbook_file: RunbookFile, shared_sandbox: Sandbox) -> None:
    args = [sys.executable, "-m", "amxwizard.cli", "preflight", str(runbook_file.path)]
    for name, value in shared_sandbox.overrides.items():
        args += ["--var", f"{name}={value}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].endswith(", 0 failures")
    assert not any(line.startswith("fail") for line in result.stdout.splitlines())


def test_the_two_tmp_files_stay_in_the_root_the_runbook_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runbook_file: RunbookFile
) -> None:
    """A sandbox outside /tmp (say ~/rehearsal) still puts the diagnostic script and the location file where the
    runbook confines them (issue 17), in a private folder of its own."""
    from amxwizard.rehearsal import sandbox as module

    declared = {var.root for var in runbook_file.model.variables.values() if var.root}
    assert declared == {module.TMP_ROOT}
    fake_tmp = tmp_path / "tmp"
    fake_tmp.mkdir()
    monkeypatch.setattr(module, "TMP_ROOT", str(fake_tmp))
    built = build_sandbox(tmp_path / "home" / "rehearsal")
    for name in ("backup_location_file", "diag_script"):
        placed = Path(built.overrides[name])
        assert placed.parent.parent == fake_tmp and placed.parent.name.startswith("amxwizard-rehearsal-")
        assert placed.parent.stat().st_mode & 0o777 == 0o700
    inside = build_sandbox(fake_tmp / "sandbox")
    assert Path(inside.overrides["backup_location_file"]).parent == fake_tmp / "sandbox"
    assert Path(inside.overrides["diag_script"]).parent == fake_tmp / "sandbox"
