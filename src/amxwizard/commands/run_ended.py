"""``amxwizard _run-ended RUN_DIR STATUS`` (hidden): started by a run's wrapper through the session's
``runs/on-run-end`` hook; tells the person a run ended when no wizard is attached (see engine/notify.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..engine.notify import run_ended

    problems = run_ended(Path(args.run_dir), args.status)
    return 1 if problems else 0
