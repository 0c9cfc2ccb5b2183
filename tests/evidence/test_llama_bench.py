"""llama-bench output in markdown, CSV and JSON, and the benchmark verdict around a baseline."""

from __future__ import annotations

import json

import pytest

from amxwizard.engine.evidence import llama_bench
from amxwizard.engine.evidence._text import log_lines
from amxwizard.engine.evidence.llama_bench import BenchRow
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BenchmarkStep

from .conftest import read_fixture


def _step(runbook_file: RunbookFile, step_id: str) -> BenchmarkStep:
    step = runbook_file.model.step(step_id)
    assert isinstance(step, BenchmarkStep)
    return step


def test_markdown_with_overflowing_cells() -> None:
    text = read_fixture("bench_md_overflow.txt")
    rows = llama_bench.parse(text)
    assert [(r.test, r.avg_ts, r.stddev_ts, r.ngl) for r in rows] == [
        ("pp512", 806.14, 5.87, 15),
        ("tg128", 61.31, 0.42, 15),
        ("pp512", 12873.41, 1021.07, 99),
        ("tg128", 104.52, 0.97, 99),
    ]
    assert rows[0].model == "qwen3moe 30B.A3B IQ4_XS - 4.25 bpw" and rows[0].backend == "CUDA"
    assert rows[0].threads == 64 and rows[0].format == "md"
    assert rows[2].line is not None and log_lines(text)[rows[2].line - 1] == rows[2].raw_line


def test_csv_without_a_test_field_derives_it() -> None:
    rows = llama_bench.parse(read_fixture("bench_csv.txt"))
    assert [(r.test, r.avg_ts, r.stddev_ts) for r in rows] == [
        ("pp512", 798.343137, 5.811547),
        ("tg128", 61.262317, 0.42138),
    ]
    assert rows[1].ngl == 15 and rows[1].threads == 64 and rows[1].backend == "CUDA" and rows[1].format == "csv"
    assert rows[1].model == "qwen3moe 30B.A3B Q4_0" and rows[1].line == 5


def test_json_array_with_a_test_field() -> None:
    rows = llama_bench.parse(read_fixture("bench_json.txt"))
    assert [(r.test, r.avg_ts, r.stddev_ts) for r in rows] == [
        ("pp512", 803.491288, 6.419822),
        ("tg128", 61.239811, 0.359982),
    ]
    assert rows[0].backend == "CUDA,BLAS" and rows[0].format == "json" and rows[0].line == 4


def test_json_lines_and_depth_labels() -> None:
    text = (
        '{"n_prompt": 0, "n_gen": 128, "avg_ts": 61.5, "stddev_ts": 0.3}\n'
        '{"n_prompt": 512, "n_gen": 0, "n_depth": 4096, "avg_ts": 700.0, "stddev_ts": 4}\n'
        '{"n_prompt": 512, "n_gen": 128, "avg_ts": 250.0, "stddev_ts": 2}\n'
    )
    assert [r.test for r in llama_bench.parse(text)] == ["tg128", "pp512 @ d4096", "pp512+tg128"]


def test_output_without_results() -> None:
    assert llama_bench.parse("error: invalid parameter for argument: --amx\nusage: llama-bench [options]\n") == []


def _row(test: str, avg: float, sd: float) -> BenchRow:
    return BenchRow(test, avg, sd)


@pytest.mark.parametrize(
    ("avg", "sd", "level"),
    [
        (61.31, 0.42, "pass"),  # the same as before
        (64.10, 0.40, "pass"),  # faster
        (58.20, 0.10, "pass"),  # 4.96% slower: within 5% of 61.24 (3.06 t/s)
        (58.10, 0.10, "warn"),  # 5.13% slower, by less than the noise (±0.20)
        (57.80, 0.40, "warn"),  # beyond the tolerance, but by less than the measured noise
        (57.50, 0.05, "fail"),  # beyond the tolerance, noise cannot explain it
        (55.00, 0.40, "fail"),
        (61.00, 4.00, "warn"),  # the measurement is too noisy to say
    ],
)
def test_generation_against_the_baseline(runbook_file: RunbookFile, avg: float, sd: float, level: str) -> None:
    verdict = llama_bench.judge_benchmark(
        _step(runbook_file, "bench-tg"), [_row("pp512", 800, 5), _row("tg128", avg, sd)], 61.24, []
    )
    assert verdict.level == level, verdict.summary
    assert verdict.status == ("failed" if level == "fail" else "passed")
    assert verdict.findings == (["slow"] if level == "fail" else [])
    assert f"{avg:.2f} ± {sd:.2f}" in verdict.summary and "61.24" in verdict.summary
    assert verdict.evidence["reference"] == {"kind": "baseline", "avg_ts": 61.24, "stddev_ts": 0.0}
    assert json.loads(json.dumps(verdict.evidence)) == verdict.evidence


def test_prompt_processing_compares_with_the_earliest_earlier_run(runbook_file: RunbookFile) -> None:
    step = _step(runbook_file, "bench-pp")
    earlier = [_row("tg128", 61.0, 0.4), _row("pp512", 800.0, 6.0), _row("pp512", 700.0, 6.0)]
    same = llama_bench.judge_benchmark(step, [_row("pp512", 795.0, 6.0)], None, earlier)
    assert same.level == "pass" and "the earliest earlier run 800.00" in same.summary
    slower = llama_bench.judge_benchmark(step, [_row("pp512", 600.0, 6.0)], None, earlier)
    assert slower.level == "fail" and slower.findings == ["slow"]


def test_no_earlier_run_passes_and_says_so(runbook_file: RunbookFile) -> None:
    verdict = llama_bench.judge_benchmark(_step(runbook_file, "bench-pp"), [_row("pp512", 795.0, 6.0)], None, [])
    assert verdict.status == "passed" and "no earlier run to compare" in verdict.summary


def test_missing_metric_fails(runbook_file: RunbookFile) -> None:
    verdict = llama_bench.judge_benchmark(_step(runbook_file, "bench-tg"), [_row("pp512", 795.0, 6.0)], 61.24, [])
    assert verdict.status == "failed" and "no tg128 result" in verdict.summary and "pp512" in verdict.summary


def test_rejected_flag_in_the_output_is_flag_rejected(runbook_file: RunbookFile) -> None:
    rows = llama_bench.parse("error: invalid parameter for argument: --amx\nusage: llama-bench [options]\n")
    verdict = llama_bench.judge_benchmark(_step(runbook_file, "bench-tg"), rows, 61.24, [])
    assert verdict.status == "failed" and verdict.findings == ["flag_rejected"] and "amx_flag" in verdict.summary
    plain = llama_bench.judge_benchmark(
        _step(runbook_file, "bench-tg"), [], 61.24, [], log_text="error: invalid parameter for argument: --amx\n"
    )
    assert plain.findings == ["flag_rejected"]
