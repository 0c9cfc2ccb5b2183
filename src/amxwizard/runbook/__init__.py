"""The runbook as data: models, located loading, variables and templates. Never imports the UI."""

from .errors import Problem, RunbookError
from .load import RunbookFile, load_runbook, load_text
from .models import Runbook

__all__ = ["Problem", "Runbook", "RunbookError", "RunbookFile", "load_runbook", "load_text"]
