"""Facts about a machine: host, kernel, CPU (and its AMX flags), NUMA nodes, GPUs where nvidia-smi exists.

The session records them as a ``machine_observed`` event (:func:`machine_event_data`) when it is opened, so the
record's machine section is part of the chain and verify checks it. A session without that event gets the facts of
the machine writing the record, labelled as not verified.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
from pathlib import Path

from ..engine.events import MachineObserved
from ..engine.procs import run_probe
from ..engine.store import now_iso
from .model import GpuInfo, MachineFacts

# Flags the runbook's hybrid mode depends on, shown present or absent in the record.
CPU_FLAGS_OF_INTEREST = ("amx_tile", "amx_int8", "amx_bf16", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni")
NVIDIA_SMI_QUERY = ("--query-gpu=name,driver_version", "--format=csv,noheader")


def parse_cpuinfo(text: str) -> tuple[str, int, frozenset[str]]:
    """``(model name, logical CPU count, flags)`` from the text of /proc/cpuinfo (x86 or not)."""
    model = ""
    count = 0
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            count += 1
        elif key in ("model name", "cpu model", "hardware") and not model:
            model = value
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, count, frozenset(flags)


def query_gpus(nvidia_smi: str = "nvidia-smi", timeout: float = 10.0) -> tuple[tuple[GpuInfo, ...], str]:
    """GPUs and driver versions from ``nvidia-smi``, and a plain sentence on how the query went."""
    exe = shutil.which(nvidia_smi)
    if exe is None:
        return (), f"{nvidia_smi} not found on PATH (no NVIDIA driver here, or not installed)"
    try:
        probe = run_probe([exe, *NVIDIA_SMI_QUERY], timeout)
    except OSError as exc:
        return (), f"{nvidia_smi} could not be run: {exc.strerror or exc}"
    if probe.returncode is None:
        return (), f"{nvidia_smi} did not answer within {timeout:g} s"
    if probe.returncode != 0:
        first = (probe.stderr or probe.stdout).strip().splitlines()
        return (), f"{nvidia_smi} exited {probe.returncode}" + (f": {first[0]}" if first else "")
    gpus = []
    for line in probe.stdout.splitlines():
        if not line.strip():
            continue
        name, _, driver = line.rpartition(",")
        gpus.append(GpuInfo(name.strip() or driver.strip(), driver.strip() if name else ""))
    return tuple(gpus), f"{nvidia_smi}: {len(gpus)} GPU{'s' if len(gpus) != 1 else ''}"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def numa_node_count(nodes: Path = Path("/sys/devices/system/node")) -> int | None:
    """How many NUMA nodes the kernel reports (``None`` where it does not say)."""
    try:
        count = sum(1 for p in nodes.iterdir() if p.name.startswith("node") and p.name[4:].isdigit())
    except OSError:
        return None
    return count or None


def collect_machine(
    cpuinfo: Path = Path("/proc/cpuinfo"),
    nvidia_smi: str = "nvidia-smi",
    timeout: float = 10.0,
    nodes: Path = Path("/sys/devices/system/node"),
) -> MachineFacts:
    """Facts of this machine, now. Missing sources (no /proc, no nvidia-smi) are said, never fatal."""
    try:
        model, count, flags = parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        model, count, flags = platform.processor(), 0, frozenset()
    gpus, how = query_gpus(nvidia_smi, timeout)
    return MachineFacts(
        hostname=socket.gethostname(),
        kernel=platform.release(),
        os=_os_name(),
        cpu_model=model or "unknown",
        cpu_count=count or (os.cpu_count() or 0),
        cpu_flags={flag: flag in flags for flag in CPU_FLAGS_OF_INTEREST},
        gpus=gpus,
        gpu_query=how,
        collected_at=now_iso(),
        numa_nodes=numa_node_count(nodes),
    )


def observe_machine(nvidia_smi: str = "nvidia-smi", timeout: float = 10.0) -> MachineObserved:
    """This machine's facts as a ``machine_observed`` event, for the session to record when it is opened
    (``session.record(observe_machine())``). nvidia-smi may take seconds: call it off the UI thread."""
    facts = collect_machine(nvidia_smi=nvidia_smi, timeout=timeout).event_data()
    return MachineObserved(
        hostname=facts["hostname"],
        kernel=facts["kernel"],
        os=facts["os"],
        cpu_model=facts["cpu_model"],
        cpu_count=facts["cpu_count"],
        cpu_flags=facts["cpu_flags"],
        numa_nodes=facts["numa_nodes"],
        gpus=facts["gpus"],
        gpu_query=facts["gpu_query"],
    )
