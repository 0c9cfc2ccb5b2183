"""What the machine says about one variable's value, cheap enough for every key press on the setup screen."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from ...runbook.models import Runbook, Variable
from ..fileio import expand_path
from .flags import HELP_TIMEOUT, HelpResult


def check_variable(name: str, var: Variable, value: str) -> tuple[Literal["ok", "warn", "fail"], str]:
    """What the machine says about one variable's value, cheaply enough to run on every key press.

    Only facts about the machine, as warnings: a missing model may be mounted later, a repo cloned later. Syntax
    and range are :func:`amxwizard.runbook.variables.check_value`'s.
    """
    path = expand_path(value)
    if var.type == "repo":
        if not path.is_dir():
            return "warn", f"{path} does not exist"
        if not (path / ".git").exists():
            return "warn", f"{path} is not the top of a git repository"
        return "ok", "git repository"
    if var.type == "file":
        if not path.is_file():
            return "warn", f"{path} does not exist"
        size = path.stat().st_size
        return "ok", f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size:,} bytes"
    if var.type == "dir":
        return ("ok", "exists") if path.is_dir() else ("ok", "will be created")
    if var.type == "path":
        parent = path.parent
        return ("ok", "") if parent.is_dir() else ("warn", f"{parent} does not exist")
    if var.type == "args" and value.strip():
        try:
            first = shlex.split(value)[0]
        except (ValueError, IndexError):
            return "ok", ""
        if first.startswith("-"):
            return "ok", ""  # options for a program (-fa on, -DGGML_CUDA=ON), not a program to find
        found = shutil.which(str(expand_path(first))) is not None  # a path is checked as it stands
        return ("ok", "") if found else ("warn", f"{first} is not installed here (not on PATH)")
    return "ok", ""


def _holds(args: Sequence[str], words: Sequence[str]) -> bool:
    """``words`` appear in ``args`` in a row (where a variable's words landed in a command)."""
    n = len(words)
    return any(list(args[i : i + n]) == list(words) for i in range(len(args) - n + 1))


def check_flags(
    runbook: Runbook,
    values: Mapping[str, str],
    name: str,
    *,
    helps: dict[tuple[Path, float], HelpResult] | None = None,
    help_timeout: float = HELP_TIMEOUT,
) -> tuple[Literal["ok", "warn", "fail"], str]:
    """The flags an ``args`` variable holds (``-fa on``, ``--amx``), read against the ``--help`` of each built
    program the runbook's commands pass them to: listed, with a value it takes, or not.

    Cheaper than preflight's flag checks (no program is run with the flags) and meant for the setup screen, as a
    value is typed; ``helps`` caches each program's help by path and modification time. A program not built yet is
    said to be, and checked once it is.
    """
    from ...runbook.templates import TemplateError, render_text, split_args
    from .commands import step_invocations
    from .flags import flag_like, read_flags, read_help
    from .tools import tool_uses

    try:
        words = split_args(values.get(name, ""))
    except TemplateError as exc:
        return "fail", str(exc)
    flags = [w for w in words if flag_like(w)]
    if not flags:
        return "ok", ""
    try:
        workdir_text = render_text(runbook.workdir, values) if runbook.workdir else ""
    except TemplateError:
        workdir_text = ""
    workdir = expand_path(workdir_text) if workdir_text else expand_path(values.get("repo", "."))
    commands = step_invocations(runbook, values, workdir)
    steps = {step for step, used in commands.step_variables.items() if name in used}
    invocations = [
        inv
        for inv in commands.invocations
        if inv.step in steps and _holds([w.text for w in inv.args if not w.expanded], words)
    ]
    programs = [use for use in tool_uses(invocations, workdir) if use.built]
    if not programs:
        return "ok", ""
    missing = [use.shown for use in programs if use.path is None or not use.path.is_file()]
    summaries: list[str] = []
    for use in programs:
        if use.path is None or not use.path.is_file():
            continue
        key = (use.path, use.path.stat().st_mtime)
        helped = helps.get(key) if helps is not None else None
        if helped is None:
            helped = read_help(use.path, help_timeout)
            if helps is not None:
                helps[key] = helped
        program = use.path.name
        if helped.problem:
            return "warn", f"not checked against {program}: {helped.problem}"
        listed: list[str] = []
        for flag_use in read_flags(words, [False] * len(words), helped.flags):
            spec = flag_use.spec
            if spec is None:  # "unlisted"
                return "warn", f"{program} --help does not list {flag_use.flag} (ctrl+r asks {program} itself)"
            shown = f"{' / '.join(spec.names)} {spec.value or ''}".strip()
            if flag_use.problem == "needs_value":
                return "warn", f"{program} --help: {flag_use.flag} takes a value ({shown}); none is given"
            if flag_use.problem == "bad_choice":
                choices = ", ".join(spec.choices)
                return "warn", f"{program} --help: {flag_use.flag} {flag_use.value} is not one of {choices}"
            if flag_use.problem == "unlisted_value":
                return "warn", f"{program} --help shows no value for {flag_use.flag}, but {flag_use.value!r} follows"
            listed.append(shown)
        summaries.append(f"{program} --help lists {', '.join(dict.fromkeys(listed))}")
    if missing:
        summaries.append(f"{', '.join(missing)} not built yet (checked once built)")
    return "ok", "; ".join(summaries)
