"""The typed events: what they write is what earlier versions wrote, and reading is lenient."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from amxwizard.engine import events as ev

SRC = Path(__file__).resolve().parents[2] / "src" / "amxwizard"


def test_every_kind_is_registered_once() -> None:
    kinds = [cls.KIND for cls in ev.KINDS.values()]
    assert len(kinds) == len(set(kinds)) == len(ev.KINDS)
    assert all(re.fullmatch(r"[a-z_]+", kind) for kind in kinds)


@pytest.mark.parametrize("cls", list(ev.KINDS.values()), ids=lambda c: c.KIND)
def test_an_event_survives_its_own_data(cls: type[ev.Fact]) -> None:
    data = {f.name: ev._empty(str(f.type)) for f in dataclasses.fields(cls)}
    fact = cls.from_data(data)
    assert cls.from_data(fact.to_data()) == fact


def test_data_is_written_as_before() -> None:
    fact = ev.FieldAnswered(step="1.6", field="tensor", value="blk.0.attn_q.weight", suggested=None)
    assert fact.to_data() == {"step": "1.6", "field": "tensor", "value": "blk.0.attn_q.weight", "suggested": None}
    started = ev.CommandStarted(
        step="1.4", run_id="r", index=0, script="make", cwd="/x", pid=1, proc_start=2, boot_id="b", log="/x/log"
    )
    assert "recovered" not in started.to_data()  # written only for an adopted run, as before
    assert ev.StepStarted(step="1.1").to_data() == {"step": "1.1"}


def test_old_data_reads_leniently() -> None:
    old = ev.parse("step_finished", {"step": "1.1", "status": "passed", "by": "ron@gpu", "unknown": 1})
    assert old == ev.StepFinished(step="1.1", status="passed", summary="", evidence={})
    assert ev.parse("a_kind_from_the_future", {"x": 1}) is None


def test_nothing_outside_the_engine_records_an_event_by_raw_string() -> None:
    raw = re.compile(r"\.record\(\s*[\"']")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if raw.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
