"""``amxwizard validate [RUNBOOK]``: located problems (exit 1) or a one-screen summary (exit 0)."""

from __future__ import annotations

import argparse
import shutil

from . import load_or_exit


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def run(args: argparse.Namespace) -> int:
    from ..runbook.variables import resolve

    loaded = load_or_exit(args.runbook)
    rb = loaded.model
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    steps = [step for _, step in rb.iter_steps()]
    print(f"{loaded.display}: {rb.title}  (sha256 {loaded.sha256[:12]})")
    print(f"  {len(rb.phases)} phases, {len(steps)} steps, {len(rb.criteria)} criteria, "
          f"{len(rb.checklist)} checklist items, {len(rb.troubleshooting)} troubleshooting entries, "
          f"{len(rb.variables)} variables")
    print("phases:")
    for phase in rb.phases:
        ids = " ".join(step.id for step in phase.steps)
        head = f"  {phase.id}  {phase.title}" + (f" ({phase.tag})" if phase.tag else "")
        print(f"{head:<44} {_clip(ids, width - 45)}")
    print("criteria:")
    for crit in rb.criteria:
        print(f"  {crit.id:<17} {crit.check:<16} {_clip(crit.text, width - 37)}")
    print("variables:")
    values = resolve(rb)
    name_width = max(len(n) for n in rb.variables) if rb.variables else 0
    for name in rb.variables:
        print(f"  {name:<{name_width}} = {_clip(values[name], width - name_width - 5)}")
    return 0
