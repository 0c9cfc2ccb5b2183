"""Preflight and NUMA: the nodes the commands bind to, held against ``numactl --hardware`` or /sys."""

from __future__ import annotations

from pathlib import Path

import pytest

from amxwizard.engine.preflight import Check, run_preflight
from amxwizard.engine.preflight.build import CudaMachine
from amxwizard.engine.preflight.numa import parse_nodes
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.variables import resolve

NO_CUDA = CudaMachine(None, (), "no GPU (test)")
# `numactl --hardware` of a two-node machine, as numactl 2.0 prints it
HARDWARE = """\
available: 2 nodes (0-1)
node 0 cpus: 0 1 2 3 4 5 6 7
node 0 size: 257614 MB
node 0 free: 250021 MB
node 1 cpus: 8 9 10 11 12 13 14 15
node 1 size: 258041 MB
node 1 free: 251774 MB
node distances:
node   0   1
  0:  10  21
  1:  21  10
"""


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a numactl that reports two nodes (and runs nothing), and an empty repo to point at."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    numactl = bin_dir / "numactl"
    numactl.write_text(f"#!/bin/sh\ncase \"$1\" in --hardware|-H) cat <<'EOF'\n{HARDWARE}EOF\n;; esac\n")
    numactl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    (tmp_path / "repo").mkdir()
    return tmp_path


def _numa(runbook_file: RunbookFile, root: Path, sys_nodes: Path | None = None, **overrides: str) -> list[Check]:
    values = resolve(runbook_file.model, {"repo": str(root / "repo"), "cmake": "true", **overrides})
    checks = run_preflight(runbook_file, values, machine=NO_CUDA, sys_nodes=sys_nodes or root / "no-sys")
    return [c for c in checks if c.name.startswith("numa ")]


def test_a_missing_node_is_named_with_the_value_that_fixes_it(runbook_file: RunbookFile, machine: Path) -> None:
    [check] = _numa(runbook_file, machine)  # the runbook's default: numactl -N 2,3 -m 2,3
    assert check.name == "numa nodes 2,3"
    assert check.status == "fail"
    assert check.finding.startswith(
        "nodes 2, 3 do not exist: this machine has nodes 0, 1 (numactl --hardware: available: 2 nodes (0-1)); "
        "numactl refuses the commands of steps bench-pp-before, bench-tg-before, 1.5, test-1, test-2, test-3, test-5, "
        "bench-pp, bench-tg, 5.2"
    )
    assert check.fixes == {"numa_nodes": "0,1"}  # numactl's default is made from numa_nodes
    assert check.finding.endswith("set numa_nodes=0,1")


def test_which_nodes_exist_is_said(runbook_file: RunbookFile, machine: Path) -> None:
    [check] = _numa(runbook_file, machine, numa_nodes="1,2")
    assert check.status == "fail"
    assert check.finding.startswith("node 2 does not exist; 1 does: this machine has nodes 0, 1")
    assert check.fixes == {"numa_nodes": "1"}
    [ok] = _numa(runbook_file, machine, numa_nodes="0-1")
    assert ok.status == "ok" and ok.finding.startswith("nodes 0, 1 exist (this machine has nodes 0, 1")
    # a numactl prefix typed out in full is fixed in place
    [typed] = _numa(runbook_file, machine, numactl="numactl --cpunodebind=3 --membind=3")
    assert typed.fixes == {"numactl": "numactl --cpunodebind=0,1 --membind=0,1"}
    assert _numa(runbook_file, machine, numactl="") == []  # no numactl, nothing to check


def test_without_numactl_the_nodes_come_from_sys(
    runbook_file: RunbookFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin" if not Path("/usr/bin/numactl").exists() else str(tmp_path))
    (tmp_path / "repo").mkdir()
    sys_nodes = tmp_path / "node"
    for node, cpus in (("node0", "0-7\n"), ("node1", "\n")):  # node 1: memory only (CXL), no CPUs
        (sys_nodes / node).mkdir(parents=True)
        (sys_nodes / node / "cpulist").write_text(cpus)
    (sys_nodes / "possible").write_text("0-1\n")
    [check] = _numa(runbook_file, tmp_path, sys_nodes, numa_nodes="0,1")
    assert check.status == "fail"
    assert check.finding.startswith(
        f"0, 1 do; 1 has no CPUs to run on (-N): this machine has nodes 0, 1 ({sys_nodes}: 2 nodes)"
    )
    assert check.fixes == {"numa_nodes": "0"}
    [unknown] = _numa(runbook_file, tmp_path, tmp_path / "nothing-here")
    assert unknown.status == "warn" and unknown.finding.startswith("not checked: neither numactl --hardware nor")


def test_node_lists() -> None:
    assert parse_nodes("2,3") == {2, 3}
    assert parse_nodes("0-3,8") == {0, 1, 2, 3, 8}
    assert parse_nodes("all") is None and parse_nodes("+1") is None and parse_nodes("!0") is None
