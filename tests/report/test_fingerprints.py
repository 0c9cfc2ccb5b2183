"""Fingerprints of what each test and benchmark run ran, shown in the record and checked by verify.

The evidence engine records them in ``command_started`` (``fingerprint``) and ``model_hashed`` events; old sessions
have none, and their records say so.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from amxwizard.engine.session import Session
from amxwizard.report import build_record, render
from amxwizard.report.jsonfmt import render_json
from amxwizard.report.verify import verify_document
from amxwizard.runbook import RunbookFile

from .forge import reseal

MODEL = {"path": "/models/qwen3-30b-q4_0.gguf", "size": 17_280_000_000, "mtime": 1759750000.0, "sha256": None}
SHA = "ab" * 32


def fingerprint(head: str, model: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "binary": {"path": "/src/ik_llama.cpp/build/bin/llama-bench", "sha256": "cd" * 32},
        "model": model or dict(MODEL),
        "build": {"GGML_CUDA": "ON", "GGML_AMX": "ON", "GGML_NATIVE": "ON", "CMAKE_BUILD_TYPE": "Release"},
        "git": {"head": head, "dirty_sha256": "ef" * 32},
        "machine": {
            "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
            "amx_flags": ["amx_bf16", "amx_int8", "amx_tile"],
            "numa_nodes": 2,
            "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "580.65.06"}],
        },
    }


def raw(session: Session, kind: str, **data: Any) -> None:
    """Append an event as the evidence engine will write it (its typed kinds for fingerprints are not on main yet):
    straight to the store, which is all the record reads."""
    session.store.append(kind, {**data, "by": session.by})


def _session_with_fingerprints(state_dir: Path, runbook_file: RunbookFile, tmp_path: Path) -> dict[str, Any]:
    head = "1" * 40
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        raw(session, "step_started", step="bench-tg")
        raw(
            session,
            "command_started",
            step="bench-tg",
            run_id="bench-tg-1-0-aaaaaa",
            index=0,
            script="llama-bench -r 5",
            cwd=str(tmp_path),
            pid=1,
            proc_start=1,
            boot_id="",
            log="",
            git_before={"head": head},
            fingerprint=fingerprint(head),
        )
        raw(session, "command_finished", step="bench-tg", run_id="bench-tg-1-0-aaaaaa", outcome="ok", exit_code=0)
        raw(session, "model_hashed", **{**MODEL, "sha256": SHA})
        raw(session, "step_finished", step="bench-tg", status="passed", summary="tg128 61.3 t/s", evidence={})
        return json.loads(render_json(build_record(session)))


def test_fingerprints_are_shown_per_run_with_the_model_hash(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    doc = _session_with_fingerprints(state_dir, runbook_file, tmp_path)
    run = next(s for s in doc["steps"] if s["id"] == "bench-tg")["runs"][0]
    assert run["fingerprint"]["build"]["CMAKE_BUILD_TYPE"] == "Release"
    assert doc["model_hashes"][0]["sha256"] == SHA
    from amxwizard.report.build import record_from_document

    md = render(record_from_document(doc), "md")
    row = next(line for line in md.splitlines() if line.startswith("| `bench-tg` run 1.1 |"))
    assert "llama-bench sha256 cdcdcdcdcdcd" in row
    assert "qwen3-30b-q4\\_0.gguf, 16.1 GiB, sha256 abababababab (event " in row
    assert "CMAKE\\_BUILD\\_TYPE=Release GGML\\_AMX=ON GGML\\_CUDA=ON GGML\\_NATIVE=ON" in row
    assert "HEAD 111111111111 + uncommitted changes (diff sha256 efefefefefef)" in row
    assert "AMX: amx\\_bf16 amx\\_int8 amx\\_tile, NUMA nodes: 2, NVIDIA H100 80GB HBM3 (driver 580.65.06)" in row
    assert verify_document(doc).ok


def test_a_fingerprint_that_disagrees_with_the_chain_is_named(
    state_dir: Path, runbook_file: RunbookFile, tmp_path: Path
) -> None:
    doc = _session_with_fingerprints(state_dir, runbook_file, tmp_path)
    # Edited in the section only: the rebuilt section says otherwise.
    edited = copy.deepcopy(doc)
    index = next(i for i, s in enumerate(edited["steps"]) if s["runs"] and s["runs"][0].get("fingerprint"))
    edited["steps"][index]["runs"][0]["fingerprint"]["binary"]["sha256"] = "00" * 32
    result = verify_document(edited)
    expected = f"section steps[{index}].runs[0].fingerprint.binary.sha256: the record says"
    assert str(result.problems[0]).startswith(expected)
    # Edited in the event, the chain recomputed: the model's hash no longer agrees with the model_hashed event.
    forged = copy.deepcopy(doc)
    started = next(e for e in forged["events"] if e["kind"] == "command_started")
    started["data"]["fingerprint"]["model"]["sha256"] = "99" * 32
    result = verify_document(reseal(forged))
    assert str(result.problems[0]).startswith(
        f"event {started['seq']} (command_started, bench-tg): its fingerprint "
        "gives the model /models/qwen3-30b-q4_0.gguf sha256 999999999999…"
    )
    # A fingerprint naming another HEAD than the run started at.
    forged = copy.deepcopy(doc)
    started = next(e for e in forged["events"] if e["kind"] == "command_started")
    started["data"]["fingerprint"]["git"]["head"] = "2" * 40
    result = verify_document(reseal(forged))
    assert "its fingerprint names HEAD 222222222222, the run started at 1111" in str(result.problems[0])


def test_runs_without_fingerprints_say_so(state_dir: Path, runbook_file: RunbookFile, tmp_path: Path) -> None:
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        raw(session, "step_started", step="test-1")
        raw(
            session,
            "command_started",
            step="test-1",
            run_id="test-1-1-0-bbbbbb",
            index=0,
            script="llama-cli",
            cwd="/",
            pid=1,
            proc_start=1,
            boot_id="",
            log="",
            git_before={},
        )
        md = render(build_record(session), "md")
    assert "Fingerprints: none recorded (this session's runs predate them)." in md
