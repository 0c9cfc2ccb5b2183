"""preflight: reading commands and --help, and the real `amxwizard preflight` against a repository made here."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from amxwizard.engine.preflight import (
    Check,
    check_checklist_item,
    check_variable,
    command_invocations,
    parse_help,
    read_help,
    run_preflight,
)
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "source"

# The way llama.cpp's common/arg.cpp lays out --help (and llama-bench its own).
LLAMA_HELP = """\
----- common params -----

-h,    --help, --usage                  print usage and exit
-t,    --threads N                      number of CPU threads to use during generation (default: -1)
                                        (env: LLAMA_ARG_THREADS)
-c,    --ctx-size N                     size of the prompt context (default: 4096, 0 = loaded from model)
-n,    --predict, --n-predict N         number of tokens to predict (default: -1, -1 = infinity)
-b,    --batch-size N                   logical maximum batch size (default: 2048)
-fa,   --flash-attn [on|off|auto]       set Flash Attention use ('on', 'off', or 'auto', default: 'auto')
-p,    --prompt PROMPT                  prompt to start generation with
-m,    --model FNAME                    model path
-ngl,  --gpu-layers, --n-gpu-layers N   max. number of layers to store in VRAM
--numa TYPE                             attempt optimizations that help on some NUMA systems
                                        - distribute: spread execution evenly over all nodes
--no-mmap                               do not memory-map model
"""
BENCH_HELP = """\
usage: llama-bench [options]

options:
  -h, --help
  -m, --model <filename>                    (default: models/7B/ggml-model-q4_0.gguf)
  -p, --n-prompt <n>                        (default: 512)
  -n, --n-gen <n>                           (default: 128)
  -ngl, --n-gpu-layers <n>                  (default: 99)
  -t, --threads <n>                         (default: 2)
  -fa, --flash-attn <0|1>                   (default: 0)
"""


def test_parse_help_llama_cpp_layout() -> None:
    flags = parse_help(LLAMA_HELP)
    assert flags["-fa"].value == "[on|off|auto]"
    assert flags["--flash-attn"] is flags["-fa"]
    assert flags["-t"].value == "N"
    assert flags["--no-mmap"].value is None
    assert flags["-h"].names == ("-h", "--help", "--usage")
    assert flags["--n-gpu-layers"].names == ("-ngl", "--gpu-layers", "--n-gpu-layers")
    assert "--amx" not in flags
    assert "-" not in flags and "- distribute:" not in flags


def test_parse_help_llama_bench_layout() -> None:
    flags = parse_help(BENCH_HELP)
    assert flags["-p"].value == "<n>"
    assert flags["--n-prompt"].names == ("-p", "--n-prompt")
    assert flags["-fa"].value == "<0|1>"
    assert flags["-h"].value is None


def test_commands_through_wrappers_heredoc_scripts_and_cd(tmp_path: Path) -> None:
    script = (
        f"cd {tmp_path}\n"
        "cat > /tmp/t.sh << 'EOF'\n"
        "#!/bin/bash\n"
        "numactl -N 2,3 -m 2,3 ./build/bin/llama-cli \\\n"
        "  -m '/models/a b.gguf' -fa -p 'one \"two\"'\n"
        "EOF\n"
        "chmod +x /tmp/t.sh\n"
        '/tmp/t.sh 2>&1 | tee "$BACKUP_DIR/x.log"\n'
        "LONG=x\n"
        'for i in 1 2 3; do LONG="$LONG $(date +%s)"; done\n'
        "nice -n 19 env A=1 make -j 4 && echo done # trailing comment\n"
    )
    invocations = command_invocations(script, "1.5", Path("/"))
    programs = [(inv.program.text, str(inv.cwd)) for inv in invocations]
    assert programs == [
        ("cat", str(tmp_path)),
        ("numactl", str(tmp_path)),
        ("./build/bin/llama-cli", str(tmp_path)),
        ("chmod", str(tmp_path)),
        ("/tmp/t.sh", str(tmp_path)),
        ("tee", str(tmp_path)),
        ("date", str(tmp_path)),
        ("nice", str(tmp_path)),
        ("env", str(tmp_path)),
        ("make", str(tmp_path)),
    ]
    llama = invocations[2]
    assert [w.text for w in llama.args] == ["-m", "/models/a b.gguf", "-fa", "-p", 'one "two"']
    assert Path("/tmp/t.sh") in invocations[4].created


def test_read_help_runs_the_binary_once_and_times_out(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text(f"#!/bin/sh\ncat <<'EOF'\n{LLAMA_HELP}EOF\n")
    good.chmod(0o755)
    assert "-fa" in read_help(good).flags
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    result = read_help(slow, timeout=0.5)
    assert result.problem == "slow --help did not finish within 0.5 s"


# --- the real CLI against a repository built here -------------------------------------------------------------


def _function_at(line: int, name: str, body: str) -> str:
    filler = "".join(f"static int filler_{i}(void) {{ return {i}; }}\n" for i in range(line - 1))
    return filler + body.replace("NAME", name)


COPY_BODY = """\
void NAME(struct ggml_tensor * src, struct ggml_tensor * dst) {
    GGML_ASSERT(ggml_are_same_layout(src, dst) && "cannot copy tensors with different layouts");

    if (src == dst) {
        return;
    }

    if (ggml_backend_buffer_is_host(src->buffer)) {
        ggml_backend_tensor_set(dst, src->data, 0, ggml_nbytes(src));
    } else if (ggml_backend_buffer_is_host(dst->buffer)) {
        ggml_backend_tensor_get(src, dst->data, 0, ggml_nbytes(src));
    } else if (!ggml_backend_buffer_copy_tensor(src, dst)) {
#ifndef NDEBUG
        fprintf(stderr, "%s: warning: slow copy from %s to %s\\n", __func__, "a", "b");
#endif
        size_t nbytes = ggml_nbytes(src);
        void * data = malloc(nbytes);
        ggml_backend_tensor_get(src, data, 0, nbytes);
        ggml_backend_tensor_set(dst, data, 0, nbytes);
        free(data);
    }
}
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def target(tmp_path: Path) -> dict[str, Path | str]:
    """A small checkout: the copy function at lines 412-433 (the runbook says 356-377), no cpy_tensor in the CUDA
    file, and built binaries whose --help lists some flags and not --amx."""
    repo_dir = tmp_path / "ik_llama.cpp"
    src = repo_dir / "ggml" / "src"
    src.mkdir(parents=True)
    (src / "ggml-backend.cpp").write_text(_function_at(412, "ggml_backend_tensor_copy", COPY_BODY))
    (src / "ggml.c").write_text("int ggml_dummy(void) { return 0; }\n")
    (src / "CMakeLists.txt").write_text("add_library(ggml ggml.c ggml-backend.cpp)\n")
    (src / "ggml-cuda.cu").write_text("static bool other_function(void) {\n    return false;\n}\n")
    (repo_dir / "README.md").write_text("# test checkout\n")
    (repo_dir / ".gitignore").write_text("build/\n")
    repo = git.Repo.init(repo_dir, initial_branch="main")
    actor = git.Actor("Test", "test@example.invalid")
    repo.index.add(
        [
            "ggml/src/ggml-backend.cpp",
            "ggml/src/ggml.c",
            "ggml/src/CMakeLists.txt",
            "ggml/src/ggml-cuda.cu",
            "README.md",
            ".gitignore",
        ]
    )
    first = repo.index.commit("Import ggml", author=actor, committer=actor)
    (repo_dir / "README.md").write_text("# test checkout\n\nmore\n")
    repo.index.add(["README.md"])
    repo.index.commit("Fix AMX+GPU segfault by implementing cpy_tensor", author=actor, committer=actor)

    _executable(repo_dir / "build" / "bin" / "llama-cli", f"#!/bin/sh\ncat <<'EOF'\n{LLAMA_HELP}EOF\n")
    _executable(repo_dir / "build" / "bin" / "llama-bench", f"#!/bin/sh\ncat <<'EOF'\n{BENCH_HELP}EOF\nexit 1\n")
    _executable(tmp_path / "bin" / "cmake", "#!/bin/sh\nexit 0\n")
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00 test model")
    return {"repo": repo_dir, "model": model, "cmake": tmp_path / "bin" / "cmake", "first": first.hexsha}


def _preflight(runbook_file: RunbookFile, *var: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "amxwizard.cli", "preflight", str(runbook_file.path)]
    for item in var:
        args += ["--var", item]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _lines(output: str) -> dict[str, tuple[str, str]]:
    """check name -> (status, finding), from the printed table."""
    table: dict[str, tuple[str, str]] = {}
    for line in output.splitlines()[1:-1]:
        status, rest = line[:4].strip(), line[6:]
        name, _, finding = rest.partition("  ")
        table[name.strip()] = (status, finding.strip())
    return table


def _base_vars(target: dict[str, Path | str]) -> list[str]:
    return [f"repo={target['repo']}", f"model={target['model']}", f"cmake={target['cmake']}", "numactl="]


def test_cli_reports_moved_missing_functions_and_rejected_flags(
    runbook_file: RunbookFile, target: dict[str, Path | str]
) -> None:
    result = _preflight(runbook_file, *_base_vars(target))
    assert result.returncode == 1, result.stdout + result.stderr
    table = _lines(result.stdout)
    assert table["function ggml_backend_tensor_copy"] == (
        "warn",
        "moved: found in ggml/src/ggml-backend.cpp at lines 412-433; the runbook says 356-377 (1.2); ~350 (2.A)",
    )
    status, finding = table["function ggml_backend_cuda_buffer_cpy_tensor"]
    assert status == "warn"  # only approach C needs it
    assert finding.startswith("missing: no definition of ggml_backend_cuda_buffer_cpy_tensor in ggml/src/ggml-cuda.cu")
    status, finding = table["flag llama-cli --amx"]
    assert status == "fail"
    assert finding.startswith("rejected: llama-cli --help does not list --amx (steps 1.5, test-1")
    assert table["flag llama-bench --amx"][0] == "fail"
    status, finding = table["flag llama-cli -fa"]
    assert (status, finding.split(" but ")[0]) == ("warn", "takes a value (-fa / --flash-attn [on|off|auto])")
    assert "(followed by -p)" in finding
    assert table["tool build/bin/llama-cli"][0] == "ok"
    assert table["tool tee"][0] == "ok"
    assert table["head_commit"][0] == "warn"
    assert (
        "fb91d1c5" in table["head_commit"][1] and "not anywhere in this repository's history" in table["head_commit"][1]
    )
    assert table["clean_tree"] == ("ok", "clean")
    assert table["model"][0] == "ok"
    assert result.stdout.splitlines()[-1].endswith(" 2 failures")


def test_cli_passes_with_todays_flags_and_names_a_function_where_the_runbook_says(
    runbook_file: RunbookFile, target: dict[str, Path | str]
) -> None:
    repo = Path(target["repo"])
    (repo / "ggml" / "src" / "ggml-backend.cpp").write_text(_function_at(356, "ggml_backend_tensor_copy", COPY_BODY))
    first = str(target["first"])[:8]
    result = _preflight(runbook_file, *_base_vars(target), "amx_flag=", "fa_flag=-fa on", f"expected_commit={first}")
    table = _lines(result.stdout)
    assert "flag llama-cli --amx" not in table and "flag llama-cli -fa" not in table
    assert table["flags llama-cli"][0] == "ok"
    # the edited file is not committed: a tracked change outside the docs is a failure
    assert table["clean_tree"] == ("fail", "uncommitted changes outside *.md, docs/*: ggml/src/ggml-backend.cpp")
    assert table["function ggml_backend_tensor_copy"] == (
        "ok",
        "found in ggml/src/ggml-backend.cpp at lines 356-377, as the runbook says (356-377 (1.2); ~350 (2.A))",
    )
    assert table["head_commit"] == (
        "warn",
        f"HEAD {git.Repo(repo).head.commit.hexsha[:8]} 'Fix AMX+GPU segfault by "
        f"implementing cpy_tensor' is 1 commit after the expected {first} "
        "'Import ggml'",
    )
    assert result.returncode == 1

    git.Repo(repo).git.checkout("--", "ggml/src/ggml-backend.cpp")
    (repo / "NOTES.md").write_text("docs may change\n")
    result = _preflight(runbook_file, *_base_vars(target), "amx_flag=", "fa_flag=-fa on")
    assert result.returncode == 0, result.stdout
    assert _lines(result.stdout)["clean_tree"] == ("ok", "clean except NOTES.md")


def test_cli_missing_repo_and_model_and_tool(runbook_file: RunbookFile, tmp_path: Path) -> None:
    result = _preflight(
        runbook_file,
        f"repo={tmp_path / 'nowhere'}",
        f"model={tmp_path / 'none.gguf'}",
        "cmake=no-such-cmake-here",
        "numactl=",
    )
    assert result.returncode == 1
    table = _lines(result.stdout)
    assert table["repo"] == ("fail", f"{tmp_path / 'nowhere'} does not exist (set --var repo=...)")
    assert table["model"][0] == "fail"
    assert table["tool no-such-cmake-here"] == ("fail", "not found on PATH (steps 1.0, 1.4, 5.2 run it)")
    assert table["file ggml/src/ggml-backend.cpp"][0] == "fail"
    assert table["tool build/bin/llama-cli"][0] == "warn"  # not built yet


def test_cli_bad_variable_is_one_line(runbook_file: RunbookFile) -> None:
    result = _preflight(runbook_file, "threads=many")
    assert result.returncode == 2
    assert result.stderr.strip() == "amxwizard: threads: 'many' is not a whole number"


def test_run_preflight_in_process_matches(runbook_file: RunbookFile, target: dict[str, Path | str]) -> None:
    values = resolve(
        runbook_file.model,
        {"repo": str(target["repo"]), "model": str(target["model"]), "cmake": str(target["cmake"]), "numactl": ""},
    )
    checks = {check.name: check for check in run_preflight(runbook_file, values)}
    assert checks["flag llama-cli --amx"].status == "fail"
    assert checks["writable"].status == "ok"
    assert checks["file ggml/src/ggml-cuda.cu"].status == "ok"


def test_a_subfolder_of_a_repository_is_named_as_such(runbook_file: RunbookFile, target: dict[str, Path | str]) -> None:
    inner = Path(target["repo"]) / "ggml"
    values = resolve(runbook_file.model, {"repo": str(inner), "expected_commit": ""})
    checks = {check.name: check for check in run_preflight(runbook_file, values)}
    assert checks["repo"].status == "fail"
    assert checks["repo"].finding == f"{inner} is inside the git repository {target['repo']}, not its top folder"
    assert checks["head_commit"].finding == "not checked: no git repository"


def test_an_expected_full_sha_this_repository_lacks_is_a_warning(
    runbook_file: RunbookFile, target: dict[str, Path | str]
) -> None:
    # GitPython takes any 40-hex string for a commit on trust; asking git whether HEAD descends from it then fails.
    values = resolve(runbook_file.model, {"repo": str(target["repo"]), "expected_commit": "0" * 40})
    checks = {check.name: check for check in run_preflight(runbook_file, values)}
    assert checks["head_commit"].status == "warn"
    assert f"the expected {'0' * 40} " in checks["head_commit"].finding
    assert "is not anywhere in this repository's history" in checks["head_commit"].finding


def test_a_repository_git_refuses_fails_the_repo_check_with_gits_words(
    runbook_file: RunbookFile, target: dict[str, Path | str]
) -> None:
    # "dubious ownership" (a checkout owned by another user) is the usual refusal; this one needs no root.
    git.Repo(target["repo"]).git.config("core.repositoryformatversion", "99")
    values = resolve(runbook_file.model, {"repo": str(target["repo"])})
    checks = {check.name: check for check in run_preflight(runbook_file, values)}
    assert checks["repo"] == Check(
        "repo", "fail", f"git refuses to work in {target['repo']}: fatal: Expected git repo version <= 1, found 99"
    )
    assert checks["clean_tree"].finding == "not checked: no git repository"


def test_a_tilde_naming_no_user_is_a_path_that_does_not_exist(runbook_file: RunbookFile) -> None:
    # Typed one key at a time, "~bob/src" passes through "~b"; Path.expanduser raises for a user that is not there.
    typed = "~no-such-user-here/src"
    variables = runbook_file.model.variables
    assert check_variable("repo", variables["repo"], typed) == ("warn", f"{typed} does not exist")
    assert check_variable("model", variables["model"], typed) == ("warn", f"{typed} does not exist")
    values = resolve(runbook_file.model, {"repo": typed, "model": typed})
    checks = {check.name: check for check in run_preflight(runbook_file, values)}
    assert checks["repo"] == Check("repo", "fail", f"{typed} does not exist (set --var repo=...)")
    assert checks["model"].status == "fail"


def _git_children() -> set[str]:
    """``pid command line`` of each live `git` child of this process."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and cmdline.startswith("git "):
            found.add(f"{stat.parent.name} {cmdline}")
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads child processes from /proc")
def test_preflight_leaves_no_git_process_behind(runbook_file: RunbookFile, target: dict[str, Path | str]) -> None:
    # The setup screen runs preflight, and the main screen a checklist check, again and again; a Repo left to the
    # garbage collector keeps two `git cat-file` processes (and their pipes) alive until it runs.
    values = resolve(runbook_file.model, {"repo": str(target["repo"]), "expected_commit": "deadbeef"})
    head_item = next(i for i in runbook_file.model.checklist if i.check.kind == "head_commit")
    gc.disable()
    try:
        before = _git_children()
        run_preflight(runbook_file, values)
        assert check_checklist_item(head_item, values).name == "head_commit"
        assert _git_children() - before == set()
    finally:
        gc.enable()
