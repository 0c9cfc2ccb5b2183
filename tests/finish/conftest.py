"""Fixtures for the finishing steps: a real git repository shaped like the target, and a session on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile
from tests.finish.support import make_repo


@pytest.fixture
def target_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ik_llama.cpp")


@pytest.fixture
def overrides(target_repo: Path, tmp_path: Path) -> dict[str, str]:
    """Variable values pointing the runbook at the tmp repository (and the location file into tmp_path)."""
    return {"repo": str(target_repo), "backup_location_file": str(tmp_path / "backup-location.txt")}


@pytest.fixture
def session(state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str]) -> Iterator[Session]:
    opened = Session.create(state_dir, runbook_file, overrides)
    yield opened
    opened.close()
