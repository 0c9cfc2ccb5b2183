"""``llama-bench`` results in any of its output formats, judged against a baseline or an earlier run.

Markdown (the default) is read by splitting each row on ``|`` and taking the test label and ``avg ± stddev`` from
the last two cells: a long model name or a wide number overflows its column, so character positions mean nothing.
CSV and JSON (``-o csv|json|jsonl``) carry ``avg_ts`` and ``stddev_ts``; the test label is ``test`` where the build
prints it, else it is derived from ``n_prompt`` / ``n_gen`` the way llama-bench names tests (``pp512``, ``tg128``).
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ...runbook import models as m
from ..fingerprint import option_value, program_command
from . import llama_cli, numactl
from ._logs import ReadLog, cached, read
from ._text import log_lines
from .compare import DEFAULT_REPETITIONS, Sample, compare
from .verdict import Level, Verdict

if TYPE_CHECKING:
    from ...runbook.models import BenchmarkReference, BenchmarkStep, Runbook
    from ..state import RunRecord, SessionState

_TS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:±|\+/-|\+-)\s*(\d+(?:\.\d+)?)")
_SEPARATOR_RE = re.compile(r"^\|[\s:|-]+\|$")
_PROGRAM_RE = re.compile(r"llama-bench")


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One test result. ``line`` is where it is in the log (1-based); ``raw_line`` is that line as printed."""

    test: str
    avg_ts: float
    stddev_ts: float
    model: str = ""
    backend: str = ""
    ngl: int | None = None
    threads: int | None = None
    raw_line: str = ""
    line: int | None = None
    format: str = "md"
    model_filename: str = ""
    repetitions: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON (without the raw line)."""
        return {
            "test": self.test,
            "avg_ts": self.avg_ts,
            "stddev_ts": self.stddev_ts,
            "model": self.model,
            "model_filename": self.model_filename,
            "repetitions": self.repetitions,
            "backend": self.backend,
            "ngl": self.ngl,
            "threads": self.threads,
            "line": self.line,
            "format": self.format,
        }


class BenchRows(list[BenchRow]):
    """Rows in output order, and what else the output says (a rejected flag, a model that did not load, a crash)."""

    trouble: llama_cli.CliRun | None = None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def test_label(n_prompt: int | None, n_gen: int | None, n_depth: int | None = None) -> str:
    """llama-bench's name for a test: ``pp512``, ``tg128``, ``pp512+tg128``; ``@ dN`` with a context depth."""
    p, g = n_prompt or 0, n_gen or 0
    label = f"pp{p}+tg{g}" if p and g else (f"pp{p}" if p else f"tg{g}")
    return f"{label} @ d{n_depth}" if n_depth else label


def _row_from_mapping(d: Mapping[str, Any], raw: str, line: int | None, fmt: str) -> BenchRow | None:
    avg = _float(d.get("avg_ts"))
    if avg is None:
        return None
    test = str(d.get("test") or "").strip() or test_label(
        _int(d.get("n_prompt")), _int(d.get("n_gen")), _int(d.get("n_depth"))
    )
    backend = str(d.get("backends") or d.get("backend") or "")
    if not backend:
        flags = [
            name
            for name in ("cuda", "vulkan", "metal", "sycl", "kompute", "blas")
            if str(d.get(name, "")).lower() in ("1", "true")
        ]
        backend = ",".join(f.upper() for f in flags) or ("CPU" if "cuda" in d else "")
    samples = d.get("samples_ts") or d.get("samples_ns")
    return BenchRow(
        test,
        avg,
        _float(d.get("stddev_ts")) or 0.0,
        str(d.get("model_type") or ""),
        backend,
        _int(d.get("n_gpu_layers")),
        _int(d.get("n_threads")),
        raw,
        line,
        fmt,
        str(d.get("model_filename") or ""),
        len(samples) if isinstance(samples, list) and samples else None,
    )


def _parse_markdown(lines: list[str]) -> list[BenchRow]:
    rows: list[BenchRow] = []
    header: list[str] | None = None
    for number, line in enumerate(lines, 1):
        if "|" not in line:
            header = None
            continue
        stripped = line.strip()
        if not (stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1):
            header = None if not stripped.startswith("|") else header
            continue
        cells = [c.strip() for c in stripped[1:-1].split("|")]
        if "t/s" in cells and "test" in cells:
            header = cells
            continue
        if header is None or _SEPARATOR_RE.match(stripped) or len(cells) < 2:
            continue
        m = _TS_RE.search(cells[-1])
        if not m:
            continue
        named = dict(zip(header, cells, strict=True)) if len(header) == len(cells) else {}
        rows.append(
            BenchRow(
                cells[-2],
                float(m.group(1)),
                float(m.group(2)),
                named.get("model", cells[0]),
                named.get("backend", ""),
                _int(named.get("ngl")),
                _int(named.get("threads")),
                line,
                number,
                "md",
            )
        )
    return rows


def _parse_csv(lines: list[str]) -> list[BenchRow]:
    if not any("avg_ts" in line for line in lines):
        return []
    rows: list[BenchRow] = []
    fields: list[str] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            fields = None
            continue
        if "avg_ts" in cells:
            fields = [c.strip() for c in cells]
            continue
        if fields is None:
            continue
        if len(cells) != len(fields):  # the table ended
            fields = None
            continue
        row = _row_from_mapping(dict(zip(fields, cells, strict=True)), line, number, "csv")
        if row is not None:
            rows.append(row)
    return rows


def _json_values(text: str) -> Iterator[tuple[int, Any]]:
    """(offset, value) of each JSON object in ``text``: the elements of top-level arrays, and lone objects."""
    decoder = json.JSONDecoder()
    pos = 0
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        stripped = line.lstrip()
        if not stripped.startswith(("[", "{")):
            continue
        at = start + len(line) - len(stripped)
        if stripped.startswith("{"):
            try:
                value, _ = decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                continue
            yield at, value
            continue
        at += 1
        while True:
            while at < len(text) and text[at] in " \t\r\n,":
                at += 1
            if at >= len(text) or text[at] == "]":
                break
            try:
                value, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                break
            yield at, value
            at = end


def _parse_json(text: str) -> list[BenchRow]:
    if "avg_ts" not in text:
        return []
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    rows: list[BenchRow] = []
    seen: set[int] = set()
    for offset, value in _json_values(text):
        if not isinstance(value, dict) or offset in seen:
            continue
        seen.add(offset)
        line = bisect.bisect_left(newlines, offset) + 1
        row = _row_from_mapping(value, json.dumps(value, ensure_ascii=False, sort_keys=True), line, "json")
        if row is not None:
            rows.append(row)
    return rows


def parse(text: str) -> BenchRows:
    """Every result row of a llama-bench log, in order; markdown, JSON (array or lines) or CSV, detected."""
    lines = log_lines(text)
    found = _parse_markdown(lines) or _parse_json(text) or _parse_csv(lines)
    rows = BenchRows(found)
    rows.trouble = llama_cli.parse(text)
    return rows


# --- the session's benchmark history -----------------------------------------------------------------------------


FingerprintOf = Callable[["RunRecord"], "Mapping[str, Any] | None"]


def recorded_fingerprint(run: RunRecord) -> Mapping[str, Any] | None:
    """The fingerprint the ``command_started`` event recorded for ``run`` (``None`` before it is recorded)."""
    value = getattr(run, "fingerprint", None)
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True, slots=True)
class BenchMeasurement:
    """One llama-bench run: its rows, the command's arguments (its configuration), and what it ran on.

    ``fingerprint`` is the run's recorded fingerprint (:mod:`amxwizard.engine.fingerprint`) when there is one;
    ``git`` the runner's ``git_before`` snapshot (HEAD and a hash of ``git status``), a weaker stand-in for it.
    """

    run_id: str
    step: str
    started: str
    rows: tuple[BenchRow, ...]
    args: tuple[str, ...] | None = None
    fingerprint: Mapping[str, Any] | None = None
    git: Mapping[str, Any] | None = None
    trouble: llama_cli.CliRun | None = None  # what else the output says (a rejected flag, a crash)

    def row(self, metric: str) -> BenchRow | None:
        """The last row of ``metric``."""
        found = [r for r in self.rows if r.test == metric]
        return found[-1] if found else None

    @property
    def config(self) -> tuple[str, ...] | None:
        """The arguments that decide how a test is measured: all but the choice of tests (``-p``/``-n``/``-pg``;
        each row's test label says what it measured), output format, repetitions and progress."""
        if self.args is None:
            return None
        out: list[str] = []
        skip = False
        for word in self.args:
            if skip:
                skip = False
                continue
            if word in _NOT_CONFIG_VALUE:
                skip = True
                continue
            if word in _NOT_CONFIG_FLAG or any(word.startswith(f"{o}=") for o in _NOT_CONFIG_VALUE):
                continue
            out.append(word)
        return tuple(out)

    @property
    def repetitions(self) -> int:
        """``-r`` of the command, else the samples a JSON row lists, else llama-bench's default of 5."""
        if self.args is not None:
            value = option_value(list(self.args), "-r", "--repetitions")
            if value is not None and value.isdigit() and int(value) > 0:
                return int(value)
        counts = [r.repetitions for r in self.rows if r.repetitions]
        return counts[-1] if counts else DEFAULT_REPETITIONS

    @property
    def build_id(self) -> str | None:
        """The fingerprint's hash of the program and its libraries."""
        value = (self.fingerprint or {}).get("build_id")
        return value if isinstance(value, str) else None

    @property
    def definitions(self) -> frozenset[str] | None:
        """The preprocessor names the build was compiled with (the fingerprint's), ``None`` when unknown."""
        build = (self.fingerprint or {}).get("build")
        names = build.get("definitions") if isinstance(build, Mapping) else None
        return frozenset(str(n) for n in names) if isinstance(names, list) else None

    @property
    def code_state(self) -> tuple[str, str] | None:
        """HEAD and the hash of the uncommitted changes: from the fingerprint, else the runner's git snapshot."""
        git = (self.fingerprint or {}).get("git")
        if isinstance(git, Mapping) and git.get("head"):
            return str(git["head"]), str(git.get("dirty_sha256") or "")
        if self.git and self.git.get("head"):
            return str(self.git["head"]), "status:" + str(self.git.get("status_sha256") or "")
        return None

    @property
    def model(self) -> Mapping[str, Any] | None:
        value = (self.fingerprint or {}).get("model")
        return value if isinstance(value, Mapping) else None

    @property
    def model_name(self) -> str:
        """The model file's name, from the fingerprint, the command's ``-m``, or a CSV/JSON row."""
        model = self.model
        if model and model.get("path"):
            return os.path.basename(str(model["path"]))
        if self.args is not None:
            value = option_value(list(self.args), "-m", "--model")
            if value:
                return os.path.basename(value)
        names = [r.model_filename for r in self.rows if r.model_filename]
        return os.path.basename(names[-1]) if names else ""

    @property
    def model_type(self) -> str:
        """The model as llama-bench names it (``qwen3moe 30B.A3B Q4_0``)."""
        types = [r.model for r in self.rows if r.model]
        return types[-1] if types else ""

    @property
    def machine(self) -> Mapping[str, Any] | None:
        value = (self.fingerprint or {}).get("machine")
        return value if isinstance(value, Mapping) else None


_NOT_CONFIG_VALUE = frozenset(
    {
        "-o",
        "--output",
        "-oe",
        "--output-err",
        "-r",
        "--repetitions",
        "--delay",
        "--prio",
        "-p",
        "--n-prompt",
        "-n",
        "--n-gen",
        "-pg",
    }
)
_NOT_CONFIG_FLAG = frozenset({"--progress", "-v", "--verbose"})


def _bench_args(script: str) -> tuple[str, ...] | None:
    found = program_command(script)
    if found is None or "llama-bench" not in os.path.basename(found[0]):
        return None
    return tuple(found[1])


def measurements(
    state: SessionState, read_log: ReadLog, fingerprint_of: FingerprintOf = recorded_fingerprint
) -> list[BenchMeasurement]:
    """Every llama-bench run of the session with results, oldest first (re-runs keep their earlier runs)."""
    out: list[BenchMeasurement] = []
    for run in sorted(state.runs.values(), key=lambda r: r.started):
        if not _PROGRAM_RE.search(run.script):
            continue
        text = read(read_log, run.run_id)
        rows = cached("llama_bench", text, lambda t: tuple(parse(t))) if text else ()
        if rows:
            out.append(
                BenchMeasurement(
                    run.run_id,
                    run.step,
                    run.started,
                    tuple(rows),
                    _bench_args(run.script),
                    fingerprint_of(run),
                    run.git_before or None,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class BenchRun:
    """One llama-bench run of the session and its rows."""

    run_id: str
    step: str
    started: str
    rows: list[BenchRow]


def session_runs(state: SessionState, read_log: ReadLog, exclude: Collection[str] = ()) -> list[BenchRun]:
    """Every llama-bench run of the session (any step whose command runs llama-bench), oldest first."""
    return [
        BenchRun(m.run_id, m.step, m.started, list(m.rows))
        for m in measurements(state, read_log)
        if m.run_id not in exclude
    ]


def session_rows(
    state: SessionState, read_log: ReadLog, test: str | None = None, exclude: Collection[str] = ()
) -> list[BenchRow]:
    """The rows of :func:`session_runs`, oldest first, only of ``test`` if given."""
    return [
        row for run in session_runs(state, read_log, exclude) for row in run.rows if test is None or row.test == test
    ]


# --- what a figure is compared with ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    """Whether a reference figure (the runbook author's) applies to this run: ``comparable`` and why."""

    tps: float
    comparable: bool
    measured_on: str
    reference_for: str
    unchecked: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "avg_ts": self.tps,
            "comparable": self.comparable,
            "measured_on": self.measured_on,
            "reference_for": self.reference_for,
            "unchecked": list(self.unchecked),
        }


def check_reference(
    reference: BenchmarkReference, tps: float, current: BenchMeasurement, machine: Mapping[str, Any] | None
) -> ReferenceCheck:
    """Is ``reference`` (measured on its model and machine) comparable with ``current``?

    The model must be the same file (by name) or, where only llama-bench's model column is known, the same model
    type; the machine must have every fact the reference states (CPU flags, NUMA nodes, CPU and GPU names).
    Facts the reference does not state are listed as unchecked; facts of this machine that cannot be read make it
    not comparable.
    """
    facts = current.machine or machine
    ref_machine = reference.machine
    reference_for = f"{reference.model} on {ref_machine.description}"
    problems: list[str] = []
    name, mtype = current.model_name, current.model_type
    if name:
        model_ok = name == reference.model
        model_text = name
    elif mtype and reference.model_type:
        model_ok = mtype == reference.model_type
        model_text = mtype
    else:
        model_ok, model_text = False, "a model this run does not name"
    if not model_ok:
        problems.append("another model")
    machine_bits: list[str] = []
    if facts is None:
        problems.append("a machine whose facts were not recorded")
        machine_bits.append("a machine not fingerprinted")
    else:
        flags = set(facts.get("amx_flags") or [])
        for flag in ref_machine.cpu_flags:
            if not flag.startswith("amx"):
                continue  # only the amx* flags are fingerprinted
            if flag not in flags:
                problems.append(f"no {flag}")
                machine_bits.append(f"without {flag}")
        nodes = facts.get("numa_nodes")
        if ref_machine.numa_nodes:
            if not isinstance(nodes, list):
                problems.append("NUMA nodes unknown")
                machine_bits.append("NUMA nodes unknown")
            else:
                missing = [n for n in ref_machine.numa_nodes if n not in nodes]
                if missing:
                    problems.append("other NUMA nodes")
                    machine_bits.append(
                        f"NUMA node{'s' if len(nodes) != 1 else ''} {', '.join(map(str, nodes)) or 'none'}"
                    )
        cpu = str(facts.get("cpu_model") or "")
        if ref_machine.cpu_model and ref_machine.cpu_model not in cpu:
            problems.append("another CPU")
        gpus = [str(g.get("name", "")) for g in facts.get("gpus") or [] if isinstance(g, Mapping)]
        if ref_machine.gpu and not any(ref_machine.gpu in g for g in gpus):
            problems.append("another GPU")
        machine_bits = [cpu or "an unknown CPU", *machine_bits]
        if gpus:
            machine_bits.append(", ".join(gpus))
    unchecked = tuple(
        what for what, stated in (("CPU model", ref_machine.cpu_model), ("GPU", ref_machine.gpu)) if not stated
    )
    measured_on = f"{model_text} on {'; '.join(machine_bits)}"
    return ReferenceCheck(tps, not problems, measured_on, reference_for, unchecked)


def _before_edits(run: BenchMeasurement, edits: Sequence[Mapping[str, Any]]) -> bool:
    """True if no source edit of the session came before this run started."""
    return not any(str(e.get("ts", "")) <= run.started for e in edits if e.get("ts"))


def _edited_before(run: BenchMeasurement, edits: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(e.get("path", "")) for e in edits if str(e.get("ts", "")) <= run.started))


def _same_setup(a: BenchMeasurement, b: BenchMeasurement) -> bool:
    """Same configuration (arguments), same model file, same machine — as far as both runs say."""
    if a.config is None or b.config is None or a.config != b.config:
        return False
    ma, mb = a.model, b.model
    if ma and mb:
        for key in ("path", "size", "mtime"):
            if ma.get(key) != mb.get(key):
                return False
        if ma.get("sha256") and mb.get("sha256") and ma["sha256"] != mb["sha256"]:
            return False
    fa, fb = a.machine, b.machine
    if fa and fb:
        for key in ("cpu_model", "amx_flags", "numa_nodes"):
            if fa.get(key) != fb.get(key):
                return False
        names_a = [g.get("name") for g in fa.get("gpus") or [] if isinstance(g, Mapping)]
        names_b = [g.get("name") for g in fb.get("gpus") or [] if isinstance(g, Mapping)]
        if names_a != names_b:
            return False
    return True


Basis = Literal["before_fix", "same_build", "earlier_run", "reference"]


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a run is compared with, and what kind of comparison that is."""

    basis: Basis
    avg_ts: float
    stddev_ts: float
    repetitions: int
    label: str
    run_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "avg_ts": self.avg_ts,
            "stddev_ts": self.stddev_ts,
            "repetitions": self.repetitions,
            "label": self.label,
            "run_id": self.run_id,
        }


def choose_baseline(
    metric: str,
    current: BenchMeasurement,
    history: Sequence[BenchMeasurement],
    edits: Sequence[Mapping[str, Any]] = (),
    before_fix_steps: Collection[str] = (),
) -> tuple[Baseline | None, list[str]]:
    """The run ``current`` is judged against, and notes on the choice.

    A run *before the fix* is an earlier run of the same benchmark (same arguments, model and machine) that
    started before the session's first source edit, while ``current`` started after one; among those the runs of
    a ``before_fix`` step come first, then the latest. If the two runs' builds are known to be the same binary, the
    comparison is a repeat on the same build, not before/after. Without a before-the-fix run, the latest earlier run
    of the same setup is compared as an *earlier run*.
    """
    notes: list[str] = []
    earlier = [
        h
        for h in history
        if h.run_id != current.run_id and h.started <= current.started and h.row(metric) and _same_setup(h, current)
    ]
    if not earlier:
        return None, notes
    after_edit = not _before_edits(current, edits)
    before = [h for h in earlier if after_edit and _before_edits(h, edits)]
    # A build compiled with other definitions measures those too: the diagnostic logging of phase 1 prints on every
    # tensor copy, and phase 4 runs before 5.1 removes it. Such a pair is not a before/after of the fix.
    unlike = [
        h
        for h in before
        if h.definitions is not None and current.definitions is not None and h.definitions != current.definitions
    ]
    if unlike and len(unlike) == len(before):
        h = unlike[0]
        added = sorted(current.definitions - h.definitions)  # type: ignore[operator]
        removed = sorted(h.definitions - current.definitions)  # type: ignore[operator]
        what = ", ".join([*(f"+{n}" for n in added), *(f"-{n}" for n in removed)])
        notes.append(
            f"not comparable with the run before the fix ({h.step}): this build is compiled with other definitions "
            f"({what}); the difference would measure those (the diagnostic logging, if GGML_DEBUG_TENSOR_COPY), "
            "not the fix — run this benchmark again once the build matches (after 5.1 removes the logging and 5.2 "
            "rebuilds)"
        )
        return None, notes
    before = [h for h in before if h not in unlike]
    if before:
        pick = max(before, key=lambda h: (h.step in before_fix_steps, h.started))
        row = pick.row(metric)
        assert row is not None
        basis: Basis = "before_fix"
        label = f"before the fix ({pick.step}, run {pick.run_id})"
        if pick.build_id and current.build_id and pick.build_id == current.build_id:
            basis = "same_build"
            label = f"{pick.step} (run {pick.run_id}), which ran the same build"
            notes.append(
                "the program and libraries are byte for byte those of the run before the edits: the fix is not "
                "built into what ran (rebuild after the fix)"
            )
        elif not (pick.build_id and current.build_id):
            notes.append("the builds were not fingerprinted, so it cannot be shown that the fix was built in")
        return Baseline(basis, row.avg_ts, row.stddev_ts, pick.repetitions, label, pick.run_id), notes
    pick = earlier[-1]
    row = pick.row(metric)
    assert row is not None
    same = bool(pick.build_id and current.build_id and pick.build_id == current.build_id)
    same_code = pick.code_state is not None and pick.code_state == current.code_state
    if same or (same_code and not (pick.build_id and current.build_id)):
        basis, what = "same_build", "the same build" if same else "the same source state"
    else:
        basis, what = "earlier_run", "an earlier run"
    if not after_edit:
        notes.append(
            "no source was edited in this session before this run: as far as the session knows, this compares the "
            "build with itself, not the fix"
        )
    else:
        notes.append("no run of this benchmark before the session's first edit")
    label = f"{what} ({pick.step}, run {pick.run_id})"
    return Baseline(basis, row.avg_ts, row.stddev_ts, pick.repetitions, label, pick.run_id), notes


# --- judging ------------------------------------------------------------------------------------------------------


def judge(
    step: BenchmarkStep,
    current: BenchMeasurement,
    history: Sequence[BenchMeasurement] = (),
    *,
    reference_tps: float | None = None,
    machine: Mapping[str, Any] | None = None,
    edits: Sequence[Mapping[str, Any]] = (),
    before_fix_steps: Collection[str] = (),
    log_text: str | None = None,
) -> Verdict:
    """One verdict for a benchmark step, from :func:`compare.compare` against what it is comparable with.

    - a ``before_fix`` step records the measurement later runs are judged against (it fails when a source edit
      came before it: it would not be a measurement before the fix);
    - otherwise against the same benchmark before the fix (:func:`choose_baseline`), else against the step's
      reference figure (``reference_tps``) when the model and machine are the reference's, else nothing;
    - faster or no significant difference: pass (with a warning when the comparison is not before/after the fix);
      slower: fail (``slow``); inconclusive (noise wider than the tolerance): fail, and run with more repetitions.
      With nothing comparable the figure is recorded with a warning that says why.

    ``machine``: this machine's facts, for a run without a fingerprint. ``edits``: the session's ``file_edited``
    events (``path``, ``ts``). ``before_fix_steps``: ids of the runbook's before-the-fix benchmark steps.
    """
    metric = step.metric
    rows = list(current.rows)
    trouble = current.trouble
    if trouble is None and log_text is not None:
        trouble = llama_cli.parse(log_text)
    evidence: dict[str, Any] = {
        "metric": metric,
        "test": metric,
        "baseline": None,
        "comparison": None,
        "rows": [r.as_json() for r in rows[:20]],
        "config": list(current.config) if current.config is not None else None,
        "repetitions": current.repetitions,
        "model": current.model_name or current.model_type or None,
        "build_id": current.build_id,
    }
    row = current.row(metric)
    if row is None:
        return _no_result(metric, rows, trouble, evidence, log_text)
    evidence.update(avg_ts=row.avg_ts, stddev_ts=row.stddev_ts, line=row.line, raw_line=row.raw_line)
    figure = f"{metric} {row.avg_ts:.2f} ± {row.stddev_ts:.2f} t/s ({current.repetitions} repetitions)"

    if step.before_fix:
        edited = _edited_before(current, edits)
        evidence["basis"] = "before_fix_measurement"
        if edited:
            return Verdict.make(
                "fail",
                f"{figure}, but not a measurement before the fix: {', '.join(edited)} was edited before this run",
                [],
                evidence,
            )
        return Verdict.make(
            "pass", f"{figure}: recorded as the measurement before the fix that later runs compare with", [], evidence
        )

    sample = Sample(row.avg_ts, row.stddev_ts, current.repetitions)
    baseline, notes = choose_baseline(metric, current, history, edits, before_fix_steps)
    ref_check = None
    if step.reference is not None and reference_tps is not None and reference_tps > 0:
        ref_check = check_reference(step.reference, reference_tps, current, machine)
        evidence["reference"] = ref_check.as_json()
    if baseline is None and ref_check is not None and ref_check.comparable:
        unchecked = f" (not stated by the runbook: {', '.join(ref_check.unchecked)})" if ref_check.unchecked else ""
        baseline = Baseline(
            "reference", ref_check.tps, 0.0, 1, f"the runbook's reference for {ref_check.reference_for}{unchecked}"
        )
    if baseline is None:
        reasons = []
        if ref_check is not None:
            reasons.append(
                f"not comparable: measured on {ref_check.measured_on}, the reference ({ref_check.tps:g} t/s) is for "
                f"{ref_check.reference_for}"
            )
        # Why the runs before it do not count, if there were any; else that there were none.
        reasons += notes or ["no earlier run of this benchmark with the same flags, model and machine in this session"]
        evidence["basis"] = None
        return Verdict.make("warn", f"{figure}; nothing to judge it against — {'; '.join(reasons)}", [], evidence)

    comparison = compare(
        Sample(baseline.avg_ts, baseline.stddev_ts, baseline.repetitions), sample, tolerance_pct=step.tolerance_pct
    )
    evidence.update(
        basis=baseline.basis,
        baseline=baseline.avg_ts,
        baseline_run=baseline.as_json(),
        comparison=comparison.as_json(),
        delta_pct=round(comparison.delta_pct, 2),
        tolerance_pct=step.tolerance_pct,
        notes=notes,
    )
    head = f"{figure} vs {baseline.avg_ts:.2f}"
    head += f" ± {baseline.stddev_ts:.2f}" if baseline.basis != "reference" else ""
    head += f" t/s, {baseline.label}: {comparison.describe()}"
    tail = f" — {'; '.join(notes)}" if notes else ""
    if comparison.verdict == "slower":
        return Verdict.make("fail", head + tail, ["slow"], evidence)
    if comparison.verdict == "inconclusive":
        return Verdict.make("fail", head + tail, [], evidence)
    level: Level = "pass" if baseline.basis in ("before_fix", "reference") else "warn"
    if baseline.basis == "same_build" and not notes:
        tail = " — the same build twice: a repeat, not a before/after comparison"
    return Verdict.make(level, head + tail, [], evidence)


def judge_step(
    step: BenchmarkStep,
    runbook: Runbook,
    state: SessionState,
    read_log: ReadLog,
    values: Mapping[str, str],
    *,
    fingerprint_of: FingerprintOf = recorded_fingerprint,
    machine: Mapping[str, Any] | None = None,
) -> Verdict:
    """Judge the latest attempt of ``step`` in ``state`` (what the step module calls once its command ended).

    ``values`` renders the reference figure (``{{ baseline_tps }}``); ``machine`` defaults to this machine's facts
    when the run has no fingerprint.
    """
    runs = state.attempt_runs(step.id)
    text = "".join(read(read_log, r.run_id) for r in runs)
    last = runs[-1] if runs else None
    rows = parse(text)
    current = BenchMeasurement(
        last.run_id if last else "",
        step.id,
        last.started if last else "",
        tuple(rows),
        _bench_args(last.script) if last else None,
        fingerprint_of(last) if last else None,
        (last.git_before or None) if last else None,
        rows.trouble,
    )
    attempt = {r.run_id for r in runs}
    history = [h for h in measurements(state, read_log, fingerprint_of) if h.run_id not in attempt]
    reference_tps = None
    if step.reference is not None:
        from ...runbook.templates import TemplateError, render_text

        try:
            reference_tps = float(render_text(step.reference.tps, values))
        except (TemplateError, ValueError):
            reference_tps = None
    if machine is None and current.fingerprint is None and step.reference is not None:
        from ..fingerprint import machine_facts

        machine = machine_facts()
    before_steps = {s.id for _, s in runbook.iter_steps() if isinstance(s, m.BenchmarkStep) and s.before_fix}
    return judge(
        step,
        current,
        history,
        reference_tps=reference_tps,
        machine=machine,
        edits=state.edits,
        before_fix_steps=before_steps,
        log_text=text,
    )


def _no_result(
    metric: str,
    rows: list[BenchRow],
    trouble: llama_cli.CliRun | None,
    evidence: dict[str, Any],
    log_text: str | None,
) -> Verdict:
    launcher = numactl.parse(log_text) if log_text else None
    if launcher is not None:
        evidence["numactl"] = launcher.as_json()
        return Verdict.make(
            "fail", f"numactl failed before llama-bench started: {launcher.describe()}", ["numactl_failed"], evidence
        )
    if trouble is not None:
        evidence["output"] = trouble.as_evidence()
        if trouble.flag_error is not None:
            return Verdict.make(
                "fail",
                f"llama-bench rejected a flag — a runbook/flag problem, not a crash: "
                f"{trouble.flag_error}; {llama_cli.flag_hint(trouble.flag)}",
                ["flag_rejected"],
                evidence,
            )
        if trouble.load_error is not None and not trouble.crashed:
            return Verdict.make(
                "fail", f"the model could not be loaded (check the model variable): {trouble.load_error}", [], evidence
            )
        if trouble.crashed:
            return Verdict.make(
                "fail", f"llama-bench crashed before the {metric} result: {trouble.crash_line}", ["crash"], evidence
            )
    found = ", ".join(dict.fromkeys(r.test for r in rows))
    return Verdict.make(
        "fail", f"no {metric} result in the output" + (f" (found: {found})" if found else ""), [], evidence
    )
