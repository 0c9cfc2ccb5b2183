"""Failures of ``numactl`` itself, told apart from failures of the program it was meant to start.

The runbook starts llama-cli and llama-bench through ``numactl -N 2,3 -m 2,3``. When numactl cannot do that the
log holds only numactl's words and the exit status is numactl's, so "llama-cli exited with status 1" would blame
the wrong program. What numactl and the shell print (numactl 2.x, libnuma):

    bash: line 1: numactl: command not found                  (not installed; exit 127)
    libnuma: Warning: node argument 3 is out of range         (a node this machine does not have)
    <2,3> is invalid                                          (then its usage text on stderr; exit 1)
    usage: numactl [--all | -a] [--balancing | -b] ...
    numactl: execution of `./build/bin/llama-cli': No such file or directory
    setting membind: Invalid argument
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ._text import LogLine, log_lines

FailureKind = Literal["missing", "invalid_nodes", "exec_failed", "usage", "error"]

_MISSING_RE = re.compile(r"(?:^|[\s/:])numactl: (?:command )?not found|numactl: No such file or directory")
_INVALID_RE = re.compile(r"^<(?P<nodes>[^>]*)> is invalid\s*$")
_LIBNUMA_RE = re.compile(r"^libnuma: Warning: (?P<msg>.+?)\s*$")
_USAGE_RE = re.compile(r"^usage: numactl\b")
_EXEC_RE = re.compile(r"^numactl: execution of `(?P<prog>[^']*)': (?P<why>.+?)\s*$")
_OWN_RE = re.compile(r"^numactl: (?P<msg>.+?)\s*$")
_PERROR_RE = re.compile(
    r"^(?P<what>setting membind|setting interleave mask|setting preferred node|sched_setaffinity|local allocation)"
    r": (?P<msg>.+?)\s*$"
)
# Lines only the started program prints: if any is there, numactl did its job.
_PROGRAM_RE = re.compile(
    r"llama_model_loader|load_tensors|system_info|ggml_cuda_init|^build: |^main: |^Log start"
    r"|error: (?:invalid|unknown) argument|invalid parameter for argument|^\| model|\bavg_ts\b|^\[stand-in\] llama"
)
_GATE_RE = re.compile(r"numactl|libnuma|is invalid|^setting |^sched_setaffinity|^local allocation")

NODES_HINT = (
    "`numactl -H` lists the nodes this machine has: set the numa_nodes variable to some of them, or the numactl "
    "variable to empty to run without NUMA pinning"
)


@dataclass(frozen=True, slots=True)
class NumactlFailure:
    """numactl failed before the program it wraps ran: what it said, where, and what to change."""

    kind: FailureKind
    line: LogLine
    message: str
    nodes: str = ""
    detail: str = ""

    def describe(self) -> str:
        """One sentence naming numactl, the cause and the fix."""
        if self.kind == "missing":
            return (
                f"numactl is not installed on this machine: {self.line} — install it (e.g. apt install numactl), "
                "or set the numactl variable to empty to run without NUMA pinning"
            )
        if self.kind == "invalid_nodes":
            why = f" ({self.detail})" if self.detail else ""
            return f"numactl refused the NUMA nodes <{self.nodes}>{why}: {self.line} — {NODES_HINT}"
        if self.kind == "exec_failed":
            return f"numactl could not start the program: {self.line}"
        if self.kind == "usage":
            return f"numactl did not understand its options and printed its usage: {self.line}"
        return f"numactl failed: {self.line} — check the numactl and numa_nodes variables ({NODES_HINT})"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "line": self.line.as_json(),
            "message": self.message,
            "nodes": self.nodes,
            "detail": self.detail,
        }


def parse(text: str, exit_code: int | None = None) -> NumactlFailure | None:
    """numactl's own failure in a run's log, or ``None`` (numactl not involved, or the program did start)."""
    missing: LogLine | None = None
    invalid: LogLine | None = None
    usage: LogLine | None = None
    exec_failed: LogLine | None = None
    own: LogLine | None = None
    perror: LogLine | None = None
    libnuma: tuple[LogLine, str] | None = None
    nodes = ""
    for number, line in enumerate(log_lines(text), 1):
        stripped = line.strip()
        if _PROGRAM_RE.search(stripped):
            return None
        if not _GATE_RE.search(stripped):
            continue
        here = LogLine(number, stripped)
        if missing is None and _MISSING_RE.search(stripped):
            missing = here
        elif (m := _INVALID_RE.match(stripped)) and invalid is None:
            invalid, nodes = here, m.group("nodes")
        elif (m := _LIBNUMA_RE.match(stripped)) and libnuma is None:
            libnuma = (here, m.group("msg"))
        elif _USAGE_RE.match(stripped) and usage is None:
            usage = here
        elif (m := _EXEC_RE.match(stripped)) and exec_failed is None:
            exec_failed = here
        elif (m := _PERROR_RE.match(stripped)) and perror is None:
            perror = here
        elif (m := _OWN_RE.match(stripped)) and own is None:
            own = here
    if missing is not None:
        return NumactlFailure("missing", missing, missing.text)
    if invalid is not None or (libnuma is not None and usage is not None):
        where = invalid or (libnuma[0] if libnuma else usage)
        assert where is not None
        detail = libnuma[1] if libnuma else ""
        if not nodes and libnuma:
            m = re.search(r"argument (\d+)", libnuma[1])
            nodes = m.group(1) if m else ""
        return NumactlFailure("invalid_nodes", where, where.text, nodes, detail)
    if exec_failed is not None:
        return NumactlFailure("exec_failed", exec_failed, exec_failed.text)
    if perror is not None:
        return NumactlFailure("error", perror, perror.text)
    if own is not None:
        return NumactlFailure("error", own, own.text)
    if usage is not None:
        return NumactlFailure("usage", usage, usage.text)
    if exit_code == 127 and libnuma is not None:
        return NumactlFailure("error", libnuma[0], libnuma[0].text, detail=libnuma[1])
    return None
