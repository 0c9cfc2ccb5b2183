"""The model file the tests and benchmarks load."""

from __future__ import annotations

from ..fileio import expand_path
from .checks import Check


def model_check(path_text: str) -> Check:
    """The model file every test loads: there, readable, a GGUF."""
    path = expand_path(path_text)
    if not path.exists():
        return Check("model", "fail", f"{path} does not exist (set --var model=...)")
    if not path.is_file():
        return Check("model", "fail", f"{path} is not a file")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return Check("model", "fail", f"cannot read {path}: {exc.strerror}")
    size = path.stat().st_size
    shown = f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size} bytes"
    if magic != b"GGUF":
        return Check("model", "warn", f"{path} ({shown}) does not start with the GGUF magic")
    return Check("model", "ok", f"{path} (GGUF, {shown})")
