"""The programs a runbook's commands run, with their arguments and the folder they run in.

Read with :mod:`amxwizard.runbook.shell` (the same reader that quotes template values), then followed the way bash
would run them: through ``cd``, wrappers such as ``numactl`` and ``nice``, ``$(...)`` substitutions, and scripts a
step writes with a quoted here-document and then runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...runbook.models import BenchmarkStep, Runbook, ShellStep, TestStep
from ...runbook.shell import Command, Word, lex
from ...runbook.templates import TemplateError, placeholders, render_shell, render_text
from ..fileio import expand_path
from .checks import Check

__all__ = ["Invocation", "Word", "command_invocations", "step_invocations"]

_KEYWORDS_SKIPPED = frozenset(
    {"then", "else", "do", "!", "{", "}", "done", "fi", "esac", "if", "elif", "while", "until", "time", "[[", "]]"}
)
_KEYWORDS_WHOLE = frozenset({"for", "case", "select", "function"})  # their words are not a command
_BUILTINS = frozenset(
    {
        "cd",
        "echo",
        "printf",
        "export",
        "set",
        "unset",
        "source",
        ".",
        "exit",
        "return",
        "true",
        "false",
        "test",
        "[",
        "read",
        "eval",
        "local",
        "shift",
        "trap",
        "wait",
        "type",
        "pushd",
        "popd",
        "umask",
        "alias",
        "unalias",
        "let",
        "declare",
        "typeset",
        "readonly",
        "ulimit",
        "times",
        "builtin",
        "hash",
        "getopts",
        ":",
        "break",
        "continue",
        "dirs",
        "jobs",
        "fg",
        "bg",
        "kill",
        "disown",
        "shopt",
        "mapfile",
        "readarray",
        "history",
        "enable",
        "caller",
        "pwd",
    }
)
ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")

# Programs that run another program: how many option words each option consumes.
_NUMACTL_VALUE_OPTIONS = (
    "-N",
    "--cpunodebind",
    "-m",
    "--membind",
    "-C",
    "--physcpubind",
    "-i",
    "--interleave",
    "-p",
    "--preferred",
    "-P",
    "--preferred-many",
    "-w",
    "--weighted-interleave",
)
WRAPPER_OPTIONS: dict[str, dict[str, int]] = {
    "numactl": dict.fromkeys(_NUMACTL_VALUE_OPTIONS, 1),
    "nice": {"-n": 1, "--adjustment": 1},
    "env": {"-u": 1, "--unset": 1, "-C": 1, "--chdir": 1, "-S": 1},
    "stdbuf": {"-i": 1, "-o": 1, "-e": 1},
    "timeout": {"-s": 1, "--signal": 1, "-k": 1, "--kill-after": 1},
    "taskset": {},
    "nohup": {},
    "time": {"-f": 1, "--format": 1, "-o": 1, "--output": 1},
    "chrt": {},
    "ionice": {"-c": 1, "-n": 1, "--class": 1, "--classdata": 1},
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """One simple command a step runs: the program word, its arguments, and where it runs."""

    step: str
    program: Word
    args: tuple[Word, ...]
    cwd: Path
    created: frozenset[Path]  # files the script wrote before this point (a script it then runs, say)


@dataclass(slots=True)
class _Reader:
    step: str
    cwd: Path
    invocations: list[Invocation] = field(default_factory=list)
    created: set[Path] = field(default_factory=set)

    def read(self, script: str) -> None:
        for command in lex(script).commands():
            for word in command.words:
                for inner in word.substitutions:
                    self.read(inner)
            for redirect in command.redirects:
                if redirect.target is not None:
                    for inner in redirect.target.substitutions:
                        self.read(inner)
            out_target: str | None = None
            for redirect in command.redirects:
                if redirect.writes and redirect.target is not None and not redirect.target.expanded:
                    out_target = redirect.target.text
                    self.created.add(self._resolve(out_target))
            self._command(list(command.words))
            self._heredoc_scripts(command, out_target)

    def _heredoc_scripts(self, command: Command, out_target: str | None) -> None:
        """A quoted here-document that is a script (a ``#!`` shell line, or written to ``*.sh``) runs later."""
        for doc in command.heredocs:
            first = doc.body.split("\n", 1)[0]
            is_script = doc.quoted and (
                (first.startswith("#!") and "sh" in first) or (out_target or "").endswith((".sh", ".bash"))
            )
            if is_script:
                self.read(doc.body)

    def _resolve(self, text: str) -> Path:
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else self.cwd / path

    def _command(self, words: list[Word]) -> None:
        while words:
            first = words[0]
            if ASSIGNMENT_RE.match(first.text):
                words = words[1:]
                continue
            if first.text in _KEYWORDS_WHOLE:
                return
            if first.text in _KEYWORDS_SKIPPED:
                words = words[1:]
                continue
            break
        if not words:
            return
        program, args = words[0], words[1:]
        if program.text == "cd":
            target = next((w for w in args if not w.text.startswith("-")), None)
            if target is not None and not target.expanded:
                self.cwd = Path(os.path.normpath(self._resolve(target.text)))
            return
        if program.text in ("exec", "command", "builtin"):
            rest = [w for w in args if not w.text.startswith("-")] if program.text != "exec" else args
            self._command(list(rest))
            return
        if program.text in _BUILTINS:
            return
        self.invocations.append(Invocation(self.step, program, tuple(args), self.cwd, frozenset(self.created)))
        inner = unwrap(program.text, args)
        if inner:
            self._command(inner)


def unwrap(program: str, args: list[Word]) -> list[Word]:
    """The command a wrapper (numactl, nice, env, ...) runs, or ``[]``."""
    name = os.path.basename(program)
    if name not in WRAPPER_OPTIONS:
        return []
    takes = WRAPPER_OPTIONS[name]
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in takes:
            i += 1 + takes[text]
        elif (text.startswith("-") and len(text) > 1) or (name == "env" and ASSIGNMENT_RE.match(text)):
            i += 1
        else:
            break
    rest = args[i:]
    if name == "timeout" and rest:
        rest = rest[1:]  # the duration
    elif name == "taskset" and rest and not any(a.text.startswith("-c") for a in args[:i]):
        rest = rest[1:]  # the mask
    elif name == "chrt" and rest:
        rest = rest[1:]  # the priority
    return list(rest)


def command_invocations(script: str, step: str, cwd: Path) -> list[Invocation]:
    """Every simple command ``script`` runs (including ones in ``$(...)`` and scripts it writes with a
    quoted here-document), with the folder it runs in as far as literal ``cd`` commands tell."""
    reader = _Reader(step, cwd)
    reader.read(script)
    return reader.invocations


def step_scripts(runbook: Runbook) -> Iterator[tuple[str, str | None, str]]:
    """(step id, cwd template, command template) for every command the runbook runs."""
    for _, step in runbook.iter_steps():
        if isinstance(step, ShellStep):
            for command in step.commands:
                yield step.id, step.cwd, command
        elif isinstance(step, TestStep):
            for command in step.setup:
                yield step.id, None, command
            yield step.id, None, step.command
        elif isinstance(step, BenchmarkStep):
            yield step.id, None, step.command


@dataclass(frozen=True, slots=True)
class StepCommands:
    """Every invocation of every step, and what could not be read."""

    invocations: tuple[Invocation, ...]
    problems: tuple[Check, ...]
    step_variables: Mapping[str, frozenset[str]]  # step id -> the variables its command templates name


def step_invocations(runbook: Runbook, values: Mapping[str, str], workdir: Path) -> StepCommands:
    """Fill in every command of the runbook with ``values`` and read what each runs."""
    invocations: list[Invocation] = []
    problems: list[Check] = []
    used: dict[str, set[str]] = {}
    for step_id, cwd_template, template in step_scripts(runbook):
        used.setdefault(step_id, set()).update(placeholders(template))
        try:
            script = render_shell(template, values, runbook.args_variables)
            cwd = expand_path(render_text(cwd_template, values)) if cwd_template else workdir
        except TemplateError as exc:
            problems.append(Check(f"commands {step_id}", "fail", f"cannot fill in the command: {exc}"))
            continue
        invocations.extend(command_invocations(script, step_id, cwd))
    return StepCommands(tuple(invocations), tuple(problems), {k: frozenset(v) for k, v in used.items()})
