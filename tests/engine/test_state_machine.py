"""Whatever a person does, however the wizard dies, the replayed state is what a plain model says it must be.

Hypothesis drives a real session of the shipped runbook through steps, answers, ticks and variables, and through
crashes: a wizard dropped without closing, and a child wizard SIGKILLed in the middle of appending. After every
reopen the state replayed from the log must equal the model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session
from amxwizard.engine.state import SessionState, replay
from amxwizard.engine.store import read_checked, verify_chain
from amxwizard.runbook import load_runbook
from amxwizard.runbook.models import CommitStep, DocsStep, FormStep
from amxwizard.runbook.variables import VariableError

ROOT = Path(__file__).resolve().parents[2]
APPENDER = ROOT / "tests" / "fixtures" / "store" / "appender.py"
RUNBOOK = load_runbook(ROOT / "runbook.yaml")
STEP_IDS = [step.id for _, step in RUNBOOK.model.iter_steps()]
FIELDS = [
    (step.id, form_field.id)
    for _, step in RUNBOOK.model.iter_steps()
    if isinstance(step, FormStep | CommitStep | DocsStep)
    for form_field in step.fields
]
CRITERIA = [criterion.id for criterion in RUNBOOK.model.criteria]
DEFAULT_REPO = str(RUNBOOK.model.variables["repo"].default)

_path = st.from_regex(r"/[A-Za-z0-9_. -]{0,24}[A-Za-z0-9_.-]", fullmatch=True)
VALID_VALUES: dict[str, st.SearchStrategy[str]] = {
    "repo": _path,
    "model": _path,
    "threads": st.integers(1, 4096).map(str),
    "ngl": st.integers(0, 999).map(str),
    "baseline_tps": st.floats(0, 1e4, allow_nan=False, allow_infinity=False).map(repr),
    "numa_nodes": st.text(st.characters(exclude_characters="\x00"), max_size=12),  # NUL is refused by design
    "cmake": st.from_regex(r"[a-z0-9./=-]{1,10}( [a-z0-9./=-]{1,10}){0,2}", fullmatch=True),
    "expected_commit": st.from_regex(r"[0-9a-f]{4,40}", fullmatch=True),
}
BAD_VALUES = [
    ("threads", "many"),
    ("threads", "0"),
    ("ngl", "1000"),
    ("repo", "   "),
    ("expected_commit", "xyz"),
    ("baseline_tps", "nan"),
    ("no_such_variable", "1"),
    ("model", "a\nb"),
]
_text = st.text(max_size=40)


@st.composite
def recordable_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """One event a wizard records on a person's behalf, as (kind, data)."""
    kind = draw(st.sampled_from(["step_started", "step_finished", "field_answered", "criterion_ticked"]))
    if kind == "step_started":
        return kind, {"step": draw(st.sampled_from(STEP_IDS))}
    if kind == "step_finished":
        return kind, {
            "step": draw(st.sampled_from(STEP_IDS)),
            "status": draw(st.sampled_from(["passed", "failed"])),
            "summary": draw(_text),
        }
    if kind == "field_answered":
        step, name = draw(st.sampled_from(FIELDS))
        return kind, {"step": step, "field": name, "value": draw(_text)}
    return kind, {"criterion": draw(st.sampled_from(CRITERIA)), "ticked": draw(st.booleans()), "note": draw(_text)}


@dataclass
class Expected:
    """What must be true of the session, kept in plain Python beside it."""

    statuses: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    criteria: dict[str, tuple[bool, str]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    target: str = DEFAULT_REPO
    reopened: int = 0

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "step_started":
            self.statuses[data["step"]] = "running"
        elif kind == "step_finished":
            self.statuses[data["step"]] = data["status"]
        elif kind == "field_answered":
            self.answers[data["field"]] = data["value"]
        elif kind == "criterion_ticked":
            self.criteria[data["criterion"]] = (data["ticked"], data["note"])
        else:
            raise AssertionError(f"the model does not know {kind}")

    def set_variable(self, name: str, value: str) -> None:
        self.overrides[name] = value
        if name == "repo":
            self.target = value.strip()

    def summary(self) -> dict[str, Any]:
        return {
            "statuses": self.statuses,
            "answers": self.answers,
            "criteria": self.criteria,
            "overrides": self.overrides,
            "target": self.target,
            "reopened": self.reopened,
        }


def summary(state: SessionState) -> dict[str, Any]:
    return {
        "statuses": {step: step_state.status.value for step, step_state in state.steps.items()},
        "answers": {name: answer.value for name, answer in state.answers.items()},
        "criteria": {name: (tick.ticked, tick.note) for name, tick in state.criteria.items()},
        "overrides": dict(state.overrides),
        "target": state.target,
        "reopened": len(state.opened),
    }


def read_events(folder: Path) -> list[Any]:
    """What the next wizard will find: both copies of the store read and compared, nothing written."""
    checked = read_checked(folder / "events.db")
    assert checked.problem is None, checked.problem  # a kill is never damage
    return checked.events(folder / "events.db")


class SessionLifeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="amxwizard-machine-"))
        self.session: Session | None = Session.create(self.root / "state", RUNBOOK)
        self.folder = self.session.dir
        self.expected = Expected()

    def teardown(self) -> None:
        if self.session is not None:
            self.session.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def record(self, fact: ev.Fact) -> None:
        self.session_now().record(fact)
        self.expected.apply(fact.KIND, fact.to_data())

    # -- what a person does ------------------------------------------------------------------------------------

    @rule(step=st.sampled_from(STEP_IDS))
    def start_step(self, step: str) -> None:
        self.record(ev.StepStarted(step=step))

    @rule(step=st.sampled_from(STEP_IDS), status=st.sampled_from(["passed", "failed"]), summary=_text)
    def finish_step(self, step: str, status: str, summary: str) -> None:
        self.record(ev.StepFinished(step=step, status=status, summary=summary))

    @rule(where=st.sampled_from(FIELDS), value=_text)
    def answer_field(self, where: tuple[str, str], value: str) -> None:
        self.record(ev.FieldAnswered(step=where[0], field=where[1], value=value))

    @rule(criterion=st.sampled_from(CRITERIA), ticked=st.booleans(), note=_text)
    def tick_criterion(self, criterion: str, ticked: bool, note: str) -> None:
        self.record(ev.CriterionTicked(criterion=criterion, ticked=ticked, note=note))

    @rule(data=st.data())
    def set_variable(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(VALID_VALUES)))
        value = data.draw(VALID_VALUES[name])
        self.session_now().set_variables({name: value})
        self.expected.set_variable(name, value)

    @rule(bad=st.sampled_from(BAD_VALUES))
    def refuse_a_bad_variable(self, bad: tuple[str, str]) -> None:
        session = self.session_now()
        last = session.state.last_seq
        with pytest.raises(VariableError):
            session.set_variables({bad[0]: bad[1]})
        assert session.state.last_seq == last == session.store.tail()[0]

    # -- how a wizard ends, and the next one starts ----------------------------------------------------------
    # Each ending is followed by a reopen, so every rule stays enabled (no filtered draws) and every reopen is checked.

    @rule()
    def close_and_reopen(self) -> None:
        self.session_now().close()
        self.reopen()

    @rule()
    def crash_and_reopen(self) -> None:
        self.drop_without_closing()
        self.reopen()

    @rule(appended=recordable_events(), delay_ms=st.integers(0, 20), crashed_first=st.booleans())
    def kill_a_wizard_mid_append_and_reopen(
        self, appended: tuple[str, dict[str, Any]], delay_ms: int, crashed_first: bool
    ) -> None:
        """Another wizard takes the session, appends one event over and over, and is SIGKILLed."""
        if crashed_first:
            self.drop_without_closing()
        else:
            self.session_now().close()
        self.session = None
        kind, data = appended
        before = len(read_events(self.folder))
        child = subprocess.Popen(
            [
                sys.executable,
                str(APPENDER),
                str(self.folder / "events.db"),
                "--lock",
                str(self.folder),
                "--kind",
                kind,
                "--data",
                json.dumps(data),
                "--limit",
                "200",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        time.sleep(delay_ms / 1000)
        os.kill(child.pid, signal.SIGKILL)
        reported = [int(line) for line in child.stdout.read().split()]
        child.wait()
        child.stdout.close()
        child.stderr.close()

        after = read_events(self.folder)
        landed = len(after) - before
        assert landed in (len(reported), len(reported) + 1), (reported, before, len(after))
        assert all((e.kind, e.data) == (kind, data) for e in after[before:])
        event(
            "killed wizard: its in-flight append landed"
            if landed > len(reported)
            else "killed wizard: nothing beyond what it reported"
        )
        if landed:
            self.expected.apply(kind, data)
        self.reopen()

    def session_now(self) -> Session:
        assert self.session is not None
        return self.session

    def drop_without_closing(self) -> None:
        """Lose the session as a dying process would: the kernel frees its descriptors, nothing else runs."""
        session = self.session_now()
        held = [session.lock._fd, session.lock._dir_fd, session.store._journal_fd]
        assert None not in held[:2]
        session.store._db.close()
        for fd in held:
            if fd is not None:
                os.close(fd)
        self.session = None

    def reopen(self) -> None:
        self.session = Session.open(self.folder, RUNBOOK)
        self.expected.reopened += 1
        event("reopened")
        assert self.session.recovery is None
        self.state_is_what_the_model_says()

    # -- what must always hold ---------------------------------------------------------------------------------

    @invariant()
    def state_is_what_the_model_says(self) -> None:
        session = self.session_now()
        events = session.store.events()
        assert verify_chain(events) is None
        assert replay(events) == session.state
        assert summary(session.state) == self.expected.summary()


TestSessionLife = SessionLifeMachine.TestCase
TestSessionLife.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
