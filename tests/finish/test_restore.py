"""Restoring the backup: the wizard's own edits are undone, anyone else's change is a conflict unless --force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.backup import BackupError, make_backup, plan_restore, restore, sha256_bytes
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BackupStep
from tests.finish.support import RUNBOOK, cli

BACKEND = "ggml/src/ggml-backend.cpp"
CMAKE = "ggml/src/CMakeLists.txt"


def backed_up(session: Session) -> None:
    step = session.runbook.model.step("1.1")
    assert isinstance(step, BackupStep)
    make_backup(session, step, session.values())


def wizard_edit(session: Session, path: Path, text: str) -> None:
    """Change a file the way the wizard's edit steps do: write it, then record what was written."""
    before = sha256_bytes(path.read_bytes())
    path.write_text(text)
    session.record(
        ev.FileEdited(
            step="1.3",
            path=str(path),
            before_sha256=before,
            after_sha256=sha256_bytes(path.read_bytes()),
            how="snippet",
        )
    )


def cli_args(state_dir: Path, overrides: dict[str, str], *extra: str) -> list[str]:
    args = ["restore", "--runbook", str(RUNBOOK), "--state-dir", str(state_dir), *extra]
    for name, value in overrides.items():
        args += ["--var", f"{name}={value}"]
    return args


def test_the_wizards_own_edit_is_restored_and_recorded(session: Session, target_repo: Path) -> None:
    cmake = target_repo / CMAKE
    original = cmake.read_bytes()
    backed_up(session)
    wizard_edit(session, cmake, cmake.read_text() + "target_compile_definitions(ggml PRIVATE GGML_DEBUG_TENSOR_COPY)\n")

    plan = plan_restore(session)
    by_path = {Path(item.path).name: item for item in plan.items}
    assert by_path["CMakeLists.txt"].action == "restore"
    assert "wizard" in by_path["CMakeLists.txt"].reason
    assert "-target_compile_definitions(ggml PRIVATE GGML_DEBUG_TENSOR_COPY)" in by_path["CMakeLists.txt"].diff
    assert by_path["ggml-backend.cpp"].action == "unchanged"

    assert restore(session, plan) == [str(cmake)]
    assert cmake.read_bytes() == original
    last = session.state.edits[-1]
    assert (last["how"], last["path"], last["after_sha256"]) == ("restore", str(cmake), sha256_bytes(original))
    # Restored means the next plan has nothing to do.
    assert {item.action for item in plan_restore(session).items} == {"unchanged"}


def test_someone_elses_change_is_a_conflict_unless_forced(session: Session, target_repo: Path) -> None:
    backend = target_repo / BACKEND
    original = backend.read_bytes()
    backed_up(session)
    wizard_edit(session, backend, backend.read_text() + "// the wizard's snippet\n")
    backend.write_text(backend.read_text() + "// and then a hand edit\n")

    plan = plan_restore(session)
    assert [Path(item.path).name for item in plan.conflicts] == ["ggml-backend.cpp"]
    assert plan.to_restore == ()

    forced = plan_restore(session, force=True)
    assert [Path(item.path).name for item in forced.to_restore] == ["ggml-backend.cpp"]
    restore(session, forced)
    assert backend.read_bytes() == original


def test_a_file_changed_after_the_plan_is_not_overwritten(session: Session, target_repo: Path) -> None:
    cmake = target_repo / CMAKE
    backed_up(session)
    wizard_edit(session, cmake, "# edited by the wizard\n")
    plan = plan_restore(session)
    cmake.write_text("# edited by a person while the plan was on screen\n")

    with pytest.raises(BackupError, match="changed after the restore plan was shown"):
        restore(session, plan)
    assert cmake.read_text() == "# edited by a person while the plan was on screen\n"


def test_a_deleted_file_comes_back_with_its_mode(session: Session, target_repo: Path) -> None:
    cuda = target_repo / "ggml/src/ggml-cuda.cu"
    os.chmod(cuda, 0o640)
    original = cuda.read_bytes()
    backed_up(session)
    cuda.unlink()

    plan = plan_restore(session)
    [item] = plan.to_restore
    assert item.reason == "the file was deleted since the backup"
    restore(session, plan)
    assert cuda.read_bytes() == original
    assert cuda.stat().st_mode & 0o777 == 0o640


def test_a_damaged_backup_copy_is_never_written_back(session: Session, target_repo: Path) -> None:
    backed_up(session)
    backup_dir = Path(session.env()["BACKUP_DIR"])
    (backup_dir / "ggml.c.backup").write_text("not what was backed up\n")
    (target_repo / "ggml/src/ggml.c").write_text("changed\n")

    plan = plan_restore(session, force=True)
    assert [Path(item.path).name for item in plan.damaged] == ["ggml.c"]
    assert plan.to_restore == ()


def test_no_backup_yet_is_one_clear_error(session: Session) -> None:
    with pytest.raises(BackupError, match="has no backup yet"):
        plan_restore(session)


def test_cli_refuses_a_conflict_then_restores_with_force(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str], target_repo: Path, tmp_path: Path
) -> None:
    backend, cmake = target_repo / BACKEND, target_repo / CMAKE
    original_backend, original_cmake = backend.read_bytes(), cmake.read_bytes()
    with Session.create(state_dir, runbook_file, overrides) as session:
        backed_up(session)
        wizard_edit(session, cmake, "# the wizard's CMake edit\n")
        backend.write_text("// rewritten by hand\n")

    refused = cli(*cli_args(state_dir, overrides), cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert f"conflict  {backend}" in refused.stdout
    assert "+// rewritten by hand" not in refused.stdout and "-// rewritten by hand" in refused.stdout
    assert refused.stderr.strip().splitlines() == [
        f"amxwizard: changed since the backup: {backend}; nothing was restored (use --force to overwrite them)"
    ]
    assert backend.read_text() == "// rewritten by hand\n"
    assert cmake.read_text() == "# the wizard's CMake edit\n"  # all or nothing

    forced = cli(*cli_args(state_dir, overrides, "--force", "--yes"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "restored 2 file(s); 2 already matched the backup" in forced.stdout
    assert backend.read_bytes() == original_backend
    assert cmake.read_bytes() == original_cmake

    again = cli(*cli_args(state_dir, overrides), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to restore: all 4 file(s) match the backup" in again.stdout


def test_cli_restores_the_wizards_edit_without_force(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str], target_repo: Path, tmp_path: Path
) -> None:
    cmake = target_repo / CMAKE
    original = cmake.read_bytes()
    with Session.create(state_dir, runbook_file, overrides) as session:
        backed_up(session)
        wizard_edit(session, cmake, "# the wizard's CMake edit\n")

    # Like every step that edits files: the plan first, and nothing written without --yes (exit 3, blocked).
    shown = cli(*cli_args(state_dir, overrides), cwd=tmp_path)
    assert shown.returncode == 3, shown.stderr
    assert f"restore   {cmake}  (changed only by the wizard's own edits)" in shown.stdout
    assert "-# the wizard's CMake edit" in shown.stdout
    assert "nothing restored yet: 1 file(s) would be written as shown; run again with --yes" in shown.stdout
    assert cmake.read_text() == "# the wizard's CMake edit\n"

    result = cli(*cli_args(state_dir, overrides, "--yes"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"restore   {cmake}  (changed only by the wizard's own edits)" in result.stdout
    assert "+# the wizard's CMake edit" not in result.stdout and "-# the wizard's CMake edit" in result.stdout
    assert cmake.read_bytes() == original


def test_cli_without_a_session_says_so(state_dir: Path, overrides: dict[str, str], tmp_path: Path) -> None:
    result = cli(*cli_args(state_dir, overrides), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"amxwizard: no session to restore from in {state_dir}")
    assert "Traceback" not in result.stderr
