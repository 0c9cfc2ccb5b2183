"""Approach B on the rehearsal sandbox (a fork with an AMX buffer type and ik_llama.cpp's scheduler, no guard),
through the real CLI: the diff first, the backup before any edit, then preflight sees the guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from amxwizard.rehearsal.sandbox import Sandbox
from tests.cli_session import accept_setup

AMXWIZARD = str(Path(sys.executable).with_name("amxwizard"))
OLD = "            if (offload_enabled && src_backend_id == sched->n_backends - 1) {"
NEW = "            if (offload_enabled && src_backend_id == sched->n_backends - 1 && ggml_backend_buffer_is_host(src->buffer)) {"  # noqa: E501


def _run(sandbox: Sandbox, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    variables = [a for name, value in sandbox.overrides.items() for a in ("--var", f"{name}={value}")]
    where = [] if args[0] == "preflight" else ["--state-dir", str(state)]
    if args[0] == "step":
        accept_setup(state, sandbox.overrides, cwd=sandbox.root)
    result = subprocess.run(
        [AMXWIZARD, *args, *variables, *where],
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _table(output: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in output.splitlines()[1:-1]:
        name, _, finding = line[6:].partition("  ")
        rows[name.strip()] = (line[:4].strip(), finding.strip())
    return rows


def test_step_2b_applies_the_guard_after_the_backup_and_preflight_then_sees_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    source = sandbox.repo / "ggml" / "src" / "ggml-backend.cpp"
    original = source.read_text()
    assert OLD in original

    before = _table(_run(sandbox, state, "preflight").stdout)
    assert before["scheduler"][0] == "warn" and "without the host-buffer guard" in before["scheduler"][1]
    assert before["crash case"][1].startswith("will crash for batches of 32 tokens or more")

    refused = _run(sandbox, state, "step", "2.B", "--yes")
    assert refused.returncode != 0
    assert "back up first: run step 1.1 before editing files" in refused.stderr
    assert source.read_text() == original

    assert _run(sandbox, state, "step", "1.1").returncode == 0
    shown = _run(sandbox, state, "step", "2.B")  # the diff, and a question: nothing changes yet
    assert shown.returncode == 3  # blocked: the diff is shown, --yes applies it
    assert f"-{OLD}\n" in shown.stdout and f"+{NEW}\n" in shown.stdout
    assert source.read_text() == original

    applied = _run(sandbox, state, "step", "2.B", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert applied.stdout.splitlines()[-1] == "2.B: PASSED — 1 file(s) changed"
    text = source.read_text()
    assert NEW in text and OLD not in text
    assert [line for line in text.splitlines() if line not in original.splitlines()] == [NEW]

    status = json.loads(_run(sandbox, state, "status", "--json").stdout)
    saved = Path(status["exports"]["BACKUP_DIR"]) / "ggml-backend.cpp.backup"
    assert saved.read_text() == original  # the backup holds the file as it was before B

    after = _table(_run(sandbox, state, "preflight").stdout)
    assert after["scheduler"][0] == "ok" and "guard present" in after["scheduler"][1]
    assert after["crash case"][1].startswith("cannot crash this way: guard present at line")

    again = _run(sandbox, state, "step", "2.B", "--yes")  # nothing left to apply
    assert again.returncode == 0
    assert "already applied" in again.stdout
    assert source.read_text() == text
