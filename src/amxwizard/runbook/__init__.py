"""The runbook as data: models, located loading, variables and templates. Never imports the UI.

The names below are imported on first use (PEP 562), so a caller that needs only the models, or a runbook from the
validated-runbook cache, does not pay for the YAML parser and the checks before the wizard's first frame.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import Problem, RunbookError
    from .file import RunbookFile
    from .load import load_runbook, load_text
    from .models import Runbook

__all__ = ["Problem", "Runbook", "RunbookError", "RunbookFile", "bundled_runbook", "load_runbook", "load_text"]

_LAZY = {
    "Problem": "errors",
    "RunbookError": "errors",
    "RunbookFile": "file",
    "load_runbook": "load",
    "load_text": "load",
    "Runbook": "models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def bundled_runbook() -> Path:
    """The runbook shipped inside the package (the same bytes as the repository's runbook.yaml)."""
    return Path(str(resources.files("amxwizard") / "data" / "runbook.yaml"))
