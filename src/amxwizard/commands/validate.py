"""``amxwizard validate [RUNBOOK]``: located problems (exit 1) or a one-screen summary (exit 0)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import textwrap

from . import load_or_exit


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _row(indent: str, cells: list[tuple[str, int]], rest: str, width: int) -> str:
    """Cells padded to their column widths (a long one pushes the rest right), then ``rest`` clipped to the line."""
    line = indent
    for text, column in cells:
        room = max(width - len(line) - 12, 8)
        line += f"{text if len(text) <= room else text[: room - 1] + '…':<{column}} "
    return line + _clip(rest, width - len(line))


def run(args: argparse.Namespace) -> int:
    from ..runbook.variables import resolve

    loaded = load_or_exit(args.runbook)
    rb = loaded.model
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    steps = [step for _, step in rb.iter_steps()]
    print(f"{loaded.display}: {rb.title}  (sha256 {loaded.sha256[:12]})")
    counts = (
        f"{len(rb.phases)} phases, {len(steps)} steps, {len(rb.criteria)} criteria, "
        f"{len(rb.checklist)} checklist items, {len(rb.troubleshooting)} troubleshooting entries, "
        f"{len(rb.variables)} variables"
    )
    print(textwrap.fill(counts, width, initial_indent="  ", subsequent_indent="  "))
    print("phases:")
    for phase in rb.phases:
        ids = " ".join(step.id for step in phase.steps)
        title = f"{phase.title} ({phase.tag})" if phase.tag else phase.title
        print(_row("  ", [(f"{phase.id}  {' '.join(title.split())}", 41)], ids, width))
    checked = sum(1 for c in rb.criteria if c.check != "manual")
    print(f"criteria: {checked} judged from evidence, {len(rb.criteria) - checked} by hand")
    _packed([c.id for c in rb.criteria], width)
    print("variables (as --var would take them):")
    values = resolve(rb)
    _packed([f"{name}={shlex.quote(values[name])}" for name in rb.variables], width)
    return 0


def _packed(items: list[str], width: int) -> None:
    """Print ``items`` indented and space-separated, as many to a line as fit; one wider than a line is printed
    whole on its own (a value cut short could not be pasted back as ``--var``)."""
    line = ""
    for item in items:
        candidate = f"{line} {item}" if line else f"  {item}"
        if line and len(candidate) > width:
            print(line)
            candidate = f"  {item}"
        line = candidate
    if line:
        print(line)
