"""Crash-safe file writing.

A file written in place with ``open(path, "w")`` is left truncated or half-written when the process is killed
mid-write. ``atomic_write`` writes a sibling temp file, flushes it to disk, renames it over the target and then
flushes the folder entry, so a reader sees either the whole old file or the whole new one.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

_DEFAULT_FILE_MODE = 0o666


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


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries so a rename inside it survives a power loss."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        # Some platforms and file systems refuse to open folders; the rename has still happened.
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path | str, data: bytes | str, *, encoding: str = "utf-8") -> None:
    """Replace the contents of ``path`` with ``data`` atomically.

    The new contents go to a temp file in the same folder, which is fsynced and then renamed over ``path`` with
    ``os.replace``; finally the folder is fsynced. An existing file keeps its permission bits; a new file gets the
    usual ``0o666 & ~umask``. ``str`` data is encoded with ``encoding`` and written without newline translation.
    A symlink at ``path`` is followed: its target is replaced, the link stays.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    folder = target.parent if str(target.parent) else Path(".")

    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _DEFAULT_FILE_MODE & ~_current_umask()

    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as temp_file:
            temp_file.write(payload)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        # mkstemp creates the file 0600; give it the mode the target had (or would have had).
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_folder(folder)


def sha256_file(path: Path) -> str | None:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (logs can be gigabytes); ``None`` if there is no file."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
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
