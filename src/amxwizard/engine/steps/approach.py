"""An approach of the fix (A, B, C): its edits, applied like a code change once it is the chosen one."""

from __future__ import annotations

from ...runbook import models as m
from ._edits import apply_edits, plan_edits
from .kind import Kind

KIND = Kind(name="approach", model=m.ApproachStep, plan=plan_edits, apply=apply_edits, edits_files=True)
