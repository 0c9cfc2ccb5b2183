"""The programs the runbook's commands run: on PATH, or built by the runbook (and then whether they can be)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..fileio import expand_path, shown_path
from .build import BuildFolder
from .checks import Check, steps_text
from .commands import Invocation


@dataclass(slots=True)
class ToolUse:
    """One program the commands run, where it is (``None``: not found), and every command that runs it."""

    shown: str
    path: Path | None
    built: bool  # lives under the working folder (a build output), not on PATH
    expected: Path | None = None  # where a built program will be
    steps: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


def tool_uses(invocations: Sequence[Invocation], workdir: Path) -> list[ToolUse]:
    """The programs ``invocations`` run, each once (a script a step writes first is not one)."""
    tools: dict[str, ToolUse] = {}
    for inv in invocations:
        if inv.program.expanded:
            continue
        word = inv.program.text
        if "/" in word:
            path = Path(os.path.normpath(inv.cwd / expand_path(word)))
            if path in inv.created:
                continue  # a script the step itself writes first
            key, found = str(path), path if path.exists() else None
            built = workdir in path.parents
            shown = shown_path(path, workdir) if built else word
            expected: Path | None = path
        else:
            located = shutil.which(word)
            key, found, built, shown, expected = word, Path(located) if located else None, False, word, None
        use = tools.setdefault(key, ToolUse(shown, found, built, expected))
        use.steps.append(inv.step)
        use.invocations.append(inv)
    return list(tools.values())


def _not_built(use: ToolUse, folders: Sequence[BuildFolder]) -> Check:
    steps = steps_text(use.steps)
    folder = next((f for f in folders if use.expected is not None and f.path in use.expected.parents), None)
    if folder is None:
        return Check(f"tool {use.shown}", "warn", f"not built yet ({steps} run it; no step of the runbook builds it)")
    builds = steps_text(folder.build_steps)
    if folder.configured:
        return Check(f"tool {use.shown}", "warn", f"not built yet ({steps} run it; {builds} build it)")
    if folder.configure_steps:
        return Check(
            f"tool {use.shown}",
            "warn",
            f"not built yet, and {folder.shown} is not configured: {steps_text(folder.configure_steps)} "
            f"configure{'s' if len(folder.configure_steps) == 1 else ''} it, {builds} build it ({steps} run it)",
        )
    return Check(
        f"tool {use.shown}",
        "fail",
        f"cannot be built: {folder.shown} is not configured and no step configures it ({steps} run it)",
    )


def tool_checks(uses: Sequence[ToolUse], folders: Sequence[BuildFolder]) -> list[Check]:
    """Each program: found (and executable), not built yet (and why), or not on PATH."""
    checks: list[Check] = []
    for use in uses:
        steps = steps_text(use.steps)
        if use.path is None:
            if use.built:
                checks.append(_not_built(use, folders))
            else:
                checks.append(Check(f"tool {use.shown}", "fail", f"not found on PATH ({steps} run it)"))
            continue
        if not os.access(use.path, os.X_OK) or use.path.is_dir():
            checks.append(Check(f"tool {use.shown}", "fail", f"{use.path} is not an executable file ({steps})"))
            continue
        checks.append(Check(f"tool {use.shown}", "ok", f"{use.path} ({steps})"))
    return checks
