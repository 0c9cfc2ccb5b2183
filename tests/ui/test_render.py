"""The detail pane says what the engine will do: the same files, found the same way."""

from __future__ import annotations

import pytest

from amxwizard.engine.executor import StepExecutor
from amxwizard.runbook import models as m
from amxwizard.ui.render import located

from .conftest import World


def test_a_repo_given_with_a_tilde_is_found(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(world.sandbox.root))
    session = world.new_session(repo="~/repo")  # as typed in the setup screen
    try:
        step = world.runbook.model.step("1.2")
        assert isinstance(step, m.CodeChangeStep)
        text = located(StepExecutor(session), step.edits[0]).plain
        assert str(world.sandbox.repo / "ggml/src/ggml-backend.cpp") in text
        assert "missing" not in text and "at lines" in text
    finally:
        session.close()
