"""Preflight reads the scheduler and the AMX backend: which case a checkout is, with the lines that say so.

The trees are written here from fixtures shaped like ik_llama.cpp (op offload without the host-buffer guard, no
AMX backend), mainline llama.cpp (guard present, AMX buffer type) and a fork (renamed scheduler, AMX, no guard).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.engine.edits import plan_step
from amxwizard.engine.ggml_tree import find_amx_buffer_types, find_scheduler, read_scheduler
from amxwizard.engine.preflight import Check, run_preflight
from amxwizard.engine.preflight.build import CudaMachine
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCHED = FIXTURES / "sched"
AMX_CPU = FIXTURES / "report" / "cpuinfo-sapphire-rapids.txt"
NO_CUDA = CudaMachine(None, (), "no GPU (test)")
IK_CONDITION_LINE = 1377  # where today's ik_llama.cpp has it


def _ik_backend() -> str:
    """The ik-shaped scheduler with the offload condition at line 1377, as in ik_llama.cpp 8337e4cd3."""
    text = (SCHED / "ik_sched.cpp").read_text()
    at = text.splitlines().index("            if (offload_enabled && src_backend_id == sched->n_backends - 1) {") + 1
    filler = "".join(f"static int filler_{i}(void) {{ return {i}; }}\n" for i in range(IK_CONDITION_LINE - at))
    return filler + text


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def ik_tree(tmp_path: Path) -> Path:
    return _tree(
        tmp_path / "ik",
        {
            "ggml/src/ggml-backend.cpp": _ik_backend(),
            "ggml/src/ggml.c": (SCHED / "cpu_features.c").read_text(),  # mentions AMX; no buffer type
        },
    )


@pytest.fixture
def mainline_tree(tmp_path: Path) -> Path:
    return _tree(
        tmp_path / "mainline",
        {
            "ggml/src/ggml-backend.cpp": (SCHED / "mainline_sched.cpp").read_text(),
            "ggml/src/ggml-cpu/amx/amx.cpp": (SCHED / "fork_amx.cpp").read_text(),
        },
    )


@pytest.fixture
def fork_tree(tmp_path: Path) -> Path:
    return _tree(
        tmp_path / "fork",
        {
            "ggml/src/sched.cpp": (SCHED / "fork_sched.cpp").read_text(),
            "ggml/src/amx/buffer.cpp": (SCHED / "fork_amx.cpp").read_text(),
            "build/ggml/src/ignored.cpp": (SCHED / "fork_amx.cpp").read_text(),  # build output: not the sources
        },
    )


def _checks(runbook_file: RunbookFile, repo: Path, cpuinfo: Path = AMX_CPU) -> dict[str, Check]:
    values = resolve(runbook_file.model, {"repo": str(repo), "numactl": "", "cmake": "true"})
    return {c.name: c for c in run_preflight(runbook_file, values, machine=NO_CUDA, cpuinfo=cpuinfo)}


def test_ik_shaped_tree_offload_without_the_guard_and_no_amx_backend(runbook_file: RunbookFile, ik_tree: Path) -> None:
    checks = _checks(runbook_file, ik_tree)
    scheduler = checks["scheduler"]
    assert scheduler.status == "warn"
    assert scheduler.finding.startswith(
        "op offload decided in ggml_backend_sched_backend_id_from_cur (ggml/src/ggml-backend.cpp lines "
    )
    assert (
        f"line {IK_CONDITION_LINE}: if (offload_enabled && src_backend_id == sched->n_backends - 1): without the "
        "host-buffer guard (ggml_backend_buffer_is_host(src->buffer))" in scheduler.finding
    )
    # the evidence is the real lines, at their real numbers
    text = (ik_tree / "ggml/src/ggml-backend.cpp").read_text().splitlines()
    assert f"ggml/src/ggml-backend.cpp:{IK_CONDITION_LINE}: {text[IK_CONDITION_LINE - 1].strip()}" in scheduler.evidence
    assert all(text[int(line.split(":")[1]) - 1].strip() == line.split(": ", 1)[1] for line in scheduler.evidence), (
        scheduler.evidence
    )
    amx = checks["amx backend"]
    assert amx.status == "warn"
    assert amx.finding.startswith(
        "no AMX backend: the runbook's crash cannot happen on this checkout; AMX criteria will be not applicable"
    )
    crash = checks["crash case"]
    assert crash.status == "warn" and crash.finding.startswith("cannot crash this way: no AMX backend")


def test_mainline_shaped_tree_guard_present(runbook_file: RunbookFile, mainline_tree: Path) -> None:
    checks = _checks(runbook_file, mainline_tree)
    scheduler = checks["scheduler"]
    assert scheduler.status == "ok"
    assert "guard present" in scheduler.finding
    assert (
        "if (sched->op_offload && src_backend_id == sched->n_backends - 1 && ggml_backend_buffer_is_host(src->buffer))"
        in scheduler.finding
    )
    amx = checks["amx backend"]
    assert amx.status == "ok"
    assert amx.finding.startswith(
        "AMX buffer type in the sources (ggml_backend_amx_buffer_type at ggml/src/ggml-cpu/amx/amx.cpp:19)"
    )
    assert "this CPU has amx_bf16 amx_int8 amx_tile" in amx.finding
    crash = checks["crash case"]
    assert crash.status == "warn"
    assert crash.finding.startswith("cannot crash this way: guard present at line 62")
    # approach B then has nothing to apply
    values = resolve(runbook_file.model, {"repo": str(mainline_tree)})
    [planned] = plan_step(runbook_file.model.step("2.B"), values)
    assert not planned.changed and planned.problems == ()
    assert "already applied: the op-offload condition in ggml_backend_sched_backend_id_from_cur" in planned.notes[0]


def test_fork_with_amx_and_no_guard_will_crash_for_large_batches(runbook_file: RunbookFile, fork_tree: Path) -> None:
    checks = _checks(runbook_file, fork_tree)
    assert checks["scheduler"].finding.startswith("op offload decided in fork_sched_pick_backend (ggml/src/sched.cpp")
    crash = checks["crash case"]
    assert crash.status == "ok"
    assert crash.finding.startswith("will crash for batches of 32 tokens or more: an AMX buffer type, and the op")
    assert "ggml/src/sched.cpp:41: if (sched->op_offload &&" in crash.evidence
    assert any(line.startswith("ggml/src/amx/buffer.cpp:") for line in crash.evidence)
    assert not any("build/" in line for line in crash.evidence)
    # the same tree on a CPU without AMX: the checkout would crash, this machine cannot
    plain = fork_tree.parent / "cpuinfo"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    crash = _checks(runbook_file, fork_tree, plain)["crash case"]
    assert crash.status == "warn" and "this CPU has none, so not on this machine" in crash.finding


def test_the_scheduler_is_found_by_what_it_does_not_by_its_name() -> None:
    fork = read_scheduler((SCHED / "fork_sched.cpp").read_text())
    assert fork is not None and fork.function.name == "fork_sched_pick_backend"
    assert fork.offload is not None and fork.offload.src_name == "w" and not fork.offload.guarded
    assert fork.offload.text == "sched->op_offload && w_id == sched->n_backends - 1"
    # a function that only counts weights is not the scheduler, nor is a comment or a string that names it
    assert (fork.loop_line, fork.weights_line, fork.offload.line) == (36, 39, 41)
    ik = read_scheduler((SCHED / "ik_sched.cpp").read_text())
    assert ik is not None and ik.function.name == "ggml_backend_sched_backend_id_from_cur"
    assert ik.offload is not None and ik.offload.line == 69 and ik.offload.call_line == 71
    mainline = read_scheduler((SCHED / "mainline_sched.cpp").read_text())
    assert mainline is not None and mainline.offload is not None and mainline.offload.guard_line == 62
    # a negated host check is no guard
    negated = (
        (SCHED / "mainline_sched.cpp")
        .read_text()
        .replace("&& ggml_backend_buffer_is_host", "&& !ggml_backend_buffer_is_host")
    )
    placement = read_scheduler(negated)
    assert placement is not None and placement.offload is not None and not placement.offload.guarded
    assert read_scheduler((SCHED / "fork_amx.cpp").read_text()) is None


def test_amx_buffer_types_in_code_only(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "ggml/src/a.cpp": (SCHED / "fork_amx.cpp").read_text(),
            "ggml/src/b.c": (SCHED / "cpu_features.c").read_text(),
        },
    )
    found = find_amx_buffer_types(tree)
    assert [(s.path.name, s.line, s.name) for s in found][:1] == [("a.cpp", 19, "ggml_backend_amx_buffer_type")]
    assert {s.line for s in found} == {6, 7, 12, 19}  # the get_name/is_host parts and `return "AMX";`, not comments
    assert (
        find_amx_buffer_types(_tree(tmp_path / "none", {"ggml/src/b.c": (SCHED / "cpu_features.c").read_text()})) == []
    )
    assert find_scheduler(tmp_path / "none") is None
