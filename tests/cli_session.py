"""A session accepted through the real CLI, as a person starts one before ``amxwizard step``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))


def accept_setup(
    state: Path, overrides: Mapping[str, str], *, runbook: Path | None = None, cwd: Path | None = None
) -> None:
    """``amxwizard setup --var ... --accept --force`` once for ``state`` (nothing happens if a session exists)."""
    if (state / "sessions").is_dir() and any((state / "sessions").iterdir()):
        return
    args = [a for name, value in overrides.items() for a in ("--var", f"{name}={value}")]
    where = ["--runbook", str(runbook)] if runbook is not None else []
    done = subprocess.run(
        [AMXWIZARD, "setup", *args, *where, "--state-dir", str(state), "--accept", "--force"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "AMXWIZARD_NICE": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
