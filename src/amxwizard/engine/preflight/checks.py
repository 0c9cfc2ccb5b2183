"""What every preflight check is: one line a person can act on, and the variable values that would fix it."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight finding.

    ``fixes`` are variable values that resolve it (``{"amx_flag": "", "fa_flag": "-fa on"}``), found by running the
    tool with them where that could be checked; a screen can offer to apply them with one key. ``evidence`` are
    the lines the finding rests on (``path:line: text``, or a tool's own output).
    """

    name: str
    status: Status
    finding: str
    fixes: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()


def steps_text(steps: Iterable[str]) -> str:
    """``step 1.5`` / ``steps 1.5, test-1`` (each step once, in order)."""
    ordered = list(dict.fromkeys(steps))
    return f"step{'s' if len(ordered) != 1 else ''} {', '.join(ordered)}"


def fixes_text(fixes: Mapping[str, str]) -> str:
    """``amx_flag= and fa_flag='-fa on'``: the values as a person would type them after ``--var``."""
    parts = [f"{name}={shlex.quote(value) if value else ''}" for name, value in fixes.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def suggested_values(checks: Iterable[Check]) -> dict[str, str]:
    """Every variable value the checks suggest, the first check's value winning (what one key applies)."""
    out: dict[str, str] = {}
    for check in checks:
        for name, value in check.fixes.items():
            out.setdefault(name, value)
    return out
