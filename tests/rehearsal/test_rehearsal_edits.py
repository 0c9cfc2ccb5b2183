"""Every edit of the shipped runbook against the sandbox files, and the debug logging round trip."""

from __future__ import annotations

from amxwizard.engine.edits import apply_planned, plan_step, verify_patterns
from amxwizard.engine.source import check_balance
from amxwizard.rehearsal.sandbox import Sandbox
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import EDIT_KINDS
from amxwizard.runbook.variables import resolve


def test_every_runbook_edit_applies_to_the_sandbox(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    values = resolve(runbook_file.model, sandbox.overrides)
    steps = [step for _, step in runbook_file.model.iter_steps() if isinstance(step, EDIT_KINDS)]
    assert [s.id for s in steps] == ["1.2", "1.3", "2.A", "2.B", "2.C", "5.1"]
    for step in steps:
        planned = plan_step(step, values)
        assert planned, step.id
        for plan in planned:
            assert plan.exists and plan.problems == (), (step.id, plan.problems)
            assert plan.notes, step.id
            assert plan.changed, (step.id, plan.notes)
            if plan.path.suffix in (".cpp", ".cu"):
                assert check_balance(plan.new) is None, step.id
        apply_planned(planned)
        assert verify_patterns(step, values) == [], step.id


def test_logging_then_removal_gives_back_the_original_bytes(runbook_file: RunbookFile, sandbox: Sandbox) -> None:
    values = resolve(runbook_file.model, sandbox.overrides)
    src = sandbox.repo / "ggml" / "src"
    originals = {path: path.read_bytes() for path in (src / "ggml-backend.cpp", src / "CMakeLists.txt")}

    for step_id in ("1.2", "1.3"):
        apply_planned(plan_step(runbook_file.model.step(step_id), values))
    assert all(path.read_bytes() != before for path, before in originals.items())

    remove = runbook_file.model.step("5.1")
    remaining = verify_patterns(remove, values)
    assert {f.path.name for f in remaining} == {"ggml-backend.cpp", "CMakeLists.txt"}
    assert all(f.kind == "remaining" and "GGML_DEBUG_TENSOR_COPY" in f.text for f in remaining)
    backend_lines = [f.line for f in remaining if f.path.name == "ggml-backend.cpp"]
    text = (src / "ggml-backend.cpp").read_text().splitlines()
    assert all("GGML_DEBUG_TENSOR_COPY" in text[line - 1] for line in backend_lines if line)

    planned = plan_step(remove, values)
    assert all(p.problems == () for p in planned)
    apply_planned(planned)
    assert {path: path.read_bytes() for path in originals} == originals
    assert verify_patterns(remove, values) == []

    # and a second pass finds nothing left to do
    again = plan_step(remove, values)
    assert not any(p.changed for p in again)
    assert all("already applied" in note for p in again for note in p.notes)
