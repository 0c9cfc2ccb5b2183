"""``amxwizard step`` as a person without the TUI runs it: each blocker has its own flag, all needs are listed on the
first call, ``--plan`` changes nothing, and the exit code says which case it is (0 passed, 1 failed, 2 usage,
3 blocked). Real processes on a real rehearsal sandbox."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox
from amxwizard.runbook import bundled_runbook

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))

# A step a person does by hand, added to the shipped runbook for these tests.
HAND_PHASE = """  - id: "6"
    title: By hand
    steps:
      - id: hand
        kind: code_change
        title: Edit the copy by hand
        edits:
          - file: "{{repo}}/ggml/src/ggml-backend.cpp"
            function: ggml_backend_tensor_copy
            action: manual
            where: the copy logic
"""


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sandbox: Sandbox = build_sandbox(root / "sandbox")
        self.state = root / "state"
        text = bundled_runbook().read_text(encoding="utf-8")
        self.runbook = root / "runbook.yaml"
        self.runbook.write_text(text.replace("\ncriteria:\n", "\n" + HAND_PHASE + "\ncriteria:\n", 1))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [AMXWIZARD, *args, "--state-dir", str(self.state), "--runbook", str(self.runbook)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "100"},
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def step(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("step", *args)

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    made = Cli(tmp_path_factory.mktemp("cli"))
    variables = [a for name, value in made.sandbox.overrides.items() for a in ("--var", f"{name}={value}")]
    accepted = made.run("setup", *variables, "--accept")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    return made


def _tree(*roots: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``roots`` with its mode and content hash."""
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[str(path)] = (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def test_a_step_that_needs_another_first_says_which(cli: Cli) -> None:
    early = cli.step("1.2", "--yes")
    assert early.returncode == 3
    assert "back up first: run step 1.1" in early.stderr and "amxwizard step 1.1" in early.stderr
    assert cli.status()["steps"]["1.2"]["status"] == "pending"


def test_plan_changes_nothing(cli: Cli) -> None:
    assert cli.step("1.1").returncode == 0
    before = _tree(cli.state, cli.sandbox.repo)
    planned = cli.step("1.2", "--plan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "+    // ===== NEW DIAGNOSTIC LOGGING =====" in planned.stdout
    assert "needs: apply 1 file change? (see the diff with --plan; apply it with --yes)" in planned.stdout
    commands = cli.step("1.4", "--plan")
    assert (
        "--build build --target clean" in commands.stdout and "needs: This cleans the build folder" in commands.stdout
    )
    assert _tree(cli.state, cli.sandbox.repo) == before  # the store, the runs, the repo: byte for byte


def test_a_passed_step_runs_again_only_when_asked(cli: Cli) -> None:
    assert cli.step("1.0").returncode == 0
    again = cli.step("1.0")
    assert again.returncode == 3 and "already passed" in again.stderr and "--again" in again.stderr
    assert cli.status()["steps"]["1.0"]["attempts"] == 1
    assert cli.step("1.0", "--again").returncode == 0
    assert cli.status()["steps"]["1.0"]["attempts"] == 2


def test_the_backup_is_made_once_and_says_so(cli: Cli) -> None:
    first = cli.status()["steps"]["1.1"]["evidence"]["dir"]
    again = cli.step("1.1")
    assert again.returncode == 0 and "already backed up (once per session)" in again.stdout and first in again.stdout


def test_changes_are_shown_then_applied_with_yes(cli: Cli) -> None:
    shown = cli.step("1.2")
    assert shown.returncode == 3
    assert "+    // ===== NEW DIAGNOSTIC LOGGING =====" in shown.stdout  # the diff, in full
    assert "--yes" in shown.stderr
    assert "NEW DIAGNOSTIC LOGGING" not in (cli.sandbox.repo / "ggml/src/ggml-backend.cpp").read_text()
    assert cli.step("1.2", "--yes").returncode == 0


def test_a_destructive_step_needs_yes(cli: Cli) -> None:
    asked = cli.step("1.4")
    assert asked.returncode == 3 and "cleans the build folder" in asked.stderr and "--yes" in asked.stderr
    assert cli.status()["steps"]["1.4"]["status"] == "pending"


def test_answers_come_from_flags_and_all_needs_are_listed_at_once(cli: Cli) -> None:
    needs = cli.step("1.6")
    assert needs.returncode == 3
    for field in ("tensor", "src_buffer", "dst_buffer", "op", "root_cause", "recommended_approach"):
        assert f"  {field}: " in needs.stdout
    answers = {"tensor": "t", "src_buffer": "AMX", "dst_buffer": "CUDA0", "op": "NONE", "root_cause": "r"}
    flags = [a for name, value in answers.items() for a in ("--answer", f"{name}={value}")]
    partly = cli.step("1.6", *flags)
    assert partly.returncode == 3 and "recommended_approach" in partly.stderr and "tensor" not in partly.stderr
    assert cli.status()["answers"]["tensor"] == "t"  # answers are kept even while the step cannot run yet
    done = cli.step("1.6", "--answer", "recommended_approach=B")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_change_by_hand_is_asked_for_not_failed(cli: Cli) -> None:
    asked = cli.step("hand", "--yes")
    assert asked.returncode == 3
    assert "ggml-backend.cpp at line" in asked.stderr and "in your editor" in asked.stderr
    assert cli.status()["steps"]["hand"]["status"] == "pending"  # nothing recorded as failed
    source = cli.sandbox.repo / "ggml/src/ggml-backend.cpp"
    source.write_text(source.read_text() + "// a person's own change\n")
    done = cli.step("hand")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cli.status()["steps"]["hand"]["status"] == "passed"


def test_exit_codes_are_documented_and_unknown_commands_are_named(cli: Cli) -> None:
    helped = subprocess.run([AMXWIZARD, "step", "--help"], capture_output=True, text=True)
    assert "0 passed" in helped.stdout and "3 blocked" in helped.stdout
    for flag in ("--yes", "--accept-suggestions", "--run-stale", "--again", "--allow-unproven", "--plan"):
        assert flag in helped.stdout
    bogus = subprocess.run([AMXWIZARD, "bogus"], capture_output=True, text=True)
    assert bogus.returncode == 2 and "unknown command 'bogus'" in bogus.stderr
