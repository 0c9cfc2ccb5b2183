"""A CMake edit: lines added to or removed from a CMakeLists.txt, shown as a diff first."""

from __future__ import annotations

from ...runbook import models as m
from ._edits import apply_edits, plan_edits
from .kind import Kind

KIND = Kind(name="cmake_edit", model=m.CMakeEditStep, plan=plan_edits, apply=apply_edits, edits_files=True)
