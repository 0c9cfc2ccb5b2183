"""Step 1.1's backup and ``amxwizard restore``: copies of the files the runbook changes, with checksums.

A backup is a timestamped folder (under the session's state directory by default, because the original's ``/tmp``
is emptied by a reboot) holding one ``<name>.backup`` copy per file, the git state the runbook lists (status, head,
diff) and a ``MANIFEST.sha256`` that ``sha256sum -c`` verifies. The location file the original names is still
written. Each copy is read once, hashed and written from the same bytes, so the recorded sha256 is the copy's.

Restoring compares each file with two things it may legitimately be: the backup itself (nothing to do) and the
last content the wizard wrote there (``file_edited`` events). Anything else was changed by someone else since, and
is only overwritten with ``force``.

Nothing here reads or writes through a link, or outside where it belongs (issue 17): each source is found with
:class:`~amxwizard.engine.confine.PathPolicy` (inside the repository unless the runbook declares another root) and
read without following links; the backup folder is new, ``0o700``, in a folder no other user controls; each copy
keeps its source's mode (never wider) and owner where allowed; restoring refuses a symlink where a file should be,
even with ``force``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..runbook.models import BackupStep
from ..runbook.templates import TemplateError, render_path
from . import events as ev
from .confine import Confined, PathPolicy
from .fileio import (
    UnsafePathError,
    atomic_write,
    check_target,
    expand_path,
    is_inside,
    new_private_folder,
    read_file,
    read_file_and_status,
    unified_diff,
)

if TYPE_CHECKING:
    from .session import Session

MANIFEST_NAME = "MANIFEST.sha256"
INCOMPLETE_NAME = "INCOMPLETE"  # in a backup folder until every copy, the manifest and the location file are written
DIFF_MAX_LINES = 200
RESTORE_STEP = "restore"  # the ``step`` of file_edited events written by a restore


class BackupError(Exception):
    """A backup cannot be made or restored; the message is one line for the person."""


@dataclass(frozen=True, slots=True)
class BackedUpFile:
    """One file copied into the backup folder."""

    path: str
    backup: str
    sha256: str
    size: int
    mode: int | None = None
    root: str | None = None  # the folder the file was confined to (the repository); restore writes below it


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A backup folder as recorded in ``backup_made``; ``created`` is False when an earlier backup was returned."""

    dir: Path
    files: tuple[BackedUpFile, ...]
    git: Mapping[str, str]
    location_file: str
    missing: tuple[str, ...] = ()
    git_errors: Mapping[str, str] | None = None
    created: bool = True


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# --- making a backup ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    path: Path
    root: Path
    name: str
    optional: bool


def _render(template: str, values: Mapping[str, str], env: Mapping[str, str], what: str) -> Path:
    """A path template rendered the way the step executor renders paths (placeholders, exports, ``~``)."""
    try:
        return expand_path(render_path(template, values, env))
    except TemplateError as exc:
        raise BackupError(f"cannot work out the {what} from {template!r}: {exc}") from None


def _plain_name(name: str, what: str) -> str:
    if not name or name in {".", ".."} or "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
        raise BackupError(f"the {what} {name!r} must be a plain file name (no folders, no control characters)")
    return name


def _locate(policy: PathPolicy, template: str, what: str) -> Confined:
    """A source path rendered and confined (inside the repository unless the runbook declares another root)."""
    try:
        return policy.locate(template, what)
    except TemplateError as exc:
        raise BackupError(f"cannot work out {what} from {template!r}: {exc}") from None
    except UnsafePathError as exc:
        raise BackupError(f"cannot back up {exc}") from None


def _sources(session: Session, step: BackupStep, values: Mapping[str, str]) -> list[_Source]:
    """The files to copy: the step's own list, then every file the runbook edits (as optional), each once."""
    out: list[_Source] = []
    seen_paths: set[str] = set()
    seen_names: set[str] = {MANIFEST_NAME, *(capture.name for capture in step.git)}
    policy = PathPolicy(session.runbook.model, values, session.env())
    for item in step.files:
        found = _locate(policy, item.path, f"backup file {item.name!r}")
        path = found.path
        key = str(path)
        if key in seen_paths:
            continue
        name = _plain_name(item.name, "backup file name")
        if name in seen_names:
            raise BackupError(f"step {step.id} names two backup files {name!r}; give each its own name")
        seen_paths.add(key)
        seen_names.add(name)
        out.append(_Source(path, found.root, name, item.optional))
    if step.include_edited:
        for template in session.runbook.model.edited_files:
            found = _locate(policy, template, "a file the runbook edits")
            path = found.path
            key = str(path)
            if key in seen_paths:
                continue
            seen_paths.add(key)
            name = f"{path.name}.backup"
            # Two edited files with one basename (two CMakeLists.txt): prefix folder names until the name is free.
            parts = list(path.parent.parts)
            while name in seen_names and parts:
                name = f"{parts.pop()}_{name}"
            counter = 2
            base = name
            while name in seen_names:
                name, counter = f"{base}.{counter}", counter + 1
            seen_names.add(name)
            # A file the runbook will create or that this checkout lacks is not a reason to refuse a backup.
            out.append(_Source(path, found.root, name, True))
    return out


def _repo_path(session: Session, values: Mapping[str, str]) -> Path:
    repo = values.get("repo") or ""
    if not repo and session.runbook.model.workdir:
        return _render(session.runbook.model.workdir, values, session.env(), "working folder")
    if not repo:
        raise BackupError("no repository to back up: set the 'repo' variable")
    return expand_path(repo)


def _open_repo(path: Path) -> Any:
    from .gitops import GitOpsError, open_repo

    try:
        return open_repo(path)
    except GitOpsError as exc:
        raise BackupError(f"cannot save the git state: {exc}") from None


def _new_folder(root: Path, name: str) -> Path:
    """A new folder for this backup, private to the user (``0o700``), in a root no other user controls."""
    candidate, counter = name, 2
    while True:
        try:
            return new_private_folder(root, candidate)
        except FileExistsError:
            # A second backup within the same second: keep both.
            candidate, counter = f"{name}-{counter}", counter + 1
        except UnsafePathError as exc:
            raise BackupError(f"cannot make a backup folder in {exc}") from None
        except OSError as exc:
            raise BackupError(f"cannot create the backup folder {root / candidate}: {exc.strerror or exc}") from None


def _write(
    path: Path,
    data: bytes | str,
    what: str,
    *,
    root: Path | None = None,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
) -> None:
    try:
        atomic_write(path, data, root=root, mode=mode, owner=owner)
    except OSError as exc:
        raise BackupError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def make_backup(session: Session, step: BackupStep, values: Mapping[str, str], *, again: bool = False) -> BackupResult:
    """Copy the files the runbook modifies into a new backup folder and record ``backup_made``.

    ``values`` are the session's variable values (``session.values()``). A session that already has a backup gets
    it back (``created=False``) unless ``again``. Raises :class:`BackupError` with one clear line, before anything is
    written, if a listed non-optional file is missing or the repository is not a git repository.
    """
    if session.state.backup is not None and not again:
        return backup_from_record(session.state.backup, created=False)
    rb = session.runbook.model
    sources = _sources(session, step, values)
    for capture in step.git:
        _plain_name(capture.name, "git capture name")
    contents: list[tuple[_Source, bytes, os.stat_result]] = []
    missing: list[str] = []
    for source in sources:
        try:
            data, status = read_file_and_status(source.path, root=source.root)
        except UnsafePathError as exc:
            raise BackupError(f"cannot back up {exc}") from None
        except FileNotFoundError:
            if source.optional:
                missing.append(str(source.path))
                continue
            raise BackupError(
                f"cannot back up {source.path}: the file does not exist (step {step.id} needs it; "
                "check the 'repo' variable)"
            ) from None
        except IsADirectoryError:
            raise BackupError(f"cannot back up {source.path}: it is a folder, not a file") from None
        except OSError as exc:
            raise BackupError(f"cannot read {source.path}: {exc.strerror or exc}") from None
        contents.append((source, data, status))
    repo = _open_repo(_repo_path(session, values)) if step.git else None

    # Absolute: the folder is exported as $BACKUP_DIR to commands that run in the repository, not in this folder.
    root = Path(os.path.abspath(_render(rb.backup.root, values, session.env(), "backup root")))
    location = _location_file(PathPolicy(rb, values, session.env()), rb.backup.location_file)
    folder = _new_folder(root, datetime.now().strftime(rb.backup.pattern))
    # Until the backup is whole the folder says so: a wizard killed half way leaves a folder marked incomplete,
    # which nothing restores from and the next backup does not reuse (it makes a new folder).
    _write(folder / INCOMPLETE_NAME, incomplete_text(session.id, step.id), "the incomplete marker", root=folder)

    files: list[BackedUpFile] = []
    manifest: list[tuple[str, str]] = []
    for source, data, status in contents:
        target = folder / source.name
        mode = stat.S_IMODE(status.st_mode) & 0o777  # the source's bits, never wider (set-id bits dropped)
        owner = (status.st_uid, status.st_gid)
        _write(target, data, "the backup copy", root=folder, mode=mode, owner=owner)
        digest = sha256_bytes(data)
        files.append(BackedUpFile(str(source.path), str(target), digest, len(data), mode, str(source.root)))
        manifest.append((digest, source.name))
    git_hashes: dict[str, str] = {}
    git_errors: dict[str, str] = {}
    if repo is not None:
        for capture in step.git:
            output, error = _git_capture(repo, capture.args)
            _write(folder / capture.name, output, "the git capture", root=folder, mode=0o600)
            git_hashes[capture.name] = sha256_bytes(output)
            manifest.append((git_hashes[capture.name], capture.name))
            if error:
                git_errors[capture.name] = error
    manifest_text = "".join(f"{digest}  {name}\n" for digest, name in manifest)
    _write(folder / MANIFEST_NAME, manifest_text, "the manifest", root=folder, mode=0o600)
    _write(location.path, f"{folder}\n", "the backup location file", root=location.root)
    location_file = location.path
    try:
        (folder / INCOMPLETE_NAME).unlink()
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise BackupError(f"cannot finish the backup in {folder}: {exc.strerror or exc}") from None

    result = BackupResult(folder, tuple(files), git_hashes, str(location_file), tuple(missing), git_errors)
    session.record(
        ev.BackupMade(
            step=step.id,
            dir=str(folder),
            export=step.export,
            files=[
                {"path": f.path, "backup": f.backup, "sha256": f.sha256, "size": f.size, "mode": f.mode, "root": f.root}
                for f in files
            ],
            git=git_hashes,
            git_errors=git_errors,
            missing=missing,
            location_file=str(location_file),
        )
    )
    return result


def incomplete_text(session_id: str, step_id: str) -> str:
    """What the marker in an unfinished backup folder says (the session is named: a backup root may be shared)."""
    return (
        f"amxwizard: this backup was never finished (session {session_id}, step {step_id}); "
        "nothing restores from it. Delete the folder, or keep it to look at.\n"
    )


def incomplete_backups(session: Session, values: Mapping[str, str]) -> list[Path]:
    """Backup folders of this session whose making was cut short (marked :data:`INCOMPLETE_NAME`)."""
    try:
        root = _render(session.runbook.model.backup.root, values, session.env(), "backup root")
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except (BackupError, OSError):
        return []
    wanted = f"(session {session.id},"
    out = []
    for folder in folders:
        try:
            if wanted in (folder / INCOMPLETE_NAME).read_text(encoding="utf-8", errors="replace"):
                out.append(folder)
        except OSError:
            continue
    return out


def _location_file(policy: PathPolicy, template: str) -> Confined:
    """Where the location file goes, checked before the backup folder exists: inside its declared root (or the
    repository), in a folder no other user controls, and not a symlink or another user's file."""
    try:
        location = policy.locate(template, "the backup location file")
        check_target(location.path, root=location.root)
    except TemplateError as exc:
        raise BackupError(f"cannot work out the backup location file from {template!r}: {exc}") from None
    except UnsafePathError as exc:
        raise BackupError(f"cannot write the backup location file {exc}; nothing was backed up") from None
    except OSError as exc:
        raise BackupError(
            f"cannot write the backup location file in {exc.filename}: {exc.strerror or exc}; nothing was backed up"
        ) from None
    return location


def _git_capture(repo: Any, args: list[str]) -> tuple[bytes, str]:
    """What ``git <args>`` prints in ``repo`` (as bytes, untouched), and the error if it failed."""
    from .gitops import run_git

    result = run_git(repo, *args)
    if result.status == 0:
        return result.stdout, ""
    # An empty repository has no `git log -1`; keep what git said rather than refuse the backup.
    detail = " ".join(result.stderr.split())
    return result.stdout, f"git {' '.join(args)} failed (exit {result.status}): {detail}"


def backup_from_record(record: Mapping[str, Any], *, created: bool = False) -> BackupResult:
    """A :class:`BackupResult` from the data of a ``backup_made`` event."""
    files = tuple(
        BackedUpFile(str(f["path"]), str(f["backup"]), str(f["sha256"]), int(f["size"]), f.get("mode"), f.get("root"))
        for f in record.get("files", [])
    )
    return BackupResult(
        Path(str(record["dir"])),
        files,
        dict(record.get("git", {})),
        str(record.get("location_file", "")),
        tuple(record.get("missing", [])),
        dict(record.get("git_errors", {})),
        created,
    )


# --- restoring ----------------------------------------------------------------------------------------------

RestoreAction = Literal["restore", "unchanged", "conflict", "damaged", "unsafe"]


@dataclass(frozen=True, slots=True)
class RestoreItem:
    """What restoring one file would do, and why.

    ``action``: ``restore`` (will be written back), ``unchanged`` (already the backup), ``conflict`` (changed by
    someone other than the wizard since the backup; needs force), ``damaged`` (the backup copy is missing or no
    longer matches its sha256) or ``unsafe`` (a symlink where the file should be, or a path outside the folder it
    was backed up from). Damaged and unsafe items are never written back, not even with force.
    """

    path: str
    backup: str
    action: RestoreAction
    reason: str
    diff: str
    current_sha256: str | None
    backup_sha256: str
    mode: int | None = None
    root: str | None = None  # the folder the file must be written below (no link followed under it)


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """Every backed-up file with what restoring it would do."""

    items: tuple[RestoreItem, ...]

    @property
    def to_restore(self) -> tuple[RestoreItem, ...]:
        return tuple(item for item in self.items if item.action == "restore")

    @property
    def conflicts(self) -> tuple[RestoreItem, ...]:
        return tuple(item for item in self.items if item.action == "conflict")

    @property
    def damaged(self) -> tuple[RestoreItem, ...]:
        return tuple(item for item in self.items if item.action == "damaged")

    @property
    def unsafe(self) -> tuple[RestoreItem, ...]:
        return tuple(item for item in self.items if item.action == "unsafe")


def _last_written(session: Session) -> dict[str, str]:
    """The sha256 the wizard last wrote to each path (its own edits and restores)."""
    out: dict[str, str] = {}
    for edit in session.state.edits:
        if edit.get("path") and edit.get("after_sha256"):
            out[os.path.abspath(str(edit["path"]))] = str(edit["after_sha256"])
    return out


def bytes_diff(
    old: bytes | None, new: bytes | None, old_label: str, new_label: str, max_lines: int = DIFF_MAX_LINES
) -> str:
    """:func:`fileio.unified_diff` of two file contents as stored, or one line for binary files."""
    if old == new:
        return ""
    if b"\x00" in (old or b"") or b"\x00" in (new or b""):
        return f"Binary files {old_label} and {new_label} differ\n"
    return unified_diff(
        None if old is None else old.decode("utf-8", "replace"),
        None if new is None else new.decode("utf-8", "replace"),
        old_label,
        new_label,
        max_lines,
    )


def _restore_root(policy: PathPolicy | None, entry: BackedUpFile) -> Path:
    """The folder ``entry`` is written back below: the root recorded with the backup, else (a backup made before
    roots were recorded) the repository or a declared root that holds it. Raises :class:`UnsafePathError`."""
    path = Path(entry.path)
    if entry.root:
        root = Path(entry.root)
        if root == Path(root.anchor):
            raise UnsafePathError(root, "cannot be the folder a file is restored below: every path is inside it")
        if not is_inside(path, root):
            raise UnsafePathError(path, f"is outside {root}, the folder it was backed up from")
        return root
    if policy is None:
        raise UnsafePathError(path, "the session's values cannot say which folder it belongs in")
    return policy.confine(path, "a file to restore").root


def _read_current(path: Path, root: Path) -> bytes | None:
    """The file as it is now, read without following a link; ``None`` if there is none."""
    try:
        return read_file(path, root=root)
    except FileNotFoundError:
        return None


def plan_restore(session: Session, *, force: bool = False) -> RestorePlan:
    """What restoring the session's backup would change, file by file. Raises :class:`BackupError` if none."""
    record = session.state.backup
    if record is None:
        raise BackupError(f"session {session.id} has no backup yet (step 1.1 makes it)")
    try:
        policy: PathPolicy | None = PathPolicy.for_session(session)
    except (UnsafePathError, TemplateError):
        policy = None  # only needed for backups that did not record their roots
    written = _last_written(session)
    items: list[RestoreItem] = []
    for entry in backup_from_record(record).files:
        path = Path(entry.path)
        try:
            root = _restore_root(policy, entry)
        except UnsafePathError as exc:
            items.append(
                RestoreItem(entry.path, entry.backup, "unsafe", str(exc.strerror), "", None, entry.sha256, entry.mode)
            )
            continue
        try:
            saved: bytes | None = read_file(entry.backup, root=Path(entry.backup).parent)
        except OSError:
            saved = None
        try:
            current = _read_current(path, root)
        except UnsafePathError as exc:
            items.append(
                RestoreItem(
                    entry.path, entry.backup, "unsafe", str(exc.strerror), "", None, entry.sha256, entry.mode, str(root)
                )
            )
            continue
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
        current_sha = sha256_bytes(current) if current is not None else None

        def item(
            action: RestoreAction,
            reason: str,
            diff: str = "",
            *,
            entry: BackedUpFile = entry,
            current_sha: str | None = current_sha,
            root: Path = root,
        ) -> RestoreItem:
            return RestoreItem(
                entry.path, entry.backup, action, reason, diff, current_sha, entry.sha256, entry.mode, str(root)
            )

        if saved is None:
            items.append(item("damaged", f"the backup copy {entry.backup} is missing"))
            continue
        if sha256_bytes(saved) != entry.sha256:
            items.append(item("damaged", f"the backup copy {entry.backup} no longer matches its recorded sha256"))
            continue
        if current_sha == entry.sha256:
            items.append(item("unchanged", "same as the backup"))
            continue
        diff = bytes_diff(current, saved, f"{entry.path} (now)", f"{entry.path} (backup)")
        if current is None:
            items.append(item("restore", "the file was deleted since the backup", diff))
        elif written.get(os.path.abspath(entry.path)) == current_sha:
            items.append(item("restore", "changed only by the wizard's own edits", diff))
        elif force:
            items.append(item("restore", "changed since the backup by someone else (overwritten: --force)", diff))
        else:
            items.append(item("conflict", "changed since the backup by someone other than the wizard", diff))
    return RestorePlan(tuple(items))


def restore(session: Session, plan: RestorePlan) -> list[str]:
    """Write back every ``restore`` item of ``plan`` atomically, recording ``file_edited`` (how=restore) for each.

    Checks first that no file changed since the plan was made, so what was shown is what happens; no file is
    read or written through a link (one planted since the plan is refused, naming it).
    Returns the restored paths.
    """
    todo = plan.to_restore
    for item in todo:
        root = Path(item.root) if item.root else None
        if root is None:
            raise BackupError(f"{item.path}: the plan does not say which folder it belongs in; run restore again")
        try:
            current = _read_current(Path(item.path), root)
        except OSError as exc:
            raise BackupError(f"cannot restore {exc}; nothing was restored") from None
        if (sha256_bytes(current) if current is not None else None) != item.current_sha256:
            raise BackupError(
                f"{item.path} changed after the restore plan was shown; nothing was restored, run restore again"
            )
    restored: list[str] = []
    for item in todo:
        try:
            data = read_file(item.backup, root=Path(item.backup).parent)
        except OSError as exc:
            raise BackupError(
                f"cannot read the backup copy {item.backup}: {exc.strerror or exc} "
                f"({len(restored)} file(s) were restored before it)"
            ) from None
        if sha256_bytes(data) != item.backup_sha256:
            raise BackupError(
                f"the backup copy {item.backup} no longer matches its recorded sha256; "
                f"{len(restored)} file(s) were restored before it"
            )
        path = Path(item.path)
        try:
            # A deleted file comes back with the mode it had; an existing one keeps its own.
            atomic_write(path, data, root=item.root, parents=True, mode=item.mode)
        except OSError as exc:
            raise BackupError(
                f"cannot write {path}: {exc.strerror or exc} ({len(restored)} file(s) were restored before it)"
            ) from None
        session.record(
            ev.FileEdited(
                step=RESTORE_STEP,
                path=item.path,
                before_sha256=item.current_sha256,
                after_sha256=item.backup_sha256,
                how="restore",
            )
        )
        restored.append(item.path)
    return restored
