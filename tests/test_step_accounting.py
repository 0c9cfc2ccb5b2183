"""A step passes only when each of its commands did: step 1.5 through the real ``amxwizard step`` on a rehearsal
sandbox, where numactl is missing, where it is given a NUMA node the machine does not have, and where the program
crashes as the diagnosis expects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
ROOT = Path(__file__).resolve().parent.parent


def path_without_numactl() -> str:
    """$PATH with every folder holding a numactl left out: numactl is not installed, as far as a command can tell."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not (Path(f) / "numactl").exists())


class Wizard:
    def __init__(self, root: Path) -> None:
        self.sandbox: Sandbox = build_sandbox(root / "sandbox")
        self.state = root / "state"
        self.root = root

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AMXWIZARD, *args, "--state-dir", str(self.state), "--runbook", str(ROOT / "runbook.yaml")],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.root,
            env={**os.environ, "AMXWIZARD_NICE": "0", **(env or {})},
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def step_state(self, step: str) -> dict[str, Any]:
        done = self.run("status", "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(done.stdout)["steps"][step]
        return data


@pytest.fixture(scope="module")
def wizard(tmp_path_factory: pytest.TempPathFactory) -> Wizard:
    made = Wizard(tmp_path_factory.mktemp("accounting"))
    variables = [a for name, value in made.sandbox.overrides.items() for a in ("--var", f"{name}={value}")]
    accepted = made.run("setup", *variables, "--accept", "--force")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    backup = made.run("step", "1.1", "--yes")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    return made


def test_step_1_5_fails_naming_numactl_when_numactl_is_missing(wizard: Wizard) -> None:
    done = wizard.run(
        "step", "1.5", "--again", "--var", "numactl=numactl -N 0 -m 0", env={"PATH": path_without_numactl()}
    )

    assert done.returncode == 1, done.stdout + done.stderr
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("1.5: ")]
    assert verdict.startswith("1.5: FAILED — numactl is not installed")
    assert "llama-cli exited" not in verdict and "all commands succeeded" not in verdict
    assert "line 15" in verdict  # the line of the command that ran the diagnostic script
    state = wizard.step_state("1.5")
    assert state["status"] == "failed"
    assert state["evidence"]["failed_line"]["program"] == "numactl"
    assert state["evidence"]["numactl"]["kind"] == "missing"
    assert "numactl_failed" in state["evidence"]["findings"]


def test_step_1_5_fails_naming_numactl_when_a_numa_node_does_not_exist(wizard: Wizard) -> None:
    standin = wizard.sandbox.overrides["numactl"]  # the stand-in numactl, -N 2,3 -m 2,3
    done = wizard.run(
        "step", "1.5", "--again", "--var", f"numactl={standin}", env={"AMXWIZARD_STANDIN_NUMA_NODES": "0"}
    )

    assert done.returncode == 1, done.stdout + done.stderr
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("1.5: ")]
    assert verdict.startswith("1.5: FAILED — numactl refused the NUMA nodes <2,3>")
    assert "llama-cli" not in verdict.split("—")[1].split(":")[0]  # blamed on numactl, not on llama-cli
    state = wizard.step_state("1.5")
    assert state["status"] == "failed"
    assert state["evidence"]["failed_line"]["program"] == "numactl"
    assert state["evidence"]["numactl"]["kind"] == "invalid_nodes"


def test_step_1_5_that_crashes_says_it_crashed_as_expected(wizard: Wizard) -> None:
    done = wizard.run("step", "1.5", "--again", "--var", f"numactl={wizard.sandbox.overrides['numactl']}")

    assert done.returncode == 0, done.stdout + done.stderr
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("1.5: ")]
    assert verdict.startswith("1.5: PASSED — crashed as expected for the diagnosis: line 15")
    assert "SIGABRT" in verdict and "all commands succeeded" not in verdict
    state = wizard.step_state("1.5")
    [crash] = state["evidence"]["expected_crash"]
    assert crash["action"] == "expected_crash" and crash["status"] == 134
    # The line after the crash still ran: the tensor copies were extracted from the diagnostic log.
    backup_dir = json.loads(wizard.run("status", "--json").stdout)["exports"]["BACKUP_DIR"]
    assert (Path(backup_dir) / "tensor_copies.log").is_file()


def test_a_step_whose_program_is_not_found_fails_naming_it(wizard: Wizard, tmp_path: Path) -> None:
    # Step 1.5's script, with the program it runs gone from the build: not found, named, not "all succeeded".
    cli = wizard.sandbox.repo / "build" / "bin" / "llama-cli"
    kept = tmp_path / "llama-cli"
    shutil.move(cli, kept)
    try:
        done = wizard.run("step", "1.5", "--again", "--var", "numactl=")
    finally:
        shutil.move(kept, cli)
    assert done.returncode == 1, done.stdout + done.stderr
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("1.5: ")]
    assert "exited with status 127" in verdict or "was not found" in verdict, verdict
    assert "line 15" in verdict
