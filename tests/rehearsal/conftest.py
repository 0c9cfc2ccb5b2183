"""A rehearsal sandbox per test (they change it) and one shared by the tests that only read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return build_sandbox(tmp_path / "rehearsal")


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return build_sandbox(tmp_path_factory.mktemp("shared") / "rehearsal")
