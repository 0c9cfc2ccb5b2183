"""The build folder the runbook's commands build in: configured or not, with which options, for this machine.

The folder is the one the commands name (``cmake --build build``), resolved where they run. Its
``CMakeCache.txt`` says whether it is configured and with which options; the machine (``nvcc``, an NVIDIA GPU)
says which options a configure should use.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...runbook.models import Runbook
from ...runbook.templates import TemplateError, split_args
from ..fileio import shown_path
from ..procs import run_probe
from .checks import Check, fixes_text, steps_text
from .commands import Invocation, StepCommands

# Options that decide what the runbook can test: CUDA for the GPU, AMX for the crash, the build type for speed.
REPORTED_OPTIONS = ("GGML_CUDA", "GGML_NATIVE", "CMAKE_BUILD_TYPE")
_AMX_OPTION_RE = re.compile(r"^GGML_AMX\w*$")
_CACHE_LINE_RE = re.compile(r"^([A-Za-z_][\w.-]*)(?::([A-Z]+))?=(.*)$")
_TRUE = {"ON", "YES", "TRUE", "Y", "1"}
CUDA_OPTION = "-DGGML_CUDA=ON"
NVIDIA_SMI_TIMEOUT = 10.0
CUDA_BIN_DIRS = (Path("/usr/local/cuda/bin"),)


def read_cmake_cache(path: Path) -> dict[str, str]:
    """``NAME -> value`` of a ``CMakeCache.txt`` (comments and internal entries left out)."""
    entries: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        if line.startswith(("#", "//")):
            continue
        m = _CACHE_LINE_RE.match(line.strip())
        if m and m.group(2) != "INTERNAL":
            entries[m.group(1)] = m.group(3)
    return entries


def _s(items: Sequence[object]) -> str:
    """The verb's "s" for one subject: "step 1.0 configures", "steps 1.0, 1.1 configure"."""
    return "s" if len(items) == 1 else ""


def is_on(value: str | None) -> bool:
    return value is not None and value.strip().upper() in _TRUE


@dataclass(slots=True)
class BuildFolder:
    """A build folder the runbook's commands use, and what its cache says."""

    path: Path
    shown: str
    build_steps: list[str] = field(default_factory=list)  # steps that run `cmake --build` in it
    configure_steps: list[str] = field(default_factory=list)  # steps that configure it
    configure: list[Invocation] = field(default_factory=list)

    @property
    def cache_file(self) -> Path:
        return self.path / "CMakeCache.txt"

    @property
    def configured(self) -> bool:
        return self.cache_file.is_file()

    def cache(self) -> dict[str, str]:
        return read_cmake_cache(self.cache_file)


def _is_cmake(inv: Invocation) -> bool:
    return not inv.program.expanded and os.path.basename(inv.program.text).startswith("cmake")


def _resolve(inv: Invocation, text: str) -> Path:
    path = Path(os.path.expanduser(text))
    return Path(os.path.normpath(path if path.is_absolute() else inv.cwd / path))


def _configure_dir(inv: Invocation) -> Path | None:
    """The build folder a ``cmake`` configure writes: ``-B dir`` (or ``-Bdir``), else the folder it runs in."""
    args = [w.text for w in inv.args]
    for i, arg in enumerate(args):
        if arg == "-B" and i + 1 < len(args):
            return _resolve(inv, args[i + 1])
        if arg.startswith("-B") and len(arg) > 2:
            return _resolve(inv, arg[2:])
    if any(not a.startswith("-") for a in args) or "-S" in args:
        return inv.cwd
    return None


def build_folders(commands: StepCommands, root: Path) -> list[BuildFolder]:
    """The folders the runbook builds in (``cmake --build DIR``), each with the steps that build and configure it."""
    folders: dict[Path, BuildFolder] = {}
    configures: list[tuple[Path, Invocation]] = []
    for inv in commands.invocations:
        if not _is_cmake(inv):
            continue
        args = [w.text for w in inv.args]
        if "--build" in args:
            i = args.index("--build")
            if i + 1 < len(args) and not inv.args[i + 1].expanded:
                path = _resolve(inv, args[i + 1])
                folder = folders.setdefault(path, BuildFolder(path, shown_path(path, root) + "/"))
                folder.build_steps.append(inv.step)
        elif not any(a in ("--version", "--help", "-E", "-P", "--install") for a in args):
            target = _configure_dir(inv)
            if target is not None:
                configures.append((target, inv))
    for path, inv in configures:
        if path in folders:
            folders[path].configure_steps.append(inv.step)
            folders[path].configure.append(inv)
    return list(folders.values())


@dataclass(frozen=True, slots=True)
class CudaMachine:
    """Whether this machine can build and run CUDA: ``nvcc`` and an NVIDIA GPU."""

    nvcc: Path | None
    gpus: tuple[str, ...]
    gpu_note: str

    @property
    def ready(self) -> bool:
        return self.nvcc is not None and bool(self.gpus)

    def describe(self) -> str:
        nvcc = f"nvcc at {self.nvcc}" if self.nvcc else "no nvcc (on PATH or in /usr/local/cuda/bin)"
        return f"{nvcc}; {self.gpu_note}"


def cuda_machine(timeout: float = NVIDIA_SMI_TIMEOUT, cuda_dirs: Sequence[Path] = CUDA_BIN_DIRS) -> CudaMachine:
    """Look for ``nvcc`` and ask ``nvidia-smi -L`` for GPUs (in its own process group, killed at ``timeout``)."""
    found = shutil.which("nvcc")
    nvcc = Path(found) if found else next((d / "nvcc" for d in cuda_dirs if (d / "nvcc").is_file()), None)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return CudaMachine(nvcc, (), "no nvidia-smi on PATH (no NVIDIA driver)")
    try:
        probe = run_probe([smi, "-L"], timeout, merge_stderr=True)
    except OSError as exc:
        return CudaMachine(nvcc, (), f"nvidia-smi could not run: {exc.strerror or exc}")
    if probe.returncode is None:
        return CudaMachine(nvcc, (), f"nvidia-smi -L did not answer within {timeout:g} s")
    gpus = tuple(line.strip() for line in probe.stdout.splitlines() if line.startswith("GPU "))
    if probe.returncode != 0 or not gpus:
        first = next((line.strip() for line in probe.stdout.splitlines() if line.strip()), "no output")
        return CudaMachine(nvcc, (), f"nvidia-smi lists no GPU ({first[:80]})")
    names = ", ".join(g.split("(UUID")[0].split(":", 1)[-1].strip() for g in gpus)
    return CudaMachine(nvcc, gpus, f"{len(gpus)} NVIDIA GPU{'s' if len(gpus) != 1 else ''} ({names})")


def _reported(cache: Mapping[str, str]) -> list[str]:
    """The options worth reporting, in reading order: CUDA, AMX (each GGML_AMX* set, or GGML_AMX), native, type."""
    amx = sorted(n for n in cache if _AMX_OPTION_RE.match(n)) or ["GGML_AMX"]
    return [REPORTED_OPTIONS[0], *amx, *REPORTED_OPTIONS[1:]]


def _options_text(cache: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={cache[name] if cache.get(name) else 'not set'}" for name in _reported(cache))


def build_checks(
    runbook: Runbook, values: Mapping[str, str], commands: StepCommands, root: Path, machine: CudaMachine
) -> tuple[list[Check], list[BuildFolder]]:
    """Each build folder: configured (with its options) or not (and whether a step configures it); and whether
    the configure step's options fit this machine."""
    checks: list[Check] = []
    folders = build_folders(commands, root)
    for folder in folders:
        name = f"build {folder.shown}"
        builds = steps_text(folder.build_steps)
        if not folder.configured:
            if folder.configure_steps:
                checks.append(
                    Check(
                        name,
                        "warn",
                        f"not configured ({folder.cache_file.name} is missing): "
                        f"{steps_text(folder.configure_steps)} configure{_s(folder.configure_steps)} it before the "
                        f"builds ({builds})",
                    )
                )
            else:
                checks.append(
                    Check(
                        name,
                        "fail",
                        f"not configured ({folder.cache_file.name} is missing) and no step configures it: "
                        f"cmake --build cannot build it ({builds}); configure it first (cmake -S . -B {folder.shown})",
                    )
                )
            checks.extend(_options_checks(runbook, values, folder, machine))
            continue
        cache = folder.cache()
        lines = tuple(f"{folder.shown}CMakeCache.txt: {n}={cache[n]}" for n in _reported(cache) if n in cache)
        finding = f"configured: {_options_text(cache)}"
        status: str = "ok"
        if machine.ready and not is_on(cache.get("GGML_CUDA")):
            status = "warn"
            finding += (
                f"; built without CUDA although this machine has {machine.describe()}: nothing can be offloaded "
                "to the GPU, so the hybrid and GPU-only tests cannot run as the runbook means them"
            )
        elif is_on(cache.get("GGML_CUDA")) and not machine.gpus:
            status = "warn"
            finding += f"; configured with GGML_CUDA=ON but {machine.gpu_note}"
        checks.append(Check(name, "ok" if status == "ok" else "warn", finding, evidence=lines))
        checks.extend(_options_checks(runbook, values, folder, machine))
    return checks, folders


def _options_variable(runbook: Runbook, values: Mapping[str, str], inv: Invocation) -> str | None:
    """The ``args`` variable that holds a configure command's ``-D`` options."""
    args = [w.text for w in inv.args]
    for name in sorted(runbook.args_variables):
        try:
            words = split_args(values.get(name, ""))
        except TemplateError:
            continue
        if any(w.startswith("-D") for w in words) and all(w in args for w in words):
            return name
    return None


def suggested_options(words: Sequence[str], machine: CudaMachine) -> list[str]:
    """``words`` with ``-DGGML_CUDA=ON`` present exactly when this machine can build and run CUDA."""
    kept = [w for w in words if not w.upper().startswith("-DGGML_CUDA=")]
    return [CUDA_OPTION, *kept] if machine.ready else kept


def _options_checks(
    runbook: Runbook, values: Mapping[str, str], folder: BuildFolder, machine: CudaMachine
) -> list[Check]:
    checks: list[Check] = []
    for inv in folder.configure[:1]:
        name = _options_variable(runbook, values, inv)
        if name is None:
            continue
        words = split_args(values.get(name, ""))
        if folder.configured:
            checks.append(
                Check(
                    f"variable {name}",
                    "ok",
                    f"not used: {folder.shown} is already configured, and {steps_text([inv.step])} leaves it as it is",
                )
            )
            continue
        wanted = suggested_options(words, machine)
        if wanted == words:
            checks.append(
                Check(
                    f"variable {name}", "ok", f"{' '.join(words) or '(none)'} fits this machine ({machine.describe()})"
                )
            )
            continue
        value = " ".join(wanted)
        why = (
            f"this machine has {machine.describe()}: add {CUDA_OPTION}"
            if machine.ready
            else f"{machine.describe()}: a configure with {CUDA_OPTION} would fail or build for a GPU that is not here"
        )
        checks.append(
            Check(
                f"variable {name}",
                "warn",
                f"{why}; set {fixes_text({name: value})} for {steps_text([inv.step])}",
                fixes={name: value},
            )
        )
    return checks
