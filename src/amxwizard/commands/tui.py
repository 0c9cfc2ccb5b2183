"""``amxwizard [RUNBOOK]``: open the wizard."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError, load_or_exit, parse_vars, state_dir

if TYPE_CHECKING:
    from ..runbook import RunbookFile


def launch(runbook: RunbookFile, state: Path, overrides: Mapping[str, str], *, new: bool = False) -> int:
    """Open (or resume) a session for ``runbook`` under ``state`` and run the TUI until the person quits."""
    raise CommandError("the TUI is not built yet; use 'amxwizard step' and 'amxwizard status'", 2)


def run(args: argparse.Namespace) -> int:
    runbook = load_or_exit(args.runbook)
    return launch(runbook, state_dir(args.state_dir), parse_vars(args.var), new=args.new)
