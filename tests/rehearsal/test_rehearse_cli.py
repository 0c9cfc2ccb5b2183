"""`amxwizard rehearse --no-tui`, run as a real process."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from amxwizard.runbook import bundled_runbook


def rehearse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", "rehearse", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_tui_builds_and_prints_the_exact_command(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    result = rehearse(str(root), "--no-tui", cwd=tmp_path)  # no ./runbook.yaml here: the bundled one is used
    assert result.returncode == 0, result.stderr
    assert (root / "repo" / ".git").is_dir()
    assert (root / "state").is_dir()
    lines = result.stdout.splitlines()
    command = shlex.split(lines[lines.index("Continue in it with:") + 1])
    assert command[:2] == ["amxwizard", "tui"]
    assert command[command.index("--state-dir") + 1] == str(root / "state")
    given = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--var")
    assert given["repo"] == str(root / "repo")
    assert given["numactl"] == f"{root / 'tools' / 'numactl'} -N 2,3 -m 2,3"
    assert given["amx_flag"] == "" and given["fa_flag"] == "-fa on"
    assert set(given) >= {
        "repo",
        "model",
        "cmake",
        "numactl",
        "amx_flag",
        "fa_flag",
        "expected_commit",
        "build_jobs",
        "threads",
    }
    assert "runbook.yaml (bundled)" in result.stdout
    assert bundled_runbook().is_file()


def test_state_dir_option_and_a_local_runbook(tmp_path: Path) -> None:
    (tmp_path / "runbook.yaml").write_bytes(bundled_runbook().read_bytes())
    state = tmp_path / "elsewhere"
    result = rehearse(str(tmp_path / "sb"), "--no-tui", "--state-dir", str(state), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    command = shlex.split(result.stdout.splitlines()[-1])
    assert command[2] == str(tmp_path / "runbook.yaml")
    assert command[command.index("--state-dir") + 1] == str(state)


def test_default_folder_is_a_new_temporary_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", "rehearse", "--no-tui"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    made = [p for p in tmp_path.iterdir() if p.name.startswith("amxwizard-rehearsal-")]
    assert len(made) == 1 and (made[0] / "repo" / ".git").is_dir()


def test_a_folder_in_use_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    result = rehearse(str(tmp_path / "busy"), "--no-tui", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"amxwizard: {tmp_path / 'busy'} is not an empty folder; choose a new one for the sandbox\n"


def test_an_existing_sandbox_is_continued_not_refused(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    assert rehearse(str(root), "--no-tui", cwd=tmp_path).returncode == 0
    again = rehearse(str(root), "--no-tui", cwd=tmp_path)  # the same folder again: it is a sandbox, not "in use"
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] == f"Rehearsal sandbox in {root} (stand-ins only: nothing here is the real project)"
    assert shlex.split(lines[lines.index("Continue in it with:") + 1]) == ["amxwizard", "rehearse", str(root)]
