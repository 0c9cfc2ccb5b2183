"""Will a built program accept the flags the runbook passes it? Read its ``--help``; where that is silent or
ambiguous, ask the program itself.

``--help`` is read the way llama.cpp's tools write it, in every notation they use for a value: ``N``, ``<n>``,
``[on|off|auto]``, ``{none,layer,row}``, ``(auto|on|off|0|1)``, ``POLICY``, ``TYPE,N``, ``FNAME S`` ... A flag the
help does not list (``-ngl`` on a CPU-only build), a value the help does not show, or a missing value is then
*probed*: the program runs with the step's own arguments, a model path that cannot load (so nothing is generated)
and a time limit (its process group is killed at the limit). What it prints tells a flag problem ("unknown
argument", "invalid parameter for argument", "error while handling argument") from flags it accepted ("failed to
load model"). A rejected flag is fixed (dropped, or given the value its help offers) and the program asked again,
so the variable values preflight suggests are ones the program was seen to accept.
"""

from __future__ import annotations

import re
import shlex
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ...runbook.models import Runbook
from ...runbook.templates import TemplateError, split_args
from ..procs import run_probe
from .checks import Check, Status, fixes_text, steps_text
from .commands import Invocation

HELP_TIMEOUT = 15.0
PROBE_TIMEOUT = 20.0
PROBE_BUDGET = 120.0  # seconds of probing per preflight, at most
MAX_PROBES = 6  # per distinct command: each one fixes one more flag
NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")

# --- reading --help -------------------------------------------------------------------------------------------

DESCRIPTION_INDENT = 20  # flags start near the left margin; descriptions continue far to the right
_NAME_RE = re.compile(r"-{1,2}[A-Za-z0-9][\w.+-]*")
_CLOSERS = {"<": ">", "[": "]", "{": "}", "(": ")"}
_CAPS_VALUE_RE = re.compile(r"[A-Z][A-Z0-9_]*(?:[,:][A-Z0-9_]+)*(?=\s{2,}|\s*$)")
_CHOICE_RE = re.compile(r"^[\w.+-]+$")


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """A flag as ``--help`` lists it: its spellings and the value it takes, as the help writes it (or ``None``)."""

    names: tuple[str, ...]
    value: str | None

    @property
    def choices(self) -> tuple[str, ...]:
        """The values an enumerated notation allows: ``(auto|on|off|0|1)``, ``[on|off]``, ``{a,b}``, ``<0|1>``."""
        value = self.value or ""
        if len(value) < 3 or value[0] not in _CLOSERS or value[-1] != _CLOSERS[value[0]]:
            return ()
        inner = value[1:-1]
        # {a,b} lists choices with commas; elsewhere a comma joins the parts of one value (<pp,tg>, <i,f>)
        parts = [p.strip() for p in re.split(r"[|,]" if value[0] == "{" else r"\|", inner)]
        if len(parts) < 2 or not all(_CHOICE_RE.match(p) for p in parts):
            return ()
        return tuple(parts)

    @property
    def numeric(self) -> bool:
        """The notation names a number (``N``, ``<n>``, ``<i>``)."""
        return (self.value or "").strip("<>").lower() in ("n", "i", "n1,n2", "int", "number")


def _value_end(line: str, i: int) -> int:
    """Where a value notation that starts at ``i`` ends: at two spaces, at the next ``, -name``, at the end, at a
    ``(`` glued after a bracket (``<a|b>(default: a)``), or before a word after one space that starts ``(``/``-``."""
    n = len(line)
    while i < n:
        c = line[i]
        if c in _CLOSERS:
            close = line.find(_CLOSERS[c], i + 1)
            if close < 0:
                return n
            i = close + 1
            if i < n and line[i] == "(":
                return i
            continue
        if c == ",":
            if re.match(r",\s*-", line[i:]):
                return i
            i += 1
            continue
        if c == " ":
            if line.startswith("  ", i) or i + 1 >= n or line[i + 1] in "(-":
                return i
            i += 1
            continue
        i += 1
    return n


def _help_line(line: str) -> FlagSpec | None:
    names: list[str] = []
    value: str | None = None
    pos = 0
    while True:
        m = _NAME_RE.match(line, pos)
        if not m or NUMBER_RE.match(m.group()):
            break
        names.append(m.group())
        pos = m.end()
        if pos + 1 < len(line) and line[pos] in " =" and line[pos + 1] not in " ,":
            end = _value_end(line, pos + 1)
            value = line[pos + 1 : end] or value
            pos = end
        sep = re.compile(r",\s*(?=-)").match(line, pos)
        if not sep:
            break
        pos = sep.end()
    if not names:
        return None
    if value is None:
        rest = line[pos:].lstrip()
        if rest[:1] in _CLOSERS:
            close = rest.find(_CLOSERS[rest[0]])
            group = rest[: close + 1] if close > 0 else ""
            if group and " " not in group and re.search(r"[|,]", group):
                value = group  # "[on|off|auto]Use reasoning..." after the padding
        elif m := _CAPS_VALUE_RE.match(rest):
            value = m.group()  # "--cache-type-k-last  TYPE,N"
    return FlagSpec(tuple(names), value)


def parse_help(text: str) -> dict[str, FlagSpec]:
    """Flags listed by llama.cpp-style help (``-t, --threads N``, ``-fa, --flash-attn (auto|on|off|0|1)``,
    ``-p, --n-prompt <n>``, ``-sm, --split-mode <none|layer|graph>(default: layer)``), keyed by every spelling."""
    flags: dict[str, FlagSpec] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not re.match(r"-{1,2}[A-Za-z0-9]", line):
            continue
        if len(raw.expandtabs()) - len(raw.expandtabs().lstrip()) >= DESCRIPTION_INDENT:
            continue  # a description that mentions a flag ("  --recurrent-ckpt-mode remains as an alias")
        spec = _help_line(line)
        if spec is None:
            continue
        for name in spec.names:
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


# --- asking the program ---------------------------------------------------------------------------------------

_REJECT_RES: tuple[re.Pattern[str], ...] = (
    re.compile(r"error while handling argument \"(?P<arg>[^\"]+)\""),
    re.compile(r"error: (?:invalid|unknown) argument: (?P<arg>\S+)"),
    re.compile(r"error: invalid parameter for argument: (?P<arg>\S+)"),
    re.compile(r"unknown value for (?P<arg>--?[\w-]+)"),
    re.compile(r"(?:unrecognized|unknown) (?:option|argument):? '?(?P<arg>-[^\s']+)"),
)
_ACCEPT_RE = re.compile(
    r"failed to load model|error loading model|unable to load model|failed to open GGUF file|gguf_init_from_file"
)
_WARNING_RE = re.compile(r"^\s*warning: ", re.IGNORECASE)
_PROBE_MODEL = "amxwizard-probe-no-such-model.gguf"


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What one run with a model that cannot load said about the arguments."""

    verdict: Literal["accepted", "rejected", "unknown"]
    arg: str | None = None  # the argument the program names as the problem
    line: str = ""  # the program's own line that decided it, or why nothing was decided
    warnings: tuple[str, ...] = ()


def classify(output: str) -> ProbeOutcome:
    """Read a probe's output: a flag problem, flags accepted (the model then failed to load), or neither."""
    warnings: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        for pattern in _REJECT_RES:
            m = pattern.search(line)
            if m:
                return ProbeOutcome("rejected", m.group("arg"), line, tuple(warnings))
        if _ACCEPT_RE.search(line):
            return ProbeOutcome("accepted", None, line, tuple(warnings))
        if _WARNING_RE.match(line) and len(warnings) < 4:
            warnings.append(line)
    first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
    return ProbeOutcome("unknown", None, f"neither a flag error nor a model-load failure in its output: {first[:100]}")


@dataclass(slots=True)
class ProbeBudget:
    """Seconds of probing left for one preflight."""

    seconds: float = PROBE_BUDGET


_cache: dict[tuple[object, ...], ProbeOutcome] = {}
_cache_lock = threading.Lock()


def probe(
    binary: Path, args: Sequence[str], cwd: Path, budget: ProbeBudget, timeout: float = PROBE_TIMEOUT
) -> ProbeOutcome:
    """Run ``binary`` with ``args``, where :data:`_PROBE_MODEL` stands for a model path that cannot load.

    Own session and process group, stdin closed, killed (the whole group) after ``timeout``; the same binary and
    arguments are asked once per process.
    """
    try:
        stat = binary.stat()
    except OSError as exc:
        return ProbeOutcome("unknown", None, f"cannot run {binary.name}: {exc.strerror}")
    key = (str(binary), stat.st_mtime_ns, stat.st_size, str(cwd), tuple(args))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if budget.seconds <= 0:
        return ProbeOutcome("unknown", None, "not run: preflight's time for running the tools is used up")
    with tempfile.TemporaryDirectory(prefix="amxwizard-probe-") as empty:
        model = str(Path(empty) / "absent" / _PROBE_MODEL)  # in a fresh folder: nothing there to load
        argv = [str(binary), *(model if a == _PROBE_MODEL else a for a in args)]
        started = time.monotonic()
        try:
            result = run_probe(argv, min(timeout, max(budget.seconds, 1.0)), merge_stderr=True)
        except OSError as exc:
            return ProbeOutcome("unknown", None, f"cannot run {binary.name}: {exc.strerror}")
        finally:
            budget.seconds -= time.monotonic() - started
    if result.returncode is None:
        outcome = ProbeOutcome("unknown", None, f"did not finish within {timeout:g} s (killed)")
    else:
        outcome = classify(result.stdout.replace(model, _PROBE_MODEL))
    with _cache_lock:
        _cache[key] = outcome
    return outcome


# --- one command's flags ------------------------------------------------------------------------------------

Problem = Literal["unlisted", "needs_value", "bad_choice", "unlisted_value"]


def flag_like(text: str) -> bool:
    return text.startswith("-") and text not in ("-", "--") and not NUMBER_RE.match(text)


@dataclass(frozen=True, slots=True)
class FlagUse:
    """One flag as a command passes it, and what ``--help`` says about it."""

    flag: str
    spec: FlagSpec | None
    value: str | None  # the value word passed with it
    problem: Problem | None
    followed: str  # what follows a flag whose value is missing


def read_flags(args: Sequence[str], expanded: Sequence[bool], flags: Mapping[str, FlagSpec]) -> list[FlagUse]:
    """Walk a command's arguments with the help's flags: which flags it passes, with which values, and what looks
    wrong by the help alone."""
    uses: list[FlagUse] = []
    i = 0
    while i < len(args):
        text, dynamic = args[i], expanded[i]
        i += 1
        if dynamic or not flag_like(text):
            continue
        flag, eq, glued = text.partition("=") if text.startswith("--") else (text, "", "")
        nxt = args[i] if i < len(args) else None
        takes_next = nxt is not None and (expanded[i] or not flag_like(nxt))
        spec = flags.get(flag)
        if spec is None:
            value = glued if eq else (nxt if takes_next else None)
            if takes_next and not eq:
                i += 1  # most likely its value
            uses.append(FlagUse(flag, None, value, "unlisted", ""))
            continue
        if spec.value is None:
            if eq or takes_next:
                uses.append(FlagUse(flag, spec, glued if eq else nxt, "unlisted_value", ""))
                i += 0 if eq else 1
            else:
                uses.append(FlagUse(flag, spec, None, None, ""))
            continue
        if eq:
            value = glued
        elif takes_next:
            value = nxt
            i += 1
        else:
            followed = f"followed by {nxt}" if nxt is not None else "at the end of the command"
            uses.append(FlagUse(flag, spec, None, "needs_value", followed))
            continue
        choices = spec.choices
        dynamic_value = not eq and expanded[i - 1]
        bad = (
            bool(choices)
            and not dynamic_value
            and value is not None
            and value.lower() not in {c.lower() for c in choices}
        )
        uses.append(FlagUse(flag, spec, value, "bad_choice" if bad else None, ""))
    return uses


def preferred_value(spec: FlagSpec) -> str | None:
    """The value to give a flag that needs one: ``on`` (or ``1``) where the help offers it."""
    choices = [c.lower() for c in spec.choices]
    for wanted in ("on", "1", "true", "enabled"):
        if wanted in choices:
            return spec.choices[choices.index(wanted)]
    return None


# --- probing one command until it is accepted ---------------------------------------------------------------

Action = Literal["remove", "set_value", "remove_value"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A flag the program refused, what it said, and what was done to the arguments to get past it."""

    flag: str
    line: str
    action: Action | None  # None: no fix is known
    value: str | None = None  # the value set (set_value)
    dropped_value: str | None = None  # a value word dropped with an unknown flag


@dataclass(slots=True)
class CommandVerdict:
    """What is known about one distinct command of one program."""

    invocations: list[Invocation]
    uses: list[FlagUse]
    rejections: list[Rejection] = field(default_factory=list)
    accepted: bool | None = None  # the program accepted the (fixed) arguments; None: not known
    warnings: tuple[str, ...] = ()
    unknown: str = ""  # why the program's answer is not known

    @property
    def steps(self) -> list[str]:
        return list(dict.fromkeys(inv.step for inv in self.invocations))


def _index(args: list[str], name: str, spec: FlagSpec | None) -> int | None:
    names = set(spec.names) if spec else {name}
    names.add(name)
    for i, a in enumerate(args):
        if a in names or (a.startswith("--") and a.partition("=")[0] in names):
            return i
    return None


def _step_once(args: list[str], arg: str, line: str, flags: Mapping[str, FlagSpec]) -> tuple[list[str], Rejection]:
    """Fix the argument the program named (if a fix is known), returning the new arguments."""
    spec = flags.get(arg)
    i = _index(args, arg, spec)
    if i is None:
        return args, Rejection(arg, line, None)
    word = args[i]
    if not flag_like(word):  # a value the flag before it does not take
        prev = args[i - 1] if i > 0 else arg
        return args[:i] + args[i + 1 :], Rejection(prev, line, "remove_value", dropped_value=word)
    flag = word.partition("=")[0] if word.startswith("--") else word
    spec = flags.get(flag)
    nxt = args[i + 1] if i + 1 < len(args) else None
    has_value = "=" in word or (nxt is not None and not flag_like(nxt))
    if spec is None:
        if has_value and "=" not in word and nxt is not None:
            return args[:i] + args[i + 2 :], Rejection(flag, line, "remove", dropped_value=nxt)
        return args[:i] + args[i + 1 :], Rejection(flag, line, "remove")
    if spec.value is None:
        if "=" in word:
            return [*args[:i], flag, *args[i + 1 :]], Rejection(
                flag, line, "remove_value", dropped_value=word.partition("=")[2]
            )
        return args, Rejection(flag, line, None)
    value = preferred_value(spec)
    if value is None:
        return args, Rejection(flag, line, None)
    if "=" in word:
        return [*args[:i], f"{flag}={value}", *args[i + 1 :]], Rejection(flag, line, "set_value", value)
    if has_value:
        return [*args[:i], flag, value, *args[i + 2 :]], Rejection(flag, line, "set_value", value)
    return [*args[:i], flag, value, *args[i + 1 :]], Rejection(flag, line, "set_value", value)


def _probe_args(inv: Invocation, flags: Mapping[str, FlagSpec]) -> list[str] | str:
    """The command's arguments for a probe: the model swapped for one that cannot load, run-time values filled
    with a stand-in. A reason instead when no model flag can be set."""
    model_names = next((s.names for s in flags.values() if "--model" in s.names or "-m" in s.names), ())
    if not model_names:
        return "not run: its --help lists no -m/--model, so a run could not be kept from loading a model"
    args: list[str] = []
    words = list(inv.args)
    i = 0
    swapped = False
    while i < len(words):
        word = words[i]
        text = word.text
        if not word.expanded and text in model_names and i + 1 < len(words):
            args += [text, _PROBE_MODEL]
            swapped = True
            i += 2
            continue
        if not word.expanded and text.startswith("--") and text.partition("=")[0] in model_names:
            args.append(f"{text.partition('=')[0]}={_PROBE_MODEL}")
            swapped = True
            i += 1
            continue
        if word.expanded:
            prev = flags.get(words[i - 1].text) if i > 0 else None
            text = "1" if prev is not None and prev.numeric else "x"
        args.append(text)
        i += 1
    if not swapped:
        args += [model_names[0], _PROBE_MODEL]
    return args


def judge_command(
    binary: Path, invocations: list[Invocation], flags: Mapping[str, FlagSpec], budget: ProbeBudget
) -> CommandVerdict:
    """Read one distinct command's flags with the help, and where anything is unclear, ask the program."""
    first = invocations[0]
    texts = [w.text for w in first.args]
    uses = read_flags(texts, [w.expanded for w in first.args], flags)
    verdict = CommandVerdict(invocations, uses)
    if not any(u.problem for u in uses):
        return verdict
    args = _probe_args(first, flags)
    if isinstance(args, str):
        verdict.unknown = args
        return verdict
    for _ in range(MAX_PROBES):
        outcome = probe(binary, args, first.cwd, budget)
        if outcome.verdict == "accepted":
            verdict.accepted = True
            verdict.warnings = outcome.warnings
            return verdict
        if outcome.verdict == "unknown":
            verdict.unknown = outcome.line
            return verdict
        assert outcome.arg is not None
        args, rejection = _step_once(args, outcome.arg, outcome.line, flags)
        verdict.rejections.append(rejection)
        if rejection.action is None:
            verdict.accepted = False
            return verdict
    verdict.unknown = f"still refused after {MAX_PROBES} runs"
    return verdict


# --- from rejected flags to variable values -----------------------------------------------------------------


def variable_fix(words: list[str], rejection: Rejection) -> list[str] | None:
    """A variable's words with ``rejection``'s fix applied, or ``None`` when the flag is not in them."""
    if rejection.flag not in words:
        return None
    i = words.index(rejection.flag)
    nxt = words[i + 1] if i + 1 < len(words) else None
    if rejection.action == "remove":
        drop = 2 if nxt is not None and nxt == rejection.dropped_value else 1
        return words[:i] + words[i + drop :]
    if rejection.action == "set_value" and rejection.value is not None:
        if nxt is not None and not flag_like(nxt):
            return [*words[: i + 1], rejection.value, *words[i + 2 :]]
        return [*words[: i + 1], rejection.value, *words[i + 1 :]]
    if rejection.action == "remove_value" and nxt is not None and nxt == rejection.dropped_value:
        return words[: i + 1] + words[i + 2 :]
    return None


def fixes_for(
    runbook: Runbook, values: Mapping[str, str], step_variables: Mapping[str, frozenset[str]], verdict: CommandVerdict
) -> tuple[dict[str, str], list[str]]:
    """Variable values that carry a command's fixes, and the flags no variable holds (fixed only by editing the
    step's command)."""
    fixes: dict[str, str] = {}
    literal: list[str] = []
    current: dict[str, list[str]] = {}
    for rejection in verdict.rejections:
        if rejection.action is None:
            continue
        placed = False
        for step in verdict.steps:
            for name in sorted(runbook.args_variables & step_variables.get(step, frozenset())):
                if name not in current:
                    try:
                        current[name] = split_args(values.get(name, ""))
                    except TemplateError:
                        continue
                fixed = variable_fix(current[name], rejection)
                if fixed is not None:
                    current[name] = fixed
                    fixes[name] = shlex.join(fixed)
                    placed = True
                    break
            if placed:
                break
        if not placed:
            literal.append(rejection.flag)
    return fixes, literal


# --- the checks for one program -----------------------------------------------------------------------------


def _signature(inv: Invocation, flags: Mapping[str, FlagSpec]) -> tuple[str, ...]:
    """What makes two commands the same for the flags: the flags, and the values of enumerated ones."""
    out: list[str] = []
    prev: FlagSpec | None = None
    for word in inv.args:
        if not word.expanded and flag_like(word.text):
            out.append(word.text)
            prev = flags.get(word.text.partition("=")[0])
        else:
            out.append(word.text if prev is not None and prev.choices and not word.expanded else "·")
            prev = None
    return tuple(out)


@dataclass(slots=True)
class _FlagReport:
    flag: str
    use: FlagUse
    steps: list[str] = field(default_factory=list)
    refused: str = ""  # the program's own line refusing it
    accepted_warnings: tuple[str, ...] | None = None  # accepted by the program (with these warnings)
    unknown: str = ""
    fixes: dict[str, str] = field(default_factory=dict)


def flag_checks(
    runbook: Runbook,
    values: Mapping[str, str],
    step_variables: Mapping[str, frozenset[str]],
    binary: Path,
    invocations: Sequence[Invocation],
    budget: ProbeBudget,
    help_timeout: float = HELP_TIMEOUT,
) -> list[Check]:
    """For one built program: each flag a step passes that it will (or may) refuse, each flag it accepts despite
    its help, and the variable values that make every command acceptable."""
    name = binary.name
    helped = read_help(binary, help_timeout)
    if helped.problem:
        return [Check(f"flags {name}", "warn", f"not checked: {helped.problem}")]
    groups: dict[tuple[str, ...], list[Invocation]] = {}
    for inv in invocations:
        groups.setdefault(_signature(inv, helped.flags), []).append(inv)
    verdicts = [judge_command(binary, group, helped.flags, budget) for group in groups.values()]

    reports: dict[str, _FlagReport] = {}
    listed: dict[str, None] = {}
    all_fixes: dict[str, str] = {}
    literal: dict[str, list[str]] = {}
    for verdict in verdicts:
        fixes, by_hand = fixes_for(runbook, values, step_variables, verdict)
        for flag in by_hand:
            literal.setdefault(flag, []).extend(verdict.steps)
        for key, value in fixes.items():
            all_fixes.setdefault(key, value)
        refused = {r.flag: r for r in verdict.rejections}
        for use in verdict.uses:
            if use.problem is None:
                listed[use.flag] = None
                continue
            report = reports.setdefault(use.flag, _FlagReport(use.flag, use))
            report.steps.extend(verdict.steps)
            rejection = refused.get(use.flag) or next(
                (r for f, r in refused.items() if use.spec is not None and f in use.spec.names), None
            )
            if rejection is not None:
                report.refused = report.refused or rejection.line
                report.fixes.update({k: v for k, v in fixes.items() if _fix_mentions(v, values.get(k, ""), use.flag)})
            elif verdict.accepted:
                mentioned = tuple(w for w in verdict.warnings if _mentions(w, use))
                report.accepted_warnings = (report.accepted_warnings or ()) + mentioned
            else:
                report.unknown = report.unknown or verdict.unknown

    order = {step.id: i for i, (_, step) in enumerate(runbook.iter_steps())}
    for report in reports.values():
        report.steps.sort(key=lambda s: order.get(s, len(order)))
    checks = [_flag_check(name, report) for report in reports.values()]
    if listed:
        checks.append(Check(f"flags {name}", "ok", f"{name} --help lists {' '.join(listed)}"))
    refusing = [v for v in verdicts if v.rejections]
    if refusing:
        checks.append(_fix_check(name, verdicts, all_fixes, literal))
    return checks


def _mentions(warning: str, use: FlagUse) -> bool:
    names = use.spec.names if use.spec else (use.flag,)
    return any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", warning) for n in names) or (
        use.flag == "-ngl" and "gpu-layers" in warning
    )


def _fix_mentions(new: str, old: str, flag: str) -> bool:
    try:
        return flag in split_args(old) and new != old
    except TemplateError:
        return False


def _flag_check(name: str, report: _FlagReport) -> Check:
    use = report.use
    steps = steps_text(report.steps)
    flag = report.flag
    said = f'; {name} says "{report.refused}"' if report.refused else ""
    fix = f"; set {fixes_text(report.fixes)}" if report.fixes else ""
    unsure = f" (not confirmed by running {name}: {report.unknown})" if report.unknown and not report.refused else ""
    status: Status
    if use.problem == "unlisted":
        if report.accepted_warnings is not None and not report.refused:
            warned = "; ".join(report.accepted_warnings)
            status = "warn" if warned else "ok"
            tail = f", with a warning: {warned}" if warned else ""
            return Check(f"flag {name} {flag}", status, f"not in {name} --help, but {name} accepts it ({steps}){tail}")
        return Check(
            f"flag {name} {flag}",
            "fail",
            f"rejected: {name} --help does not list {flag} ({steps} pass it){said}{fix}{unsure}",
            fixes=report.fixes,
        )
    assert use.spec is not None
    shown = f"{' / '.join(use.spec.names)} {use.spec.value}" if use.spec.value else " / ".join(use.spec.names)
    if report.accepted_warnings is not None and not report.refused:
        return Check(f"flag {name} {flag}", "ok", f"{name} accepts it as {steps} pass it ({shown})")
    status = "fail" if report.refused else "warn"
    if use.problem == "needs_value":
        text = f"takes a value ({shown}) but {steps} pass none ({use.followed})"
    elif use.problem == "bad_choice":
        text = f"{flag} {use.value}: not one of {', '.join(use.spec.choices)} ({shown}; {steps})"
    else:
        text = f"{name} --help shows no value for {flag}, but {steps} pass {use.value!r}"
    return Check(f"flag {name} {flag}", status, f"{text}{said}{fix}{unsure}", fixes=report.fixes)


def _fix_check(
    name: str, verdicts: Sequence[CommandVerdict], fixes: Mapping[str, str], literal: Mapping[str, list[str]]
) -> Check:
    by_flags: dict[tuple[str, ...], list[str]] = {}
    for verdict in verdicts:
        flags = tuple(dict.fromkeys(r.flag for r in verdict.rejections))
        if flags:
            by_flags.setdefault(flags, []).extend(verdict.steps)
    parts = [
        f"{steps_text(steps)} pass{'es' if len(set(steps)) == 1 else ''} {' and '.join(flags)}"
        for flags, steps in by_flags.items()
    ]
    said = f"{name} refuses: {'; '.join(parts)}"
    if literal:
        hand = ", ".join(f"{flag} ({steps_text(steps)})" for flag, steps in literal.items())
        said += f"; no variable holds {hand}: edit those commands"
    if not fixes:
        return Check(f"fix {name}", "fail", said)
    every = all(v.accepted for v in verdicts if v.rejections)
    outcome = (
        f"with them {name} accepts {'every one of these commands' if every else 'some of these commands'} "
        "(run with a model path that cannot load)"
    )
    return Check(f"fix {name}", "fail", f"{said}; set {fixes_text(fixes)}: {outcome}", fixes=dict(fixes))
