"""Judging a build from its log: compiler, linker and CMake errors, located, are ``build_failed``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._text import LogLine, log_lines
from .verdict import Verdict

# gcc/clang "file:line:col: error: ...", "fatal error: ..."; nvcc "file(line): error: ..."
_COMPILER_RE = re.compile(
    r"^(?P<file>[^\s:(][^:(]*?):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?:fatal )?error:"
    r"\s*(?P<msg>.*)$"
)
_NVCC_RE = re.compile(r"^(?P<file>\S[^(]*)\((?P<line>\d+)\): (?:catastrophic )?error:\s*(?P<msg>.*)$")
_OTHER_ERROR_RES = (
    re.compile(r"^CMake Error\b.*"),
    re.compile(r"undefined reference to .*"),
    re.compile(r"\bcollect2: error: .*"),
    re.compile(r"^\S*ld(?:\.\w+)?: error: .*"),
    re.compile(r"^ls: cannot access .*"),
    re.compile(r"^(?:\S+: )?error: .*"),
)
_STOPPED_RE = re.compile(r"ninja: build stopped|make(?:\[\d+\])?: \*\*\* .*Error \d+|^FAILED: ")
_WARNING_RE = re.compile(r"(?::\d+:(?:\d+:)?|\(\d+\):) warning:|^CMake Warning\b")
_DONE_RE = re.compile(r"Built target \S+|Linking \S+ executable \S+")
MAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class BuildError:
    """One error a build printed; ``file``/``file_line`` are set for compiler errors."""

    line: int
    text: str
    message: str
    file: str = ""
    file_line: int | None = None

    def describe(self) -> str:
        """``file:line: message (log line N)``."""
        where = f"{self.file}:{self.file_line}: " if self.file else ""
        return f"{where}{self.message} (log line {self.line})"

    def as_json(self) -> dict[str, Any]:
        """The error as plain JSON."""
        return {
            "line": self.line,
            "text": self.text,
            "message": self.message,
            "file": self.file,
            "file_line": self.file_line,
        }


def build_errors(text: str, lines: list[str] | None = None) -> list[BuildError]:
    """Every error line of a build log, in order (``lines``: the log already split by :func:`log_lines`)."""
    out: list[BuildError] = []
    for number, line in enumerate(log_lines(text) if lines is None else lines, 1):
        if "rror" not in line and "cannot access" not in line and "undefined reference" not in line:
            continue
        stripped = line.strip()
        m = _COMPILER_RE.match(stripped) or _NVCC_RE.match(stripped)
        if m:
            out.append(BuildError(number, stripped, m.group("msg").strip(), m.group("file"), int(m.group("line"))))
            continue
        for pattern in _OTHER_ERROR_RES:
            m = pattern.search(stripped)
            if m:
                out.append(BuildError(number, stripped, m.group(0).strip()))
                break
    return out


def judge_build(text: str, exit_code: int | None) -> Verdict:
    """Passed if the build printed no error and exited 0; else ``build_failed`` with the first error located."""
    lines = log_lines(text)
    errors = build_errors(text, lines)
    stopped = next((LogLine(n, ln.strip()) for n, ln in enumerate(lines, 1) if _STOPPED_RE.search(ln)), None)
    warnings = sum(1 for ln in lines if _WARNING_RE.search(ln))
    evidence: dict[str, Any] = {
        "errors": [e.as_json() for e in errors[:MAX_ERRORS]],
        "error_count": len(errors),
        "warnings": warnings,
        "exit_code": exit_code,
        "stopped": stopped.as_json() if stopped else None,
    }
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        return Verdict.make("fail", f"build failed: {count}; first: {errors[0].describe()}", ["build_failed"], evidence)
    if exit_code not in (0, None) or stopped is not None:
        why = str(stopped) if stopped else next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output")
        status = f"exit status {exit_code}" if exit_code not in (0, None) else "the build stopped"
        return Verdict.make("fail", f"build failed ({status}): {why}", ["build_failed"], evidence)
    done = next((ln.strip() for ln in reversed(lines) if _DONE_RE.search(ln)), "")
    tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    return Verdict.make("pass", "build succeeded" + (f": {done}" if done else "") + tail, [], evidence)
