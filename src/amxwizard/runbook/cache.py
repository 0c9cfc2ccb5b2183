"""A cache of validated runbooks, keyed by the file's sha256, so opening the wizard does not parse and validate the
whole runbook before its first frame.

An entry is the validated model, pickled, in a private folder (``$AMXWIZARD_CACHE_DIR``, else
``$XDG_CACHE_HOME/amxwizard/runbooks``). Its name carries the file's sha256 and a key of the code that validated it
(the package version, the Python version, and the size and mtime of every module of this package), so a changed
runbook or a changed model is validated again. A missing, unreadable or foreign entry is ignored: the file is then
loaded the ordinary way, and its located problems are raised exactly as :func:`load_runbook` raises them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .file import RunbookFile
    from .models import Runbook

FORMAT = 1


def cache_dir() -> Path:
    """Where entries live: ``$AMXWIZARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/amxwizard/runbooks`` (~/.cache)."""
    given = os.environ.get("AMXWIZARD_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "amxwizard" / "runbooks"


def code_key() -> str:
    """What validated an entry: the package and Python versions and this package's modules (size, mtime)."""
    from .. import __version__

    parts = [str(FORMAT), __version__, sys.version]
    here = Path(__file__).parent
    for module in sorted(here.glob("*.py")):
        with contextlib.suppress(OSError):
            st = module.stat()
            parts.append(f"{module.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def entry_path(sha256: str, folder: Path | None = None) -> Path:
    """The entry a file with this sha256 has (or would have)."""
    return (folder or cache_dir()) / f"{sha256}-{code_key()}.pickle"


def load_cached(path: str | Path, display: str | None = None, *, folder: Path | None = None) -> RunbookFile:
    """Like :func:`load_runbook`, but from the cache when this exact file was validated before by this code."""
    path = Path(path)
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError:
        raw = None
    if raw is not None:
        sha = hashlib.sha256(raw).hexdigest()
        model = _read(entry_path(sha, folder))
        if model is not None:
            from .file import RunbookFile

            return RunbookFile(model, path, name, sha, raw.decode("utf-8"))
    from .load import load_runbook

    loaded = load_runbook(path, display)
    if raw is not None and loaded.sha256 == sha:
        _write(entry_path(sha, folder), loaded)
    return loaded


def _read(entry: Path) -> Runbook | None:
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        # Only our own entry, writable by no one else: a pickle runs code as it loads.
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            model = pickle.load(fh)
    except Exception:  # a damaged or foreign entry is ignored: the file is validated again
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    from .models import Runbook as RunbookModel

    return model if isinstance(model, RunbookModel) else None


def _write(entry: Path, loaded: RunbookFile) -> None:
    with contextlib.suppress(OSError, pickle.PicklingError, TypeError):
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = entry.with_name(f".{entry.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(loaded.model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, entry)
