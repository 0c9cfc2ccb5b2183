"""The fingerprint of what a test or benchmark ran: the program and its libraries, the model, the build options,
the source state and the machine — so a later reader can tell which runs came before the fix and which compare.

``collect_fingerprint`` is quick: it hashes the program (and the shared libraries beside it) with a cache keyed by
path, size and modification time, so a binary is read once per build. A model runs to 17 GB and is never hashed
here: its sha256 is whatever the cache already knows, else ``None``; :func:`hash_model_in_background` computes it
in a thread, once per (path, size, mtime), with progress, and hands it over when it is done.

Everything returned is plain JSON. Facts that cannot be read are ``None`` or an ``error`` entry, never a guess.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .fileio import atomic_write

HASH_CHUNK = 4 * 1024 * 1024
PROGRESS_EVERY = 64 * 1024 * 1024  # bytes between progress calls while hashing a model
GIT_TIMEOUT = 30.0
NVIDIA_SMI_TIMEOUT = 10.0
CMAKE_OPTIONS_RE = re.compile(r"^(?:GGML_CUDA|GGML_AMX\w*|GGML_NATIVE|CMAKE_BUILD_TYPE|LLAMA_CUDA|LLAMA_CUBLAS)$")
_PROGRAM_NAME_RE = re.compile(r"(?:^|/)llama-[a-z0-9-]+$|(?:^|/)(?:main|server)$")
_LIBRARY_RE = re.compile(r"\.(?:so(?:\.\d+)*|dylib|dll)$")
BUILD_INFO = "build-info.json"  # what the rehearsal's stand-in build writes beside its programs
# Words that run another program: the program of interest is further along the line.
_WRAPPERS = frozenset({"numactl", "taskset", "nice", "ionice", "env", "time", "sudo", "stdbuf", "exec", "command"})
_WRAPPER_VALUE_OPTIONS = frozenset(
    {"-N", "-m", "-C", "-i", "-p", "-P", "-w", "-c", "-n", "--cpunodebind", "--membind", "--physcpubind"}
)
_SHELL_WORDS = frozenset(
    {"cd", "echo", "export", "set", "if", "then", "fi", "for", "do", "done", "while", "cat", "tee"}
)
_OPERATOR_RE = re.compile(r"^(?:\|\|?|&&|;|&|\d*[<>].*|[<>].*)$")

ProgressCallback = Callable[[int, int], None]
DoneCallback = Callable[[dict[str, Any]], None]


# --- hashing with a cache -------------------------------------------------------------------------------------


def _stat_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path), st.st_size, st.st_mtime_ns


def _cache_file(cache_dir: Path, key: tuple[str, int, int]) -> Path:
    digest = hashlib.sha256(f"{key[0]}\0{key[1]}\0{key[2]}".encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir / f"{digest[:32]}.json"


def cached_sha256(path: Path, cache_dir: Path) -> str | None:
    """The sha256 the cache holds for ``path`` as it is now (same size and mtime), or ``None``."""
    key = _stat_key(path)
    if key is None:
        return None
    try:
        data = json.loads(_cache_file(cache_dir, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and [data.get("path"), data.get("size"), data.get("mtime_ns")] == list(key):
        value = data.get("sha256")
        return value if isinstance(value, str) else None
    return None


def _remember(cache_dir: Path, key: tuple[str, int, int], sha256: str) -> None:
    with contextlib.suppress(OSError):
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            _cache_file(cache_dir, key),
            json.dumps({"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": sha256}),
        )


def file_sha256(
    path: Path,
    cache_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> str | None:
    """sha256 of ``path`` (from the cache when the file is unchanged); ``None`` if it cannot be read or ``stop``
    was set. A file that changes while it is read is not remembered."""
    if cache_dir is not None:
        known = cached_sha256(path, cache_dir)
        if known is not None:
            return known
    key = _stat_key(path)
    if key is None:
        return None
    digest = hashlib.sha256()
    done, next_report = 0, PROGRESS_EVERY
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                if stop is not None and stop.is_set():
                    return None
                digest.update(chunk)
                done += len(chunk)
                if on_progress is not None and done >= next_report:
                    on_progress(done, key[1])
                    next_report = done + PROGRESS_EVERY
    except OSError:
        return None
    if on_progress is not None:
        on_progress(done, key[1])
    value = digest.hexdigest()
    if cache_dir is not None and _stat_key(path) == key:
        _remember(cache_dir, key, value)
    return value


# --- the command ----------------------------------------------------------------------------------------------


def _logical_lines(script: str) -> list[str]:
    return [line for line in script.replace("\\\n", " ").splitlines() if line.strip()]


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def _first_program(words: list[str]) -> tuple[int, str] | None:
    """Index and word of the program a simple command runs, past assignments and wrappers (numactl -N 2,3 ...)."""
    i = 0
    while i < len(words):
        word = words[i]
        if _OPERATOR_RE.match(word):
            return None
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
            i += 1
            continue
        if os.path.basename(word) in _WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in _WRAPPER_VALUE_OPTIONS else 1
            continue
        return i, word
    return None


def program_command(script: str) -> tuple[str, list[str]] | None:
    """The llama.cpp program a command runs and its arguments (up to the first pipe or redirection).

    A word naming ``llama-*`` wins anywhere in the script (it may sit behind ``numactl`` or inside a here-document);
    otherwise the first program of the first command that is not a shell builtin.
    """
    fallback: tuple[str, list[str]] | None = None
    for line in _logical_lines(script):
        words = _words(line)
        for i, word in enumerate(words):
            if _PROGRAM_NAME_RE.search(word) and not word.startswith("-"):
                return word, _args(words[i + 1 :])
        if fallback is None:
            found = _first_program(words)
            if found is not None and found[1] not in _SHELL_WORDS:
                fallback = found[1], _args(words[found[0] + 1 :])
    return fallback


def _args(words: list[str]) -> list[str]:
    out = []
    for word in words:
        if _OPERATOR_RE.match(word):
            break
        out.append(word)
    return out


def option_value(args: list[str], *names: str) -> str | None:
    """The value after the last of ``names`` in ``args`` (``-m model.gguf``, ``--model=model.gguf``)."""
    value = None
    for i, word in enumerate(args):
        if word in names and i + 1 < len(args):
            value = args[i + 1]
        else:
            for name in names:
                if name.startswith("--") and word.startswith(name + "="):
                    value = word.split("=", 1)[1]
    return value


def _resolve(word: str, cwd: Path) -> Path | None:
    if "/" in word:
        path = Path(word).expanduser()
        return path if path.is_absolute() else cwd / path
    found = shutil.which(word)
    return Path(found) if found else None


# --- the parts ------------------------------------------------------------------------------------------------


def _binary(program: Path | None, word: str, cache_dir: Path) -> dict[str, Any]:
    if program is None:
        return {"path": word, "sha256": None, "error": f"{word} is not on PATH"}
    out: dict[str, Any] = {"path": str(program)}
    key = _stat_key(program)
    if key is None:
        return {**out, "sha256": None, "error": "no such file (not built yet?)"}
    out.update(sha256=file_sha256(program, cache_dir), size=key[1], mtime_ns=key[2])
    # ggml and llama are shared libraries next to the programs in today's builds: the fix lands in libggml, not in
    # llama-cli itself. The rehearsal's stand-in build records what it built in build-info.json.
    libraries = []
    with contextlib.suppress(OSError):
        for entry in sorted(program.parent.iterdir()):
            if entry.is_file() and (_LIBRARY_RE.search(entry.name) or entry.name == BUILD_INFO):
                libraries.append({"path": str(entry), "sha256": file_sha256(entry, cache_dir)})
    out["libraries"] = libraries
    return out


def build_identity(binary: Mapping[str, Any]) -> str | None:
    """One hash of a program and the libraries beside it: equal for the same build, different after a rebuild."""
    parts = [str(binary.get("sha256") or "")]
    libs = binary.get("libraries")
    if isinstance(libs, list):
        parts += [f"{lib.get('path', '')}={lib.get('sha256', '')}" for lib in libs if isinstance(lib, dict)]
    if not parts[0]:
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def model_facts(path: Path, cache_dir: Path) -> dict[str, Any]:
    """``{path, size, mtime, sha256}``: sha256 from the cache, else ``None`` (see hash_model_in_background)."""
    key = _stat_key(path)
    if key is None:
        return {"path": str(path), "size": None, "mtime": None, "sha256": None, "error": "no such file"}
    return {"path": str(path), "size": key[1], "mtime": key[2] / 1e9, "sha256": cached_sha256(path, cache_dir)}


def read_cmake_cache(path: Path) -> dict[str, str] | None:
    """``NAME -> value`` of every entry of a CMakeCache.txt; ``None`` when there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if not line or line.startswith(("#", "//")):
            continue
        name_type, sep, value = line.partition("=")
        if sep:
            out[name_type.split(":", 1)[0]] = value
    return out


_DEFINE_RE = re.compile(r"(?:^|\s)-D([A-Za-z_][A-Za-z0-9_]*)")


def compile_definitions(build: Path) -> list[str]:
    """The preprocessor names the ggml library is compiled with (``-DNAME``), from the build tree CMake generated
    (``flags.make`` for Makefiles, ``build.ninja`` for Ninja) or the rehearsal's stand-in build. A definition only
    the source adds (``target_compile_definitions``) shows here: the diagnostic logging of step 1.3 does."""
    names: set[str] = set()
    texts: list[str] = []
    for flags in sorted(build.glob("ggml/src/CMakeFiles/ggml*.dir/flags.make"))[:8]:
        with contextlib.suppress(OSError):
            texts += [line for line in flags.read_text(errors="replace").splitlines() if "_DEFINES" in line]
    ninja = build / "build.ninja"
    if not texts and ninja.is_file():
        with contextlib.suppress(OSError), ninja.open(errors="replace") as fh:
            texts += [line for line in fh if line.lstrip().startswith("DEFINES =") and "GGML" in line]
    for text in texts:
        names.update(_DEFINE_RE.findall(text))
    info = build / "bin" / "build-info.json"  # the stand-in cmake's record of what it "compiled"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if json.loads(info.read_text()).get("debug_tensor_copy"):
            names.add("GGML_DEBUG_TENSOR_COPY")
    return sorted(names)


def build_facts(program: Path | None, cwd: Path) -> dict[str, Any]:
    """The CMake options that matter from the build folder's CMakeCache.txt, or ``state: unconfigured``."""
    candidates = []
    if program is not None:
        candidates += [program.parent.parent, program.parent]
    candidates.append(cwd / "build")
    for folder in candidates:
        cache = read_cmake_cache(folder / "CMakeCache.txt")
        if cache is not None:
            options = {k: v for k, v in sorted(cache.items()) if CMAKE_OPTIONS_RE.match(k)}
            return {
                "state": "configured",
                "cache": str(folder / "CMakeCache.txt"),
                "options": options,
                "definitions": compile_definitions(folder),
            }
    return {"state": "unconfigured", "cache": str(candidates[0] / "CMakeCache.txt"), "options": {}}


def _git(cwd: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_facts(cwd: Path) -> dict[str, Any]:
    """``{head, dirty_sha256, dirty}``: HEAD and the sha256 of ``git diff HEAD`` (untracked files not included)."""
    head = _git(cwd, "rev-parse", "HEAD")
    if head is None:
        inside = _git(cwd, "rev-parse", "--is-inside-work-tree")
        return {"head": None, "dirty_sha256": None, "error": "not a git repository" if inside is None else "no HEAD"}
    diff = _git(cwd, "diff", "HEAD", "--no-color", "--no-ext-diff")
    return {
        "head": head.decode().strip(),
        "dirty_sha256": hashlib.sha256(diff).hexdigest() if diff is not None else None,
        "dirty": bool(diff),
    }


def parse_node_list(text: str) -> list[int]:
    """``0-3,6`` (the kernel's node list) -> ``[0, 1, 2, 3, 6]``."""
    nodes: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        with contextlib.suppress(ValueError):
            nodes += list(range(int(first), int(last or first) + 1))
    return nodes


_MACHINE_CACHE: dict[tuple[str, str, str], dict[str, Any]] = {}
_MACHINE_LOCK = threading.Lock()


def machine_facts(
    cpuinfo: Path = Path("/proc/cpuinfo"),
    node_list: Path = Path("/sys/devices/system/node/online"),
    nvidia_smi: str = "nvidia-smi",
    *,
    refresh: bool = False,
) -> dict[str, Any]:
    """``{cpu_model, amx_flags, numa_nodes, gpus [{name, driver}], gpu_query}``, read once per process."""
    key = (str(cpuinfo), str(node_list), nvidia_smi)
    with _MACHINE_LOCK:
        if not refresh and key in _MACHINE_CACHE:
            return dict(_MACHINE_CACHE[key])
    model, flags = "", set[str]()
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            name, sep, value = line.partition(":")
            name = name.strip().lower()
            if sep and name in ("model name", "cpu model", "hardware") and not model:
                model = value.strip()
            elif sep and name in ("flags", "features") and not flags:
                flags = set(value.split())
    nodes: list[int] | None = None
    with contextlib.suppress(OSError):
        nodes = parse_node_list(node_list.read_text(encoding="utf-8"))
    gpus, query = _gpus(nvidia_smi)
    facts = {
        "cpu_model": model or None,
        "amx_flags": sorted(f for f in flags if f.startswith("amx")),
        "numa_nodes": nodes,
        "gpus": gpus,
        "gpu_query": query,
    }
    with _MACHINE_LOCK:
        _MACHINE_CACHE[key] = facts
    return dict(facts)


def _gpus(nvidia_smi: str) -> tuple[list[dict[str, str]], str]:
    exe = shutil.which(nvidia_smi)
    if exe is None:
        return [], f"{nvidia_smi} not found"
    try:
        done = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return [], f"{nvidia_smi} did not answer within {NVIDIA_SMI_TIMEOUT:g} s"
    except OSError as exc:
        return [], f"{nvidia_smi} could not be run: {exc.strerror or exc}"
    if done.returncode != 0:
        first = (done.stderr or done.stdout).strip().splitlines()
        return [], f"{nvidia_smi} exited {done.returncode}" + (f": {first[0]}" if first else "")
    gpus = []
    for line in done.stdout.splitlines():
        if line.strip():
            name, _, driver = line.rpartition(",")
            gpus.append({"name": name.strip() or driver.strip(), "driver": driver.strip() if name else ""})
    return gpus, f"{nvidia_smi}: {len(gpus)} GPU{'s' if len(gpus) != 1 else ''}"


# --- the fingerprint ------------------------------------------------------------------------------------------


def collect_fingerprint(
    script: str,
    cwd: Path,
    values: Mapping[str, str],
    cache_dir: Path,
    *,
    machine: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fingerprint of a test or benchmark command about to run in ``cwd``.

    ``values`` are the session's variables (``model`` when the command names none with ``-m``); ``cache_dir``
    keeps file hashes between runs. ``machine`` replaces the facts of this machine (tests). JSON data::

        {"program": "./build/bin/llama-bench", "args": [...],
         "binary": {path, sha256, size, mtime_ns, libraries: [{path, sha256}]}, "build_id": sha256 | null,
         "model": {path, size, mtime, sha256 | null}, "build": {state, cache, options},
         "git": {head, dirty_sha256, dirty}, "machine": {cpu_model, amx_flags, numa_nodes, gpus, gpu_query}}
    """
    cwd = Path(cwd)
    found = program_command(script)
    word, args = found if found is not None else ("", [])
    program = _resolve(word, cwd) if word else None
    binary = _binary(program, word, cache_dir) if word else {"path": None, "sha256": None, "error": "no program"}
    model_word = option_value(args, "-m", "--model") or values.get("model", "")
    model = model_facts(_resolve(model_word, cwd) or Path(model_word), cache_dir) if model_word else None
    return {
        "program": word or None,
        "args": args,
        "binary": binary,
        "build_id": build_identity(binary),
        "model": model,
        "build": build_facts(program, cwd),
        "git": git_facts(cwd),
        "machine": dict(machine) if machine is not None else machine_facts(),
    }


def hash_model_in_background(
    path: Path,
    cache_dir: Path,
    on_progress: ProgressCallback | None,
    on_done: DoneCallback,
    *,
    stop: threading.Event | None = None,
) -> threading.Thread:
    """Hash a model file in a daemon thread, once per (path, size, mtime): the cache answers at once.

    ``on_progress(done_bytes, total_bytes)`` comes from the thread every 64 MiB; ``on_done`` gets the
    ``model_hashed`` event's data ``{path, size, mtime, sha256}`` (``sha256`` None and ``error`` set when the file
    could not be read, changed while it was read, or ``stop`` was set). Both run on the hashing thread: a UI must
    hand them to its own thread.
    """
    path = Path(path)

    def work() -> None:
        before = _stat_key(path)
        sha = file_sha256(path, cache_dir, on_progress, stop) if before is not None else None
        after = _stat_key(path)
        result: dict[str, Any] = {
            "path": str(path),
            "size": before[1] if before else None,
            "mtime": before[2] / 1e9 if before else None,
            "sha256": sha,
        }
        if before is None:
            result["error"] = "no such file"
        elif stop is not None and stop.is_set() and sha is None:
            result["error"] = "stopped"
        elif after != before:
            result.update(sha256=None, error="the file changed while it was hashed")
        elif sha is None:
            result["error"] = "could not be read"
        on_done(result)

    thread = threading.Thread(target=work, name=f"hash {path.name}", daemon=True)
    thread.start()
    return thread
