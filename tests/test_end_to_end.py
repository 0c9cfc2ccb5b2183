"""The whole runbook on the rehearsal sandbox, headless, through the real CLI — then the reviewer's record.

Every step runs as a person without a TUI would run it (``amxwizard step``), with real processes, a real git repo
and the stand-in tools. The verdicts and figures are read back from ``amxwizard status --json``; the record is
exported in all three formats and verified, and tampering with it is caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from amxwizard.rehearsal.sandbox import build_sandbox

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))


class Walk:
    def __init__(self, root: Path) -> None:
        self.sandbox = build_sandbox(root / "sandbox")
        self.state = root / "state"
        self.root = root
        self.vars = [arg for name, value in self.sandbox.overrides.items() for arg in ("--var", f"{name}={value}")]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [AMXWIZARD, *args, "--state-dir", str(self.state)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "100"},
        )
        if check:
            assert "Traceback" not in result.stderr, result.stderr
        return result

    def step(self, step_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("step", step_id, *extra)  # the session knows its values: no --var needed

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    return Walk(tmp_path_factory.mktemp("e2e"))


def test_nothing_runs_before_the_setup_is_accepted(walk: Walk) -> None:
    early = walk.step("1.1")
    assert early.returncode == 2 and "amxwizard setup" in early.stderr
    assert not walk.state.exists() or not any(walk.state.rglob("events.db"))  # no implicit session
    accepted = walk.run("setup", *walk.vars, "--accept")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert walk.status()["setup_accepted"] is True


def test_phase_one_finds_the_weight_copy(walk: Walk) -> None:
    for step in ("1.0", "1.1", "bench-pp-before", "bench-tg-before", "1.2", "1.3", "1.4", "1.5"):
        result = walk.step(step, "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
    status = walk.status()
    evidence = status["steps"]["1.5"]["evidence"]["tensor_copy"]
    assert status["steps"]["1.5"]["status"] == "passed"
    assert "blk.0.attn_q.weight" in json.dumps(evidence)

    asked = walk.step("1.6")
    assert asked.returncode == 3 and "suggests: blk.0.attn_q.weight" in asked.stdout
    assert "--accept-suggestions" in asked.stderr
    assert walk.step("1.6", "--yes").returncode == 3  # --yes confirms; it does not answer
    assert walk.step("1.6", "--accept-suggestions").returncode == 0
    answers = walk.status()["answers"]
    assert answers["tensor"] == "blk.0.attn_q.weight" and answers["dst_buffer"] == "CUDA0"
    assert answers["recommended_approach"] == "B"  # a weight copied out of the AMX buffer: the scheduler's guard


def test_the_stale_binary_is_caught_and_the_unfixed_build_crashes(walk: Walk) -> None:
    # The person's answer wins over the suggestion: approach A, which the stand-in build also counts as a fix.
    assert walk.step("2.choose", "--answer", "approach=A", "--yes").returncode == 0
    assert walk.step("2.A", "--yes").returncode == 0
    warned = walk.step("test-1", "--yes")  # --yes alone does not run an old binary
    assert warned.returncode == 3 and "old binary" in warned.stderr
    assert "--run-stale" in warned.stderr and "step 1.4" in warned.stderr
    assert walk.status()["steps"]["test-1"]["status"] == "pending"
    crashed = walk.step("test-1", "--run-stale")  # run anyway: the binary still lacks the fix
    assert crashed.returncode == 1
    assert "FAILED — crashed" in crashed.stdout and "troubleshooting:" in crashed.stdout
    test1 = walk.status()["steps"]["test-1"]
    assert test1["status"] == "failed" and "crash" in test1["evidence"]["findings"]


def test_after_a_rebuild_the_tests_and_benchmarks_pass_with_their_figures(walk: Walk) -> None:
    assert walk.step("1.4", "--yes").returncode == 0
    for step in ("test-1", "test-2", "test-3", "test-4", "test-5", "bench-pp", "bench-tg"):
        result = walk.step(step)
        assert result.returncode == 0, result.stdout + result.stderr
    status = walk.status()
    test1 = status["steps"]["test-1"]
    assert test1["status"] == "passed" and test1["attempts"] == 2
    assert test1["evidence"]["tokens_generated"] == 1000 == test1["evidence"]["tokens_expected"]
    # Phase 4 runs before 5.1 removes the diagnostic logging: the build is not the one measured before the fix, and
    # the wizard says so instead of comparing them.
    tg = status["steps"]["bench-tg"]
    assert tg["evidence"]["basis"] is None and "+GGML_DEBUG_TENSOR_COPY" in tg["summary"]
    assert "run this benchmark again once the build matches" in tg["summary"]
    assert status["criteria"]["performance"]["status"] != "met"
    assert status["criteria"]["no-weight-copies"]["status"] == "met"


def test_phase_five_commits_once_and_documents(walk: Walk) -> None:
    assert walk.step("5.1", "--yes").returncode == 0
    assert walk.step("5.2", "--yes").returncode == 0
    # Now the build matches the one before the fix but for the fix: the benchmarks again, compared this time.
    for step in ("bench-pp", "bench-tg"):
        again = walk.step(step, "--again")
        assert again.returncode == 0, again.stdout + again.stderr
    status = walk.status()
    tg = status["steps"]["bench-tg"]["evidence"]
    assert tg["test"] == "tg128" and tg["basis"] == "before_fix" and tg["level"] == "pass"
    assert tg["baseline_run"]["label"].startswith("before the fix (bench-tg-before")
    assert tg["comparison"]["verdict"] == "no significant difference"
    assert abs(tg["avg_ts"] - 61.24) < 3 and abs(tg["baseline"] - 61.24) < 3
    assert status["criteria"]["performance"]["status"] == "met"
    needs = walk.step("5.3")  # everything it needs, on the first call
    assert needs.returncode == 3 and "solution_details" in needs.stdout and "backend_changes" in needs.stdout
    assert "needs answers" in needs.stderr and "--yes" in needs.stderr
    done = walk.step(
        "5.3",
        "--yes",
        "--answer",
        "solution_details=weight filter in ggml_backend_tensor_copy",
        "--answer",
        "backend_changes=helper + guard",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    repo = walk.sandbox.repo
    log = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=repo, capture_output=True, text=True).stdout
    assert "Scheduler was attempting to copy blk.0.attn_q.weight from AMX to CUDA0" in log
    assert "[FILL IN]" not in log and "[X ms/token]" not in log and "{{" not in log
    assert "Runbook-Session:" in log and "Runbook-Chain:" in log
    again = walk.step("5.3", "--yes")  # exactly once: a second run finds the commit
    assert again.returncode == 0 and "found the commit already made" in again.stdout
    assert walk.step("5.4", "--yes").returncode == 0
    assert "amxwizard:begin Current Status" in (repo / "AMX_GPU_HYBRID_SCHEDULER_FIX.md").read_text()
    status = walk.status()
    assert all(c["status"] == "met" for c in status["criteria"].values()), status["criteria"]


def test_the_record_in_three_formats_verifies_and_catches_tampering(walk: Walk) -> None:
    out = walk.root / "record"
    for fmt in ("md", "html", "json"):
        assert walk.run("report", "--format", fmt, "-o", f"{out}.{fmt}").returncode == 0
    markdown = Path(f"{out}.md").read_text()
    assert markdown.lstrip().startswith("#") and "COMPLETE" in markdown.split("\n\n")[0] + markdown[:400]

    ids: set[str] = set()

    class Collect(HTMLParser):
        def handle_data(self, data: str) -> None:
            ids.update(data.split())

    Collect().feed(Path(f"{out}.html").read_text())
    status = walk.status()
    assert set(status["steps"]) <= ids

    runs = Path(status["dir"]) / "runs"
    verified = subprocess.run([AMXWIZARD, "verify", f"{out}.json", "--logs", str(runs)], capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.startswith("verified:"), verified.stdout + verified.stderr

    record = json.loads(Path(f"{out}.json").read_text())
    record["events"][5]["data"]["by"] = "someone-else@elsewhere"
    tampered = walk.root / "tampered.json"
    tampered.write_text(json.dumps(record))
    caught = subprocess.run([AMXWIZARD, "verify", str(tampered)], capture_output=True, text=True)
    assert caught.returncode != 0 and "event 6" in caught.stdout + caught.stderr
