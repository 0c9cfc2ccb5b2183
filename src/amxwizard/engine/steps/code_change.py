"""A code change: the runbook's edits to C/C++/CUDA sources, located by function, shown as a diff first."""

from __future__ import annotations

from ...runbook import models as m
from ._edits import apply_edits, plan_edits
from .kind import Kind

KIND = Kind(name="code_change", model=m.CodeChangeStep, plan=plan_edits, apply=apply_edits, edits_files=True)
