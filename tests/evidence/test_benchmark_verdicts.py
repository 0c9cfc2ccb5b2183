"""One verdict per benchmark, from compare.compare(), against what the run is comparable with."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.evidence import criteria, llama_bench
from amxwizard.engine.evidence.llama_bench import BenchMeasurement, BenchRow
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BenchmarkStep

from .conftest import WORKING_FLAGS, Sandbox, SessionKit

ARGS = ("-m", "/models/q.gguf", "-t", "64", "-ngl", "15", "-p", "512", "-n", "128")
MODEL = {"path": "/models/q.gguf", "size": 17_373_395_968, "mtime": 1759758211.0, "sha256": None}
MACHINE = {"cpu_model": "Xeon", "amx_flags": ["amx_tile"], "numa_nodes": [0, 1, 2, 3], "gpus": [{"name": "H100"}]}
EDIT = [{"path": "ggml/src/ggml-backend.cpp", "ts": "2026-01-05T10:00:00"}]


def _step(runbook_file: RunbookFile, step_id: str) -> BenchmarkStep:
    step = runbook_file.model.step(step_id)
    assert isinstance(step, BenchmarkStep)
    return step


def _run(
    run_id: str,
    step: str,
    started: str,
    tg: tuple[float, float],
    *,
    build: str | None = None,
    args: tuple[str, ...] = ARGS,
    model: dict[str, Any] | None = None,
) -> BenchMeasurement:
    fingerprint = {"build_id": build, "model": model or MODEL, "machine": MACHINE}
    rows = (BenchRow("pp512", 800.0, 6.0), BenchRow("tg128", *tg))
    return BenchMeasurement(run_id, step, started, rows, args, fingerprint)


BEFORE = _run("b1", "bench-tg-before", "2026-01-05T09:00:00", (61.30, 0.40), build="build-1")


def test_after_the_fix_is_judged_against_the_run_before_it(runbook_file: RunbookFile) -> None:
    after = _run("a1", "bench-tg", "2026-01-05T11:00:00", (61.10, 0.45), build="build-2")
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), after, [BEFORE], edits=EDIT)
    assert verdict.status == "passed" and verdict.level == "pass", verdict.summary
    assert verdict.summary.startswith(
        "tg128 61.10 ± 0.45 t/s (5 repetitions) vs 61.30 ± 0.40 t/s, before the fix (bench-tg-before, run b1): "
        "no significant difference: -0.3%"
    )
    assert verdict.evidence["basis"] == "before_fix" and verdict.evidence["baseline"] == 61.30
    assert verdict.evidence["comparison"]["verdict"] == "no significant difference"
    assert json.loads(json.dumps(verdict.evidence)) == verdict.evidence


def test_significantly_slower_fails(runbook_file: RunbookFile) -> None:
    after = _run("a1", "bench-tg", "2026-01-05T11:00:00", (49.0, 0.4), build="build-2")
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), after, [BEFORE], edits=EDIT)
    assert verdict.status == "failed" and verdict.findings == ["slow"]
    assert "slower, significant: -20.1%" in verdict.summary


def test_noise_wider_than_the_tolerance_is_inconclusive_and_fails(runbook_file: RunbookFile) -> None:
    after = _run("a1", "bench-tg", "2026-01-05T11:00:00", (60.0, 6.0), build="build-2")
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), after, [BEFORE], edits=EDIT)
    assert verdict.status == "failed" and verdict.findings == []
    assert "inconclusive" in verdict.summary and "run with more repetitions (-r)" in verdict.summary


def test_the_same_build_after_the_edit_is_not_a_before_after_comparison(runbook_file: RunbookFile) -> None:
    after = _run("a1", "bench-tg", "2026-01-05T11:00:00", (61.30, 0.40), build="build-1")
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), after, [BEFORE], edits=EDIT)
    assert verdict.status == "passed" and verdict.level == "warn"
    assert verdict.evidence["basis"] == "same_build"
    assert "the fix is not built into what ran (rebuild after the fix)" in verdict.summary


def test_another_model_or_flags_are_not_compared(runbook_file: RunbookFile) -> None:
    step = _step(runbook_file, "bench-tg")
    other_model = _run("a1", "bench-tg", "2026-01-05T11:00:00", (61.0, 0.4), model={**MODEL, "size": 1})
    other_flags = _run("a2", "bench-tg", "2026-01-05T11:00:00", (61.0, 0.4), args=(*ARGS[:4], "-ngl", "20"))
    for after in (other_model, other_flags):
        verdict = llama_bench.judge(step, after, [BEFORE], edits=EDIT)
        assert verdict.level == "warn" and verdict.evidence["comparison"] is None
        assert "no earlier run of this benchmark with the same flags, model and machine" in verdict.summary


def test_the_reference_is_compared_only_on_its_model_and_machine(runbook_file: RunbookFile) -> None:
    step = _step(runbook_file, "bench-tg")
    theirs = {**MODEL, "path": "/mnt/ssd2/AI/Qwen3_30B/Q4_0/Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf"}
    same = _run("a1", "bench-tg", "2026-01-05T11:00:00", (61.10, 0.40), model=theirs)
    verdict = llama_bench.judge(step, same, [], reference_tps=61.24)
    assert verdict.level == "pass" and verdict.evidence["basis"] == "reference", verdict.summary
    assert "vs 61.24 t/s, the runbook's reference for Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf" in verdict.summary
    assert "(not stated by the runbook: CPU model, GPU)" in verdict.summary
    small = BenchMeasurement(
        "a2",
        "bench-tg",
        "2026-01-05T11:00:00",
        same.rows,
        same.args,
        {**same.fingerprint, "machine": {**MACHINE, "numa_nodes": [0]}},  # type: ignore[dict-item]
    )
    verdict = llama_bench.judge(step, small, [], reference_tps=61.24)
    assert verdict.level == "warn" and "not comparable" in verdict.summary and "NUMA node 0" in verdict.summary


def test_a_before_the_fix_step_records_its_figure(runbook_file: RunbookFile) -> None:
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg-before"), BEFORE, [])
    assert verdict.level == "pass"
    assert verdict.summary == (
        "tg128 61.30 ± 0.40 t/s (5 repetitions): recorded as the measurement before the fix that later runs compare "
        "with"
    )


def test_a_verdict_never_contradicts_itself(runbook_file: RunbookFile) -> None:
    """Across a grid of figures: a pass never asks for a re-run; only a fail or a warning says what is missing."""
    step = _step(runbook_file, "bench-tg")
    for avg, sd in itertools.product((45.0, 58.0, 60.5, 61.3, 62.0, 65.0), (0.05, 0.4, 2.0, 8.0)):
        after = _run("a1", "bench-tg", "2026-01-05T11:00:00", (avg, sd), build="build-2")
        verdict = llama_bench.judge(step, after, [BEFORE], edits=EDIT)
        verdict_word = verdict.evidence["comparison"]["verdict"]
        if verdict.status == "passed":
            assert "re-run" not in verdict.summary and "repetitions (-r)" not in verdict.summary
            assert verdict_word in ("faster", "no significant difference")
        else:
            assert verdict_word in ("slower", "inconclusive")


# --- the stand-ins, run as real processes through the runbook's commands ------------------------------------


def _bench(kit: SessionKit, sandbox: Sandbox, step_id: str) -> None:
    result, _ = sandbox.run_step(step_id, **WORKING_FLAGS)
    assert result.returncode == 0, result.stderr
    log = {
        "bench-tg-before": "bench_generation_before.log",
        "bench-pp-before": "bench_prompt_before.log",
        "bench-tg": "bench_generation.log",
        "bench-pp": "bench_prompt.log",
    }[step_id]
    text = (sandbox.backup / log).read_text(encoding="utf-8")
    kit.run(step_id, text, script=sandbox.script(step_id, **WORKING_FLAGS))
    step = sandbox.runbook.model.step(step_id)
    assert isinstance(step, BenchmarkStep)
    verdict = llama_bench.judge_step(step, sandbox.runbook.model, kit.state, kit.read_log, {}, machine=MACHINE)
    kit.finish(step_id, verdict)


def _edit(kit: SessionKit) -> None:
    kit.session.record(
        ev.FileEdited(step="2.B", path="ggml/src/ggml-backend.cpp", before_sha256="a", after_sha256="b", how="snippet")
    )


def test_a_benchmark_run_twice_on_an_unchanged_build_is_no_significant_difference(
    kit: SessionKit, sandbox: Sandbox
) -> None:
    for step_id in ("bench-tg-before", "bench-tg"):
        _bench(kit, sandbox, step_id)
    tg = kit.state.step("bench-tg")
    assert tg.evidence["comparison"]["verdict"] == "no significant difference", tg.summary
    assert "no significant difference" in tg.summary and tg.evidence["level"] == "warn"
    assert "compares the build with itself, not the fix" in tg.summary


def test_a_standin_20_percent_slower_after_the_fix_is_slower_significant(
    kit: SessionKit, sandbox: Sandbox, runbook_file: RunbookFile
) -> None:
    for step_id in ("bench-pp-before", "bench-tg-before"):
        _bench(kit, sandbox, step_id)
    _edit(kit)
    sandbox.build(debug=False, fixes=["B"], speed_factor=0.8)
    for step_id in ("bench-pp", "bench-tg"):
        _bench(kit, sandbox, step_id)
    for step_id in ("bench-pp", "bench-tg"):
        st = kit.state.step(step_id)
        assert st.status.value == "failed" and st.evidence["findings"] == ["slow"], st.summary
        assert "slower, significant: -" in st.summary and "before the fix (" in st.summary
        assert -22.0 < st.evidence["comparison"]["delta_pct"] < -18.0
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["performance"]
    assert result.status == "unmet"


def test_the_same_standin_after_the_fix_keeps_its_speed(
    kit: SessionKit, sandbox: Sandbox, runbook_file: RunbookFile
) -> None:
    for step_id in ("bench-pp-before", "bench-tg-before"):
        _bench(kit, sandbox, step_id)
    _edit(kit)
    sandbox.build(debug=False, fixes=["B"])
    for step_id in ("bench-pp", "bench-tg"):
        _bench(kit, sandbox, step_id)
        st = kit.state.step(step_id)
        assert st.status.value == "passed" and st.evidence["basis"] == "before_fix", st.summary
        assert st.evidence["comparison"]["verdict"] == "no significant difference"
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["performance"]
    assert result.status == "met", result.evidence


@pytest.mark.parametrize("factor", [1.0, 0.8])
def test_the_standin_speed_factor_is_what_the_build_says(sandbox: Sandbox, factor: float) -> None:
    sandbox.build(debug=False, fixes=[], speed_factor=factor)
    sandbox.run_step("bench-tg", **WORKING_FLAGS)
    rows = llama_bench.parse((sandbox.backup / "bench_generation.log").read_text(encoding="utf-8"))
    assert rows[-1].test == "tg128" and abs(rows[-1].avg_ts - 61.3 * factor) < 1.0
