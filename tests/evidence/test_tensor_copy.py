"""The diagnostic log: [TENSOR_COPY_DEBUG] blocks, the findings, and the analysis form's pre-fill."""

from __future__ import annotations

import pytest

from amxwizard.engine.evidence import tensor_copy
from amxwizard.engine.evidence._text import log_lines

from .conftest import read_fixture


def test_weight_copy_is_found_with_its_line() -> None:
    text = read_fixture("diag_weight_copy.txt")
    report = tensor_copy.parse(text)
    lines = log_lines(text)
    assert [c.name for c in report.copies] == ["inp_pos", "l_out-32", "blk.0.attn_q.weight"]
    first = report.first_weight
    assert first is not None
    assert (first.name, first.src_buffer, first.dst_buffer, first.size, first.op) == (
        "blk.0.attn_q.weight",
        "AMX",
        "CUDA0",
        4718592,
        "NONE",
    )
    assert first.from_host is False and first.is_bug and not first.is_offload
    assert first.flagged and first.slow_path
    assert tensor_copy.MARKER in lines[first.line - 1]
    assert "blk.0.attn_q.weight" in lines[first.line]
    assert [c.name for c in report.weights] == ["blk.0.attn_q.weight"]
    assert report.buffer_pairs == {"CPU → CUDA0": 2, "AMX → CUDA0": 1}
    assert report.ops == {"NONE": 2, "ADD": 1}
    assert report.findings() == ["weight_copy"]
    assert "1 weight copy out of a non-host buffer (the bug: AMX → CUDA0 ×1)" in report.headline()
    assert "first: blk.0.attn_q.weight AMX → CUDA0 at line" in report.headline()  # a weight's NONE op is not shown


def test_suggestion_prefills_the_form_from_the_first_weight_copy() -> None:
    report = tensor_copy.parse(read_fixture("diag_weight_copy.txt"))
    suggestion = tensor_copy.suggest(report)
    assert suggestion.values["tensor"] == "blk.0.attn_q.weight"
    assert suggestion.values["src_buffer"] == "AMX"
    assert suggestion.values["dst_buffer"] == "CUDA0"
    assert suggestion.values["op"] == tensor_copy.OP_NOT_LOGGED  # never "NONE", which is the weight's own op
    assert suggestion.values["approach"] == "B" == suggestion.approach
    assert "cannot be read back" in suggestion.values["root_cause"]
    assert suggestion.line == report.first_weight.line  # type: ignore[union-attr]
    assert "the weight's buffer must be a host buffer" in suggestion.reason
    assert "Approach A only turns this copy into an assert (still an abort)" in suggestion.reason


def test_a_weight_out_of_a_host_buffer_is_designed_offload() -> None:
    text = BLOCK.format(name="blk.2.ffn_up.weight", op="NONE").replace("Src buffer: AMX", "Src buffer: CPU_Mapped")
    report = tensor_copy.parse(text)
    assert report.offloaded_weights and not report.bug_weights
    assert report.findings() == ["weight_offload"]
    assert "out of host buffers (CPU_Mapped → CUDA0 ×1: the scheduler's designed op offload)" in report.headline()
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach is None and "approach" not in suggestion.values


@pytest.mark.parametrize(
    ("buffer", "host"),
    [("CPU", True), ("CPU_Mapped", True), ("CUDA_Host", True), ("AMX", False), ("CPU_REPACK", False), ("CUDA0", False)],
)
def test_host_buffers_are_the_ones_the_cpu_reads_as_they_are(buffer: str, host: bool) -> None:
    assert tensor_copy.TensorCopy(1, "blk.0.attn_q.weight", buffer, "CUDA0").from_host is host


def test_log_without_weight_copies_suggests_nothing() -> None:
    report = tensor_copy.parse(read_fixture("diag_no_weight_copy.txt"))
    assert [c.name for c in report.copies] == ["inp_pos", "l_out-32", "KQ_mask"]
    assert report.weights == [] and report.findings() == []
    assert report.debug_output
    suggestion = tensor_copy.suggest(report)
    assert suggestion.values == {} and suggestion.approach is None and suggestion.line is None
    assert "none of a weight" in suggestion.reason


def test_log_without_debug_output_says_the_debug_build_was_missing() -> None:
    report = tensor_copy.parse(read_fixture("cli_clean_old_timings.txt"))
    assert not report.debug_output
    assert "debug build" in tensor_copy.suggest(report).reason
    assert "no [TENSOR_COPY_DEBUG] output" in report.headline()


BLOCK = """[TENSOR_COPY_DEBUG] Copying tensor:
  Name: {name}
  Src buffer: AMX
  Dst buffer: CUDA0
  Size: 1024 bytes
  Op: {op}
"""


def test_weight_the_filter_would_miss_is_unknown_weight_name() -> None:
    text = BLOCK.format(name="blk.3.ssm_a", op="SSM_SCAN") + "\n" + BLOCK.format(name="Qcur-3", op="MUL_MAT")
    report = tensor_copy.parse(text)
    assert [c.is_weight for c in report.copies] == [True, False]
    assert report.findings() == ["weight_copy", "unknown_weight_name"]
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach == "B"
    assert "blk.3.ssm_a" in suggestion.reason and "name patterns" in suggestion.reason


def test_weights_the_filter_catches_are_not_unknown() -> None:
    for name in (
        "token_embd.weight",
        "output.weight",
        "blk.0.ffn_down_exps.weight",
        "CUDA0#blk.0.attn_q.weight#0",
        "blk.1.attn_k.bias (view)",
    ):
        report = tensor_copy.parse(BLOCK.format(name=name, op="MUL_MAT"))
        assert report.findings() == ["weight_copy"], name
    # A PARAM-flagged tensor: the debug code warned, and the filter checks the same flag.
    flagged = BLOCK.format(name="rope_freqs", op="NONE") + "  ⚠️  WARNING: This appears to be a WEIGHT tensor!\n"
    assert tensor_copy.parse(flagged).findings() == ["weight_copy"]


def test_guard_of_approach_a_suggests_b() -> None:
    text = (
        "ERROR: Attempted to copy weight tensor 'blk.0.attn_q.weight' between backends\n"
        "       Weights should remain on their allocated backend.\n"
        "       This indicates a scheduler bug.\n"
        'ggml/src/ggml-backend.cpp:377: GGML_ASSERT(false && "Weight tensors should not be copied") failed\n'
    )
    report = tensor_copy.parse(text)
    assert report.blocked[0].name == "blk.0.attn_q.weight" and report.blocked[0].line == 1
    suggestion = tensor_copy.suggest(report)
    assert suggestion.approach == "B" and suggestion.values["approach"] == "B"
    assert suggestion.line == 1


def test_blocks_survive_grep_separators_ansi_and_interleaved_output() -> None:
    text = (
        "--\n\x1b[0m"
        + BLOCK.format(name="inp_embd", op="GET_ROWS").replace("  Size", " token text\n  Size")
        + "--\n"
        + BLOCK.format(name="blk.7.ffn_up_exps.weight", op="MUL_MAT_ID")
        + "\r\n"
    )
    report = tensor_copy.parse(text)
    assert [(c.name, c.size, c.op) for c in report.copies] == [
        ("inp_embd", 1024, "GET_ROWS"),
        ("blk.7.ffn_up_exps.weight", 1024, "MUL_MAT_ID"),
    ]
    assert report.copies[1].line == 10


def test_evidence_is_plain_json() -> None:
    import json

    evidence = tensor_copy.parse(read_fixture("diag_weight_copy.txt")).as_evidence()
    assert json.loads(json.dumps(evidence)) == evidence
    assert evidence["weights"] == 1 and evidence["first_weight"]["name"] == "blk.0.attn_q.weight"


def test_the_whole_log_is_diagnosed_with_its_buffers_and_prompt() -> None:
    from .real import ik

    diagnosis = tensor_copy.diagnose_log(ik("diagnostic_run.log"))
    assert diagnosis.cpu_layers == range(0, 9) and diagnosis.prompt_tokens == 696 and diagnosis.n_ubatch == 512
    evidence = diagnosis.as_evidence()
    assert evidence["weights_from_host"] == 162 and evidence["weights_from_nonhost"] == 0
    assert evidence["during_prompt"] is True and evidence["cpu_layers"] == [0, 8]
    assert evidence["summary"] == diagnosis.summary() and evidence["reading"] == diagnosis.lines()
