"""Captured tool output for the evidence parsers lives in tests/fixtures/evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.evidence.verdict import Verdict
from amxwizard.engine.session import Session
from amxwizard.engine.state import SessionState
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BenchmarkStep, ShellStep, TestStep
from amxwizard.runbook.templates import render_shell
from amxwizard.runbook.variables import resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "evidence"


def read_fixture(name: str) -> str:
    """The text of a captured-output fixture."""
    return (FIXTURES / name).read_text(encoding="utf-8")


class SessionKit:
    """A real session on disk, with helpers that record runs the way the runner does (logs in files)."""

    def __init__(self, session: Session, root: Path) -> None:
        self.session = session
        self.root = root
        self._count = 0

    @property
    def state(self) -> SessionState:
        return self.session.state

    def read_log(self, run_id: str) -> str:
        """What the executor's read_log does: the run's log file, '' when there is none."""
        run = self.state.runs.get(run_id)
        if run is None or not run.log:
            return ""
        try:
            return Path(run.log).read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def run(self, step_id: str, *texts: str, script: str = "", exit_code: int = 0, start: bool = True) -> list[str]:
        """One attempt of ``step_id``: one command per text, each with its log written to a file."""
        if start:
            self.session.record(ev.StepStarted(step=step_id))
        run_ids = []
        for index, text in enumerate(texts):
            self._count += 1
            run_id = f"{step_id}-{self._count}-{index}"
            log = self.root / "runs" / run_id / "output.log"
            log.parent.mkdir(parents=True)
            log.write_text(text, encoding="utf-8")
            self.session.record(
                ev.CommandStarted(
                    step=step_id,
                    run_id=run_id,
                    index=index,
                    script=script,
                    cwd=str(self.root),
                    pid=None,
                    proc_start=None,
                    boot_id="",
                    log=str(log),
                    git_before={},
                )
            )
            self.session.record(
                ev.CommandFinished(
                    step=step_id,
                    run_id=run_id,
                    outcome="ok",
                    exit_code=exit_code,
                    signal=None,
                    ended="",
                    duration=0.1,
                    log_size=len(text),
                    log_sha256="",
                    git_after={},
                    exports={},
                )
            )
            run_ids.append(run_id)
        return run_ids

    def finish(self, step_id: str, verdict: Verdict) -> None:
        self.session.record(ev.StepFinished(step=step_id, **verdict.event_data()))

    def passed(self, step_id: str, summary: str = "ok") -> None:
        self.session.record(ev.StepFinished(step=step_id, status="passed", summary=summary, evidence={}))


@pytest.fixture
def kit(tmp_path: Path, state_dir: Path, runbook_file: RunbookFile) -> Iterator[SessionKit]:
    session = Session.create(state_dir, runbook_file)
    try:
        yield SessionKit(session, tmp_path)
    finally:
        session.close()


LAUNCHER = """#!/bin/sh
AMXWIZARD_STANDIN_BUILD="$(dirname "$0")/build-info.json" exec {python} -m amxwizard.rehearsal.{module} "$@"
"""
WORKING_FLAGS = {"numactl": "", "amx_flag": "", "fa_flag": "-fa on"}


@dataclass
class Sandbox:
    """A build folder with the stand-in llama-cli and llama-bench, a stand-in model and a backup folder."""

    repo: Path
    model: Path
    backup: Path
    runbook: RunbookFile

    def build(self, *, debug: bool, fixes: list[str], speed_factor: float = 1.0) -> None:
        """Write the build-info.json the stand-in cmake would write (with a slowdown when asked)."""
        info = {
            "standin": True,
            "debug_tensor_copy": debug,
            "fixes": fixes,
            "built_at": "2025-10-06T14:45:00",
            "speed_factor": speed_factor,
        }
        (self.repo / "build" / "bin" / "build-info.json").write_text(json.dumps(info))

    def script(self, step_id: str, **overrides: str) -> str:
        """The step's commands rendered as the executor renders them."""
        rb = self.runbook.model
        step = rb.step(step_id)
        # Step 1.5's helper script goes next to the backup folder, not to the seed's fixed /tmp path.
        values = resolve(
            rb,
            {
                "repo": str(self.repo),
                "model": str(self.model),
                "diag_script": str(self.backup.parent / "diag_test.sh"),
                **overrides,
            },
            {"session_dir": str(self.repo.parent), "session_id": "test"},
        )
        if isinstance(step, TestStep | BenchmarkStep):
            commands = [step.command]
        else:
            assert isinstance(step, ShellStep)
            commands = step.commands
        return "\n".join(render_shell(c, values, rb.args_variables) for c in commands)

    def run_step(
        self, step_id: str, env: dict[str, str] | None = None, **overrides: str
    ) -> tuple[subprocess.CompletedProcess[str], str]:
        """Run the step's command as the runner does (bash -o pipefail, in the repo, BACKUP_DIR exported)."""
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", self.script(step_id, **overrides)],
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "BACKUP_DIR": str(self.backup), **(env or {})},
        )
        return result, result.stdout + result.stderr


@pytest.fixture
def sandbox(tmp_path: Path, runbook_file: RunbookFile) -> Sandbox:
    repo = tmp_path / "repo"
    bin_dir = repo / "build" / "bin"
    bin_dir.mkdir(parents=True)
    for program, module in (("llama-cli", "llama_cli"), ("llama-bench", "llama_bench")):
        launcher = bin_dir / program
        launcher.write_text(LAUNCHER.format(python=sys.executable, module=module))
        launcher.chmod(0o755)
    model = tmp_path / "models" / "Qwen3-30B-A3B-Thinking-2507-Q4_0.gguf"
    model.parent.mkdir()
    model.write_bytes(b"GGUF stand-in model, never read")
    backup = tmp_path / "backup"
    backup.mkdir()
    box = Sandbox(repo, model, backup, runbook_file)
    box.build(debug=False, fixes=[])
    return box
