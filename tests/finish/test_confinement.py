"""Issue 17, tried as another user of a shared GPU box would: links planted where the wizard writes, a backup of a
file others may not read. Each attack is refused with one line naming what was found, and nothing is written
outside the repository (or the root the runbook declares)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from amxwizard.engine.backup import BackupError, make_backup, plan_restore, restore
from amxwizard.engine.session import Session, sessions_root
from amxwizard.runbook import RunbookFile
from tests.cli_session import accept_setup
from tests.finish.support import RUNBOOK, cli, git
from tests.finish.test_restore import backed_up, wizard_edit

BACKEND = "ggml/src/ggml-backend.cpp"
OUTSIDE = "a file outside the repository that the wizard must never change\n"
LINK_ADVICE = "the wizard does not read or write through links (remove the link)"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user owns needs root")


def var_args(overrides: dict[str, str]) -> list[str]:
    return [arg for name, value in overrides.items() for arg in ("--var", f"{name}={value}")]


def step(
    step_id: str, state_dir: Path, overrides: dict[str, str], cwd: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``amxwizard step ID --yes`` as a person runs it (after accepting the setup)."""
    accept_setup(state_dir, overrides, runbook=RUNBOOK, cwd=cwd)
    return cli(
        "step",
        step_id,
        "--runbook",
        str(RUNBOOK),
        "--state-dir",
        str(state_dir),
        *var_args(overrides),
        "--yes",
        *extra,
        cwd=cwd,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- the symlinked document (step 5.4) ------------------------------------------------------------------------


def test_step_5_4_refuses_a_symlinked_document_and_appends_nothing_outside(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str], target_repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "someone-elses-notes.md"
    outside.write_text(OUTSIDE)
    link = target_repo / "AMX_SESSION_CURRENT.md"
    link.symlink_to(outside)

    result = step("5.4", state_dir, overrides, tmp_path)

    assert result.returncode == 3, result.stdout + result.stderr  # blocked: the link must go first
    assert result.stderr.splitlines()[-1] == (
        f"amxwizard: blocked: cannot update {link}: is a symlink to {outside}; {LINK_ADVICE}; nothing was written"
    )
    assert "PASSED" not in result.stdout
    assert outside.read_text() == OUTSIDE
    assert link.is_symlink() and os.readlink(link) == str(outside)
    assert not (target_repo / "AMX_GPU_HYBRID_SCHEDULER_FIX.md").exists()  # the other document was not written
    session = Session.peek(next(sessions_root(state_dir).iterdir()), runbook_file)
    try:
        assert session.state.documents == {}
    finally:
        session.close()


def test_a_document_whose_folder_is_a_link_out_of_the_repository_is_refused(
    session: Session, target_repo: Path, tmp_path: Path
) -> None:
    from amxwizard.engine import docs

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (target_repo / "docs").mkdir()
    plan = docs.plan_update(target_repo / "docs" / "STATUS.md", "Status", "done\n", root=target_repo)
    # Planted after the diff was shown: the folder becomes a link out of the repository.
    (target_repo / "docs").rmdir()
    (target_repo / "docs").symlink_to(elsewhere)
    with pytest.raises(docs.DocError) as refused:
        docs.apply(session, "5.4", [plan])
    assert str(refused.value) == (
        f"cannot update {target_repo / 'docs'}: is a symlink to {elsewhere}; {LINK_ADVICE}; nothing was written"
    )
    assert list(elsewhere.iterdir()) == []


def test_a_plan_for_a_document_outside_the_repository_is_not_written(
    session: Session, target_repo: Path, tmp_path: Path
) -> None:
    from amxwizard.engine import docs

    outside = tmp_path.parent / f"{tmp_path.name}-notes.md"  # not below the repository, nor inside tmp_path
    plan = docs.plan_update(outside, "Status", "done\n")
    with pytest.raises(docs.DocError, match="must lie inside the repository"):
        docs.apply(session, "5.4", [plan])
    assert not outside.exists()


# --- the symlinked restore target -----------------------------------------------------------------------------


def test_restore_force_refuses_a_symlinked_target_and_restores_nothing(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str], target_repo: Path, tmp_path: Path
) -> None:
    backend, cmake = target_repo / BACKEND, target_repo / "ggml/src/CMakeLists.txt"
    with Session.create(state_dir, runbook_file, overrides) as session:
        backed_up(session)
        wizard_edit(session, cmake, "# the wizard's CMake edit\n")
    outside = tmp_path / "outside.cpp"
    outside.write_text(OUTSIDE)
    backend.unlink()
    backend.symlink_to(outside)

    forced = cli(
        "restore",
        "--runbook",
        str(RUNBOOK),
        "--state-dir",
        str(state_dir),
        *var_args(overrides),
        "--force",
        "--yes",
        cwd=tmp_path,
    )

    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert f"unsafe    {backend}  (is a symlink to {outside}; {LINK_ADVICE})" in forced.stdout
    assert forced.stderr.splitlines() == [
        f"amxwizard: not restoring through a link or outside its folder: {backend}; nothing was restored "
        "(not even with --force)"
    ]
    assert outside.read_text() == OUTSIDE  # the 7,773 bytes of the issue did not land here
    assert backend.is_symlink()
    assert cmake.read_text() == "# the wizard's CMake edit\n"  # all or nothing


def test_a_link_planted_after_the_restore_plan_is_refused_too(
    session: Session, target_repo: Path, tmp_path: Path
) -> None:
    backend = target_repo / BACKEND
    backed_up(session)
    backend.write_text("// changed by hand\n")
    plan = plan_restore(session, force=True)
    assert [Path(item.path) for item in plan.to_restore] == [backend]
    outside = tmp_path / "outside.cpp"
    outside.write_text(OUTSIDE)
    backend.unlink()
    backend.symlink_to(outside)

    with pytest.raises(BackupError) as refused:
        restore(session, plan)
    assert (
        str(refused.value)
        == f"cannot restore {backend}: is a symlink to {outside}; {LINK_ADVICE}; nothing was restored"
    )
    assert outside.read_text() == OUTSIDE
    assert [e for e in session.state.edits if e.get("how") == "restore"] == []


def test_a_file_recorded_outside_its_root_is_never_restored(session: Session, target_repo: Path) -> None:
    """A doctored backup_made event cannot point a restore outside the folder the file was backed up from."""
    backed_up(session)
    record = session.state.backup
    assert record is not None
    entry = dict(record["files"][0])
    assert entry["root"] == str(target_repo)
    session.state.backup = {**record, "files": [{**entry, "path": str(target_repo.parent / "escaped.cpp")}]}
    (item,) = plan_restore(session, force=True).items
    assert item.action == "unsafe"
    assert item.reason == f"is outside {target_repo}, the folder it was backed up from"


# --- the planted location file --------------------------------------------------------------------------------


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A folder every user may write, with the sticky bit: what /tmp is."""
    folder = tmp_path / "shared-tmp"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def test_a_symlink_planted_at_the_location_file_is_refused_before_anything_is_written(
    state_dir: Path, target_repo: Path, tmp_path: Path, shared_tmp: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(OUTSIDE)
    planted = shared_tmp / "amx-scheduler-fix-backup-location.txt"
    planted.symlink_to(victim)
    overrides = {"repo": str(target_repo), "backup_location_file": str(planted)}
    args = ["--runbook", str(RUNBOOK), "--state-dir", str(state_dir), *var_args(overrides)]

    # Planted before the setup: the setup refuses it, whatever --force says, and starts no session.
    refused = cli("setup", *args, "--accept", "--force", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        f"is a symlink to {victim}; {LINK_ADVICE} (fix it with --var; --force does not override this)"
    )
    assert not sessions_root(state_dir).exists() or not any(sessions_root(state_dir).iterdir())

    # Planted after it: the backup step refuses it when it writes, and backs nothing up.
    planted.unlink()
    assert cli("setup", *args, "--accept", "--force", cwd=tmp_path).returncode == 0
    planted.symlink_to(victim)
    result = step("1.1", state_dir, overrides, tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"1.1: FAILED — cannot write the backup location file {planted}: is a symlink to {victim}; {LINK_ADVICE}; "
        "nothing was backed up"
    )
    assert victim.read_text() == OUTSIDE
    assert planted.is_symlink()
    (session_dir,) = sessions_root(state_dir).iterdir()
    assert not (session_dir / "backups").exists()


@needs_root
def test_a_location_file_another_user_planted_in_a_shared_folder_is_refused(
    state_dir: Path, runbook_file: RunbookFile, target_repo: Path, shared_tmp: Path
) -> None:
    planted = shared_tmp / "location.txt"
    planted.write_text("/home/attacker/fake-backup\n")
    os.chown(planted, 65534, 65534)
    with Session.create(
        state_dir, runbook_file, {"repo": str(target_repo), "backup_location_file": str(planted)}
    ) as session:
        with pytest.raises(BackupError) as refused:
            backed_up(session)
        assert session.state.backup is None
    assert str(refused.value) == (
        f"cannot write the backup location file {planted}: belongs to another user (uid 65534) in a folder everyone "
        "can write; remove it or choose another path; nothing was backed up"
    )
    assert planted.read_text() == "/home/attacker/fake-backup\n"


@needs_root
def test_a_location_file_in_a_folder_another_user_owns_is_refused(
    state_dir: Path, runbook_file: RunbookFile, target_repo: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "their-folder"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with (
        Session.create(
            state_dir, runbook_file, {"repo": str(target_repo), "backup_location_file": str(theirs / "location.txt")}
        ) as session,
        pytest.raises(BackupError, match=r"their-folder: belongs to another user \(uid 65534\)"),
    ):
        backed_up(session)
    assert list(theirs.iterdir()) == []


# --- the 0640 source --------------------------------------------------------------------------------------------


def test_a_0640_source_stays_0640_in_private_folders(
    state_dir: Path, overrides: dict[str, str], target_repo: Path, tmp_path: Path
) -> None:
    backend = target_repo / BACKEND
    backend.chmod(0o640)
    state_dir.chmod(0o755)

    result = step("1.1", state_dir, overrides, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    (session_dir,) = sessions_root(state_dir).iterdir()
    (backup_dir,) = (session_dir / "backups").iterdir()
    copy = backup_dir / "ggml-backend.cpp.backup"
    assert copy.read_bytes() == backend.read_bytes()
    assert mode(copy) == 0o640  # was 0644 (umask) before issue 17
    assert {mode(p) for p in (state_dir, sessions_root(state_dir), session_dir, backup_dir)} == {0o700}
    readable_by_all = [p for p in backup_dir.iterdir() if mode(p) & 0o004]
    assert sorted(
        p.name for p in readable_by_all
    ) == sorted(  # the other sources were 0644 and stay so, in a 0700 folder
        p.name for p in backup_dir.iterdir() if p.name.endswith(".backup") and p.name != copy.name
    )
    assert mode(backup_dir / "git-diff-before.txt") == 0o600


@needs_root
def test_a_backup_copy_keeps_the_sources_owner_and_group(session: Session, target_repo: Path) -> None:
    backend = target_repo / BACKEND
    backend.chmod(0o640)
    os.chown(backend, 65534, 65534)
    result = make_backup(session, session.runbook.model.step("1.1"), session.values())  # type: ignore[arg-type]
    copy = result.dir / "ggml-backend.cpp.backup"
    st = copy.stat()
    assert (st.st_uid, st.st_gid, mode(copy)) == (65534, 65534, 0o640)


def test_a_source_that_is_a_link_out_of_the_repository_is_not_backed_up(
    session: Session, target_repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret\n")
    secret.chmod(0o640)
    source = target_repo / "ggml/src/ggml.c"
    source.unlink()
    source.symlink_to(secret)
    with pytest.raises(BackupError) as refused:
        backed_up(session)
    assert str(refused.value) == f"cannot back up {source}: is a symlink to {secret}; {LINK_ADVICE}"
    assert not (session.dir / "backups").exists()


def test_a_repository_of_slash_is_refused_before_anything_is_copied(
    state_dir: Path, overrides: dict[str, str], tmp_path: Path
) -> None:
    # The setup refuses it outright: no session, nothing copied.
    args = ["--runbook", str(RUNBOOK), "--state-dir", str(state_dir), *var_args({**overrides, "repo": "/"})]
    refused = cli("setup", *args, "--accept", "--force", cwd=tmp_path)
    assert refused.returncode == 1
    assert "repo=/ cannot be the repository: every path would be inside it" in refused.stderr.splitlines()[-1]
    assert not sessions_root(state_dir).exists() or not any(sessions_root(state_dir).iterdir())
    # Set later on an accepted session, the backup step refuses it before anything is copied.
    assert cli("setup", *args[:4], *var_args(overrides), "--accept", "--force", cwd=tmp_path).returncode == 0
    result = step("1.1", state_dir, {**overrides, "repo": "/"}, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        "1.1: FAILED — cannot back up /: repo=/ cannot be the repository: every path would be inside it"
    )
    (session_dir,) = sessions_root(state_dir).iterdir()
    assert not (session_dir / "backups").exists()


def test_an_older_sessions_open_folder_is_made_private_when_opened(
    state_dir: Path, runbook_file: RunbookFile, overrides: dict[str, str]
) -> None:
    with Session.create(state_dir, runbook_file, overrides) as session:
        folder = session.dir
    folder.chmod(0o755)  # as sessions were made before issue 17
    with Session.open(folder, runbook_file):
        assert mode(folder) == 0o700


def test_an_ordinary_backup_still_passes_every_check(session: Session, target_repo: Path) -> None:
    """The checks do not get in the way of an ordinary backup in an ordinary repository."""
    result = make_backup(session, session.runbook.model.step("1.1"), session.values())  # type: ignore[arg-type]
    assert len(result.files) == 4
    assert git(target_repo, "status", "--porcelain").stdout == ""
