"""Two records (or sessions) side by side: before and after the fix, or two machines.

What differs in the variables, the machine, the fingerprints of what ran, HEAD, each step's verdict and the tests'
token counts; and every benchmark figure both sides measured, with a noise-aware verdict from
:mod:`amxwizard.engine.evidence.compare` (faster / slower / no significant difference / inconclusive). A comparison
whose configuration differs (another ``-ngl``, thread count, model or build options) is flagged: its verdict says
something about the configurations, not only about the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.evidence.compare import DEFAULT_REPETITIONS, Comparison, Sample, compare
from . import fmt

_NGL_RE = re.compile(r"(?:^|\s)(?:-ngl|--n-gpu-layers)\s+(\d+)")
_THREADS_RE = re.compile(r"(?:^|\s)(?:-t|--threads)\s+(\d+)")
_REPS_RE = re.compile(r"(?:^|\s)(?:-r|--repetitions)\s+(\d+)")


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: what it is, and the record document (a JSON record or a session's record)."""

    label: str
    doc: dict[str, Any]
    verified: str  # "verified", "not verified: ...", or "a live session (its record, built now)"


@dataclass(frozen=True, slots=True)
class BenchFigure:
    step: str
    test: str
    sample: Sample
    ngl: int | None
    threads: int | None
    model: str
    build: str

    def text(self) -> str:
        return f"{self.sample.mean:.2f} ± {self.sample.stddev:.2f} (n={self.sample.n})"


@dataclass(frozen=True, slots=True)
class BenchComparison:
    step: str
    test: str
    a: BenchFigure | None
    b: BenchFigure | None
    comparison: Comparison | None
    config_differs: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        def side(f: BenchFigure | None) -> dict[str, Any] | None:
            if f is None:
                return None
            s = f.sample
            return {"mean": s.mean, "stddev": s.stddev, "n": s.n, "ngl": f.ngl, "threads": f.threads}

        return {
            "step": self.step,
            "test": self.test,
            "a": side(self.a),
            "b": side(self.b),
            "comparison": self.comparison.as_json() if self.comparison else None,
            "config_differs": list(self.config_differs),
        }


@dataclass(frozen=True, slots=True)
class Difference:
    """One row that differs: what, and each side's value."""

    what: str
    a: str
    b: str


@dataclass(frozen=True, slots=True)
class RecordDiff:
    a: Side
    b: Side
    tolerance_pct: float
    benchmarks: tuple[BenchComparison, ...]
    steps: tuple[Difference, ...]
    tests: tuple[Difference, ...]
    variables: tuple[Difference, ...]
    fingerprints: tuple[Difference, ...]
    repo: tuple[Difference, ...]
    machine: tuple[Difference, ...]
    same_steps: int = 0
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        def rows(diffs: Sequence[Difference]) -> list[dict[str, str]]:
            return [{"what": d.what, "a": d.a, "b": d.b} for d in diffs]

        return {
            "a": {"label": self.a.label, "verified": self.a.verified},
            "b": {"label": self.b.label, "verified": self.b.verified},
            "tolerance_pct": self.tolerance_pct,
            "benchmarks": [c.as_json() for c in self.benchmarks],
            "steps": rows(self.steps),
            "same_steps": self.same_steps,
            "tests": rows(self.tests),
            "variables": rows(self.variables),
            "fingerprints": rows(self.fingerprints),
            "repo": rows(self.repo),
            "machine": rows(self.machine),
            "notes": list(self.notes),
        }


# --- reading the sides ----------------------------------------------------------------------------------------


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _steps(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(s.get("id")): s for s in _l(doc.get("steps")) if isinstance(s, dict)}


def _latest_run(step: Mapping[str, Any]) -> dict[str, Any]:
    runs = [r for r in _l(step.get("runs")) if isinstance(r, dict)]
    return runs[-1] if runs else {}


def _setting(
    row: Mapping[str, Any],
    key: str,
    config: list[str],
    flags: tuple[str, ...],
    script: str,
    pattern: re.Pattern[str],
) -> int | None:
    """A run's setting: from the result row when it prints it, else from the command's arguments."""
    value = row.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for i, word in enumerate(config[:-1]):
        if word in flags and config[i + 1].isdigit():
            return int(config[i + 1])
    return _script_int(script, pattern)


def _script_int(script: str, pattern: re.Pattern[str]) -> int | None:
    found = pattern.search(script)
    return int(found.group(1)) if found else None


def _build_text(fp: Mapping[str, Any]) -> str:
    build = fp.get("build")
    if isinstance(build, dict):
        return " ".join(f"{k}={v}" for k, v in sorted(build.items()))
    return str(build or "")


def _model_text(fp: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """``name size sha256`` of the model a run loaded (from its fingerprint), else the model column of its row."""
    model = _d(fp.get("model"))
    if model:
        name = Path(str(model.get("path", ""))).name
        return f"file: {name} {model.get('size', '')} {model.get('sha256') or ''}".strip()
    return str(row.get("model") or "")


def _same_model(a: str, b: str) -> bool:
    """The same model file: equal sha256 when both runs know it, else the same name and size (a copy of a model at
    another path is the same model; the hash may still be on its way for one of them)."""
    if a.startswith("file: ") != b.startswith("file: "):
        return True  # one run says which file, the other only the model's type: nothing says they differ
    if not a.startswith("file: "):
        return a == b
    wa, wb = a.split()[1:], b.split()[1:]
    if len(wa) == 3 and len(wb) == 3:
        return wa[2] == wb[2]
    return wa[:2] == wb[:2]


def bench_figures(doc: Mapping[str, Any]) -> dict[tuple[str, str], BenchFigure]:
    """Every benchmark figure of a record by (step, test): the latest run's rows, with their configuration."""
    steps = _steps(doc)
    out: dict[tuple[str, str], BenchFigure] = {}
    for bench in _l(doc.get("benchmarks")):
        if not isinstance(bench, dict):
            continue
        step_id = str(bench.get("step", ""))
        run = _latest_run(steps.get(step_id, {}))
        script = str(run.get("script", ""))
        fp = _d(run.get("fingerprint"))
        reps = _script_int(script, _REPS_RE) or DEFAULT_REPETITIONS
        evidence = _d(bench.get("evidence"))
        config = [str(word) for word in _l(evidence.get("config"))]  # the command's arguments, as the judge read them
        rows = [r for r in _l(evidence.get("rows")) if isinstance(r, dict)]
        if not rows and _num(evidence.get("avg_ts")) is not None:
            rows = [
                {"test": evidence.get("test"), "avg_ts": evidence.get("avg_ts"), "stddev_ts": evidence.get("stddev_ts")}
            ]
        for row in rows:
            mean, sd = _num(row.get("avg_ts")), _num(row.get("stddev_ts"))
            if mean is None:
                continue
            ngl = _setting(row, "ngl", config, ("-ngl", "--n-gpu-layers"), script, _NGL_RE)
            threads = _setting(row, "threads", config, ("-t", "--threads"), script, _THREADS_RE)
            out[(step_id, str(row.get("test", "")))] = BenchFigure(
                step_id,
                str(row.get("test", "")),
                Sample(mean, sd or 0.0, reps),
                ngl,
                threads,
                _model_text(fp, row),
                _build_text(fp),
            )
    return out


def _config_differences(a: BenchFigure, b: BenchFigure) -> tuple[str, ...]:
    out = []
    if a.ngl != b.ngl:
        out.append(f"-ngl {a.ngl} vs {b.ngl}")
    if a.threads != b.threads:
        out.append(f"threads {a.threads} vs {b.threads}")
    if a.model and b.model and not _same_model(a.model, b.model):
        out.append("another model")
    if a.build and b.build and a.build != b.build:
        out.append(f"build options {a.build} vs {b.build}")
    return tuple(out)


def _pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    keys = [*a, *(k for k in b if k not in a)]
    return [(str(k), fmt.value_text(a.get(k)), fmt.value_text(b.get(k))) for k in keys]


def compare_records(a: Side, b: Side, *, tolerance_pct: float = 5.0) -> RecordDiff:
    """Everything that differs between ``a`` (before) and ``b`` (after), and every benchmark figure compared."""
    fa, fb = bench_figures(a.doc), bench_figures(b.doc)
    benches = []
    for pair in [*fa, *(k for k in fb if k not in fa)]:
        fig_a, fig_b = fa.get(pair), fb.get(pair)
        comparison = None
        differs: tuple[str, ...] = ()
        if fig_a is not None and fig_b is not None and fig_a.sample.mean > 0:
            comparison = compare(fig_a.sample, fig_b.sample, tolerance_pct=tolerance_pct)
            differs = _config_differences(fig_a, fig_b)
        benches.append(BenchComparison(pair[0], pair[1], fig_a, fig_b, comparison, differs))

    sa, sb = _steps(a.doc), _steps(b.doc)
    steps = []
    same = 0
    for step_id in [*sa, *(k for k in sb if k not in sa)]:
        va = str(sa.get(step_id, {}).get("status", "(not in this runbook)"))
        vb = str(sb.get(step_id, {}).get("status", "(not in this runbook)"))
        if va == vb:
            same += 1
        else:
            steps.append(Difference(step_id, va, vb))

    ta = {str(t.get("step")): t for t in _l(a.doc.get("tests")) if isinstance(t, dict)}
    tb = {str(t.get("step")): t for t in _l(b.doc.get("tests")) if isinstance(t, dict)}
    tests = []
    for step_id in [*ta, *(k for k in tb if k not in ta)]:
        ea, eb = _d(ta.get(step_id, {}).get("evidence")), _d(tb.get(step_id, {}).get("evidence"))
        for key, label in (
            ("tokens_generated", "tokens generated"),
            ("tokens_expected", "tokens expected"),
            ("eval_tps", "eval t/s"),
            ("crashed", "crashed"),
        ):
            if ea.get(key) != eb.get(key):
                tests.append(Difference(f"{step_id} {label}", fmt.value_text(ea.get(key)), fmt.value_text(eb.get(key))))

    va_ = {str(v.get("name")): v.get("value") for v in _l(a.doc.get("variables")) if isinstance(v, dict)}
    vb_ = {str(v.get("name")): v.get("value") for v in _l(b.doc.get("variables")) if isinstance(v, dict)}
    variables = [Difference(k, x, y) for k, x, y in _pairs(va_, vb_) if x != y]

    fingerprints = []
    for step_id in [*sa, *(k for k in sb if k not in sa)]:
        pa = _d(_latest_run(sa.get(step_id, {})).get("fingerprint"))
        pb = _d(_latest_run(sb.get(step_id, {})).get("fingerprint"))
        if not pa and not pb:
            continue
        cells_a = fmt.fingerprint_cells(pa or None, _l(a.doc.get("model_hashes")))
        cells_b = fmt.fingerprint_cells(pb or None, _l(b.doc.get("model_hashes")))
        for part, x, y in zip(("binary", "model", "build", "git", "machine"), cells_a, cells_b, strict=True):
            if x != y:
                fingerprints.append(Difference(f"{step_id} {part}", x, y))

    ra, rb = _d(a.doc.get("repo")), _d(b.doc.get("repo"))
    ca, cb = _d(ra.get("commit")), _d(rb.get("commit"))
    repo = [
        Difference(what, x, y)
        for what, x, y in (
            ("HEAD before", str(ra.get("head_before") or fmt.NONE), str(rb.get("head_before") or fmt.NONE)),
            ("HEAD after", str(ra.get("head_after") or fmt.NONE), str(rb.get("head_after") or fmt.NONE)),
            ("commit", str(ca.get("sha") or fmt.NONE), str(cb.get("sha") or fmt.NONE)),
        )
        if x != y
    ]
    ma, mb = _d(a.doc.get("machine")), _d(b.doc.get("machine"))
    machine = [
        Difference(k, x, y)
        for k, x, y in _pairs(
            {k: ma.get(k) for k in ("hostname", "cpu_model", "amx", "numa_nodes", "gpus")},
            {k: mb.get(k) for k in ("hostname", "cpu_model", "amx", "numa_nodes", "gpus")},
        )
        if x != y
    ]
    notes = []
    if any(c.config_differs for c in benches):
        notes.append("some benchmarks ran with another configuration: their verdicts compare configurations too")
    return RecordDiff(
        a,
        b,
        tolerance_pct,
        tuple(benches),
        tuple(steps),
        tuple(tests),
        tuple(variables),
        tuple(fingerprints),
        tuple(repo),
        tuple(machine),
        same,
        tuple(notes),
    )


# --- writing it -------------------------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    from .markdown import cell

    return cell(value)


def render_markdown(diff: RecordDiff) -> str:
    """The comparison as Markdown for a review page."""
    from .markdown import code, table

    out = [
        f"# Diff: {_md_cell(diff.a.label)} → {_md_cell(diff.b.label)}",
        table(
            ["Side", "Record", "Session", "State", "Checked"],
            [
                (
                    name,
                    code(side.label),
                    code(_d(side.doc.get("session")).get("id", "")),
                    _md_cell(_d(side.doc.get("status")).get("label", "")),
                    _md_cell(side.verified),
                )
                for name, side in (("A (before)", diff.a), ("B (after)", diff.b))
            ],
        ),
        "## Benchmarks",
        f"B against A; a difference within ±{diff.tolerance_pct:g}% is no significant difference.",
    ]
    rows = []
    for c in diff.benchmarks:
        if c.comparison is None:
            verdict, delta = "not compared (measured on one side only)", fmt.NONE
        else:
            verdict = f"**{c.comparison.verdict}**"
            delta = _md_cell(c.comparison.describe().split(": ", 1)[-1] if ": " in c.comparison.describe() else "")
        config = _md_cell("; ".join(c.config_differs)) if c.config_differs else "same"
        rows.append(
            (
                code(c.step),
                code(c.test),
                _md_cell(c.a.text() if c.a else fmt.NONE),
                _md_cell(c.b.text() if c.b else fmt.NONE),
                delta,
                verdict,
                ("⚠ " + config) if c.config_differs else config,
            )
        )
    out.append(
        table(["Benchmark", "Test", "A t/s", "B t/s", "Difference", "Verdict", "Configuration"], rows)
        if rows
        else "No benchmark figures on either side."
    )
    for title, diffs, empty in (
        ("Steps", diff.steps, f"Every step has the same verdict ({diff.same_steps} steps)."),
        ("Tests", diff.tests, "Same token counts and speeds in every test."),
        ("Variables", diff.variables, "Same variables."),
        ("Fingerprints", diff.fingerprints, "Same fingerprints (or none recorded)."),
        ("Repository", diff.repo, "Same HEAD and commit."),
        ("Machine", diff.machine, "Same machine facts."),
    ):
        out.append(f"## {title}")
        if diffs:
            out.append(table(["What", "A", "B"], [(code(d.what), _md_cell(d.a), _md_cell(d.b)) for d in diffs]))
            if title == "Steps":
                out.append(f"The other {diff.same_steps} steps have the same verdict on both sides.")
        else:
            out.append(empty)
    for note in diff.notes:
        out.append(f"> **Note:** {_md_cell(note)}")
    return "\n\n".join(out) + "\n"


def render_json(diff: RecordDiff) -> str:
    """The comparison as JSON for scripts."""
    return json.dumps(diff.as_json(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "BenchComparison",
    "RecordDiff",
    "Side",
    "bench_figures",
    "compare_records",
    "render_json",
    "render_markdown",
]
