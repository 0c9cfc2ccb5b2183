"""Preflight: check the runbook's assumptions against this machine and repository before anything runs.

Each check is one line a person can act on (:class:`Check`), in its parts:

- :mod:`.commands` reads what the commands run (with :mod:`amxwizard.runbook.shell`, the templates' own reader);
- :mod:`.repo` the repository and the checklist (HEAD, a clean tree, a writable backup folder);
- :mod:`.build` the build folder: configured or not, with which options, and the options this machine wants;
- :mod:`.functions` the files and functions the runbook edits, at the lines it claims;
- :mod:`.scheduler` whether the checkout can crash the runbook's way (an AMX backend; the scheduler's op offload);
- :mod:`.tools` the programs the commands run; :mod:`.flags` whether built ones accept the flags passed to them;
- :mod:`.model` the model file; :mod:`.numa` the NUMA nodes the commands bind to.
"""

from __future__ import annotations

from .checks import Check, Status, suggested_values
from .commands import Invocation, Word, command_invocations
from .flags import FlagSpec, HelpResult, parse_help, read_help
from .repo import check_checklist_item
from .run import run_preflight
from .variables import check_variable

__all__ = [
    "Check",
    "FlagSpec",
    "HelpResult",
    "Invocation",
    "Status",
    "Word",
    "check_checklist_item",
    "check_variable",
    "command_invocations",
    "parse_help",
    "read_help",
    "run_preflight",
    "suggested_values",
]
