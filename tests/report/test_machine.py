"""Machine facts: CPU model and AMX flags from /proc/cpuinfo, GPUs from nvidia-smi (a stand-in: we have no GPU)."""

from __future__ import annotations

from pathlib import Path

from amxwizard.report.machine import collect_machine, parse_cpuinfo, query_gpus

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "report"


def _nvidia_smi(tmp_path: Path, body: str) -> str:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/bash\n# stand-in for nvidia-smi: there is no GPU on the test machine\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_cpuinfo_of_a_sapphire_rapids_box() -> None:
    model, count, flags = parse_cpuinfo((FIXTURES / "cpuinfo-sapphire-rapids.txt").read_text())
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    assert count == 2
    assert {"amx_tile", "amx_int8", "amx_bf16", "avx512_vnni"} <= flags


def test_a_cpu_without_amx() -> None:
    text = "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nflags\t\t: fpu sse2 avx2 avx512f\n"
    model, count, flags = parse_cpuinfo(text)
    assert (model, count) == ("AMD EPYC 7763 64-Core Processor", 1)
    assert "amx_tile" not in flags and "avx512f" in flags


def test_gpus_and_driver_from_nvidia_smi(tmp_path: Path) -> None:
    smi = _nvidia_smi(
        tmp_path,
        'if [ "$1 $2" != "--query-gpu=name,driver_version --format=csv,noheader" ]; then '
        'exit 2; fi\necho "NVIDIA GeForce RTX 4090, 550.54.14"\n'
        'echo "NVIDIA RTX A6000, 550.54.14"',
    )
    facts = collect_machine(FIXTURES / "cpuinfo-sapphire-rapids.txt", nvidia_smi=smi)
    assert [(g.name, g.driver) for g in facts.gpus] == [
        ("NVIDIA GeForce RTX 4090", "550.54.14"),
        ("NVIDIA RTX A6000", "550.54.14"),
    ]
    assert facts.amx and facts.cpu_model == "Intel(R) Xeon(R) Platinum 8480+"
    assert facts.cpu_flags["amx_int8"] is True


def test_nvidia_smi_missing_failing_or_hanging(tmp_path: Path) -> None:
    gpus, how = query_gpus(str(tmp_path / "absent-nvidia-smi"))
    assert gpus == () and "not found" in how
    failing = _nvidia_smi(
        tmp_path, 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9'
    )
    gpus, how = query_gpus(failing)
    assert gpus == () and "exited 9: NVIDIA-SMI has failed" in how
    hanging = _nvidia_smi(tmp_path, "sleep 60 & sleep 60")
    gpus, how = query_gpus(hanging, timeout=0.5)
    assert gpus == () and how.endswith("did not answer within 0.5 s")


def test_missing_cpuinfo_is_not_fatal(tmp_path: Path) -> None:
    facts = collect_machine(tmp_path / "no-cpuinfo", nvidia_smi=str(tmp_path / "no-smi"))
    assert facts.cpu_count >= 1 and not facts.amx
    assert facts.hostname
