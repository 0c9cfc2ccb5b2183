"""Issue 17: the safe reads and writes (fileio) and the run-time path checks (confine), on real files and folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from amxwizard.engine.confine import PathPolicy
from amxwizard.engine.edits import EditError, PlannedFile, apply_planned
from amxwizard.engine.fileio import (
    UnsafePathError,
    atomic_write,
    check_target,
    new_private_folder,
    private_folder,
    read_file,
)
from amxwizard.runbook import load_text
from amxwizard.runbook.models import Runbook
from tests.conftest import FIXTURES

LINK_ADVICE = "the wizard does not read or write through links (remove the link)"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user owns needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "a.cpp").write_text("int a;\n")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text("untouched\n")
    return folder


# --- writing below a root -------------------------------------------------------------------------------------


def test_a_link_to_a_folder_below_the_root_is_refused_and_nothing_lands_behind_it(repo: Path, outside: Path) -> None:
    (repo / "docs").symlink_to(outside)
    with pytest.raises(UnsafePathError) as refused:
        atomic_write(repo / "docs" / "victim.txt", "overwritten", root=repo)
    assert str(refused.value) == f"{repo / 'docs'}: is a symlink to {outside}; {LINK_ADVICE}"
    assert (outside / "victim.txt").read_text() == "untouched\n"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    with pytest.raises(UnsafePathError, match="is a symlink to"):
        atomic_write(repo / "docs" / "new" / "x.txt", "x", root=repo, parents=True)
    with pytest.raises(UnsafePathError, match="is a symlink to"):
        read_file(repo / "docs" / "victim.txt", root=repo)


def test_without_a_root_only_the_file_itself_is_checked(repo: Path, outside: Path) -> None:
    (repo / "docs").symlink_to(outside)  # a folder the person chose to link: followed when no root is given
    atomic_write(repo / "docs" / "new.txt", "fine")
    assert (outside / "new.txt").read_text() == "fine"


def test_a_path_outside_its_root_is_refused_even_spelled_with_dots(repo: Path, outside: Path) -> None:
    sneaky = repo / "src" / ".." / ".." / "outside" / "victim.txt"
    with pytest.raises(UnsafePathError) as refused:
        atomic_write(sneaky, "overwritten", root=repo)
    assert str(refused.value) == f"{outside / 'victim.txt'}: is outside {repo}, where the wizard may write it"
    assert (outside / "victim.txt").read_text() == "untouched\n"


def test_missing_folders_below_the_root_are_made(repo: Path) -> None:
    atomic_write(repo / "docs" / "notes" / "STATUS.md", "# Status\n", root=repo, parents=True)
    assert (repo / "docs" / "notes" / "STATUS.md").read_text() == "# Status\n"
    with pytest.raises(FileNotFoundError):
        atomic_write(repo / "missing" / "x.md", "x", root=repo)


def test_a_folder_everyone_can_write_without_the_sticky_bit_is_refused(tmp_path: Path) -> None:
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    with pytest.raises(UnsafePathError, match="is writable by every user and has no sticky bit"):
        atomic_write(open_folder / "x.txt", "x")
    assert list(open_folder.iterdir()) == []


def test_in_a_sticky_shared_folder_the_users_own_file_is_replaced_and_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    mine = shared / "location.txt"
    mine.write_text("old\n")
    mine.chmod(0o600)
    atomic_write(mine, "new\n")
    assert (mine.read_text(), mode(mine)) == ("new\n", 0o600)
    assert sorted(p.name for p in shared.iterdir()) == ["location.txt"]  # the temp file was renamed, not left


@needs_root
def test_another_users_file_in_a_shared_folder_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    theirs = shared / "location.txt"
    theirs.write_text("theirs\n")
    os.chown(theirs, 65534, 65534)
    with pytest.raises(UnsafePathError, match=r"belongs to another user \(uid 65534\) in a folder everyone can write"):
        atomic_write(theirs, "mine\n")
    with pytest.raises(UnsafePathError):
        check_target(theirs)
    assert theirs.read_text() == "theirs\n"


@needs_root
def test_an_existing_file_keeps_its_owner_when_the_wizard_runs_as_root(repo: Path) -> None:
    source = repo / "src" / "a.cpp"
    os.chown(source, 65534, 65534)
    source.chmod(0o640)
    atomic_write(source, "int b;\n", root=repo)
    st = source.stat()
    assert (st.st_uid, st.st_gid, mode(source), source.read_text()) == (65534, 65534, 0o640, "int b;\n")


def test_a_new_file_gets_the_mode_asked_for(repo: Path) -> None:
    atomic_write(repo / "copy.backup", b"secret", root=repo, mode=0o640)
    assert mode(repo / "copy.backup") == 0o640


def test_reading_refuses_a_link_a_fifo_and_a_folder_without_blocking(repo: Path, outside: Path) -> None:
    link = repo / "src" / "b.cpp"
    link.symlink_to(outside / "victim.txt")
    with pytest.raises(UnsafePathError) as refused:
        read_file(link, root=repo)
    assert str(refused.value) == f"{link}: is a symlink to {outside / 'victim.txt'}; {LINK_ADVICE}"
    fifo = repo / "src" / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        read_file(fifo)  # opened non-blocking: a FIFO with no writer would hang a plain open()
    with pytest.raises(IsADirectoryError):
        read_file(repo / "src")
    with pytest.raises(FileNotFoundError):
        read_file(repo / "src" / "missing.cpp", root=repo)
    assert read_file(repo / "src" / "a.cpp", root=repo) == b"int a;\n"


# --- private folders ------------------------------------------------------------------------------------------


def test_private_folders_are_made_0700_and_open_ones_tightened(tmp_path: Path) -> None:
    made = private_folder(tmp_path / "state" / "amxwizard")
    assert mode(made) == mode(made.parent) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    private_folder(loose)
    assert mode(loose) == 0o700


def test_a_new_private_folder_is_new_and_0700(tmp_path: Path) -> None:
    folder = new_private_folder(tmp_path / "backups", "amx-scheduler-fix-1")
    assert mode(folder) == 0o700
    with pytest.raises(FileExistsError):
        new_private_folder(tmp_path / "backups", "amx-scheduler-fix-1")
    open_root = tmp_path / "open"
    open_root.mkdir()
    open_root.chmod(0o777)
    with pytest.raises(UnsafePathError, match="writable by every user"):
        new_private_folder(open_root, "backup")


# --- the run-time checks of rendered paths --------------------------------------------------------------------

MINIMAL = (FIXTURES / "bad-runbooks" / "_valid_minimal.yaml").read_text(encoding="utf-8")


def _runbook(declared_root: Path) -> Runbook:
    text = MINIMAL.replace(
        "  expected_commit:",
        f"  sub:\n    type: text\n    default: src\n  location:\n    type: path\n"
        f"    default: {declared_root}/location.txt\n    root: {declared_root}\n  expected_commit:",
        1,
    ).replace('location_file: "{{repo}}/backup-location.txt"', 'location_file: "{{location}}"')
    return load_text(text).model


def _policy(tmp_path: Path, **values: str) -> PathPolicy:
    declared = tmp_path / "declared"
    declared.mkdir(exist_ok=True)
    rb = _runbook(declared)
    base = {
        "repo": str(tmp_path / "repo"),
        "sub": "src",
        "location": str(declared / "location.txt"),
        "session_dir": str(tmp_path / "s"),
    }
    return PathPolicy(rb, {**base, **values})


def test_a_repository_of_slash_confines_nothing_and_is_refused(tmp_path: Path) -> None:
    policy = _policy(tmp_path, repo="/")
    with pytest.raises(UnsafePathError) as refused:
        policy.locate("{{repo}}/etc/passwd", "a file to edit")
    assert str(refused.value) == "/: repo=/ cannot be the repository: every path would be inside it"
    assert policy.problems() == ["/: repo=/ cannot be the repository: every path would be inside it"]
    for spelled in ("/.", "//", "/tmp/.."):
        with pytest.raises(UnsafePathError):
            _policy(tmp_path, repo=spelled).repo()


def test_dots_or_an_absolute_path_inside_a_value_are_refused(repo: Path, tmp_path: Path) -> None:
    policy = _policy(tmp_path, sub="../../etc")
    with pytest.raises(UnsafePathError) as refused:
        policy.locate("{{repo}}/{{sub}}/passwd", "a file to edit")
    assert str(refused.value) == (
        f"{tmp_path.parent / 'etc' / 'passwd'}: a file to edit must lie inside the repository, {repo}; "
        "this one is outside it"
    )
    assert _policy(tmp_path).locate("{{repo}}/{{sub}}/../src/a.cpp", "x").path == repo / "src" / "a.cpp"
    assert _policy(tmp_path, sub="/etc").locate("{{repo}}/{{sub}}/x", "x").path == repo / "etc" / "x"


def test_a_declared_root_holds_its_variable_wherever_the_value_points(tmp_path: Path) -> None:
    declared = tmp_path / "declared"
    good = _policy(tmp_path).locate("{{location}}", "the backup location file")
    assert (good.path, good.root) == (declared / "location.txt", declared)
    moved = _policy(tmp_path, location=str(tmp_path / "repo" / "location.txt"))
    with pytest.raises(UnsafePathError, match=rf"must lie inside {declared} \(the root variable 'location' declares\)"):
        moved.locate("{{location}}", "the backup location file")
    assert len(moved.problems()) == 1 and moved.problems()[0].startswith("location: ")


def test_problems_name_a_link_planted_at_a_declared_path(tmp_path: Path, outside: Path) -> None:
    policy = _policy(tmp_path)
    (tmp_path / "declared" / "location.txt").symlink_to(outside / "victim.txt")
    assert policy.problems() == [
        f"location: {tmp_path / 'declared' / 'location.txt'}: is a symlink to {outside / 'victim.txt'}; {LINK_ADVICE}"
    ]


def test_backup_folder_paths_need_the_backup_first(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    text = MINIMAL.replace(
        '      - id: "1.2"\n        kind: form',
        '      - id: "1.0"\n        kind: backup\n        title: B\n        files: []\n'
        '      - id: "1.2"\n        kind: form',
    )
    rb = load_text(text).model
    early = PathPolicy(rb, policy.values)
    with pytest.raises(UnsafePathError, match=r"\$BACKUP_DIR: is not set yet"):
        early.locate("$BACKUP_DIR/analysis.txt", "the form's output")
    later = PathPolicy(rb, policy.values, {"BACKUP_DIR": str(tmp_path / "b")})
    assert later.locate("$BACKUP_DIR/analysis.txt", "x").path == tmp_path / "b" / "analysis.txt"


def test_relative_paths_are_read_from_the_workdir(tmp_path: Path, repo: Path) -> None:
    rb = load_text(MINIMAL.replace("title: Minimal runbook\n", 'title: Minimal runbook\nworkdir: "{{repo}}"\n')).model
    policy = PathPolicy(rb, {"repo": str(repo)})
    assert policy.locate("src/a.cpp", "x").path == repo / "src" / "a.cpp"


# --- edits: apply_planned ---------------------------------------------------------------------------------------


def _plan(path: Path, old: str, new: str) -> PlannedFile:
    return PlannedFile(path, old, new, "", (), ())


def test_an_edit_is_not_written_through_a_link_even_without_a_policy(repo: Path, outside: Path) -> None:
    link = repo / "src" / "linked.cpp"
    link.symlink_to(outside / "victim.txt")
    with pytest.raises(EditError) as refused:
        apply_planned([_plan(link, "untouched\n", "patched\n")])
    assert str(refused.value) == f"not editing {link}: is a symlink to {outside / 'victim.txt'}; {LINK_ADVICE}"
    assert (outside / "victim.txt").read_text() == "untouched\n"


def test_with_a_policy_an_edit_outside_the_repository_is_refused(tmp_path: Path, repo: Path, outside: Path) -> None:
    policy = _policy(tmp_path)
    with pytest.raises(EditError, match="a file to edit must lie inside the repository"):
        apply_planned([_plan(outside / "victim.txt", "untouched\n", "patched\n")], policy=policy)
    assert (outside / "victim.txt").read_text() == "untouched\n"
    assert apply_planned([_plan(repo / "src" / "a.cpp", "int a;\n", "int b;\n")], policy=policy) == [
        repo / "src" / "a.cpp"
    ]
    assert (repo / "src" / "a.cpp").read_text() == "int b;\n"
