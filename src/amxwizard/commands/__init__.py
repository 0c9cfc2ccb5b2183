"""One module per CLI command, each with ``run(args) -> int``. Shared argument handling lives here."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runbook import RunbookFile


class CommandError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def bundled_runbook() -> Path:
    """The runbook shipped inside the package."""
    return Path(str(resources.files("amxwizard") / "data" / "runbook.yaml"))


def runbook_path(given: str | None) -> tuple[Path, str]:
    """The runbook to use and how to name it in messages: as given, else ./runbook.yaml, else the bundled copy."""
    if given:
        return Path(given), given
    local = Path("runbook.yaml")
    if local.is_file():
        return local, "runbook.yaml"
    return bundled_runbook(), "runbook.yaml (bundled)"


def load_or_exit(given: str | None) -> RunbookFile:
    """Load the runbook or print its located problems and raise :class:`CommandError` (exit 1)."""
    from ..runbook import RunbookError, load_runbook

    path, display = runbook_path(given)
    try:
        return load_runbook(path, display=display if given is None else None)
    except RunbookError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        raise CommandError(f"{n} problem{'s' if n != 1 else ''} in {display}") from None


def state_dir(given: str | None) -> Path:
    """``--state-dir``, else ``$AMXWIZARD_STATE_DIR``, else ``$XDG_STATE_HOME/amxwizard`` (~/.local/state)."""
    if given:
        return Path(given).expanduser()
    env = os.environ.get("AMXWIZARD_STATE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "amxwizard"


def parse_vars(items: list[str]) -> dict[str, str]:
    """``--var`` items as a dict, or :class:`CommandError`."""
    from ..runbook.variables import VariableError, parse_assignments

    try:
        return parse_assignments(items)
    except VariableError as exc:
        raise CommandError(str(exc), 2) from None
