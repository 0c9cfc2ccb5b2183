"""Shared fixtures. Areas keep their own fixtures in their folder's conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.runbook import RunbookFile, load_runbook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def runbook_file() -> RunbookFile:
    """The shipped runbook.yaml, loaded once."""
    return load_runbook(ROOT / "runbook.yaml")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state directory, also exported as AMXWIZARD_STATE_DIR for CLI runs."""
    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("AMXWIZARD_STATE_DIR", str(path))
    return path
