"""The real captures in tests/fixtures/real (see the README.md in each folder): what ran, read as the wizard reads
a run's log (bytes that are not UTF-8 become U+FFFD)."""

from __future__ import annotations

import re
from pathlib import Path

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
IK = REAL / "ik-cuda"
MAINLINE = REAL / "amx-mainline"

# The H100 host the captures were made on (both READMEs): one NUMA node, a Xeon with AMX.
CAPTURE_MACHINE = {
    "cpu_model": "Intel(R) Xeon(R) Processor",
    "amx_flags": ["amx_bf16", "amx_int8", "amx_tile"],
    "numa_nodes": [0],
    "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "580.95.05"}],
    "gpu_query": "nvidia-smi: 1 GPU",
}


def ik(name: str) -> str:
    """A capture of ik_llama.cpp built with CUDA."""
    return (IK / name).read_bytes().decode("utf-8", "replace")


def mainline(name: str) -> str:
    """A capture of mainline llama.cpp with its CPU AMX backend and CUDA."""
    return (MAINLINE / name).read_bytes().decode("utf-8", "replace")


def exit_code(text: str) -> int:
    """The ``EXIT_CODE=<n>`` every capture ends with."""
    found = re.findall(r"EXIT_CODE=(\d+)", text)
    assert found, "a capture ends with EXIT_CODE=<n>"
    return int(found[-1])


def with_generated(text: str, tokens: int) -> str:
    """The capture as if ``-n tokens`` had been asked and that many generated: the two lines that say so changed."""
    text, n = re.subn(r"n_predict = \d+", f"n_predict = {tokens}", text)
    assert n == 1
    text, n = re.subn(r"(?m)^(main:\s+eval time =\s+[\d.]+ ms /)\s+\d+ tokens", rf"\g<1> {tokens:5d} tokens", text)
    assert n == 1
    return text
