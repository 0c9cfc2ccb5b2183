"""What a llama.cpp run really used, from its own log: buffers by backend, offloaded layers, GPU devices.

The lines, as ik_llama.cpp and mainline llama.cpp print them (a mainline log may prefix each with a timestamp and
a level letter, ``0.00.304.091 I``)::

    llm_load_tensors: offloaded 15/25 layers to GPU                       (ik; mainline: load_tensors: ...)
    llm_load_tensors:        CPU buffer size =     5.94 MiB               (ik: the model's weights, no "model")
    load_tensors:          AMX model buffer size =    90.00 MiB           (mainline)
    llama_kv_cache_init:  CUDA_Host KV buffer size =    18.00 MiB
    llama_init_from_model:      CUDA0 compute buffer size =     8.06 MiB
      Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes, VRAM: 81079 MiB
    llama_prepare_model_devices: using device CUDA0 (NVIDIA H100 80GB HBM3) (0000:00:06.0) - 80552 MiB free

A mainline log can load twice (``-fit`` first measures with empty buffers), so the last figure of each buffer is
the one that counts, and a buffer is *in use* only with a size above zero. Older builds print none of this: then
the facts are ``None`` and the judges say they cannot tell, never that all is well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ._text import LogLine, log_lines

Mode = Literal["hybrid", "cpu", "gpu"]
BufferKind = Literal["model", "KV", "output", "compute"]

_UNITS = {"B": 1 / 1024**2, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
_BUFFER_RE = re.compile(
    r"(?P<who>[A-Za-z_][\w]*):\s+(?P<name>[A-Za-z][\w-]*)\s+(?:(?P<kind>model|KV|output|compute)\s+)?"
    r"buffer size\s*=\s*(?P<size>\d+(?:\.\d+)?)\s*(?P<unit>GiB|MiB|KiB|B)\b"
)
_OFFLOADED_RE = re.compile(r"\boffloaded (?P<k>\d+)/(?P<n>\d+) layers to GPU")
_REPEATING_RE = re.compile(r"\boffloading (?P<k>\d+) repeating layers to GPU")
_N_LAYER_RE = re.compile(r"\bn_layer\s*=\s*(?P<n>\d+)\b")
_N_UBATCH_RE = re.compile(r"\bn_ubatch\s*=\s*(?P<n>\d+)\b")
_DEVICE_RE = re.compile(r"^\s*Device (?P<index>\d+): (?P<name>[^,]+), compute capability (?P<cc>[\d.]+)")
_USING_DEVICE_RE = re.compile(r"\busing device (?P<dev>[A-Za-z]+\d+) \((?P<name>[^)]*)\)")
_IK_USING_RE = re.compile(r"^(?P<dev>[A-Za-z]+\d+): using device (?P=dev) - (?P<free>\d+) MiB free")
_SYSTEM_INFO_RE = re.compile(r"\bsystem_info:")
_AMX_FEATURE_RE = re.compile(r"\bAMX_INT8 = 1\b")
# One cheap test per line; only lines that pass it go through the patterns above.
_GATE_RE = re.compile(r"buffer size|offload|n_layer|n_ubatch|Device \d|using device|system_info")

# Buffer types whose memory the CPU reads directly (ggml_backend_buffer_is_host): weights in them can be copied to
# a GPU as they are. AMX and repacked CPU buffers hold weights in a layout only their own kernels read.
HOST_BUFFERS = frozenset({"CPU", "CPU_Mapped"})
_HOST_SUFFIX = "_Host"  # CUDA_Host, ROCm_Host, SYCL_Host ...: pinned host memory
_GPU_RE = re.compile(r"^(?:CUDA|ROCm|MUSA|SYCL|Vulkan|Metal|CANN|OpenCL|RPC)\d*(?:\[|$)")


def is_host_buffer(name: str) -> bool:
    """True for a buffer the CPU can read as it is (``CPU``, ``CPU_Mapped``, ``CUDA_Host``...)."""
    return name in HOST_BUFFERS or name.endswith(_HOST_SUFFIX)


def is_gpu_buffer(name: str) -> bool:
    """True for device memory of a GPU (``CUDA0``, ``ROCm1``, ``Vulkan0``, ``Metal``...), not pinned host memory."""
    return bool(_GPU_RE.match(name)) and not name.endswith(_HOST_SUFFIX)


def is_amx_buffer(name: str) -> bool:
    """True for the CPU AMX backend's buffer."""
    return name.upper() == "AMX"


@dataclass(frozen=True, slots=True)
class Buffer:
    """One buffer a run allocated: ``name`` (``CUDA0``), what it holds and its size in MiB, where it was printed."""

    name: str
    kind: BufferKind
    mib: float
    line: int

    @property
    def in_use(self) -> bool:
        return self.mib > 0

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "mib": self.mib, "line": self.line}


@dataclass(frozen=True, slots=True)
class Device:
    """A GPU the log names: ``CUDA0`` and ``NVIDIA H100 80GB HBM3`` (either may be empty when not printed)."""

    device: str
    name: str
    line: int

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "name": self.name, "line": self.line}


@dataclass(frozen=True, slots=True)
class BackendUse:
    """Facts of one run; a field is ``None`` (or empty) when the log does not print it."""

    buffers: tuple[Buffer, ...] = ()
    offloaded: int | None = None
    layers: int | None = None
    offload_line: LogLine | None = None
    repeating_offloaded: int | None = None
    n_layer: int | None = None
    n_ubatch: int | None = None
    devices: tuple[Device, ...] = ()
    amx_feature: bool | None = None  # system_info lists AMX_INT8 = 1 (the CPU backend was built with AMX)

    @property
    def reported(self) -> bool:
        """True if the log says where the model went (an offload line or model buffers)."""
        return self.offloaded is not None or any(b.kind == "model" for b in self.buffers)

    def in_use(self, kind: BufferKind | None = None) -> list[Buffer]:
        """Buffers with a size above zero (of ``kind`` if given)."""
        return [b for b in self.buffers if b.in_use and (kind is None or b.kind == kind)]

    @property
    def gpu_model_buffers(self) -> list[Buffer]:
        """Weights on a GPU."""
        return [b for b in self.in_use("model") if is_gpu_buffer(b.name)]

    @property
    def gpu_buffers(self) -> list[Buffer]:
        """Any GPU memory in use (weights, KV cache, compute)."""
        return [b for b in self.in_use() if is_gpu_buffer(b.name)]

    @property
    def amx_buffers(self) -> list[Buffer]:
        """AMX buffers in use: weights the AMX backend holds."""
        return [b for b in self.in_use() if is_amx_buffer(b.name)]

    @property
    def cpu_layers(self) -> range | None:
        """The repeating layers left on the CPU (llama.cpp offloads the last ones): ``range(0, 9)`` for 15 of 24."""
        if self.n_layer is None:
            return None
        if self.repeating_offloaded is not None:
            on_gpu = self.repeating_offloaded
        elif self.offloaded is not None:
            on_gpu = min(self.offloaded, self.n_layer)
        else:
            return None
        return range(0, max(self.n_layer - on_gpu, 0))

    def mode(self) -> Mode | None:
        """``hybrid``, ``gpu`` or ``cpu`` by the offload line; ``None`` when the log does not say."""
        if self.offloaded is None or self.layers is None:
            return None
        if self.offloaded <= 0:
            return "cpu"
        return "gpu" if self.offloaded >= self.layers else "hybrid"

    def describe(self) -> str:
        """``offloaded 15/25 layers; model buffers CPU 5.94 MiB, CUDA0 9.39 MiB; GPU NVIDIA H100 80GB HBM3``."""
        parts = []
        if self.offloaded is not None:
            parts.append(f"offloaded {self.offloaded}/{self.layers} layers")
        model = self.in_use("model")
        if model:
            parts.append("model buffers " + ", ".join(f"{b.name} {b.mib:.2f} MiB" for b in model))
        names = list(dict.fromkeys(d.name or d.device for d in self.devices))
        if names:
            parts.append(("GPU " if len(names) == 1 else "GPUs ") + ", ".join(names))
        return "; ".join(parts) if parts else "the log does not say which backends were used"

    def as_json(self) -> dict[str, Any]:
        """Plain JSON for a step's evidence."""
        cpu_layers = self.cpu_layers
        return {
            "reported": self.reported,
            "mode": self.mode(),
            "offloaded": self.offloaded,
            "layers": self.layers,
            "offload_line": self.offload_line.as_json() if self.offload_line else None,
            "buffers": [b.as_json() for b in self.buffers],
            "buffers_in_use": sorted({b.name for b in self.in_use()}),
            "gpu_model_buffers": [b.name for b in self.gpu_model_buffers],
            "amx_buffer": bool(self.amx_buffers),
            "devices": [d.as_json() for d in self.devices],
            "cpu_layers": [cpu_layers.start, cpu_layers.stop - 1] if cpu_layers else None,
            "n_ubatch": self.n_ubatch,
            "amx_feature": self.amx_feature,
        }


def _mib(size: str, unit: str) -> float:
    return round(float(size) * _UNITS[unit], 4)


def parse(text: str) -> BackendUse:
    """Read the backend facts of a llama-cli / llama-bench log (the last figure of each buffer wins)."""
    buffers: dict[tuple[str, str], Buffer] = {}
    offload: tuple[int, int, LogLine] | None = None
    repeating = n_layer = n_ubatch = None
    devices: dict[str, Device] = {}
    amx_feature: bool | None = None
    for number, line in enumerate(log_lines(text), 1):
        if not _GATE_RE.search(line):
            continue
        m = _BUFFER_RE.search(line)
        if m:
            kind: BufferKind = m.group("kind") or "model"  # type: ignore[assignment]  # the pattern limits it
            buffers.pop((m.group("name"), kind), None)  # keep print order of the last load
            buffers[(m.group("name"), kind)] = Buffer(
                m.group("name"), kind, _mib(m.group("size"), m.group("unit")), number
            )
            continue
        m = _OFFLOADED_RE.search(line)
        if m:
            offload = (int(m.group("k")), int(m.group("n")), LogLine(number, line.strip()))
            continue
        m = _REPEATING_RE.search(line)
        if m:
            repeating = int(m.group("k"))
            continue
        m = _N_LAYER_RE.search(line)
        if m:
            n_layer = int(m.group("n"))
            continue
        m = _N_UBATCH_RE.search(line)
        if m:
            n_ubatch = int(m.group("n"))
            continue
        m = _DEVICE_RE.match(line)
        if m:
            key = f"CUDA{m.group('index')}"
            devices[key] = Device(key, m.group("name").strip(), number)
            continue
        m = _USING_DEVICE_RE.search(line)
        if m:
            devices[m.group("dev")] = Device(m.group("dev"), m.group("name").strip(), number)
            continue
        m = _IK_USING_RE.match(line)
        if m:
            known = devices.get(m.group("dev"))
            devices[m.group("dev")] = Device(m.group("dev"), known.name if known else "", number)
            continue
        if _SYSTEM_INFO_RE.search(line):
            amx_feature = bool(_AMX_FEATURE_RE.search(line))
    if offload is not None and offload[0] == 0:
        repeating = 0 if repeating is None else repeating
    return BackendUse(
        buffers=tuple(buffers.values()),
        offloaded=offload[0] if offload else None,
        layers=offload[1] if offload else None,
        offload_line=offload[2] if offload else None,
        repeating_offloaded=repeating,
        n_layer=n_layer,
        n_ubatch=n_ubatch,
        devices=tuple(devices.values()),
        amx_feature=amx_feature,
    )


@dataclass(frozen=True, slots=True)
class ModeCheck:
    """Whether a run was the mode the runbook calls it: ``ok`` True/False, or ``None`` when the log cannot tell."""

    ok: bool | None
    summary: str


def check_mode(expected: Mode, use: BackendUse) -> ModeCheck:
    """Judge the premise of a test: ``hybrid`` needs 0 < K < N layers on the GPU and GPU weights; ``gpu`` needs
    K == N; ``cpu`` needs K == 0 and no weights on a GPU."""
    if use.offloaded is None or use.layers is None:
        if not use.reported:
            return ModeCheck(
                None,
                f"cannot tell whether the run was {expected}: the log has no 'offloaded K/N layers to GPU' line "
                "and no buffer sizes (older builds do not print them)",
            )
        return ModeCheck(None, f"cannot tell whether the run was {expected}: the log has no offload line")
    k, n = use.offloaded, use.layers
    at = f" (log line {use.offload_line.line})" if use.offload_line else ""
    where = f"offloaded {k}/{n} layers to GPU{at}"
    gpu_weights = use.gpu_model_buffers
    weights = ", ".join(f"{b.name} {b.mib:.2f} MiB" for b in gpu_weights)
    if expected == "hybrid":
        if 0 < k < n and gpu_weights:
            return ModeCheck(True, f"hybrid as intended: {k}/{n} layers on the GPU, weights in {weights}")
        if 0 < k < n:
            return ModeCheck(False, f"not hybrid: {where}, but no GPU buffer holds weights")
        if k == 0:
            return ModeCheck(False, f"not hybrid: no layer was offloaded ({where}); the run was CPU-only")
        return ModeCheck(False, f"not hybrid: every layer was offloaded ({where}); the run was GPU-only")
    if expected == "gpu":
        if k == n and gpu_weights:
            return ModeCheck(True, f"GPU-only as intended: {k}/{n} layers on the GPU, weights in {weights}")
        if k == n:
            return ModeCheck(False, f"not GPU-only: {where}, but no GPU buffer holds weights")
        return ModeCheck(False, f"not GPU-only: {where}")
    if k == 0 and not gpu_weights:
        extra = ""
        compute = [b.name for b in use.gpu_buffers]
        if compute:
            extra = f" ({', '.join(dict.fromkeys(compute))} still holds compute/KV buffers)"
        return ModeCheck(True, f"CPU-only as intended: 0/{n} layers on the GPU, no weights on a GPU{extra}")
    if k > 0:
        return ModeCheck(
            False,
            f"not CPU-only: {where}, weights in {weights or 'a GPU buffer'} — a command without -ngl offloads "
            "every layer on builds whose default is all layers; give it -ngl 0",
        )
    return ModeCheck(False, f"not CPU-only: no layer offloaded, but weights sit in {weights}")
