"""A stand-in for ``cmake`` in the rehearsal sandbox: configure, build and clean, with real-looking output.

It does not compile anything. A build reads the C/C++/CUDA sources, fails the way a compiler would when brackets
do not pair up (``file:line:col: error: ...``, exit 2), and otherwise writes ``build/bin/llama-cli`` and
``build/bin/llama-bench`` launchers for the stand-in programs plus ``build/bin/build-info.json``, which tells them
what the sources contain (the debug logging, and which fixes are in: "A" the weight-copy assert, "B" the scheduler's
host-buffer guard on the op offload, "C" the CUDA cpy_tensor check).

Usage, as the runbook calls it::

    cmake -S . -B build
    cmake --build build [--target clean] [-j N]
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..engine.fileio import atomic_write
from ..engine.ggml_tree import find_scheduler
from ..engine.source import check_balance, locate_function, scan

VERSION = "cmake version 3.28.3 (amxwizard rehearsal stand-in)"
SOURCE_SUFFIXES = {".c": "C", ".cpp": "CXX", ".cc": "CXX", ".cu": "CUDA"}
PROGRAMS = (
    ("llama-cli", "examples/main", "main.cpp", "amxwizard.rehearsal.llama_cli"),
    ("llama-bench", "examples/llama-bench", "llama-bench.cpp", "amxwizard.rehearsal.llama_bench"),
)
DEBUG_MACRO = "GGML_DEBUG_TENSOR_COPY"


class UsageError(Exception):
    """A command line the real cmake would refuse."""


@dataclass(frozen=True, slots=True)
class BuildRequest:
    build_dir: Path
    target: str | None
    jobs: int | None


def _say(line: str = "") -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- configure ------------------------------------------------------------------------------------------------


def configure(argv: Sequence[str]) -> int:
    """``cmake [-S src] [-B build] [-D...] [-G ...]``: write the build folder's cache."""
    source, build = Path("."), Path(".")
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-S", "-B", "-G", "-D", "-C") and i + 1 < len(argv):
            if arg == "-S":
                source = Path(argv[i + 1])
            elif arg == "-B":
                build = Path(argv[i + 1])
            i += 2
            continue
        if arg.startswith("-S") and len(arg) > 2:
            source = Path(arg[2:])
        elif arg.startswith("-B") and len(arg) > 2:
            build = Path(arg[2:])
        elif arg.startswith(("-D", "-G", "-W")) or arg.startswith("--"):
            pass
        elif not arg.startswith("-"):
            source = Path(arg)
        else:
            raise UsageError(f"Unknown argument {arg}")
        i += 1
    source, build = source.resolve(), build.resolve()
    if not (source / "CMakeLists.txt").is_file():
        _err(f'CMake Error: The source directory "{source}" does not appear to contain CMakeLists.txt.')
        return 1
    build.mkdir(parents=True, exist_ok=True)
    atomic_write(
        build / "CMakeCache.txt",
        "# This is the CMakeCache file of the amxwizard rehearsal stand-in cmake.\n"
        f"CMAKE_HOME_DIRECTORY:INTERNAL={source}\n"
        "CMAKE_BUILD_TYPE:STRING=Release\n"
        "GGML_CUDA:BOOL=ON\n"
        "GGML_AMX:BOOL=ON\n",
    )
    _say("-- The C compiler identification is GNU 12.2.0")
    _say("-- The CXX compiler identification is GNU 12.2.0")
    _say("-- The CUDA compiler identification is NVIDIA 12.4.131")
    _say("-- Including CUDA backend")
    _say("-- Including AMX backend")
    _say("-- Configuring done (0.4s)")
    _say("-- Generating done (0.1s)")
    _say(f"-- Build files have been written to: {build}")
    return 0


# --- build ----------------------------------------------------------------------------------------------------


def parse_build_args(argv: Sequence[str]) -> BuildRequest:
    """``<dir> [--target T] [-j N | -jN | --parallel N] [--config C] [--clean-first] [-v]``."""
    if not argv or argv[0].startswith("-"):
        raise UsageError("Usage: cmake --build <dir> [options] [-- [native-options]]")
    build_dir = Path(argv[0])
    target: str | None = None
    jobs: int | None = None
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("--target", "-t") and i + 1 < len(argv):
            target = argv[i + 1]
            i += 2
        elif arg in ("-j", "--parallel"):
            if i + 1 < len(argv) and argv[i + 1].isdigit():
                jobs = int(argv[i + 1])
                i += 2
            else:
                i += 1
        elif re.fullmatch(r"-j\d+", arg):
            jobs = int(arg[2:])
            i += 1
        elif arg == "--config" and i + 1 < len(argv):
            i += 2
        elif arg in ("--clean-first", "-v", "--verbose"):
            i += 1
        elif arg == "--":
            break
        else:
            raise UsageError(f"Unknown argument {arg}")
    if jobs is not None and jobs < 1:
        raise UsageError("The <jobs> value requires a positive integer argument.")
    return BuildRequest(build_dir, target, jobs)


def _source_dir(cache: Path) -> Path:
    for line in cache.read_text(encoding="utf-8").splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:"):
            return Path(line.partition("=")[2])
    return cache.parent.parent


def _sources(source_dir: Path, build_dir: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(source_dir.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        if build_dir in path.parents or ".git" in path.relative_to(source_dir).parts:
            continue
        found.append(path)
    return found


def _compile_error(path: Path, relative: str, target_dir: str) -> list[str] | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    problem = check_balance(text)
    if problem is None:
        return None
    lines = text.splitlines()
    code = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    object_file = f"{target_dir}/CMakeFiles/ggml.dir/{path.name}.o"
    return [
        f"{path}:{problem.line}:{problem.column}: error: {problem.message}",
        f"{problem.line:5} | {code}",
        f"{'':5} | {' ' * max(problem.column - 1, 0)}^",
        f"gmake[2]: *** [{target_dir}/CMakeFiles/ggml.dir/build.make:76: {object_file}] Error 1",
        f"gmake[1]: *** [CMakeFiles/Makefile2:143: {target_dir}/CMakeFiles/ggml.dir/all] Error 2",
        "gmake: *** [Makefile:146: all] Error 2",
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _find(source_dir: Path, name: str) -> Path:
    preferred = source_dir / "ggml" / "src" / name
    if preferred.is_file():
        return preferred
    return next(iter(sorted(source_dir.rglob(name))), preferred)


def build_info(source_dir: Path) -> dict[str, object]:
    """What the stand-in programs need to know about the sources they were "built" from."""
    backend_text = _read(_find(source_dir, "ggml-backend.cpp"))
    cuda_text = _read(_find(source_dir, "ggml-cuda.cu"))
    cmake_defines = False
    for cmake_file in sorted(source_dir.rglob("CMakeLists.txt")):
        if "build" in cmake_file.relative_to(source_dir).parts[:1]:
            continue
        for line in _read(cmake_file).splitlines():
            code = line.split("#", 1)[0]
            if DEBUG_MACRO in code and re.search(r"compile_definitions|-D\s*" + DEBUG_MACRO, code):
                cmake_defines = True
    backend = scan(backend_text)
    source_has_ifdef = any(
        (d.keyword == "ifdef" and d.argument == DEBUG_MACRO)
        or (d.keyword == "if" and re.fullmatch(rf"defined\s*\(?\s*{DEBUG_MACRO}\s*\)?", d.argument))
        for d in backend.directives
    )
    fixes: list[str] = []
    span = locate_function(backend_text, "ggml_backend_tensor_copy", backend)
    if span and re.search(r"\bggml_tensor_is_weight\s*\(\s*src\s*\)", backend.masked[span.body_start : span.body_end]):
        fixes.append("A")
    scheduler = find_scheduler(source_dir)
    if scheduler is not None and scheduler.placement.offload is not None and scheduler.placement.offload.guarded:
        fixes.append("B")  # the scheduler offloads an op with a weight only out of a host buffer
    if "non-host source buffer" in cuda_text:
        fixes.append("C")
    return {
        "standin": True,
        "debug_tensor_copy": cmake_defines and source_has_ifdef,
        "fixes": fixes,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_launcher(path: Path, info_file: Path, module: str, program: str) -> None:
    atomic_write(
        path,
        "#!/bin/sh\n"
        f"# amxwizard rehearsal stand-in for {program}, written by the stand-in cmake: not the real program.\n"
        f"AMXWIZARD_STANDIN_BUILD={shlex.quote(str(info_file))} "
        f'exec {shlex.quote(sys.executable)} -m {module} "$@"\n',
    )
    path.chmod(0o755)


def build(request: BuildRequest) -> int:
    """Run ``cmake --build``: clean, or "compile" the sources and write the stand-in programs."""
    build_dir = request.build_dir.resolve()
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        _err("Error: could not load cache")
        return 1
    bin_dir = build_dir / "bin"
    if request.target == "clean":
        shutil.rmtree(bin_dir, ignore_errors=True)
        shutil.rmtree(build_dir / "ggml", ignore_errors=True)
        return 0
    if request.target not in (None, "all", "ggml", "llama-cli", "llama-bench"):
        _err(f"gmake: *** No rule to make target '{request.target}'.  Stop.")
        return 2

    source_dir = _source_dir(cache)
    sources = _sources(source_dir, build_dir)
    steps = len(sources) + 2 + 3 * len(PROGRAMS)
    done = 0

    def progress(line: str) -> None:
        nonlocal done
        done += 1
        _say(f"[{round(100 * done / steps):3d}%] {line}")

    for path in sources:
        relative = path.relative_to(source_dir)
        target_dir = str(relative.parent) if str(relative.parent) != "." else "."
        kind = SOURCE_SUFFIXES[path.suffix]
        progress(f"Building {kind} object {target_dir}/CMakeFiles/ggml.dir/{path.name}.o")
        error = _compile_error(path, str(relative), target_dir)
        if error is not None:
            for line in error:
                _err(line)
            return 2
    progress("Linking CXX shared library libggml.so")
    progress("Built target ggml")

    bin_dir.mkdir(parents=True, exist_ok=True)
    info_file = bin_dir / "build-info.json"
    atomic_write(info_file, json.dumps(build_info(source_dir), indent=2) + "\n")
    for program, folder, main_file, module in PROGRAMS:
        progress(f"Building CXX object {folder}/CMakeFiles/{program}.dir/{main_file}.o")
        progress(f"Linking CXX executable ../../bin/{program}")
        _write_launcher(bin_dir / program, info_file, module, program)
        progress(f"Built target {program}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the stand-in ``cmake``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args:
            _say("Usage\n\n  cmake [options] <path-to-source>\n  cmake --build <dir> [options]")
            return 0
        if args[0] == "--version":
            _say(VERSION)
            return 0
        if args[0] == "--build":
            return build(parse_build_args(args[1:]))
        return configure(args)
    except UsageError as exc:
        _err(str(exc))
        return 1
    except OSError as exc:
        _err(f"CMake Error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
