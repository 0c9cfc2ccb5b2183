"""What the two stand-in programs share: the build they pretend to be, the label, the model, the numbers.

Pure standard library and nothing from the rest of amxwizard, so a stand-in starts fast. Every number comes from
a hash of the arguments: the same command prints the same output.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from dataclasses import dataclass
from typing import TextIO

BUILD_ENV = "AMXWIZARD_STANDIN_BUILD"
BUILD_NUMBER = 6423
BUILD_COMMIT = "5f0d3e1c"
COMPILER = "cc (GCC) 13.3.0 for x86_64-linux-gnu"
# The GPU the stand-ins report, as ggml_cuda_init and nvidia-smi name it.
GPU_NAME = "NVIDIA RTX 6000 Ada Generation"
GPU_CC = "8.9"
GPU_VRAM_MIB = 48647
GPU_FREE_MIB = 47650

# The model every runbook command loads, as llama.cpp describes it. The file itself is never read.
MODEL_ARCH = "qwen3moe"
MODEL_TYPE = "qwen3moe 30B.A3B Q4_0"
MODEL_SIZE = 17_373_395_968  # bytes, "16.18 GiB"
MODEL_PARAMS = 30_532_122_624
N_LAYER = 48
GPU_ONLY_NGL = N_LAYER + 1  # the repeating layers and the output layer: from here on the AMX buffer is not used
# The crash needs a prompt micro-batch big enough for the scheduler to move a CPU layer's matrix multiply (with its
# weight) to the GPU: 32 tokens, the CUDA backend's op-offload threshold, as on the real builds.
OFFLOAD_MIN_BATCH = 32


@dataclass(frozen=True, slots=True)
class Build:
    """``build/bin/build-info.json`` as the stand-in cmake writes it."""

    debug_tensor_copy: bool = False
    fixes: tuple[str, ...] = ()
    path: str = ""
    found: bool = False
    speed_factor: float = 1.0  # a rehearsal can make a build slower (0.8: 20% slower) to see a regression caught

    @property
    def fixed(self) -> bool:
        return bool(self.fixes)


def load_build() -> Build:
    """The build named by ``$AMXWIZARD_STANDIN_BUILD``; an unpatched release build when there is none."""
    path = os.environ.get(BUILD_ENV, "")
    if not path:
        return Build()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return Build(path=path)
    if not isinstance(data, dict):
        return Build(path=path)
    fixes = data.get("fixes") or []
    factor = data.get("speed_factor", 1.0)
    speed = float(factor) if isinstance(factor, int | float) and 0 < factor <= 10 else 1.0
    return Build(
        bool(data.get("debug_tensor_copy")), tuple(str(f) for f in fixes if isinstance(f, str)), path, True, speed
    )


def rng(*parts: object) -> random.Random:
    """A generator seeded from ``parts`` (a string seed is hashed with sha512, so runs repeat exactly)."""
    return random.Random("\x1f".join(str(p) for p in parts))


def jitter(spread: float, *parts: object) -> float:
    """A deterministic offset in ``[-spread, spread]``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2**64 * 2 - 1) * spread


def estimate_tokens(text: str) -> int:
    """Prompt tokens, estimated as words x 1.3 (English text in a BPE vocabulary)."""
    return max(1, round(len(text.split()) * 1.3))


def mode_of(ngl: int) -> str:
    """``cpu``, ``hybrid`` (some layers on the GPU, the rest in the AMX buffer) or ``gpu``. A negative ``-ngl``
    (the default) offloads every layer, as today's builds do."""
    if ngl == 0:
        return "cpu"
    return "gpu" if ngl < 0 or ngl >= GPU_ONLY_NGL else "hybrid"


def offloaded_layers(ngl: int) -> int:
    """How many of the ``N_LAYER + 1`` layers ``-ngl`` puts on the GPU."""
    return N_LAYER + 1 if ngl < 0 else min(ngl, N_LAYER + 1)


def cuda_init_lines() -> list[str]:
    """ggml_cuda_init's report of the GPU, as the CUDA build prints it first thing."""
    return [
        "ggml_cuda_init: found 1 CUDA devices:",
        f"  Device 0: {GPU_NAME}, compute capability {GPU_CC}, VMM: yes, VRAM: {GPU_VRAM_MIB} MiB",
    ]


class Out:
    """Writes that reach a merged ``2>&1`` log in the order they were made."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.out, self.err = out, err

    def stdout(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def stderr(self, text: str) -> None:
        self.err.write(text)
        self.err.flush()

    def label(self, text: str, *, stdout: bool = True) -> None:
        """The stand-in label as the first line of the output: on stdout (unless told not to) and on stderr
        when that is a different file, so any capture starts with it."""
        if stdout:
            self.stdout(text + "\n")
        if not stdout or not _same_file(self.out, self.err):
            self.stderr(text + "\n")


def _same_file(a: TextIO, b: TextIO) -> bool:
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def gib(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB"


def model_load_failure(out: Out, model: str, program_line: str) -> int:
    """What llama.cpp prints when the model file cannot be opened; returns the exit status (1)."""
    out.stderr(f"gguf_init_from_file: failed to open GGUF file '{model}' (No such file or directory)\n")
    out.stderr(f"llama_model_load: error loading model: llama_model_loader: failed to load model from {model}\n")
    out.stderr("llama_model_load_from_file_impl: failed to load model\n")
    out.stderr(program_line + "\n")
    return 1
