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
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import llama_cli
from ._logs import ReadLog, cached, read
from ._text import log_lines
from .verdict import Verdict

if TYPE_CHECKING:
    from ...runbook.models import BenchmarkStep
    from ..state import SessionState

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

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON (without the raw line)."""
        return {
            "test": self.test,
            "avg_ts": self.avg_ts,
            "stddev_ts": self.stddev_ts,
            "model": self.model,
            "backend": self.backend,
            "ngl": self.ngl,
            "threads": self.threads,
            "line": self.line,
            "format": self.format,
        }


class BenchRows(list[BenchRow]):
    """Rows in output order, and what else the output says (a rejected flag, a model that did not load, a crash)."""

    trouble: llama_cli.CliRun | None = None


@dataclass(frozen=True, slots=True)
class BenchRun:
    """One llama-bench run of the session and its rows."""

    run_id: str
    step: str
    started: str
    rows: list[BenchRow]


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
    return BenchRow(
        test,
        avg,
        _float(d.get("stddev_ts")) or 0.0,
        str(d.get("model_type") or d.get("model_filename") or ""),
        backend,
        _int(d.get("n_gpu_layers")),
        _int(d.get("n_threads")),
        raw,
        line,
        fmt,
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


def session_runs(state: SessionState, read_log: ReadLog, exclude: Collection[str] = ()) -> list[BenchRun]:
    """Every llama-bench run of the session (any step whose command runs llama-bench), oldest first.

    ``read_log(run_id)`` returns a run's log text. Re-runs of a step keep their earlier runs here, so results
    before and after a fix can be compared.
    """
    out: list[BenchRun] = []
    for run in sorted(state.runs.values(), key=lambda r: r.started):
        if run.run_id in exclude or not _PROGRAM_RE.search(run.script):
            continue
        text = read(read_log, run.run_id)
        rows = cached("llama_bench", text, lambda t: tuple(parse(t))) if text else ()
        if rows:
            out.append(BenchRun(run.run_id, run.step, run.started, list(rows)))
    return out


def session_rows(
    state: SessionState, read_log: ReadLog, test: str | None = None, exclude: Collection[str] = ()
) -> list[BenchRow]:
    """The rows of :func:`session_runs`, oldest first, only of ``test`` if given."""
    return [
        row for run in session_runs(state, read_log, exclude) for row in run.rows if test is None or row.test == test
    ]


# --- judging ------------------------------------------------------------------------------------------------------


def judge_benchmark(
    step: BenchmarkStep,
    rows: list[BenchRow],
    baseline: float | None,
    previous: list[BenchRow],
    log_text: str | None = None,
) -> Verdict:
    """Pass, warn or fail the step's metric against ``baseline`` (or the earliest earlier run of the same test).

    ``allowed`` is the step's tolerance (``tolerance_pct`` of the reference); ``noise`` is twice the combined
    stddev. Within ``allowed``: pass (warn if the noise alone is wider than the tolerance). Beyond it but within
    ``allowed + noise``: warn, the difference may be noise. Beyond both: fail with the finding ``slow``.
    """
    metric = step.metric
    trouble = getattr(rows, "trouble", None)
    if trouble is None and log_text is not None:
        trouble = llama_cli.parse(log_text)
    matching = [r for r in rows if r.test == metric]
    evidence: dict[str, Any] = {
        "metric": metric,
        "test": metric,
        "baseline": baseline,
        "rows": [r.as_json() for r in rows[:20]],
    }
    if not matching:
        return _no_result(metric, rows, trouble, evidence)
    row = matching[-1]
    evidence.update(avg_ts=row.avg_ts, stddev_ts=row.stddev_ts, line=row.line, raw_line=row.raw_line)
    earlier = next((r for r in previous if r.test == metric), None)
    if baseline is not None:
        ref, ref_sd, ref_label = baseline, 0.0, "baseline"
    elif earlier is not None:
        ref, ref_sd, ref_label = earlier.avg_ts, earlier.stddev_ts, "the earliest earlier run"
    else:
        return Verdict.make(
            "pass",
            f"{metric} {row.avg_ts:.2f} ± {row.stddev_ts:.2f} t/s; no earlier run to compare",
            [],
            {**evidence, "reference": None},
        )
    allowed = ref * step.tolerance_pct / 100
    noise = 2 * math.hypot(row.stddev_ts, ref_sd)
    drop = ref - row.avg_ts
    delta_pct = (row.avg_ts - ref) / ref * 100 if ref else 0.0
    evidence.update(
        reference={"kind": "baseline" if baseline is not None else "earlier_run", "avg_ts": ref, "stddev_ts": ref_sd},
        delta_pct=round(delta_pct, 2),
        tolerance_pct=step.tolerance_pct,
        allowed_ts=round(allowed, 3),
        noise_ts=round(noise, 3),
    )
    head = f"{metric} {row.avg_ts:.2f} ± {row.stddev_ts:.2f} t/s vs {ref_label} {ref:.2f} t/s ({delta_pct:+.1f}%)"
    tolerance = f"the {step.tolerance_pct:g}% tolerance ({allowed:.2f} t/s)"
    if drop <= allowed:
        if noise > 2 * allowed:
            return Verdict.make(
                "warn",
                f"{head}: within {tolerance}, but the measurement noise (±{noise:.2f} t/s) "
                "is wider than the tolerance — re-run with more repetitions (-r)",
                [],
                evidence,
            )
        return Verdict.make("pass", f"{head}: within {tolerance}", [], evidence)
    if drop <= allowed + noise:
        return Verdict.make(
            "warn",
            f"{head}: slower than {tolerance} allows, but within the measured noise "
            f"(±{noise:.2f} t/s) — re-run to be sure",
            [],
            evidence,
        )
    return Verdict.make(
        "fail",
        f"{head}: slower than {tolerance} allows, even counting the measured noise (±{noise:.2f} t/s)",
        ["slow"],
        evidence,
    )


def _no_result(
    metric: str, rows: list[BenchRow], trouble: llama_cli.CliRun | None, evidence: dict[str, Any]
) -> Verdict:
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
