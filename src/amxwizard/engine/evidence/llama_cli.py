"""What a ``llama-cli`` run printed: did it crash, was a flag rejected, how many tokens, how fast.

Timing lines come in three spellings with the same shape (older builds, newer builds, newest common code)::

    llama_print_timings: prompt eval time =  1014.83 ms /   150 tokens (  6.77 ms per token, 147.81 tokens per second)
    llama_perf_context_print:        eval time = 16301.27 ms / 999 runs ( 16.32 ms per token, 61.28 tokens per second)
    common_perf_print:        eval time = ...

The generated-token count depends on the dialect: mainline llama.cpp decodes every generated token but the last
and says ``eval time = ... / N runs`` (N + 1 tokens generated); ik_llama.cpp says ``main: eval time = ... / N tokens``
and N already counts every generated token. The unit printed decides, never the program's name.
"""

from __future__ import annotations

import re
import signal as signals
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import backends, numactl, tensor_copy
from ._text import LogLine, log_lines
from .verdict import Verdict

if TYPE_CHECKING:
    from ...runbook.models import TestStep

_NUM = r"(?:\d+(?:\.\d+)?|nan|-?inf)"
_TIMING_RE = re.compile(
    r"(?P<who>[A-Za-z_][A-Za-z0-9_]*):\s+(?P<what>prompt eval time|eval time|sample time|sampling time|load time"
    r"|total time)\s*=\s*(?P<ms>" + _NUM + r") ms(?:\s*/\s*(?P<n>\d+) (?P<unit>tokens|runs))?"
    r"(?:\s*\(\s*(?P<mspt>" + _NUM + r") ms per token,\s*(?P<tps>" + _NUM + r") tokens per second\))?"
)
# A mainline log may prefix each line with a timestamp and a level letter: "0.00.392.532 I generate: ...".
_GENERATE_RE = re.compile(r"^(?:[\d.]+ [A-Z] )?generate: .*\bn_predict = (-?\d+)")

# The first of these is the cause; the shell's "Aborted" comes after it.
_CRASH_CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("assert", re.compile(r"GGML_ASSERT\(.*\) failed")),
    ("cuda_error", re.compile(r"\bCUDA error\b")),
    ("exception", re.compile(r"terminate called after throwing")),
    ("abort", re.compile(r"^\S+:\d+: (?:fatal error|GGML_ABORT.*)$")),
    ("segfault", re.compile(r"\bSegmentation fault\b")),
    ("bus_error", re.compile(r"\bBus error\b")),
    ("illegal_instruction", re.compile(r"\bIllegal instruction\b")),
    ("fp_exception", re.compile(r"\bFloating point exception\b")),
)
_ABORTED_RE = re.compile(r"\bAborted\b(?: \(core dumped\))?")
_FLAG_RES: tuple[re.Pattern[str], ...] = (
    re.compile(r"error while handling argument \"(?P<arg>[^\"]+)\""),
    re.compile(r"error: (?:invalid|unknown) argument: (?P<arg>\S+)"),
    re.compile(r"error: invalid parameter for argument: (?P<arg>\S+)"),
    re.compile(r"unknown value for (?P<arg>--?[\w-]+): '[^']*'"),
)
_LOAD_RE = re.compile(r"failed to load model|unable to load model|error loading model|failed to open GGUF file")
_END_RE = re.compile(r"\[end of text\]")
# One cheap test per line; only lines that pass it go through the patterns above (logs run to 100k+ lines).
_GATE_RE = re.compile(
    r"GGML_A|CUDA error|terminate called|fatal error|Segmentation fault|Bus error|Illegal instr"
    r"|Floating point|Aborted|argument|unknown value for|load model|loading model|GGUF file"
    r"|generate: |end of text|time ="
)

CRASH_SIGNALS = frozenset({signals.SIGABRT, signals.SIGSEGV, signals.SIGBUS, signals.SIGILL, signals.SIGFPE})
_SIGNAL_KIND: dict[int, str] = {
    signals.SIGABRT: "abort",
    signals.SIGSEGV: "segfault",
    signals.SIGBUS: "bus_error",
    signals.SIGILL: "illegal_instruction",
    signals.SIGFPE: "fp_exception",
}

# What to do about flags today's builds refuse, by the flag as it was rejected.
FLAG_HINTS = {
    "--amx": (
        "this build has no --amx flag: set the amx_flag variable to empty (that does not turn AMX on: only a run "
        "whose log lists an AMX buffer used AMX)"
    ),
    "-fa": 'this build\'s -fa takes a value: set the fa_flag variable to "-fa on"',
    "--flash-attn": 'this build\'s --flash-attn takes a value: set the fa_flag variable to "-fa on"',
}


@dataclass(frozen=True, slots=True)
class Timing:
    """One timing line."""

    style: str
    what: str
    ms: float
    count: int | None
    unit: str | None
    ms_per_token: float | None
    tokens_per_second: float | None
    line: int


@dataclass(frozen=True, slots=True)
class CliRun:
    """Everything a llama-cli log says about its run. Missing facts are ``None``."""

    crashed: bool = False
    crash_kind: str | None = None
    crash_line: LogLine | None = None
    flag_error: LogLine | None = None
    flag: str | None = None
    load_error: LogLine | None = None
    tokens_generated: int | None = None
    prompt_tokens: int | None = None
    prompt_tps: float | None = None
    prompt_ms_per_token: float | None = None
    eval_tps: float | None = None
    eval_ms_per_token: float | None = None
    eval_runs: int | None = None
    token_unit: str | None = None
    n_predict: int | None = None
    timing_style: str | None = None
    timing_line: LogLine | None = None
    end_of_text: bool = False

    def as_evidence(self) -> dict[str, Any]:
        """Plain JSON for a ``step_finished`` event."""

        def located(value: LogLine | None) -> dict[str, Any] | None:
            return value.as_json() if value else None

        return {
            "crashed": self.crashed,
            "crash_kind": self.crash_kind,
            "crash_line": located(self.crash_line),
            "flag_error": located(self.flag_error),
            "flag": self.flag,
            "load_error": located(self.load_error),
            "tokens_generated": self.tokens_generated,
            "prompt_tokens": self.prompt_tokens,
            "prompt_tps": self.prompt_tps,
            "prompt_ms_per_token": self.prompt_ms_per_token,
            "eval_tps": self.eval_tps,
            "eval_ms_per_token": self.eval_ms_per_token,
            "eval_runs": self.eval_runs,
            "token_unit": self.token_unit,
            "n_predict": self.n_predict,
            "timing_style": self.timing_style,
            "timing_line": located(self.timing_line),
            "end_of_text": self.end_of_text,
        }


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None  # nan/inf mean "nothing measured"


def _timings(lines: list[str]) -> list[Timing]:
    out: list[Timing] = []
    for number, line in enumerate(lines, 1):
        if "time =" not in line:
            continue
        m = _TIMING_RE.search(line)
        if m:
            out.append(
                Timing(
                    m.group("who"),
                    m.group("what"),
                    float(m.group("ms")),
                    int(m.group("n")) if m.group("n") else None,
                    m.group("unit"),
                    _num(m.group("mspt")),
                    _num(m.group("tps")),
                    number,
                )
            )
    return out


def parse(text: str) -> CliRun:
    """Read a llama-cli log (stdout and stderr together)."""
    lines = log_lines(text)
    cause: tuple[str, LogLine] | None = None
    aborted: LogLine | None = None
    flag_error: LogLine | None = None
    flag: str | None = None
    load_error: LogLine | None = None
    n_predict: int | None = None
    end_of_text = False
    for number, line in enumerate(lines, 1):
        if not _GATE_RE.search(line):
            continue
        if cause is None:
            for kind, pattern in _CRASH_CAUSES:
                if pattern.search(line):
                    cause = (kind, LogLine(number, line.strip()))
                    break
        if aborted is None and _ABORTED_RE.search(line):
            aborted = LogLine(number, line.strip())
        if flag_error is None:
            for pattern in _FLAG_RES:
                m = pattern.search(line)
                if m:
                    flag_error, flag = LogLine(number, line.strip()), m.group("arg")
                    break
        if load_error is None and _LOAD_RE.search(line):
            load_error = LogLine(number, line.strip())
        if n_predict is None:
            m = _GENERATE_RE.match(line)
            if m:
                n_predict = int(m.group(1))
        if not end_of_text and _END_RE.search(line):
            end_of_text = True
    crash_kind, crash_line = cause if cause else ("abort", aborted) if aborted else (None, None)

    prompt: Timing | None = None
    eval_: Timing | None = None
    for timing in _timings(lines):  # the last of each kind wins: a log may hold an earlier, shorter run
        if timing.what == "prompt eval time":
            prompt = timing
        elif timing.what == "eval time":
            eval_ = timing
    tokens = None
    if eval_ is not None and eval_.count is not None:
        tokens = eval_.count
        # "N runs" (llama.cpp): the last generated token is sampled but never decoded, so it is not in N.
        # "N tokens" (ik_llama.cpp): N counts every generated token already.
        if eval_.unit != "tokens" and (eval_.count or prompt is not None):
            tokens += 1
    shown = eval_ or prompt
    style = shown.style if shown is not None else None
    return CliRun(
        crashed=crash_line is not None,
        crash_kind=crash_kind,
        crash_line=crash_line,
        flag_error=flag_error,
        flag=flag,
        load_error=load_error,
        tokens_generated=tokens,
        prompt_tokens=prompt.count if prompt else None,
        prompt_tps=prompt.tokens_per_second if prompt else None,
        prompt_ms_per_token=prompt.ms_per_token if prompt else None,
        eval_tps=eval_.tokens_per_second if eval_ else None,
        eval_ms_per_token=eval_.ms_per_token if eval_ else None,
        eval_runs=eval_.count if eval_ else None,
        token_unit=eval_.unit if eval_ else None,
        n_predict=n_predict,
        timing_style=style,
        timing_line=LogLine(eval_.line, lines[eval_.line - 1].strip()) if eval_ else None,
        end_of_text=end_of_text,
    )


def signal_of(exit_code: int | None, signal: int | None) -> int | None:
    """The signal that ended the program: given directly, or as the shell's 128+N exit status."""
    if signal:
        return signal
    if exit_code is not None and 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def signal_name(number: int) -> str:
    """``SIGABRT`` for 6; ``signal N`` for a number Python does not name."""
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def flag_hint(flag: str | None) -> str:
    """What to change when ``flag`` was rejected."""
    return FLAG_HINTS.get(flag or "", "check it against the program's --help")


def judge_test(step: TestStep, run: CliRun, exit_code: int | None, signal: int | None, log_text: str) -> Verdict:
    """Pass or fail a test step on what its log shows, not on the exit status alone.

    numactl failing before llama-cli started is ``numactl_failed`` (numactl is named, not llama-cli); a rejected
    flag is ``flag_rejected`` (a runbook problem, not a crash); a crash is ``crash``; fewer tokens than the step's
    ``tokens`` (the command's ``-n``) fail; so does a prompt shorter than ``min_prompt_tokens``. The run must also
    be the mode the step names (``hybrid``: some layers on the GPU, ``gpu``: all, ``cpu``: none): a log that shows
    otherwise fails (``wrong_mode``); one that does not say passes with a warning that it cannot tell. Weight
    copies are reported as findings without deciding the test.
    """
    report = tensor_copy.parse(log_text)
    use = backends.parse(log_text)
    mode = backends.check_mode(step.mode, use)
    evidence: dict[str, Any] = {
        **run.as_evidence(),
        "exit_code": exit_code,
        "signal": signal,
        "tokens_expected": step.tokens,
        "backends": use.as_json(),
        "mode_expected": step.mode,
        "mode_check": {"ok": mode.ok, "summary": mode.summary},
    }
    if report.copies or report.blocked:
        compact = report.as_evidence()
        evidence["tensor_copy"] = {
            k: compact[k]
            for k in (
                "copies",
                "weights",
                "weights_from_nonhost",
                "weights_from_host",
                "weight_pairs",
                "first_weight",
                "unknown_weight_names",
                "blocked",
            )
        }
    copy_findings = report.findings()
    copy_note = ""
    if report.bug_weights:
        copy_note = f"; weight copied out of a non-host buffer: {report.bug_weights[0].describe()}"
    elif report.offloaded_weights:
        n = len(report.offloaded_weights)
        copy_note = f"; {n} weight cop{'y' if n == 1 else 'ies'} out of host buffers (designed op offload)"
    sig = signal_of(exit_code, signal)

    launcher = numactl.parse(log_text, exit_code)
    if launcher is not None:
        evidence["numactl"] = launcher.as_json()
        return Verdict.make(
            "fail", f"numactl failed before llama-cli started: {launcher.describe()}", ["numactl_failed"], evidence
        )
    if run.flag_error is not None:
        return Verdict.make(
            "fail",
            f"llama-cli rejected a flag — a runbook/flag problem, not a crash: {run.flag_error}; {flag_hint(run.flag)}",
            ["flag_rejected"],
            evidence,
        )
    if run.load_error is not None and not run.crashed:
        return Verdict.make(
            "fail", f"the model could not be loaded (check the model variable): {run.load_error}", [], evidence
        )
    if run.crashed or (sig is not None and sig in CRASH_SIGNALS):
        what = str(run.crash_line) if run.crash_line is not None else f"killed by {signal_name(sig or 0)}"
        tokens = f" after {run.tokens_generated} tokens" if run.tokens_generated else ""
        if run.crash_kind is None and sig is not None:
            evidence["crash_kind"] = _SIGNAL_KIND.get(sig, "signal")
        return Verdict.make("fail", f"crashed{tokens}: {what}{copy_note}", ["crash", *copy_findings], evidence)
    if sig is not None:
        return Verdict.make("fail", f"stopped by {signal_name(sig)} before it finished", copy_findings, evidence)
    if exit_code not in (0, None):
        last = next((ln.strip() for ln in reversed(log_lines(log_text)) if ln.strip()), "")
        tail = f": {last}" if last else ""
        return Verdict.make("fail", f"llama-cli exited with status {exit_code}{tail}", copy_findings, evidence)
    if run.tokens_generated is None:
        return Verdict.make(
            "fail",
            "no timing lines in the output, so it cannot show that "
            f"{step.tokens} tokens were generated (the run may have been cut short)",
            copy_findings,
            evidence,
        )
    speed = _speeds(run)
    if run.tokens_generated < step.tokens:
        early = " — the model stopped early ([end of text])" if run.end_of_text else ""
        return Verdict.make(
            "fail", f"generated {run.tokens_generated} of {step.tokens} tokens{early}{speed}", copy_findings, evidence
        )
    if step.min_prompt_tokens and run.prompt_tokens is not None and run.prompt_tokens < step.min_prompt_tokens:
        return Verdict.make(
            "fail",
            f"the prompt was only {run.prompt_tokens} tokens; this test needs at least {step.min_prompt_tokens}",
            copy_findings,
            evidence,
        )
    done = f"{run.tokens_generated}/{step.tokens} tokens{speed}"
    if mode.ok is False:
        return Verdict.make("fail", f"completed ({done}), but {mode.summary}", ["wrong_mode", *copy_findings], evidence)
    if mode.ok is None:
        return Verdict.make("warn", f"completed: {done}; {mode.summary}{copy_note}", copy_findings, evidence)
    return Verdict.make("pass", f"completed: {done}; {mode.summary}{copy_note}", copy_findings, evidence)


def _speeds(run: CliRun) -> str:
    parts = []
    if run.prompt_tokens is not None:
        rate = f" at {run.prompt_tps:.1f} t/s" if run.prompt_tps is not None else ""
        parts.append(f"prompt {run.prompt_tokens} token{'s' if run.prompt_tokens != 1 else ''}{rate}")
    if run.eval_tps is not None:
        per = f" ({run.eval_ms_per_token:.2f} ms/token)" if run.eval_ms_per_token is not None else ""
        parts.append(f"generation {run.eval_tps:.2f} t/s{per}")
    return ("; " + ", ".join(parts)) if parts else ""
