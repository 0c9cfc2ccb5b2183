"""A cache of validated runbooks, keyed by the file's sha256, so opening the wizard does not parse and validate the
whole runbook before its first frame.

An entry is the validated model, pickled, in a private folder (``$AMXWIZARD_CACHE_DIR``, else
``$XDG_CACHE_HOME/amxwizard/runbooks``). Its name carries the file's sha256 and a key of the code that validated it
(the package version, the Python version, and the size and mtime of every module of this package), so a changed
runbook or a changed model is validated again. A missing, unreadable or foreign entry is ignored: the file is then
loaded the ordinary way, and its located problems are raised exactly as :func:`load_runbook` raises them.

Beside each entry lies its *outline* (JSON: the title, the checklist's ids, the phases and their steps' ids and
titles): all the wizard's first frame shows before the session is open, read without importing pydantic or the
models (:func:`read_outline`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .file import RunbookFile
    from .models import Runbook

FORMAT = 1


@dataclass(frozen=True, slots=True)
class OutlineStep:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class OutlinePhase:
    id: str
    title: str
    steps: tuple[OutlineStep, ...]


@dataclass(frozen=True, slots=True)
class Outline:
    """What a runbook's outline shows before anything is known of a session: titles, no states."""

    title: str
    checklist: tuple[str, ...]  # the items' ids
    phases: tuple[OutlinePhase, ...]

    @classmethod
    def of(cls, model: Runbook) -> Outline:
        return cls(
            model.title,
            tuple(item.id for item in model.checklist),
            tuple(
                OutlinePhase(p.id, p.title, tuple(OutlineStep(s.id, s.title) for s in p.steps)) for p in model.phases
            ),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "title": self.title,
                "checklist": list(self.checklist),
                "phases": [
                    {"id": p.id, "title": p.title, "steps": [{"id": s.id, "title": s.title} for s in p.steps]}
                    for p in self.phases
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Outline:
        data = json.loads(text)
        return cls(
            str(data["title"]),
            tuple(str(i) for i in data["checklist"]),
            tuple(
                OutlinePhase(
                    str(p["id"]), str(p["title"]), tuple(OutlineStep(str(s["id"]), str(s["title"])) for s in p["steps"])
                )
                for p in data["phases"]
            ),
        )


def cache_dir() -> Path:
    """Where entries live: ``$AMXWIZARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/amxwizard/runbooks`` (~/.cache)."""
    given = os.environ.get("AMXWIZARD_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "amxwizard" / "runbooks"


@functools.cache
def code_key() -> str:
    """What validated an entry: the package and Python versions and this package's modules (size, mtime).

    Once per process: it names the code that is running, which does not change while it runs (and every entry and
    outline path needs it)."""
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


def outline_path(sha256: str, folder: Path | None = None) -> Path:
    """The outline beside the entry of a file with this sha256."""
    return entry_path(sha256, folder).with_suffix(".outline.json")


def read_outline(path: str | Path, *, folder: Path | None = None) -> Outline | None:
    """The outline of the runbook at ``path`` when this exact file was validated before by this code, else None.

    Cheap (a read, a hash, a small JSON file): the wizard's first frame is drawn from it while the session opens.
    """
    try:
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
    data = _read_private(outline_path(sha, folder))
    if data is None:
        return None
    try:
        return Outline.from_json(data.decode("utf-8"))
    except (ValueError, KeyError, TypeError):  # damaged: the first frame waits for the session instead
        return None


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

            outline = outline_path(sha, folder)
            if not outline.exists():  # an entry written before outlines were
                _write_file(outline, Outline.of(model).to_json().encode("utf-8"))
            return RunbookFile(model, path, name, sha, raw.decode("utf-8"))
    from .load import load_runbook

    loaded = load_runbook(path, display)
    if raw is not None and loaded.sha256 == sha:
        _write(sha, folder, loaded)
    return loaded


def _read_private(path: Path) -> bytes | None:
    """The file's bytes when it is this user's own and writable by no one else (a pickle runs code as it loads; an
    outline is shown as the runbook's), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return fh.read()
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def _read(entry: Path) -> Runbook | None:
    data = _read_private(entry)
    if data is None:
        return None
    try:
        model = pickle.loads(data)
    except Exception:  # a damaged or foreign entry is ignored: the file is validated again
        return None
    from .models import Runbook as RunbookModel

    return model if isinstance(model, RunbookModel) else None


def _write(sha: str, folder: Path | None, loaded: RunbookFile) -> None:
    with contextlib.suppress(pickle.PicklingError, TypeError):
        data = pickle.dumps(loaded.model, protocol=pickle.HIGHEST_PROTOCOL)
        # The outline first: an entry without one gets one on its next read, an outline never outlives its entry's
        # file (both are named by the file's sha256).
        _write_file(outline_path(sha, folder), Outline.of(loaded.model).to_json().encode("utf-8"))
        _write_file(entry_path(sha, folder), data)


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by this user only; a failure leaves no entry (no error)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temp, path)
