"""Step 1.1: the backup folder, its checksums (checked by the real sha256sum), the git state and the location file."""

from __future__ import annotations

from pathlib import Path

import pytest
import sh

from amxwizard.engine.backup import MANIFEST_NAME, BackupError, make_backup, sha256_bytes
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import BackupStep
from tests.finish.support import git, head


def backup_step(session: Session) -> BackupStep:
    step = session.runbook.model.step("1.1")
    assert isinstance(step, BackupStep)
    return step


def test_backup_copies_every_file_with_a_manifest_sha256sum_accepts(session: Session, target_repo: Path) -> None:
    backend = target_repo / "ggml/src/ggml-backend.cpp"
    backend.write_text(backend.read_text() + "// uncommitted work in progress\n")

    result = make_backup(session, backup_step(session), session.values())

    assert result.created
    assert result.dir.parent == session.dir / "backups"
    names = sorted(p.name for p in result.dir.iterdir())
    assert names == sorted(
        [
            "ggml-backend.cpp.backup",
            "ggml.c.backup",
            "CMakeLists.txt.backup",
            "ggml-cuda.cu.backup",
            "git-status.txt",
            "git-head.txt",
            "git-diff-before.txt",
            MANIFEST_NAME,
        ]
    )
    assert (result.dir / "ggml-backend.cpp.backup").read_bytes() == backend.read_bytes()
    for item in result.files:
        assert sha256_bytes(Path(item.path).read_bytes()) == item.sha256
        assert Path(item.backup).stat().st_size == item.size

    check = sh.Command("sha256sum")("-c", MANIFEST_NAME, _cwd=result.dir)
    assert check.count(": OK") == 7
    # The manifest really is checked: a changed copy fails it.
    (result.dir / "ggml.c.backup").write_text("tampered\n")
    with pytest.raises(sh.ErrorReturnCode) as failed:
        sh.Command("sha256sum")("-c", MANIFEST_NAME, _cwd=result.dir)
    assert "ggml.c.backup: FAILED" in failed.value.stdout.decode()


def test_backup_saves_the_git_state_the_runbook_lists(session: Session, target_repo: Path) -> None:
    backend = target_repo / "ggml/src/ggml-backend.cpp"
    backend.write_text(backend.read_text() + "// uncommitted work in progress\n")

    result = make_backup(session, backup_step(session), session.values())

    assert (result.dir / "git-head.txt").read_text().startswith(head(target_repo) + " Fix AMX+GPU segfault")
    assert "+// uncommitted work in progress" in (result.dir / "git-diff-before.txt").read_text()
    assert "modified:   ggml/src/ggml-backend.cpp" in (result.dir / "git-status.txt").read_text()
    assert set(result.git) == {"git-status.txt", "git-head.txt", "git-diff-before.txt"}
    assert result.git["git-diff-before.txt"] == sha256_bytes((result.dir / "git-diff-before.txt").read_bytes())


def test_backup_is_recorded_exported_and_located(session: Session, overrides: dict[str, str]) -> None:
    result = make_backup(session, backup_step(session), session.values())

    location = Path(overrides["backup_location_file"])
    assert location.read_text() == f"{result.dir}\n"
    assert session.env()["BACKUP_DIR"] == str(result.dir)
    recorded = session.state.backup
    assert recorded is not None
    assert recorded["dir"] == str(result.dir)
    assert recorded["location_file"] == str(location)
    assert {Path(f["backup"]).name for f in recorded["files"]} == {f"{Path(f.path).name}.backup" for f in result.files}
    assert all(set(f) >= {"path", "backup", "sha256", "size"} for f in recorded["files"])


def test_a_relative_backup_root_is_recorded_and_exported_absolute(
    state_dir: Path,
    runbook_file: RunbookFile,
    overrides: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--var backup_root=backups` (or a relative --state-dir): later steps use $BACKUP_DIR from the repository.
    monkeypatch.chdir(tmp_path)
    with Session.create(state_dir, runbook_file, {**overrides, "backup_root": "backups"}) as session:
        result = make_backup(session, backup_step(session), session.values())
        assert result.dir.parent == tmp_path / "backups"
        assert session.env()["BACKUP_DIR"] == str(result.dir)


def test_a_second_backup_returns_the_first_unless_asked_again(session: Session) -> None:
    step = backup_step(session)
    first = make_backup(session, step, session.values())
    events_before = session.state.last_seq

    repeat = make_backup(session, step, session.values())
    assert not repeat.created
    assert repeat.dir == first.dir
    assert repeat.files == first.files
    assert session.state.last_seq == events_before

    fresh = make_backup(session, step, session.values(), again=True)
    assert fresh.created
    assert fresh.dir != first.dir
    assert session.state.backup is not None and session.state.backup["dir"] == str(fresh.dir)


def test_a_missing_required_file_is_refused_before_anything_is_written(session: Session, target_repo: Path) -> None:
    (target_repo / "ggml/src/ggml-backend.cpp").unlink()
    events_before = session.state.last_seq

    with pytest.raises(BackupError, match=r"ggml/src/ggml-backend\.cpp: the file does not exist"):
        make_backup(session, backup_step(session), session.values())

    assert not (session.dir / "backups").exists()
    assert session.state.backup is None
    assert session.state.last_seq == events_before


def test_missing_optional_files_are_noted_not_refused(session: Session, target_repo: Path) -> None:
    git(target_repo, "rm", "-q", "ggml/src/ggml.c", "ggml/src/ggml-cuda.cu")

    result = make_backup(session, backup_step(session), session.values())

    assert {Path(p).name for p in result.missing} == {"ggml.c", "ggml-cuda.cu"}
    assert {Path(f.path).name for f in result.files} == {"ggml-backend.cpp", "CMakeLists.txt"}
    sh.Command("sha256sum")("-c", MANIFEST_NAME, _cwd=result.dir)


def test_a_folder_that_is_not_a_repository_is_refused(state_dir: Path, runbook_file, tmp_path: Path) -> None:
    plain = tmp_path / "not-a-repo"
    (plain / "ggml/src").mkdir(parents=True)
    (plain / "ggml/src/ggml-backend.cpp").write_text("int x;\n")
    with Session.create(
        state_dir, runbook_file, {"repo": str(plain), "backup_location_file": str(tmp_path / "loc.txt")}
    ) as session:
        with pytest.raises(BackupError, match="is not a git repository"):
            make_backup(session, backup_step(session), session.values())
        assert session.state.backup is None
