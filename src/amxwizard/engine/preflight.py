"""Preflight: check the runbook's assumptions against this machine and repository before anything runs.

Each check is one line a person can act on: the repository and its HEAD, a clean tree, the files and functions the
runbook edits (with the lines it claims beside the lines they are at today), the tools its commands call, the
model file, and whether each built binary still accepts the flags the commands pass to it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..runbook.models import (
    ApproachStep,
    BenchmarkStep,
    ChecklistItem,
    CleanTreeCheck,
    Edit,
    HeadCommitCheck,
    Runbook,
    ShellStep,
    TestStep,
    Variable,
    WritableCheck,
)
from ..runbook.templates import TemplateError, render_shell, render_text
from .edits import C_LANGUAGES, read_text
from .fileio import expand_path, shown_path
from .procs import run_probe
from .source import locate_function

if TYPE_CHECKING:
    import git

    from ..runbook import RunbookFile

Status = Literal["ok", "warn", "fail"]
HELP_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight finding."""

    name: str
    status: Status
    finding: str


# --- shell commands, read well enough to find what they run ------------------------------------------------

_KEYWORDS_SKIPPED = frozenset(
    {
        "then",
        "else",
        "do",
        "!",
        "{",
        "}",
        "done",
        "fi",
        "esac",
        "if",
        "elif",
        "while",
        "until",
        "time",
        "(",
        ")",
        "[[",
        "]]",
    }
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
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass(slots=True)
class Word:
    text: str
    expanded: bool = False  # holds a $VAR, $(...) or `...` the shell fills in at run time


@dataclass(frozen=True, slots=True)
class Invocation:
    """One simple command a step runs: the program word, its arguments, and where it runs."""

    step: str
    program: Word
    args: tuple[Word, ...]
    cwd: Path
    created: frozenset[Path]  # files the script wrote before this point (a script it then runs, say)


@dataclass(slots=True)
class _Parser:
    step: str
    cwd: Path
    invocations: list[Invocation] = field(default_factory=list)
    created: set[Path] = field(default_factory=set)

    # -- lexing -------------------------------------------------------------------------------------------------

    def parse(self, script: str) -> None:
        words: list[Word] = []
        current: list[str] = []
        expanded = False
        has_word = False
        quoted = False  # the word used quotes or a backslash (a quoted here-document delimiter)
        redirect: str | None = None  # the operator whose target the next word is
        out_target: str | None = None
        heredocs: list[tuple[str, bool, bool, str | None]] = []  # delimiter, quoted, strip tabs, stdout target
        i, n = 0, len(script)

        def end_word() -> None:
            nonlocal current, expanded, has_word, quoted, redirect, out_target
            if not has_word:
                return
            text = "".join(current)
            if redirect is not None:
                if redirect.startswith("<<") and redirect != "<<<":
                    heredocs.append((text, quoted, redirect == "<<-", out_target))
                elif ">" in redirect and not redirect.endswith("&") and not expanded:
                    out_target = text
                    self.created.add(self._resolve(text))
                redirect = None
            else:
                words.append(Word(text, expanded))
            current, expanded, has_word, quoted = [], False, False, False

        def end_command() -> None:
            nonlocal words, out_target
            end_word()
            if words:
                self._command(words)
            words = []
            out_target = None

        while i < n:
            c = script[i]
            if c == "\\":
                if i + 1 < n and script[i + 1] == "\n":
                    i += 2
                    continue
                current.append(script[i + 1] if i + 1 < n else "")
                has_word = quoted = True
                i += 2
            elif c == "'":
                end = script.find("'", i + 1)
                end = n if end < 0 else end
                current.append(script[i + 1 : end])
                has_word = quoted = True
                i = end + 1
            elif c == "$" and script.startswith("$'", i):
                text, i = _ansi_c(script, i + 2)
                current.append(text)
                has_word = quoted = True
            elif c == '"':
                i, inner_expanded = self._double_quoted(script, i + 1, current)
                expanded |= inner_expanded
                has_word = quoted = True
            elif c == "$" and script.startswith("$(", i):
                end = _matching(script, i + 1, "(", ")")
                inner = script[i + 2 : end]
                if not inner.startswith("("):  # $((arithmetic)) runs nothing
                    _Parser(self.step, self.cwd, self.invocations, self.created).parse(inner)
                current.append(script[i : end + 1])
                expanded = has_word = True
                i = end + 1
            elif c == "$":
                m = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9#?$!@*-])").match(script, i)
                token = m.group() if m else "$"
                current.append(token)
                expanded |= m is not None
                has_word = True
                i += len(token)
            elif c == "`":
                end = script.find("`", i + 1)
                end = n if end < 0 else end
                current.append(script[i : end + 1])
                expanded = has_word = True
                i = end + 1
            elif c == "#" and not has_word:
                end = script.find("\n", i)
                i = n if end < 0 else end
            elif c in " \t":
                end_word()
                i += 1
            elif c == "\n":
                end_command()
                i += 1
                if heredocs:
                    i = self._heredoc_bodies(script, i, heredocs)
                    heredocs = []
            elif c in ";&|()":
                end_command()
                if c == "&" and script.startswith("&>", i):
                    redirect = "&>>" if script.startswith("&>>", i) else "&>"
                    i += len(redirect)
                    continue
                i += 1
            elif c in "<>":
                if has_word and "".join(current).isdigit():
                    current, has_word = [], False  # the fd number of 2> and friends
                else:
                    end_word()
                m = re.compile(r"<<<|<<-|<<|<>|<&|>>|>&|>\||<|>").match(script, i)
                assert m is not None
                redirect = m.group()
                i = m.end()
                if redirect.endswith("&"):
                    fd = re.compile(r"\s*(\d+|-)").match(script, i)
                    if fd:
                        i = fd.end()
                    redirect = None
            else:
                current.append(c)
                has_word = True
                i += 1
        end_command()

    def _double_quoted(self, script: str, i: int, current: list[str]) -> tuple[int, bool]:
        expanded = False
        n = len(script)
        while i < n and script[i] != '"':
            c = script[i]
            if c == "\\" and i + 1 < n and script[i + 1] in '$`"\\\n':
                if script[i + 1] != "\n":
                    current.append(script[i + 1])
                i += 2
            elif script.startswith("$(", i):
                end = _matching(script, i + 1, "(", ")")
                _Parser(self.step, self.cwd, self.invocations, self.created).parse(script[i + 2 : end])
                current.append(script[i : end + 1])
                expanded = True
                i = end + 1
            elif c in "$`":
                expanded = True
                current.append(c)
                i += 1
            else:
                current.append(c)
                i += 1
        return i + 1, expanded

    def _heredoc_bodies(self, script: str, i: int, heredocs: list[tuple[str, bool, bool, str | None]]) -> int:
        for delimiter, quoted, strip_tabs, out_target in heredocs:
            lines: list[str] = []
            while i < len(script):
                end = script.find("\n", i)
                end = len(script) if end < 0 else end
                line = script[i:end]
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                lines.append(line)
            body = "\n".join(lines)
            first = lines[0] if lines else ""
            is_script = quoted and (
                (first.startswith("#!") and "sh" in first) or (out_target or "").endswith((".sh", ".bash"))
            )
            if is_script:
                _Parser(self.step, self.cwd, self.invocations, self.created).parse(body)
        return i

    # -- commands -----------------------------------------------------------------------------------------------

    def _resolve(self, text: str) -> Path:
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else self.cwd / path

    def _command(self, words: list[Word]) -> None:
        while words:
            first = words[0]
            if _ASSIGNMENT_RE.match(first.text):
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
        inner = _unwrap(program.text, args)
        if inner:
            self._command(inner)


def _ansi_c(script: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "e": "\x1b"}
    while i < len(script) and script[i] != "'":
        if script[i] == "\\" and i + 1 < len(script):
            nxt = script[i + 1]
            if nxt == "x":
                m = re.compile(r"[0-9a-fA-F]{1,2}").match(script, i + 2)
                if m:
                    out.append(chr(int(m.group(), 16)))
                    i = m.end()
                    continue
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(script[i])
            i += 1
    return "".join(out), i + 1


def _matching(script: str, i: int, opener: str, closer: str) -> int:
    """Index of the ``closer`` that pairs with ``script[i] == opener`` (quotes skipped), or the end."""
    depth = 0
    quote: str | None = None
    while i < len(script):
        c = script[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(script)


# Programs that run another program: how many option words each option consumes.
_WRAPPER_OPTIONS: dict[str, dict[str, int]] = {
    "numactl": {
        o: 1
        for o in (
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
    },
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


def _unwrap(program: str, args: list[Word]) -> list[Word]:
    """The command a wrapper (numactl, nice, env, ...) runs, or ``[]``."""
    name = os.path.basename(program)
    if name not in _WRAPPER_OPTIONS:
        return []
    takes = _WRAPPER_OPTIONS[name]
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in takes:
            i += 1 + takes[text]
        elif (text.startswith("-") and len(text) > 1) or (name == "env" and _ASSIGNMENT_RE.match(text)):
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
    parser = _Parser(step, cwd)
    parser.parse(script)
    return parser.invocations


# --- --help, the llama.cpp way --------------------------------------------------------------------------------

_VALUE_TOKEN = r"(?:<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)|[A-Z][A-Z0-9_]*(?:\|[A-Z0-9_]+)*(?![\w-]))"
_FLAG_RE = re.compile(r"(-{1,2}[A-Za-z0-9][\w.+-]*)(?:[ =](" + _VALUE_TOKEN + r"(?: " + _VALUE_TOKEN + r")*))?")


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """A flag as ``--help`` lists it: its spellings and the value it takes, if any."""

    names: tuple[str, ...]
    value: str | None


def parse_help(text: str) -> dict[str, FlagSpec]:
    """Flags listed by llama.cpp-style help (``-t, --threads N``, ``-fa, --flash-attn [on|off|auto]``,
    ``-p, --n-prompt <n>``), keyed by every spelling."""
    flags: dict[str, FlagSpec] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not re.match(r"-{1,2}[A-Za-z0-9]", line):
            continue
        names: list[str] = []
        value: str | None = None
        pos = 0
        while True:
            m = _FLAG_RE.match(line, pos)
            if not m:
                break
            names.append(m.group(1))
            value = m.group(2) or value
            pos = m.end()
            sep = re.compile(r",\s*").match(line, pos)
            if not sep:
                break
            pos = sep.end()
        spec = FlagSpec(tuple(names), value)
        for name in names:
            flags.setdefault(name, spec)
    return flags


@dataclass(frozen=True, slots=True)
class HelpResult:
    flags: dict[str, FlagSpec]
    problem: str | None


def read_help(binary: Path, timeout: float = HELP_TIMEOUT) -> HelpResult:
    """Run ``binary --help`` once (own process group, stdin closed, killed after ``timeout``) and parse it."""
    try:
        probe = run_probe([str(binary), "--help"], timeout, merge_stderr=True)
    except OSError as exc:
        return HelpResult({}, f"cannot run {binary.name} --help: {exc.strerror}")
    if probe.returncode is None:
        return HelpResult({}, f"{binary.name} --help did not finish within {timeout:g} s")
    flags = parse_help(probe.stdout)
    if not flags:
        first = next((line.strip() for line in probe.stdout.splitlines() if line.strip()), "no output")
        return HelpResult({}, f"{binary.name} --help (exit {probe.returncode}) listed no flags: {first[:100]}")
    return HelpResult(flags, None)


# --- the checks -------------------------------------------------------------------------------------------------


def _steps_text(steps: Iterable[str]) -> str:
    ordered = list(dict.fromkeys(steps))
    return f"step{'s' if len(ordered) != 1 else ''} {', '.join(ordered)}"


def _open_repo(path: Path) -> tuple[git.Repo | None, Check]:
    from .gitops import GitOpsError, open_repo

    if not path.exists():
        return None, Check("repo", "fail", f"{path} does not exist (set --var repo=...)")
    if not path.is_dir():
        return None, Check("repo", "fail", f"{path} is not a folder")
    try:
        repo = open_repo(path)
    except GitOpsError as exc:
        return None, Check("repo", "fail", str(exc))
    try:
        where = f"on branch {repo.active_branch.name}"
    except TypeError:
        where = "with a detached HEAD"
    return repo, Check("repo", "ok", f"{path}: git repository {where}")


def _head_commit(repo: object, expected: str, subject: str) -> Check:
    import git

    assert isinstance(repo, git.Repo)
    want = expected.strip().lower()
    try:
        head = repo.head.commit
    except ValueError:
        return Check("head_commit", "fail", "the repository has no commits yet")
    head_text = f"HEAD {head.hexsha[:8]} {head.summary!r}"
    if not want:
        return Check("head_commit", "ok", f"{head_text} (no expected commit set)")
    expected_text = f"{want}" + (f" {subject!r}" if subject else "")
    if head.hexsha.startswith(want):
        if subject and str(head.summary).strip() != subject.strip():
            return Check(
                "head_commit", "warn", f"{head_text} is the expected commit, but the checklist names it {subject!r}"
            )
        return Check("head_commit", "ok", f"{head_text}, as the checklist expects")
    try:
        # rev-parse, because repo.commit() takes any 40-hex string on trust and is_ancestor then fails on it.
        found = repo.commit(repo.git.rev_parse("--verify", "--quiet", f"{want}^{{commit}}"))
    except (git.BadName, ValueError, git.GitCommandError):
        found = None
    if found is None:
        same_subject = (
            " (HEAD has the expected subject: rebased or cherry-picked?)"
            if subject and str(head.summary).strip() == subject.strip()
            else ""
        )
        return Check(
            "head_commit",
            "warn",
            f"{head_text}; the expected {expected_text} is not anywhere in this repository's history{same_subject}",
        )
    if repo.is_ancestor(found, head):
        count = int(repo.git.rev_list("--count", f"{found.hexsha}..{head.hexsha}"))
        return Check(
            "head_commit",
            "warn",
            f"{head_text} is {count} commit{'s' if count != 1 else ''} after the "
            f"expected {found.hexsha[:8]} {found.summary!r}",
        )
    return Check(
        "head_commit",
        "warn",
        f"{head_text}; the expected {found.hexsha[:8]} {found.summary!r} is in the "
        "repository but not in HEAD's history",
    )


def _clean_tree(repo: object, allow: list[str]) -> Check:
    import git

    assert isinstance(repo, git.Repo)
    from .gitops import porcelain_entries

    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=normal")
    changed: list[str] = []
    untracked: list[str] = []
    allowed: list[str] = []
    for code, path in porcelain_entries(out):
        if any(fnmatch.fnmatch(path, pattern) for pattern in allow):
            allowed.append(path)
        elif code == "??":
            untracked.append(path)
        else:
            changed.append(path)

    def listing(paths: list[str]) -> str:
        shown = ", ".join(paths[:5])
        return shown + (f" (+{len(paths) - 5} more)" if len(paths) > 5 else "")

    also = f"; allowed changes: {listing(allowed)}" if allowed else ""
    if changed:
        return Check(
            "clean_tree",
            "fail",
            f"uncommitted changes outside {', '.join(allow) or 'nothing'}: {listing(changed)}{also}",
        )
    if untracked:
        return Check("clean_tree", "warn", f"untracked files: {listing(untracked)}{also}")
    return Check("clean_tree", "ok", f"clean{' except ' + listing(allowed) if allowed else ''}")


def _writable(path_text: str) -> Check:
    if re.search(r"<session_(dir|id)>", path_text):
        return Check("writable", "ok", f"{path_text}: kept inside the session folder, made when the session starts")
    path = expand_path(path_text)
    if path.exists():
        if path.is_dir() and os.access(path, os.W_OK | os.X_OK):
            return Check("writable", "ok", f"{path} exists and is writable")
        return Check("writable", "fail", f"{path} exists but is not a writable folder")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK):
        return Check("writable", "ok", f"{path} can be created (under {ancestor})")
    return Check("writable", "fail", f"{path} cannot be created: {ancestor} is not writable")


@dataclass(slots=True)
class _Claims:
    file: Path
    function: str
    claims: list[tuple[str, Edit]] = field(default_factory=list)  # (step, an edit that claims lines)
    optional: bool = True  # only approach steps need it


def _function_checks(runbook: Runbook, values: Mapping[str, str], repo_root: Path) -> tuple[list[Check], list[Check]]:
    files: dict[Path, bool] = {}  # path -> needed by a non-approach step
    claims: dict[tuple[Path, str], _Claims] = {}
    for step, edit in runbook.edits():
        path = expand_path(render_text(edit.file, values))
        required = not isinstance(step, ApproachStep)
        files[path] = files.get(path, False) or required
        if edit.function and edit.language in C_LANGUAGES:
            entry = claims.setdefault((path, edit.function), _Claims(path, edit.function))
            entry.optional = entry.optional and not required
            if edit.claimed_lines:
                entry.claims.append((step.id, edit))
    file_checks: list[Check] = []
    texts: dict[Path, str] = {}
    for path, required in files.items():
        shown = shown_path(path, repo_root)
        try:
            texts[path] = read_text(path)
        except FileNotFoundError:
            status: Status = "fail" if required else "warn"
            tail = "" if required else " (only an optional approach edits it)"
            file_checks.append(Check(f"file {shown}", status, f"missing: {path}{tail}"))
            continue
        except OSError as exc:
            file_checks.append(Check(f"file {shown}", "fail", f"cannot read {path}: {exc.strerror}"))
            continue
        lines = texts[path].count("\n") + (0 if texts[path].endswith("\n") or not texts[path] else 1)
        file_checks.append(Check(f"file {shown}", "ok", f"exists ({lines} lines)"))

    function_checks: list[Check] = []
    for (path, function), entry in claims.items():
        name = f"function {function}"
        shown = shown_path(path, repo_root)
        if path not in texts:
            function_checks.append(Check(name, "warn", f"not looked for: {shown} is missing"))
            continue
        span = locate_function(texts[path], function)
        if span is None:
            status = "warn" if entry.optional else "fail"
            tail = " (only an optional approach needs it)" if entry.optional else ""
            function_checks.append(Check(name, status, f"missing: no definition of {function} in {shown}{tail}"))
            continue
        said = "; ".join(f"{edit.claimed_lines} ({step})" for step, edit in entry.claims)
        moved = [(step, edit) for step, edit in entry.claims if not edit.claim_holds(span.start_line, span.end_line)]
        where = f"found in {shown} at lines {span.lines}"
        if moved:
            function_checks.append(Check(name, "warn", f"moved: {where}; the runbook says {said}"))
        elif said:
            function_checks.append(Check(name, "ok", f"{where}, as the runbook says ({said})"))
        else:
            function_checks.append(Check(name, "ok", where))
    return file_checks, function_checks


def _step_scripts(runbook: Runbook) -> Iterable[tuple[str, str | None, str]]:
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


@dataclass(slots=True)
class _ToolUse:
    shown: str
    path: Path | None
    built: bool  # lives under the working folder (a build output), not on PATH
    steps: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


def _tool_checks(
    runbook: Runbook, values: Mapping[str, str], workdir: Path, help_timeout: float
) -> tuple[list[Check], list[Check], list[Check]]:
    problems: list[Check] = []
    tools: dict[str, _ToolUse] = {}
    for step_id, cwd_template, template in _step_scripts(runbook):
        try:
            script = render_shell(template, values, runbook.args_variables)
            cwd = Path(render_text(cwd_template, values)) if cwd_template else workdir
        except TemplateError as exc:
            problems.append(Check(f"commands {step_id}", "fail", f"cannot fill in the command: {exc}"))
            continue
        for inv in command_invocations(script, step_id, cwd):
            if inv.program.expanded:
                continue
            word = inv.program.text
            if "/" in word:
                path = Path(os.path.normpath(inv.cwd / expand_path(word)))
                if path in inv.created:
                    continue  # a script the step itself writes first
                key, found = str(path), path if path.exists() else None
                built = workdir in path.parents
                shown = shown_path(path, workdir) if built else word
            else:
                located = shutil.which(word)
                key, found, built, shown = word, Path(located) if located else None, False, word
            use = tools.setdefault(key, _ToolUse(shown, found, built))
            use.steps.append(step_id)
            use.invocations.append(inv)

    tool_checks: list[Check] = []
    flag_checks: list[Check] = []
    for use in tools.values():
        steps = _steps_text(use.steps)
        if use.path is None:
            if use.built:
                tool_checks.append(
                    Check(f"tool {use.shown}", "warn", f"not built yet ({steps} run it; the build steps make it)")
                )
            else:
                tool_checks.append(Check(f"tool {use.shown}", "fail", f"not found on PATH ({steps} run it)"))
            continue
        if not os.access(use.path, os.X_OK) or use.path.is_dir():
            tool_checks.append(Check(f"tool {use.shown}", "fail", f"{use.path} is not an executable file ({steps})"))
            continue
        tool_checks.append(Check(f"tool {use.shown}", "ok", f"{use.path} ({steps})"))
        if use.built:
            flag_checks.extend(_flag_checks(use, help_timeout))
    return problems, tool_checks, flag_checks


def _flag_checks(use: _ToolUse, help_timeout: float) -> list[Check]:
    assert use.path is not None
    name = use.path.name
    helped = read_help(use.path, help_timeout)
    if helped.problem:
        return [Check(f"flags {name}", "warn", f"not checked: {helped.problem}")]
    rejected: dict[str, list[str]] = {}
    valueless: dict[str, tuple[FlagSpec, list[str], str]] = {}
    accepted: dict[str, None] = {}
    for inv in use.invocations:
        args = inv.args
        i = 0
        while i < len(args):
            word = args[i]
            text = word.text
            i += 1
            if word.expanded or not text.startswith("-") or text in ("-", "--") or _NUMBER_RE.match(text):
                continue
            flag, eq, _ = text.partition("=") if text.startswith("--") else (text, "", "")
            nxt = args[i] if i < len(args) else None
            takes_next = nxt is not None and (
                nxt.expanded or not nxt.text.startswith("-") or bool(_NUMBER_RE.match(nxt.text))
            )
            spec = helped.flags.get(flag)
            if spec is None:
                rejected.setdefault(flag, []).append(inv.step)
                if takes_next:
                    i += 1  # most likely its value
                continue
            accepted[flag] = None
            if spec.value and not eq:
                if takes_next:
                    i += 1
                else:
                    followed = f"followed by {nxt.text}" if nxt is not None else "at the end of the command"
                    entry = valueless.setdefault(flag, (spec, [], followed))
                    entry[1].append(inv.step)
    checks: list[Check] = []
    for flag, steps in rejected.items():
        checks.append(
            Check(
                f"flag {name} {flag}",
                "fail",
                f"rejected: {name} --help does not list {flag} ({_steps_text(steps)} pass it)",
            )
        )
    for flag, (spec, steps, followed) in valueless.items():
        checks.append(
            Check(
                f"flag {name} {flag}",
                "warn",
                f"takes a value ({' / '.join(spec.names)} {spec.value}) but {_steps_text(steps)} pass "
                f"none ({followed})",
            )
        )
    if accepted:
        checks.append(Check(f"flags {name}", "ok", f"{name} --help lists {' '.join(accepted)}"))
    return checks


def _model_check(path_text: str) -> Check:
    path = expand_path(path_text)
    if not path.exists():
        return Check("model", "fail", f"{path} does not exist (set --var model=...)")
    if not path.is_file():
        return Check("model", "fail", f"{path} is not a file")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return Check("model", "fail", f"cannot read {path}: {exc.strerror}")
    size = path.stat().st_size
    shown = f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size} bytes"
    if magic != b"GGUF":
        return Check("model", "warn", f"{path} ({shown}) does not start with the GGUF magic")
    return Check("model", "ok", f"{path} (GGUF, {shown})")


def run_preflight(
    runbook_file: RunbookFile | Runbook, values: Mapping[str, str], *, help_timeout: float = HELP_TIMEOUT
) -> list[Check]:
    """Check the runbook's assumptions against this machine. ``values`` are resolved variable values
    (:func:`amxwizard.runbook.variables.resolve`)."""
    runbook = runbook_file if isinstance(runbook_file, Runbook) else runbook_file.model
    checks: list[Check] = []
    repo_path = expand_path(values["repo"]) if values.get("repo") else None
    workdir_text = render_text(runbook.workdir, values) if runbook.workdir else ""
    workdir = expand_path(workdir_text) if workdir_text else (repo_path or Path.cwd())

    repo = None
    if repo_path is not None:
        repo, repo_check = _open_repo(repo_path)
        checks.append(repo_check)
    for item in runbook.checklist:
        check = item.check
        if isinstance(check, HeadCommitCheck | CleanTreeCheck) and repo is None:
            checks.append(Check(check.kind, "warn", "not checked: no git repository"))
        elif isinstance(check, HeadCommitCheck):
            checks.append(_head_commit(repo, render_text(check.commit, values), render_text(check.subject, values)))
        elif isinstance(check, CleanTreeCheck):
            checks.append(_clean_tree(repo, check.allow))
        elif isinstance(check, WritableCheck):
            checks.append(_writable(render_text(check.path, values)))
    if repo is not None:
        repo.close()  # else its `git cat-file` processes live on until the garbage collector finds the Repo

    file_checks, function_checks = _function_checks(runbook, values, repo_path or workdir)
    checks.extend(file_checks)
    checks.extend(function_checks)
    problems, tool_checks, flag_checks = _tool_checks(runbook, values, workdir, help_timeout)
    checks.extend(problems)
    checks.extend(tool_checks)
    if "model" in values:
        checks.append(_model_check(values["model"]))
    checks.extend(flag_checks)
    return checks


def check_checklist_item(item: ChecklistItem, values: Mapping[str, str]) -> Check:
    """The automatic check behind one pre-implementation checklist item, against this machine now."""
    check = item.check
    if isinstance(check, WritableCheck):
        return _writable(render_text(check.path, values))
    if not isinstance(check, HeadCommitCheck | CleanTreeCheck):
        return Check(item.id, "ok", "confirmed by a person")
    repo, repo_check = _open_repo(expand_path(values.get("repo", ".")))
    if repo is None:
        return repo_check
    try:
        if isinstance(check, HeadCommitCheck):
            return _head_commit(repo, render_text(check.commit, values), render_text(check.subject, values))
        return _clean_tree(repo, check.allow)
    finally:
        repo.close()


def check_variable(name: str, var: Variable, value: str) -> tuple[Literal["ok", "warn", "fail"], str]:
    """What the machine says about one variable's value, cheaply enough to run on every key press.

    Only facts about the machine, as warnings: a missing model may be mounted later, a repo cloned later. Syntax
    and range are :func:`amxwizard.runbook.variables.check_value`'s.
    """
    path = expand_path(value)
    if var.type == "repo":
        if not path.is_dir():
            return "warn", f"{path} does not exist"
        if not (path / ".git").exists():
            return "warn", f"{path} is not the top of a git repository"
        return "ok", "git repository"
    if var.type == "file":
        if not path.is_file():
            return "warn", f"{path} does not exist"
        size = path.stat().st_size
        return "ok", f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size:,} bytes"
    if var.type == "dir":
        return ("ok", "exists") if path.is_dir() else ("ok", "will be created")
    if var.type == "path":
        parent = path.parent
        return ("ok", "") if parent.is_dir() else ("warn", f"{parent} does not exist")
    if var.type == "args" and value.strip():
        try:
            first = shlex.split(value)[0]
        except (ValueError, IndexError):
            return "ok", ""
        found = shutil.which(str(expand_path(first))) is not None  # a path is checked as it stands
        return ("ok", "") if found else ("warn", f"{first} is not installed here (not on PATH)")
    return "ok", ""
