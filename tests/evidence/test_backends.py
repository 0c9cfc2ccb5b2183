"""What a run used, read from its log: buffers, offloaded layers, devices; and whether it was the mode asked for."""

from __future__ import annotations

import json

import pytest

from amxwizard.engine.evidence import backends

FIT_THEN_LOAD = """\
0.00.285.794 I load_tensors: offloaded 15/25 layers to GPU
0.00.285.799 I load_tensors:          AMX model buffer size =     0.00 MiB
0.00.285.800 I load_tensors:        CUDA0 model buffer size =     0.00 MiB
0.00.297.381 I load_tensors: offloading 14 repeating layers to GPU
0.00.297.382 I load_tensors: offloaded 15/25 layers to GPU
0.00.297.384 I load_tensors:          AMX model buffer size =    90.00 MiB
0.00.297.386 I load_tensors:        CUDA0 model buffer size =   126.36 MiB
0.00.329.741 I llama_context:  CUDA_Host  output buffer size =     0.00 MiB
0.00.329.925 I llama_kv_cache:        CPU KV buffer size =   160.00 MiB
0.00.403.563 I sched_reserve:      CUDA0 compute buffer size =    36.56 MiB
"""


def test_the_last_load_counts_and_empty_buffers_are_not_in_use() -> None:
    use = backends.parse(FIT_THEN_LOAD)
    assert [(b.name, b.kind, b.mib, b.line) for b in use.buffers] == [
        ("AMX", "model", 90.0, 6),
        ("CUDA0", "model", 126.36, 7),
        ("CUDA_Host", "output", 0.0, 8),
        ("CPU", "KV", 160.0, 9),
        ("CUDA0", "compute", 36.56, 10),
    ]
    assert [b.name for b in use.in_use()] == ["AMX", "CUDA0", "CPU", "CUDA0"]
    assert use.offload_line is not None and use.offload_line.line == 5
    assert [b.name for b in use.gpu_model_buffers] == ["CUDA0"] and [b.name for b in use.amx_buffers] == ["AMX"]
    assert json.loads(json.dumps(use.as_json())) == use.as_json()


def test_sizes_in_other_units_are_mib() -> None:
    use = backends.parse("llm_load_tensors:        CPU buffer size =  2.00 GiB\nx:  CUDA0 KV buffer size = 512 KiB\n")
    assert [(b.name, b.kind, b.mib) for b in use.buffers] == [("CPU", "model", 2048.0), ("CUDA0", "KV", 0.5)]


def test_an_older_log_says_nothing_and_nothing_is_assumed() -> None:
    use = backends.parse("main: build = 1 (abc)\nllama_print_timings: eval time = 1.0 ms / 9 runs\n")
    assert not use.reported and use.mode() is None and use.cpu_layers is None
    assert use.describe() == "the log does not say which backends were used"
    for mode in ("hybrid", "gpu", "cpu"):
        check = backends.check_mode(mode, use)  # type: ignore[arg-type]
        assert check.ok is None and check.summary.startswith(f"cannot tell whether the run was {mode}")


@pytest.mark.parametrize(
    ("name", "host", "gpu"),
    [
        ("CPU", True, False),
        ("CPU_Mapped", True, False),
        ("CUDA_Host", True, False),
        ("ROCm_Host", True, False),
        ("AMX", False, False),
        ("CPU_REPACK", False, False),
        ("CUDA0", False, True),
        ("CUDA1", False, True),
        ("Vulkan0", False, True),
        ("Metal", False, True),
    ],
)
def test_which_buffers_are_host_memory_and_which_are_a_gpu(name: str, host: bool, gpu: bool) -> None:
    assert backends.is_host_buffer(name) is host and backends.is_gpu_buffer(name) is gpu


def _use(offloaded: int, *buffers: tuple[str, float]) -> backends.BackendUse:
    lines = [f"llm_load_tensors: offloaded {offloaded}/25 layers to GPU"]
    lines += [f"llm_load_tensors: {name:>10} buffer size = {mib:10.2f} MiB" for name, mib in buffers]
    return backends.parse("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("mode", "use", "ok", "says"),
    [
        ("hybrid", _use(15, ("CPU", 5.9), ("CUDA0", 9.4)), True, "hybrid as intended: 15/25 layers on the GPU"),
        ("hybrid", _use(15, ("CPU", 5.9)), False, "not hybrid: offloaded 15/25 layers to GPU (log line 1), but no"),
        ("hybrid", _use(0, ("CPU", 15.3)), False, "the run was CPU-only"),
        ("hybrid", _use(25, ("CUDA0", 15.3)), False, "the run was GPU-only"),
        ("gpu", _use(25, ("CPU", 0.1), ("CUDA0", 15.2)), True, "GPU-only as intended: 25/25"),
        ("gpu", _use(24, ("CPU", 0.2), ("CUDA0", 15.1)), False, "not GPU-only: offloaded 24/25 layers"),
        ("cpu", _use(0, ("CPU", 15.3), ("CUDA0", 0.0)), True, "CPU-only as intended: 0/25 layers on the GPU"),
        ("cpu", _use(25, ("CPU", 0.1), ("CUDA0", 15.2)), False, "not CPU-only: offloaded 25/25 layers"),
    ],
)
def test_the_mode_is_judged_from_layers_and_gpu_buffers(
    mode: backends.Mode, use: backends.BackendUse, ok: bool, says: str
) -> None:
    check = backends.check_mode(mode, use)
    assert check.ok is ok and says in check.summary, check.summary


def test_cpu_layers_are_the_first_ones() -> None:
    use = backends.parse("llm_load_print_meta: n_layer          = 48\nx: offloading 15 repeating layers to GPU\n")
    assert use.cpu_layers == range(0, 33)
