"""Can this checkout crash the way the runbook says? Its AMX backend, its scheduler, and the two together.

The runbook's crash needs both: weights in an AMX buffer (which the GPU cannot read back), and a scheduler that
offloads an op with such a weight to the GPU during a large batch (32 tokens or more) without first requiring
the weight to be in a host buffer. Each is read from the source tree (:mod:`amxwizard.engine.ggml_tree`) and
the build's CMake cache; what the person sees is one of *cannot crash this way* or *will crash for batches of 32
tokens or more*, with the lines that say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..fileio import shown_path
from ..ggml_tree import HOST_GUARD, SchedulerFound, SourceLine, find_amx_buffer_types, find_scheduler
from .build import BuildFolder, is_on
from .checks import Check

OFFLOAD_BATCH = 32  # the CUDA backend's offload_op wants ops whose batch is at least this many tokens
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, slots=True)
class AmxBackend:
    """Whether the checkout has an AMX backend: its buffer type in the sources, its options in the cache."""

    buffer_types: tuple[SourceLine, ...]
    cache_options: Mapping[str, str]
    cache_shown: str

    @property
    def present(self) -> bool:
        return bool(self.buffer_types)

    @property
    def disabled(self) -> bool:
        """Configured with every AMX option off (and no native build to turn it on)."""
        if not self.cache_options:
            return False
        amx = [v for n, v in self.cache_options.items() if n.startswith("GGML_AMX")]
        return bool(amx) and not any(is_on(v) for v in amx) and not is_on(self.cache_options.get("GGML_NATIVE"))


def cpu_amx_flags(cpuinfo: Path = CPUINFO) -> tuple[str, ...] | None:
    """The ``amx_*`` flags of this CPU (empty: none), or ``None`` when /proc/cpuinfo cannot be read."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            flags.update(f for f in value.split() if f.startswith("amx"))
    return tuple(sorted(flags))


def amx_backend(root: Path, folders: Sequence[BuildFolder]) -> AmxBackend:
    cache: dict[str, str] = {}
    shown = ""
    for folder in folders:
        if folder.configured:
            entries = folder.cache()
            cache = {n: v for n, v in entries.items() if n.startswith("GGML_AMX") or n == "GGML_NATIVE"}
            shown = f"{folder.shown}CMakeCache.txt"
            break
    return AmxBackend(tuple(find_amx_buffer_types(root)), cache, shown)


def amx_check(backend: AmxBackend, root: Path, cpu_flags: tuple[str, ...] | None) -> Check:
    cpu = (
        "this CPU's AMX support is unknown (no /proc/cpuinfo)"
        if cpu_flags is None
        else f"this CPU has {' '.join(cpu_flags)}"
        if cpu_flags
        else "this CPU has no AMX (no amx flags in /proc/cpuinfo)"
    )
    options = ", ".join(f"{n}={v}" for n, v in sorted(backend.cache_options.items())) or "no GGML_AMX option"
    cache = f"{backend.cache_shown}: {options}" if backend.cache_shown else "no configured build to read options from"
    evidence = tuple(line.shown(root) for line in backend.buffer_types)
    if not backend.present:
        return Check(
            "amx backend",
            "warn",
            "no AMX backend: the runbook's crash cannot happen on this checkout; AMX criteria will be not "
            f"applicable (no AMX buffer type in the ggml sources; {cache}; hybrid runs use CPU and GPU buffers "
            f"only; {cpu})",
            evidence=evidence,
        )
    top = backend.buffer_types[0]
    first = f"{top.name} at {top.where(root)}" if top.name else top.shown(root)
    if backend.disabled:
        return Check(
            "amx backend",
            "warn",
            f"an AMX buffer type is in the sources ({first}) but the build is configured without it ({cache}): "
            f"nothing will be placed in AMX buffers; {cpu}",
            evidence=evidence,
        )
    if cpu_flags is not None and "amx_int8" not in cpu_flags and "amx_tile" not in cpu_flags:
        return Check(
            "amx backend",
            "warn",
            f"AMX buffer type in the sources ({first}; {cache}), but {cpu}: AMX buffers cannot be used here",
            evidence=evidence,
        )
    return Check("amx backend", "ok", f"AMX buffer type in the sources ({first}); {cache}; {cpu}", evidence=evidence)


def scheduler_check(found: SchedulerFound | None, root: Path) -> Check:
    if found is None:
        return Check(
            "scheduler",
            "warn",
            "not found: no loop over an op's sources that checks GGML_BACKEND_BUFFER_USAGE_WEIGHTS in the ggml "
            "sources, so whether ops with weights are offloaded cannot be told",
        )
    placement = found.placement
    fn = placement.function
    shown = shown_path(found.path, root)
    where = f"{fn.name} ({shown} lines {fn.lines})"
    evidence = tuple(line.shown(root) for line in placement.evidence(found.path, found.text))
    decision = placement.offload
    if decision is None:
        return Check(
            "scheduler",
            "ok",
            f"{where} runs an op with a weight where the weight is (line {placement.weights_line}) and never "
            "offloads it to another backend",
            evidence=evidence,
        )
    condition = f"line {decision.line}: if ({decision.text})"
    if decision.guarded:
        return Check(
            "scheduler",
            "ok",
            f"op offload decided in {where}, {condition}: guard present (the weight must be in a host buffer, "
            f"line {decision.guard_line})",
            evidence=evidence,
        )
    return Check(
        "scheduler",
        "warn",
        f"op offload decided in {where}, {condition}: without the host-buffer guard ({HOST_GUARD}), a weight is "
        "copied to the GPU whatever buffer holds it",
        evidence=evidence,
    )


def crash_check(
    backend: AmxBackend, found: SchedulerFound | None, root: Path, cpu_flags: tuple[str, ...] | None = None
) -> Check:
    """The verdict: *cannot crash this way* or *will crash for batches of 32 tokens or more*."""
    lines: list[str] = [line.shown(root) for line in backend.buffer_types[:2]]
    decision = found.placement.offload if found is not None else None
    if found is not None and decision is not None:
        text = found.text.splitlines()
        line = text[decision.line - 1] if 0 < decision.line <= len(text) else ""
        lines.append(SourceLine(found.path, decision.line, line).shown(root))
    evidence = tuple(lines)
    if not backend.present:
        return Check(
            "crash case",
            "warn",
            "cannot crash this way: no AMX backend, so no weight sits in a buffer the GPU cannot read; the "
            "runbook's fix has nothing to fix here",
            evidence=evidence,
        )
    if found is None:
        return Check(
            "crash case",
            "warn",
            "cannot tell: the checkout has an AMX buffer type, but where the scheduler offloads ops with weights "
            "was not found",
            evidence=evidence,
        )
    if decision is None:
        return Check(
            "crash case",
            "warn",
            f"cannot crash this way: {found.placement.function.name} never offloads an op with a weight",
            evidence=evidence,
        )
    if decision.guarded:
        return Check(
            "crash case",
            "warn",
            f"cannot crash this way: guard present at line {decision.guard_line} (a weight in an AMX buffer keeps "
            "its op on the CPU); approach B is already in this checkout",
            evidence=evidence,
        )
    verdict = (
        f"will crash for batches of {OFFLOAD_BATCH} tokens or more: an AMX buffer type, and the op offload at "
        f"line {decision.line} of {shown_path(found.path, root)} has no host-buffer guard (the runbook's premise "
        "holds; approach B adds the guard)"
    )
    if cpu_flags is not None and "amx_int8" not in cpu_flags and "amx_tile" not in cpu_flags:
        return Check(
            "crash case",
            "warn",
            f"{verdict}; but only on a CPU with AMX, and this CPU has none, so not on this machine",
            evidence=evidence,
        )
    return Check("crash case", "ok", verdict, evidence=evidence)


def crash_checks(root: Path, folders: Sequence[BuildFolder], cpuinfo: Path = CPUINFO) -> list[Check]:
    """The AMX backend, the scheduler, and which case this checkout is."""
    if not root.is_dir():
        return []
    backend = amx_backend(root, folders)
    found = find_scheduler(root)
    cpu = cpu_amx_flags(cpuinfo)
    return [amx_check(backend, root, cpu), scheduler_check(found, root), crash_check(backend, found, root, cpu)]
