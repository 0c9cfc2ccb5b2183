"""What the machine says about one variable's value, cheap enough for every key press on the setup screen."""

from __future__ import annotations

import shlex
import shutil
from typing import Literal

from ...runbook.models import Variable
from ..fileio import expand_path


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
