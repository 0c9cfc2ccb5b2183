"""Captured tool output for the evidence parsers lives in tests/fixtures/evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.evidence.verdict import Verdict
from amxwizard.engine.session import Session
from amxwizard.engine.state import SessionState
from amxwizard.runbook import RunbookFile

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
