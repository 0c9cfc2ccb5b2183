"""Every option and positional of the record's commands says what it is for in --help."""

from __future__ import annotations

import argparse

import pytest

from amxwizard.cli import build_parser


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", ["report", "verify", "signoff", "check", "diff"])
def test_every_argument_has_help(command: str) -> None:
    parser = _subparser(command)
    missing = [a.dest for a in parser._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    assert missing == [], f"{command}: no help for {missing}"
    assert len(parser._actions) > 2  # the check can fail: the command has arguments to look at
