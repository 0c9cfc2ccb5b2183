"""Evidence over a real session: criteria, template values, troubleshooting and the benchmark history."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.evidence import criteria, llama_bench, llama_cli
from amxwizard.engine.evidence.context import template_values
from amxwizard.engine.evidence.troubleshoot import matching
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile, load_text
from amxwizard.runbook.models import BenchmarkStep, CommitStep, DocsStep, FormStep, TestStep
from amxwizard.runbook.templates import placeholders, render_shell, render_text
from amxwizard.runbook.variables import NAMESPACES, resolve

from .conftest import SessionKit, read_fixture

COPIES = read_fixture("diag_no_weight_copy.txt").split("\n\n\n", 1)[1].split(" Okay,")[0]
WEIGHT_COPY = read_fixture("diag_weight_copy.txt").split("machines can achieve.\n", 1)[1].split("ggml_backend")[0]
TEST_LOGS = {
    "test-1": ("cli_clean_old_timings.txt", 1000),
    "test-2": ("cli_clean_old_timings.txt", 100),
    "test-3": ("cli_clean_old_timings.txt", 100),
    "test-4": ("cli_clean_old_timings.txt", 100),
    "test-5": ("cli_clean_new_timings.txt", 500),
}
BENCH_PP = "\n".join(line for line in read_fixture("bench_md_overflow.txt").split("\n") if "|  99 |" not in line)


# The hybrid fixtures' load lines, and what the same build prints for the CPU-only and GPU-only tests.
HYBRID_LOAD = (
    "llm_load_tensors: offloading 15 repeating layers to GPU\n"
    "llm_load_tensors: offloaded 15/49 layers to GPU\n"
    "llm_load_tensors:        CPU buffer size =   166.92 MiB\n"
    "llm_load_tensors:        AMX buffer size = 11329.63 MiB\n"
    "llm_load_tensors:      CUDA0 buffer size =  5072.01 MiB\n"
)
MODE_LOAD = {
    "cpu": (
        "llm_load_tensors: offloaded 0/49 layers to GPU\n"
        "llm_load_tensors:        CPU buffer size =   166.92 MiB\n"
        "llm_load_tensors:        AMX buffer size = 16401.64 MiB\n"
    ),
    "gpu": (
        "llm_load_tensors: offloading 48 repeating layers to GPU\n"
        "llm_load_tensors: offloading non-repeating layers to GPU\n"
        "llm_load_tensors: offloaded 49/49 layers to GPU\n"
        "llm_load_tensors:        CPU buffer size =   166.92 MiB\n"
        "llm_load_tensors:      CUDA0 buffer size = 16401.64 MiB\n"
    ),
}


def _test_log(name: str, tokens: int, copies: str = COPIES, mode: str = "hybrid") -> str:
    text = read_fixture(name).replace("/   999 runs", f"/ {tokens - 1:5d} runs")
    text = text.replace("/   499 runs", f"/ {tokens - 1:5d} runs")
    if mode != "hybrid":
        assert HYBRID_LOAD in text
        text = text.replace(HYBRID_LOAD, MODE_LOAD[mode])
    marker = "llama_print_timings:        load" if "llama_print_timings" in text else "llama_perf_sampler_print"
    return text.replace(marker, copies + "\n" + marker, 1)


def _values(kit: SessionKit) -> dict[str, str]:
    return resolve(kit.session.runbook.model, {}, {"session_dir": str(kit.root), "session_id": kit.session.id})


def _backup(kit: SessionKit, result_files: list[str]) -> Path:
    folder = kit.root / "backups" / "amx-scheduler-fix-20251006-144500"
    folder.mkdir(parents=True)
    saved = folder / "ggml-backend.cpp.backup"
    saved.write_text("void ggml_backend_tensor_copy() {}\n")
    (folder / "git-head.txt").write_text("fb91d1c5 Fix AMX+GPU segfault by implementing cpy_tensor\n")
    for name in result_files:
        (folder / name).write_text("output\n")
    kit.session.record(
        ev.BackupMade(
            step="1.1",
            dir=str(folder),
            export="BACKUP_DIR",
            files=[
                {
                    "path": "/repo/ggml/src/ggml-backend.cpp",
                    "backup": str(saved),
                    "sha256": hashlib.sha256(saved.read_bytes()).hexdigest(),
                    "size": 36,
                }
            ],
            git={"git-head.txt": hashlib.sha256((folder / "git-head.txt").read_bytes()).hexdigest()},
        )
    )
    kit.passed("1.1", f"backed up 1 file to {folder}")
    return folder


def _run_tests(kit: SessionKit, runbook_file: RunbookFile, copies: dict[str, str] | None = None) -> None:
    for step_id, (name, tokens) in TEST_LOGS.items():
        step = runbook_file.model.step(step_id)
        assert isinstance(step, TestStep)
        text = _test_log(name, tokens, (copies or {}).get(step_id, COPIES), step.mode)
        kit.run(step_id, text, script="./build/bin/llama-cli ...")
        kit.finish(step_id, llama_cli.judge_test(step, llama_cli.parse(text), 0, None, text))


TG_BEFORE = "\n".join(line for line in read_fixture("bench_json.txt").split("\n"))


def _bench(kit: SessionKit, runbook_file: RunbookFile, step_id: str, text: str) -> None:
    """One benchmark run recorded with the runbook's own command, judged as the executor judges it."""
    rb = runbook_file.model
    step = rb.step(step_id)
    assert isinstance(step, BenchmarkStep)
    values = _values(kit)
    kit.run(step_id, text, script=render_shell(step.command, values, rb.args_variables))
    machine = {"cpu_model": "Xeon", "amx_flags": ["amx_tile"], "numa_nodes": [0], "gpus": []}
    kit.finish(step_id, llama_bench.judge_step(step, rb, kit.state, kit.read_log, values, machine=machine))


def _edit(kit: SessionKit) -> None:
    kit.session.record(
        ev.FileEdited(
            step="2.A", path="/repo/ggml/src/ggml-backend.cpp", before_sha256="a", after_sha256="b", how="snippet"
        )
    )


def _run_benchmarks(kit: SessionKit, runbook_file: RunbookFile, edit: bool = True) -> None:
    _bench(kit, runbook_file, "bench-pp-before", read_fixture("bench_csv.txt"))
    _bench(kit, runbook_file, "bench-tg-before", TG_BEFORE)
    if edit:
        _edit(kit)
    _bench(kit, runbook_file, "bench-pp", BENCH_PP)
    _bench(kit, runbook_file, "bench-tg", read_fixture("bench_csv.txt"))


def _complete(kit: SessionKit, runbook_file: RunbookFile) -> Path:
    names = [
        "test_long_prompt.log",
        "test_short_prompt.log",
        "test_cpu_only.log",
        "test_gpu_only.log",
        "test_very_long_prompt.log",
        "bench_prompt.log",
        "bench_generation.log",
        "bench_prompt_before.log",
        "bench_generation_before.log",
    ]
    folder = _backup(kit, names)
    kit.session.record(ev.ApproachChosen(step="2.choose", approach="2.A", reason="weights copied"))
    _run_tests(kit, runbook_file)
    _run_benchmarks(kit, runbook_file)
    kit.session.record(
        ev.CommitMade(
            sha="0123456789abcdef0123",
            subject="Fix AMX+GPU hybrid mode crash with long prompts",
            files=["ggml/src/ggml-backend.cpp"],
            message_sha256="",
            session_trailer="",
            chain_trailer="",
            repo="",
            found_by_trailer=False,
        )
    )
    kit.passed("5.3", "committed: 0123456789ab")
    kit.session.record(
        ev.DocumentUpdated(
            step="5.4",
            path="/repo/AMX_SESSION_CURRENT.md",
            section="AMX+GPU scheduler fix",
            before_sha256="a",
            after_sha256="b",
        )
    )
    kit.passed("5.4", "updated 1 document(s)")
    return folder


def test_a_fresh_session_has_no_verdicts_yet(kit: SessionKit, runbook_file: RunbookFile) -> None:
    results = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)
    assert set(results) == {c.id for c in runbook_file.model.criteria}
    assert {r.status for r in results.values()} == {"unknown"}
    assert "· test-1 (Test 1: Long Prompt (Primary Fix Validation)) not run yet" in results["long-prompts"].evidence


def test_a_complete_session_meets_every_criterion(kit: SessionKit, runbook_file: RunbookFile) -> None:
    _complete(kit, runbook_file)
    results = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)
    assert {cid: r.status for cid, r in results.items() if r.status != "met"} == {}
    assert (
        "✔ test-1: 0 weight copies out of non-host buffers (counted: AMX and other non-host sources); 3 tensor "
        "copies logged, none of a weight"
    ) in results["no-weight-copies"].evidence
    performance = " ".join(results["performance"].evidence)
    assert "tg128 61.26 ± 0.42 t/s (5 repetitions) vs 61.24 ± 0.36 t/s, before the fix (bench-tg-before" in performance
    assert "no significant difference" in performance
    assert results["long-prompts"].evidence[0].startswith("✔ an AMX buffer was in use — test-1: AMX 11329.63 MiB")
    assert any(e.startswith("✔ commit 0123456789ab") for e in results["committed"].evidence)
    assert any("test_very_long_prompt.log" in e for e in results["backup-preserved"].evidence)


def test_a_weight_copy_after_the_fix_is_unmet_with_its_line(kit: SessionKit, runbook_file: RunbookFile) -> None:
    _run_tests(kit, runbook_file, copies={"test-2": COPIES + WEIGHT_COPY})
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["no-weight-copies"]
    assert result.status == "unmet"
    weight = next(e for e in result.evidence if "weight copied" in e)
    assert weight.startswith("✘ test-2: weight copied: blk.0.attn_q.weight AMX → CUDA0 at line ")
    line = int(weight.rsplit(" ", 1)[1])
    log = kit.read_log(kit.state.step("test-2").runs[0]).split("\n")
    assert "[TENSOR_COPY_DEBUG]" in log[line - 1] and "blk.0.attn_q.weight" in log[line]


def test_logs_without_debug_output_cannot_verify_copies(kit: SessionKit, runbook_file: RunbookFile) -> None:
    _run_tests(kit, runbook_file, copies=dict.fromkeys(TEST_LOGS, ""))
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["no-weight-copies"]
    assert result.status == "unknown"
    assert all("no [TENSOR_COPY_DEBUG] output" in e for e in result.evidence)
    assert template_values(runbook_file.model, kit.state, _values(kit), kit.read_log)[
        "evidence.weight_copies"
    ].startswith("not verifiable")


def test_a_skipped_or_failed_test_is_unmet(kit: SessionKit, runbook_file: RunbookFile) -> None:
    _run_tests(kit, runbook_file)
    kit.session.record(ev.StepSkipped(step="test-4", reason="no GPU on this box"))
    text = read_fixture("diag_weight_copy.txt")
    kit.run("test-1", text)
    kit.finish(
        "test-1",
        llama_cli.judge_test(
            runbook_file.model.step("test-1"),  # type: ignore[arg-type]
            llama_cli.parse(text),
            134,
            None,
            text,
        ),
    )
    results = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)
    assert results["no-regressions"].status == "unmet"
    assert (
        "✘ test-4 (Test 4: GPU-Only Mode (Regression Check)) was skipped: no GPU on this box"
        in results["no-regressions"].evidence
    )
    assert results["no-crashes"].status == "unmet"
    assert results["no-weight-copies"].status == "unmet"


def test_backup_with_a_changed_file_is_unmet(kit: SessionKit, runbook_file: RunbookFile) -> None:
    folder = _complete(kit, runbook_file)
    (folder / "ggml-backend.cpp.backup").write_text("edited after the backup\n")
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["backup-preserved"]
    assert result.status == "unmet"
    assert "✘ ggml-backend.cpp.backup is missing or changed since the backup" in result.evidence


def test_a_persons_tick_decides_a_manual_criterion_and_sits_beside_a_checked_one(
    tmp_path: Path, state_dir: Path, runbook_file: RunbookFile
) -> None:
    manual = "criteria:\n  - id: reviewed\n    text: Reviewed by a colleague\n"
    text = runbook_file.text.replace("criteria:\n", manual, 1)
    runbook = load_text(text)
    session = Session.create(state_dir, runbook)
    try:
        kit = SessionKit(session, tmp_path)
        assert criteria.evaluate(runbook.model, kit.state, kit.read_log)["reviewed"].status == "manual"
        session.record(ev.CriterionTicked(criterion="reviewed", ticked=True, note="Ana read the diff"))
        session.record(ev.CriterionTicked(criterion="committed", ticked=True, note="pushed by hand"))
        results = criteria.evaluate(runbook.model, kit.state, kit.read_log)
    finally:
        session.close()
    assert results["reviewed"].status == "met" and results["reviewed"].ticked_by_person
    assert results["reviewed"].evidence[0].endswith(": Ana read the diff")
    assert results["committed"].status == "unknown" and results["committed"].ticked_by_person
    assert results["committed"].evidence[-1].endswith(": pushed by hand")


def _text_templates(runbook_file: RunbookFile) -> list[str]:
    out = []
    for _, step in runbook_file.model.iter_steps():
        if isinstance(step, CommitStep):
            out.append(step.message)
        if isinstance(step, DocsStep):
            out += [doc.content for doc in step.documents]
        if isinstance(step, FormStep) and step.output is not None:
            out.append(step.output.template)
    return out


def test_every_dotted_name_is_provided_and_never_empty(kit: SessionKit, runbook_file: RunbookFile) -> None:
    values = template_values(runbook_file.model, kit.state, _values(kit), kit.read_log)
    for namespace, names in NAMESPACES.items():
        for name in names or ():
            assert values[f"{namespace}.{name}"].strip(), f"{namespace}.{name}"
    for field_id, fld in runbook_file.model.fields.items():
        # a required field still open is a visible gap; an optional one left alone simply means none
        assert values[f"answers.{field_id}"] == ("(not answered)" if fld.required else "(none)")
    assert values["evidence.tg_tps"] == "(not measured)" and values["approach.letter"] == "(not chosen)"
    for template in _text_templates(runbook_file):
        assert all(name in values for name in placeholders(template))
        rendered = render_text(template, values)
        assert "{{" not in rendered and "[FILL IN]" not in rendered


def test_values_after_a_complete_session(kit: SessionKit, runbook_file: RunbookFile) -> None:
    folder = _complete(kit, runbook_file)
    kit.session.record(
        ev.FieldAnswered(step="1.6", field="tensor", value="blk.0.attn_q.weight", suggested="blk.0.attn_q.weight")
    )
    kit.session.record(ev.FieldAnswered(step="5.3", field="other_files", value="", suggested=None))
    values = template_values(runbook_file.model, kit.state, _values(kit), kit.read_log)
    assert values["evidence.tg_tps"] == "61.26"
    assert values["evidence.baseline_tps"] == "61.24"  # bench-tg-before's tg128, the run it was judged against
    assert values["evidence.tg_vs_baseline"].startswith("+0.0%, no significant difference (vs before the fix ")
    assert values["evidence.pp_tps"] == "806.14" and values["evidence.pp_ms_per_token"] == "1.24"
    assert values["evidence.weight_copies"] == "none out of non-host buffers (logs of test-1, test-2, test-5 checked)"
    assert (values["approach.id"], values["approach.letter"]) == ("2.A", "A")
    assert values["approach.title"] == "Filter Weight Tensors from Copy Operations"
    assert values["answers.tensor"] == "blk.0.attn_q.weight" and values["answers.other_files"] == "(none)"
    assert values["session.backup_dir"] == str(folder) and values["session.id"] == kit.session.id
    summary = values["evidence.tests_summary"].split("\n")
    assert len(summary) == 5 and all(line.startswith("- ✅ Test ") for line in summary)
    assert summary[0] == "- ✅ Test 1: Long Prompt (Primary Fix Validation) — 1000/1000 tokens, 61.22 t/s"


def test_a_failed_test_is_never_summarised_as_passed(kit: SessionKit, runbook_file: RunbookFile) -> None:
    text = read_fixture("diag_weight_copy.txt")
    kit.run("test-1", text)
    kit.finish(
        "test-1",
        llama_cli.judge_test(
            runbook_file.model.step("test-1"),  # type: ignore[arg-type]
            llama_cli.parse(text),
            134,
            None,
            text,
        ),
    )
    lines = template_values(runbook_file.model, kit.state, _values(kit), kit.read_log)["evidence.tests_summary"]
    assert lines.split("\n")[0].startswith("- ❌ Test 1: Long Prompt (Primary Fix Validation) — failed: crashed")
    assert lines.split("\n")[1] == "- ❌ Test 2: Short Prompt (Regression Check) — not run"


@pytest.mark.parametrize(
    ("step_id", "findings", "approach", "expected"),
    [
        ("test-1", ["crash"], "2.A", ["still-crashing"]),
        ("test-1", ["crash"], "2.C", []),
        ("test-3", ["crash"], "2.A", []),
        ("bench-tg", ["slow"], None, ["performance-degraded"]),
        ("1.4", ["build_failed"], None, ["build-fails"]),
        ("1.5", ["weight_copy", "unknown_weight_name"], None, ["different-tensor"]),
        ("test-2", ["flag_rejected"], "2.A", []),
    ],
)
def test_troubleshooting_that_matches(
    kit: SessionKit,
    runbook_file: RunbookFile,
    step_id: str,
    findings: list[str],
    approach: str | None,
    expected: list[str],
) -> None:
    if approach:
        kit.session.record(ev.ApproachChosen(step="2.choose", approach=approach, reason=""))
    entries = matching(runbook_file.model, kit.state, step_id, findings)
    assert [e.id for e in entries] == expected
    if expected == ["still-crashing"]:
        assert entries[0].goto == "2.B"


def test_benchmark_history_keeps_every_run_in_order(kit: SessionKit, runbook_file: RunbookFile) -> None:
    first = kit.run("bench-tg", read_fixture("bench_json.txt"), script="./build/bin/llama-bench -n 128")
    kit.run("test-2", read_fixture("cli_clean_old_timings.txt"), script="./build/bin/llama-cli -n 100")
    second = kit.run("bench-tg", read_fixture("bench_csv.txt"), script="./build/bin/llama-bench -n 128")
    runs = llama_bench.session_runs(kit.state, kit.read_log)
    assert [r.run_id for r in runs] == [*first, *second]
    assert [r.avg_ts for r in llama_bench.session_rows(kit.state, kit.read_log, test="tg128")] == [61.239811, 61.262317]
    assert [r.avg_ts for r in llama_bench.session_rows(kit.state, kit.read_log, test="tg128", exclude=second)] == [
        61.239811
    ]
    assert kit.state.step("bench-tg").runs == second  # the step shows its latest attempt; the history keeps both


def test_performance_is_not_met_without_a_run_before_the_fix(kit: SessionKit, runbook_file: RunbookFile) -> None:
    """Benchmarks that only ran after the fix are measured, not shown to keep their speed."""
    _bench(kit, runbook_file, "bench-tg", read_fixture("bench_csv.txt"))
    tg = kit.state.step("bench-tg")
    assert tg.status.value == "passed" and tg.evidence["level"] == "warn" and tg.evidence["comparison"] is None
    assert "not comparable: measured on Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf on Xeon; NUMA node 0" in tg.summary
    result = criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["performance"]
    assert result.status == "unknown"
    assert result.evidence[0].startswith("· bench-tg (Benchmark: Token Generation) measured, but not shown to keep")
    values = template_values(runbook_file.model, kit.state, _values(kit), kit.read_log)
    assert values["evidence.baseline_tps"] == "(nothing comparable)"
    assert values["evidence.tg_vs_baseline"].startswith("not comparable: measured on Qwen3-30B")


def test_benchmarks_before_and_after_without_an_edit_are_a_repeat(kit: SessionKit, runbook_file: RunbookFile) -> None:
    _run_benchmarks(kit, runbook_file, edit=False)
    tg = kit.state.step("bench-tg")
    assert tg.evidence["basis"] == "earlier_run" and tg.evidence["level"] == "warn"
    assert tg.evidence["comparison"]["verdict"] == "no significant difference"
    assert "as far as the session knows, this compares the build with itself, not the fix" in tg.summary
    assert criteria.evaluate(runbook_file.model, kit.state, kit.read_log)["performance"].status == "unknown"


def test_a_before_benchmark_after_an_edit_is_not_a_before_measurement(
    kit: SessionKit, runbook_file: RunbookFile
) -> None:
    _edit(kit)
    _bench(kit, runbook_file, "bench-tg-before", TG_BEFORE)
    tg = kit.state.step("bench-tg-before")
    assert tg.status.value == "failed"
    assert "not a measurement before the fix: /repo/ggml/src/ggml-backend.cpp was edited before this run" in tg.summary
