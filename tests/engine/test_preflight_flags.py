"""Preflight and the flags of the built programs: --help in the notations real tools use, and asking the program
where the help is silent or ambiguous. Fed the help texts captured from ik_llama.cpp built with CUDA."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amxwizard.engine.preflight import Check, parse_help, run_preflight
from amxwizard.engine.preflight.build import CudaMachine
from amxwizard.engine.preflight.flags import ProbeBudget, Rejection, classify, probe, variable_fix
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "preflight"
REAL = FIXTURES / "real-ik-cuda"
FAKE = FIXTURES / "fake_llama.py"
CLI_HELP = (REAL / "llama-cli_help.txt").read_text()
BENCH_HELP = (REAL / "llama-bench_help.txt").read_text()
NO_CUDA = CudaMachine(None, (), "no GPU (test)")


def test_every_value_notation_of_the_real_llama_cli_help() -> None:
    flags = parse_help(CLI_HELP)
    assert flags["-fa"].value == "(auto|on|off|0|1)"
    assert flags["--flash-attn"].choices == ("auto", "on", "off", "0", "1")
    assert flags["-rea"].value == "[on|off|auto]"  # glued to its description after the padding
    assert flags["--pooling"].choices == ("none", "mean", "cls", "last")
    assert flags["-op"].value == "POLICY"
    assert flags["-t"].value == "N" and flags["-t"].names == ("-t", "--threads")
    assert flags["-ctk-last"].value == "TYPE,N"  # two spaces between the name and its value
    assert flags["--spec-replace"].value == "TARGET DRAFT"
    assert flags["-l"].value == "TOKEN_ID(+/-)BIAS"
    assert flags["-dev"].value == "dev1,dev2"
    assert flags["-mg"].value == "i"
    assert flags["-ctx-ckpt"].value == "N" and flags["--ctx-checkpoints"] is flags["-ctx-ckpt"]
    assert flags["-ngl"].names == ("-ngl", "--gpu-layers")
    assert flags["-no-fa"].value is None
    assert flags["-h"].names == ("-h", "--help", "--usage")
    assert "--amx" not in flags
    assert "--recurrent-ckpt-mode" not in flags  # only mentioned in another flag's description


def test_every_value_notation_of_the_real_llama_bench_help() -> None:
    flags = parse_help(BENCH_HELP)
    assert flags["-p"].value == "<n>" and flags["--n-prompt"] is flags["-p"]
    assert flags["-fa"].choices == ("0", "1")
    assert flags["-sm"].value == "<none|layer|graph>"  # "(default: layer)" glued after it is not part of it
    assert flags["-sm"].choices == ("none", "layer", "graph")
    assert flags["-pg"].value == "<pp,tg>" and flags["-pg"].choices == ()  # two numbers, not a choice
    assert flags["-thp"].value == "<0|1>"
    assert flags["--print-overrides"].value == "<0|1>"
    assert flags["--fit-margin"].value == "N"
    assert flags["-mqkv"].value is None  # the help shows no value: ambiguous, asked when a value is passed
    assert "--amx" not in flags


def _log(name: str) -> str:
    return (REAL / name).read_text()


def test_probe_outputs_are_read_like_the_real_ones() -> None:
    amx = classify(_log("hybrid_aswritten.log"))
    assert (amx.verdict, amx.arg, amx.line) == ("rejected", "--amx", "error: unknown argument: --amx")
    fa = classify(_log("hybrid_noamx_fa_novalue.log"))
    assert (fa.verdict, fa.arg, fa.line) == ("rejected", "-fa", "error: invalid parameter for argument: -fa")
    bench = classify(_log("bench_aswritten.log"))
    assert (bench.verdict, bench.arg) == ("rejected", "--amx")
    loaded = classify(
        "warning: not compiled with GPU offload support, --gpu-layers option will be ignored\n"
        "llama_load_model_from_file: failed to load model\n"
    )
    assert loaded.verdict == "accepted"
    assert loaded.warnings == ("warning: not compiled with GPU offload support, --gpu-layers option will be ignored",)
    assert classify("Segmentation fault\n").verdict == "unknown"


def _fake(path: Path, kind: str, help_file: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {FAKE} {help_file} {kind} "$@"\n')
    path.chmod(0o755)
    return path


def _without_noise(text: str) -> list[str]:
    # the capture's last line is the exit code; one help line prints an uninitialised number that differs per run
    return [line for line in text.splitlines() if not line.startswith("EXIT_CODE=") and "tokens to delay" not in line]


def test_the_fake_prints_what_the_real_tools_printed(tmp_path: Path) -> None:
    cli = _fake(tmp_path / "llama-cli", "cli", REAL / "llama-cli_help.txt")
    bench = _fake(tmp_path / "llama-bench", "bench", REAL / "llama-bench_help.txt")
    model = ["-m", str(tmp_path / "m.gguf"), "-t", "16", "-b", "2048", "-c", "4096", "-n", "100", "-ngl", "15"]
    runs = [
        ([str(cli), *model, "--amx", "-fa", "-p", "hello"], "hybrid_aswritten.log"),
        ([str(cli), *model, "-fa", "-p", "hello"], "hybrid_noamx_fa_novalue.log"),
        (
            [str(bench), "-m", "x.gguf", "-t", "16", "-ngl", "15", "--amx", "-p", "512", "-n", "0"],
            "bench_aswritten.log",
        ),
    ]
    for argv, capture in runs:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 1
        assert _without_noise(result.stdout) == _without_noise(_log(capture)), capture


@pytest.fixture
def checkout(tmp_path: Path) -> dict[str, Path]:
    """A checkout whose build/bin holds the fake ik_llama.cpp programs (with CUDA), and a model file."""
    repo = tmp_path / "ik_llama.cpp"
    (repo / "build").mkdir(parents=True)
    (repo / "build" / "CMakeCache.txt").write_text("GGML_CUDA:BOOL=ON\nCMAKE_BUILD_TYPE:STRING=Release\n")
    _fake(repo / "build" / "bin" / "llama-cli", "cli", REAL / "llama-cli_help.txt")
    _fake(repo / "build" / "bin" / "llama-bench", "bench", REAL / "llama-bench_help.txt")
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00 test")
    return {"repo": repo, "model": model}


def _checks(runbook_file: RunbookFile, checkout: dict[str, Path], **extra: str) -> dict[str, Check]:
    overrides = {"repo": str(checkout["repo"]), "model": str(checkout["model"]), "numactl": "", "cmake": "true"}
    values = resolve(runbook_file.model, {**overrides, **extra})
    return {c.name: c for c in run_preflight(runbook_file, values, machine=NO_CUDA)}


def test_real_help_texts_fa_needs_a_value_and_amx_is_unknown_with_the_fixing_values(
    runbook_file: RunbookFile, checkout: dict[str, Path]
) -> None:
    checks = _checks(runbook_file, checkout)
    amx = checks["flag llama-cli --amx"]
    assert amx.status == "fail"
    assert amx.finding.startswith("rejected: llama-cli --help does not list --amx (steps 1.5, test-1, test-2, test-3")
    assert 'llama-cli says "error: unknown argument: --amx"' in amx.finding
    assert amx.fixes == {"amx_flag": ""}
    fa = checks["flag llama-cli -fa"]
    assert fa.status == "fail"
    assert fa.finding.startswith(
        "takes a value (-fa / --flash-attn (auto|on|off|0|1)) but steps 1.5, test-1, test-2, test-5, 5.2 pass none "
        "(followed by -p)"
    )
    assert 'llama-cli says "error: invalid parameter for argument: -fa"' in fa.finding
    assert fa.fixes == {"fa_flag": "-fa on"}
    fix = checks["fix llama-cli"]
    assert fix.fixes == {"amx_flag": "", "fa_flag": "-fa on"}
    assert "steps 1.5, test-1, test-2, test-5, 5.2 pass --amx and -fa; step test-3 passes --amx" in fix.finding
    assert "set amx_flag= and fa_flag='-fa on': with them llama-cli accepts every one of these commands" in fix.finding
    bench = checks["fix llama-bench"]
    assert bench.fixes == {"amx_flag": ""}
    assert 'llama-bench says "error: invalid parameter for argument: --amx"' in checks["flag llama-bench --amx"].finding

    # with the values preflight suggested, nothing is refused
    fixed = _checks(runbook_file, checkout, **fix.fixes)
    assert not [c for c in fixed.values() if c.name.startswith(("flag ", "fix "))]
    assert fixed["flags llama-cli"].status == "ok"


def test_cpu_only_build_without_ngl_in_its_help_is_asked_and_accepted_with_a_warning(
    runbook_file: RunbookFile, checkout: dict[str, Path]
) -> None:
    _fake(checkout["repo"] / "build" / "bin" / "llama-cli", "cli-cpu", REAL / "llama-cli_help.txt")
    checks = _checks(runbook_file, checkout, amx_flag="", fa_flag="-fa on")
    ngl = checks["flag llama-cli -ngl"]
    assert ngl.status == "warn"  # accepted with a warning is not "rejected"
    assert ngl.finding.startswith("not in llama-cli --help, but llama-cli accepts it (steps 1.5, test-1")
    assert "warning: not compiled with GPU offload support, --gpu-layers option will be ignored" in ngl.finding
    assert "fix llama-cli" not in checks
    assert not [c for c in checks.values() if c.name.startswith("flag ") and c.status == "fail"]


def test_the_probe_runs_the_steps_own_flags_with_a_model_that_cannot_load(tmp_path: Path) -> None:
    seen = tmp_path / "argv.txt"
    binary = tmp_path / "tool"
    binary.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done > {seen}\n'
        'echo "llama_load_model_from_file: failed to load model"\n'
    )
    binary.chmod(0o755)
    outcome = probe(binary, ["-m", "amxwizard-probe-no-such-model.gguf", "-ngl", "15"], tmp_path, ProbeBudget())
    assert outcome.verdict == "accepted"
    argv = seen.read_text().splitlines()
    assert argv[0] == "-m" and argv[2:] == ["-ngl", "15"]
    assert argv[1].endswith("amxwizard-probe-no-such-model.gguf") and not Path(argv[1]).exists()
    assert not Path(argv[1]).parent.parent.exists()  # the empty folder it pointed into is gone too


def test_a_probe_that_hangs_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    binary = tmp_path / "hangs"
    binary.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n")
    binary.chmod(0o755)
    outcome = probe(binary, ["-x"], tmp_path, ProbeBudget(), timeout=1.0)
    assert outcome.verdict == "unknown" and outcome.line == "did not finish within 1 s (killed)"
    child = int(pidfile.read_text())
    for _ in range(100):  # the kill is sent; wait for the kernel to reap it
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child}/stat").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the probe's child outlived it")


def test_variable_fixes_change_only_the_refused_flag() -> None:
    assert variable_fix(["--amx"], Rejection("--amx", "", "remove")) == []
    assert variable_fix(["-fa"], Rejection("-fa", "", "set_value", "on")) == ["-fa", "on"]
    assert variable_fix(["-fa", "yes", "-x"], Rejection("-fa", "", "set_value", "on")) == ["-fa", "on", "-x"]
    assert variable_fix(["--foo", "3", "-y"], Rejection("--foo", "", "remove", dropped_value="3")) == ["-y"]
    assert variable_fix(["-y"], Rejection("--foo", "", "remove")) is None
