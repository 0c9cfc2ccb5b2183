"""llama-bench output in markdown, CSV and JSON (the verdicts are in test_benchmark_verdicts.py)."""

from __future__ import annotations

import json

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


def test_real_ik_outputs_parse_to_the_same_figures() -> None:
    """ik_llama.cpp's markdown (no threads column), CSV (a test column last) and JSON (samples listed)."""
    from .real import ik

    md, csv_rows, js = (llama_bench.parse(ik(name)) for name in ("bench_md.log", "bench_csv.log", "bench_json.log"))
    assert [(r.test, r.avg_ts, r.stddev_ts, r.ngl, r.threads) for r in md] == [
        ("pp512", 67426.59, 24326.16, 15, None),
        ("tg128", 1176.89, 49.71, 15, None),
    ]
    assert [(r.test, r.avg_ts, r.model_filename, r.threads) for r in csv_rows] == [
        ("pp512", 56005.440502, "/root/models/tiny24.gguf", 16),
        ("tg128", 1179.910794, "/root/models/tiny24.gguf", 16),
    ]
    assert [(r.test, r.repetitions, r.model) for r in js] == [
        ("pp512", 5, "llama ?B all F32"),
        ("tg128", 5, "llama ?B all F32"),
    ]


def test_missing_metric_fails(runbook_file: RunbookFile) -> None:
    rows = (BenchRow("pp512", 795.0, 6.0),)
    current = llama_bench.BenchMeasurement("r1", "bench-tg", "2026-01-05T10:00:00Z", rows)
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), current, [], reference_tps=61.24)
    assert verdict.status == "failed" and "no tg128 result" in verdict.summary and "pp512" in verdict.summary


def test_rejected_flag_in_the_output_is_flag_rejected(runbook_file: RunbookFile) -> None:
    text = "error: invalid parameter for argument: --amx\nusage: llama-bench [options]\n"
    rows = llama_bench.parse(text)
    current = llama_bench.BenchMeasurement("r1", "bench-tg", "t", tuple(rows), trouble=rows.trouble)
    verdict = llama_bench.judge(_step(runbook_file, "bench-tg"), current, [])
    assert verdict.status == "failed" and verdict.findings == ["flag_rejected"] and "amx_flag" in verdict.summary
    plain = llama_bench.judge(
        _step(runbook_file, "bench-tg"), llama_bench.BenchMeasurement("r1", "bench-tg", "t", ()), [], log_text=text
    )
    assert plain.findings == ["flag_rejected"]
    assert json.loads(json.dumps(plain.evidence)) == plain.evidence
