"""CLI conventions: every option and positional says what it is for; plain ``status`` fits the terminal it is shown
on and is never cut when piped."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.cli import build_parser
from amxwizard.commands import status as status_command
from amxwizard.engine import events as ev
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import RunbookFile

from .cli_session import AMXWIZARD


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_and_positional_of_every_subcommand_has_help() -> None:
    parser = build_parser()
    commands = _subcommands(parser)
    assert {"tui", "setup", "step", "status", "report", "rehearse", "restore", "sessions", "validate"} <= set(commands)
    missing: list[str] = []
    for name, sub in [("amxwizard", parser), *commands.items()]:
        if sub is not parser and not (sub.description or "").strip():
            missing.append(f"{name}: no description")
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help or action.help == argparse.SUPPRESS or not action.help.strip():
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    # Each summary in the command list too.
    sub_action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all((choice.help or "").strip() for choice in sub_action._choices_actions)


@pytest.mark.parametrize("command", ["restore", "status", "rehearse", "step"])
def test_help_shows_each_arguments_text(command: str) -> None:
    shown = subprocess.run([AMXWIZARD, command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    sub = _subcommands(build_parser())[command]
    text = " ".join(shown.stdout.split())
    for action in sub._actions:
        if action.help and action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
            first_words = " ".join(action.help.split()[:4]).replace("%%", "%")
            assert first_words in text, (command, action.dest)


@pytest.fixture
def session_with_long_lines(tmp_path: Path, runbook_file: RunbookFile) -> tuple[Path, str]:
    """A session whose status has lines longer than any terminal: a long skip reason and long answers."""
    sandbox = build_sandbox(tmp_path / "sandbox")
    state = tmp_path / "state"
    reason = "skipped because " + " ".join(f"reason-word-{i}" for i in range(40))
    with Session.create(state, runbook_file, sandbox.overrides) as session:
        session.accept_setup()
        session.record(ev.StepSkipped(step="1.0", reason=reason))
    return state, reason


def test_status_piped_prints_every_line_whole(session_with_long_lines: tuple[Path, str], tmp_path: Path) -> None:
    state, reason = session_with_long_lines
    result = subprocess.run(
        [AMXWIZARD, "status", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "60"},  # a width given but stdout piped: nothing is cut or wrapped
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if " 1.0 " in line)
    assert line.endswith(reason) and len(line) > 60


@pytest.mark.parametrize("width", [50, 80, 120])
def test_status_on_a_terminal_wraps_at_its_width_and_loses_no_word(
    session_with_long_lines: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    state, reason = session_with_long_lines
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert status_command.output_width() == width
    piped, shown = io.StringIO(), io.StringIO()
    from amxwizard.cli import main

    with contextlib.redirect_stdout(piped):
        monkeypatch.setattr(status_command, "output_width", lambda: None)
        assert main(["status", "--state-dir", str(state)]) == 0
    with contextlib.redirect_stdout(shown):
        monkeypatch.setattr(status_command, "output_width", lambda: width)
        assert main(["status", "--state-dir", str(state)]) == 0
    # Every line fits, but for a single word longer than the terminal (a path), kept whole on its own line.
    too_wide = [line for line in shown.getvalue().splitlines() if len(line) > width]
    assert all(len(line.split()) == 1 for line in too_wide), too_wide
    assert shown.getvalue().split() == piped.getvalue().split()  # the same words, only wrapped
    assert reason.split()[-1] in shown.getvalue()
