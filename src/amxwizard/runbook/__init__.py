"""The runbook as data: models, located loading, variables and templates. Never imports the UI."""

from importlib import resources
from pathlib import Path

from .errors import Problem, RunbookError
from .load import RunbookFile, load_runbook, load_text
from .models import Runbook

__all__ = ["Problem", "Runbook", "RunbookError", "RunbookFile", "bundled_runbook", "load_runbook", "load_text"]


def bundled_runbook() -> Path:
    """The runbook shipped inside the package (the same bytes as the repository's runbook.yaml)."""
    return Path(str(resources.files("amxwizard") / "data" / "runbook.yaml"))
