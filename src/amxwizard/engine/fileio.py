"""Crash-safe file writing that never writes through a link, and reading that never follows one.

A file written in place with ``open(path, "w")`` is left truncated or half-written when the process is killed
mid-write. ``atomic_write`` writes a sibling temp file, flushes it to disk, renames it over the target and then
flushes the folder entry, so a reader sees either the whole old file or the whole new one.

It is also the one place that decides where a write may land. On a shared machine another user can plant a
symlink where the wizard is about to write (a fixed name under ``/tmp``, a document in a repository) and have
the wizard overwrite a file of their choosing. So:

- below ``root`` (the repository, or a root the runbook declares) every folder is opened from the one above
  with ``O_NOFOLLOW``, and the file is created and renamed relative to that open folder: a link anywhere below
  the root is refused, and one swapped in meanwhile is never followed;
- a symlink (or anything but a regular file) where the file should be is refused, naming the link and its
  target; the temp file is created exclusively (``O_EXCL | O_NOFOLLOW``) and the rename replaces a name, never
  what a link points to;
- the folder must belong to the user or to root and must not be writable by everyone unless it has the sticky
  bit (``/tmp``); in such a shared folder a file that belongs to another user is refused;
- an existing file keeps its mode, and its owner and group where the user may set them.

:func:`read_file` reads the same way (no link followed below ``root``, none at the file itself). Every refusal
is an :class:`UnsafePathError`, an ``OSError`` whose text is one line naming the path.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import hashlib
import os
import secrets
import stat
from pathlib import Path

_DEFAULT_FILE_MODE = 0o666
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
PRIVATE_FOLDER_MODE = 0o700


class UnsafePathError(OSError):
    """A path the wizard refuses to read or write: a link, outside its root, another user's file or folder."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(errno.EPERM, reason, str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _current_umask() -> int:
    # os.umask can only be read by setting it, and the umask is shared by every thread: a file another thread
    # creates meanwhile would get mode 0o666. Linux reports it without changing it.
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_path(path: Path | str) -> Path:
    """``path`` absolute, with ``.`` and ``..`` resolved as text (``a/b/../c`` is ``a/c``) and no link followed.

    Every check and every access uses this one spelling, so what was checked is what is opened.
    """
    return Path(os.path.normpath(os.path.abspath(os.fspath(path))))


def is_inside(path: Path | str, root: Path | str) -> bool:
    """Whether ``path`` lies strictly below ``root`` (both taken as :func:`normal_path`)."""
    target, base = normal_path(path), normal_path(root)
    return target != base and target.is_relative_to(base)


def link_refusal(path: Path | str, target: str) -> UnsafePathError:
    """The error for a symlink found where a file or folder should be."""
    return UnsafePathError(
        path, f"is a symlink to {target}; the wizard does not read or write through links (remove the link)"
    )


def _refuse_entry(folder_fd: int, name: str, shown: Path) -> None:
    """Raise the right :class:`UnsafePathError` for ``name`` in the folder that could not be opened as wanted."""
    try:
        st = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(name, dir_fd=folder_fd)
        except OSError:
            target = "(unreadable)"
        raise link_refusal(shown, target)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(shown, "is not a folder")


def _open_folder(path: Path, root: Path | None, *, create: bool = False, folder_mode: int = 0o777) -> int:
    """An open descriptor of the folder holding ``path`` (a :func:`normal_path`).

    Below ``root`` each folder is opened from its parent with ``O_NOFOLLOW`` (and made with ``folder_mode`` when
    missing and ``create``); ``root`` itself, and what lies above it, is reached as usual: the person chose it.
    Without ``root`` the folder is opened as usual.
    """
    folder = path.parent
    if root is None:
        return os.open(folder, _DIR_FLAGS)
    base = normal_path(root)
    if not is_inside(path, base):
        raise UnsafePathError(path, f"is outside {base}, where the wizard may write it")
    fd = os.open(base, _DIR_FLAGS)
    here = base
    try:
        for part in folder.relative_to(base).parts:
            here = here / part
            try:
                next_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(here)) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, folder_mode, dir_fd=fd)
                try:
                    next_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:
                    _refuse_entry(fd, part, here)
                    raise
            except OSError:
                _refuse_entry(fd, part, here)
                raise
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_folder(folder_fd: int, folder: Path) -> os.stat_result:
    """Refuse a folder another user could swap entries in: not the user's or root's, or writable by all and not
    sticky."""
    st = os.fstat(folder_fd)
    if st.st_uid not in (os.geteuid(), 0):
        raise UnsafePathError(
            folder, f"belongs to another user (uid {st.st_uid}); the wizard writes only in folders you or root own"
        )
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise UnsafePathError(
            folder, "is writable by every user and has no sticky bit; the wizard will not write there"
        )
    return st


def _existing_target(folder_fd: int, name: str, path: Path, folder_st: os.stat_result) -> os.stat_result | None:
    """The regular file at ``name`` (``None`` if there is none); refuses a link, a non-file, another user's file
    in a shared folder."""
    try:
        st = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        _refuse_entry(folder_fd, name, path)  # names the link and its target
        raise UnsafePathError(path, "is a symlink; the wizard does not read or write through links")
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(path, "is not a regular file")
    shared = bool(folder_st.st_mode & stat.S_IWOTH)
    if shared and st.st_uid != os.geteuid():
        raise UnsafePathError(
            path,
            f"belongs to another user (uid {st.st_uid}) in a folder everyone can write; remove it or choose "
            "another path",
        )
    return st


def atomic_write(
    path: Path | str,
    data: bytes | str,
    *,
    encoding: str = "utf-8",
    root: Path | str | None = None,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    parents: bool = False,
) -> None:
    """Replace the contents of ``path`` with ``data`` atomically, never through a link.

    The new contents go to a temp file created exclusively in the same folder, which is fsynced and renamed over
    ``path``; finally the folder is fsynced. ``str`` data is encoded with ``encoding`` and written without newline
    translation.

    ``root``: ``path`` must lie below it, and no link below it is followed (see the module text). ``parents``:
    make missing folders below ``root`` (mode ``0o777 & ~umask``). An existing file keeps its permission bits
    and, where allowed, its owner and group; a new file gets ``mode`` if given, else the usual
    ``0o666 & ~umask``, and ``owner`` (uid, gid) where allowed. Raises :class:`UnsafePathError` for a symlink at
    ``path`` (naming its target), a path outside ``root``, a folder another user controls, or another user's file
    in a folder everyone can write; ``OSError`` for the rest.
    """
    target = normal_path(path)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    name = target.name
    folder_fd = _open_folder(target, None if root is None else normal_path(root), create=parents)
    try:
        folder_st = _check_folder(folder_fd, target.parent)
        existing = _existing_target(folder_fd, name, target, folder_st)
        if existing is not None:
            new_mode = stat.S_IMODE(existing.st_mode)
            keep: tuple[int, int] | None = (existing.st_uid, existing.st_gid)
        else:
            new_mode = mode if mode is not None else _DEFAULT_FILE_MODE & ~_current_umask()
            keep = owner
        temp_name = f".{name[:200]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(
            temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder_fd
        )
        try:
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                if keep is not None:
                    new_mode = _keep_owner(fd, keep, new_mode)
                # Created 0600; now the mode the target had (or would have had).
                os.fchmod(fd, new_mode)
            finally:
                os.close(fd)
            os.replace(temp_name, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name, dir_fd=folder_fd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def _keep_owner(fd: int, owner: tuple[int, int], mode: int) -> int:
    """Give the temp file ``owner``'s uid (root only can) and gid (where the user is in the group); returns the
    mode to set, without group bits if the group could not be kept (a 0640 file's group readers stay who they
    were, never the user's own group)."""
    uid, gid = owner
    euid = os.geteuid()
    if euid == 0 and uid != 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, uid, -1)
    if gid != os.fstat(fd).st_gid:
        try:
            os.fchown(fd, -1, gid)
        except OSError:
            mode &= ~0o070
    return mode


def check_target(path: Path | str, *, root: Path | str | None = None) -> None:
    """Make the checks :func:`atomic_write` makes before it writes, and write nothing: raises what it would raise
    (``FileNotFoundError`` if the folder is missing)."""
    target = normal_path(path)
    folder_fd = _open_folder(target, None if root is None else normal_path(root))
    try:
        folder_st = _check_folder(folder_fd, target.parent)
        _existing_target(folder_fd, target.name, target, folder_st)
    finally:
        os.close(folder_fd)


def read_file(path: Path | str, *, root: Path | str | None = None) -> bytes:
    """The bytes of the regular file at ``path``, without following a link at it or below ``root``.

    Raises ``FileNotFoundError`` if it is missing, ``IsADirectoryError`` for a folder, :class:`UnsafePathError`
    for a link (naming its target), a path outside ``root`` or anything but a regular file (a FIFO would block).
    """
    return read_file_and_status(path, root=root)[0]


def read_file_and_status(path: Path | str, *, root: Path | str | None = None) -> tuple[bytes, os.stat_result]:
    """:func:`read_file`, with the ``fstat`` of the very file read (its mode and owner, for a backup copy)."""
    target = normal_path(path)
    folder_fd = _open_folder(target, None if root is None else normal_path(root))
    try:
        try:
            fd = os.open(target.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(target)) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                _refuse_entry(folder_fd, target.name, target)
            raise
    finally:
        os.close(folder_fd)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(target, "is not a regular file")
        return handle.read(), st


def new_private_folder(parent: Path | str, name: str) -> Path:
    """Create ``parent/name`` (mode ``0o700``; ``FileExistsError`` if it exists) in a folder no other user
    controls, making ``parent`` first if needed. Returns the new folder's :func:`normal_path`."""
    base = normal_path(parent)
    base.mkdir(parents=True, exist_ok=True)
    folder_fd = os.open(base, _DIR_FLAGS)
    try:
        _check_folder(folder_fd, base)
        os.mkdir(name, PRIVATE_FOLDER_MODE, dir_fd=folder_fd)
    finally:
        os.close(folder_fd)
    return base / name


def file_status(path: Path | str, *, root: Path | str | None = None) -> os.stat_result | None:
    """``lstat`` of ``path`` reached as :func:`read_file` reaches it; ``None`` if it does not exist."""
    target = normal_path(path)
    try:
        folder_fd = _open_folder(target, None if root is None else normal_path(root))
    except FileNotFoundError:
        return None
    try:
        return os.stat(target.name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(folder_fd)


def refuse_link(path: Path | str, *, root: Path | str | None = None) -> None:
    """Raise :class:`UnsafePathError` if ``path`` (or a folder below ``root`` on the way) is a symlink."""
    target = normal_path(path)
    try:
        folder_fd = _open_folder(target, None if root is None else normal_path(root))
    except FileNotFoundError:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.stat(target.name, dir_fd=folder_fd, follow_symlinks=False).st_mode):
                _refuse_entry(folder_fd, target.name, target)
    finally:
        os.close(folder_fd)


def private_folder(path: Path | str, *, tighten: bool = True) -> Path:
    """Make ``path`` (and any missing folder above it) readable by the user alone (``0o700``); returns it.

    An existing ``path`` that belongs to the user and is open to others is tightened (``tighten``): sessions made
    by an older version, a state directory made by hand. Folders above it that exist are left alone.
    """
    folder = Path(os.path.abspath(os.fspath(path)))
    missing: list[Path] = []
    here = folder
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(item, PRIVATE_FOLDER_MODE)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(folder)  # a state directory the person links elsewhere is theirs to choose
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(folder))
    if tighten and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, stat.S_IMODE(st.st_mode) & ~0o077)
    return folder


def sha256_file(path: Path) -> str | None:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (logs can be gigabytes); ``None`` if there is no file."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def expand_path(text: str | os.PathLike[str]) -> Path:
    """A path with ``~`` expanded; ``~name`` of no such user stays as written (``Path.expanduser`` raises on it,
    and a person typing ``~bob/...`` must get "does not exist", not a traceback)."""
    return Path(os.path.expanduser(os.fspath(text)))


def unified_diff(old: str | None, new: str | None, old_label: str, new_label: str, max_lines: int | None = None) -> str:
    """The unified diff shown before any change to a file. ``None`` means the file is absent (``/dev/null``); a last
    line without a newline is marked as git marks it; past ``max_lines`` lines the rest is counted, not shown."""
    if old == new:
        return ""
    lines = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            old_label if old is not None else "/dev/null",
            new_label if new is not None else "/dev/null",
        )
    ]
    text = "".join(lines).splitlines(keepends=True)
    if max_lines is not None and len(text) > max_lines:
        return "".join(text[:max_lines]) + f"... ({len(text) - max_lines} more diff lines not shown)\n"
    return "".join(text)


def shown_path(path: Path, root: str | Path | None) -> str:
    """``path`` relative to ``root`` when it lies inside it (as a person reads it in a diff or a check), else whole."""
    if root:
        try:
            return str(path.relative_to(Path(root)))
        except ValueError:
            pass
    return str(path)


def folder_locked(folder: Path, *, shared: bool = False) -> bool:
    """Whether another process holds an flock on ``folder`` (a look: nothing is kept). ``shared`` asks with a shared
    lock, which only an exclusive holder refuses."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken above
    return False
