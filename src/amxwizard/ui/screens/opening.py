"""The first frame: the runbook's outline, titles only, while the session opens behind it.

Opening a session reads and checks its record, and needs the engine and the runbook's models (a few hundred
milliseconds on a small machine). The outline comes from the runbook cache (:class:`~amxwizard.runbook.cache.Outline`)
instead, so the wizard is on the screen, and the cursor moves, as soon as Textual can draw. Nothing here claims a
state: every step's mark is "…" (not known yet) until the main screen, drawn from the opened session, takes over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree

from ..keys import GLOBAL_KEYS

if TYPE_CHECKING:
    from ...runbook.cache import Outline

UNKNOWN = "…"  # the mark of a step, and the count of a phase, whose state is not read yet


class OpeningOutline(Tree[tuple[str, str]]):
    """The outline's rows as the main screen lays them out; ``node.data`` is (kind, id) as in the main outline."""

    def __init__(self, outline: Outline, *, id: str | None = None) -> None:
        super().__init__("runbook", id=id)
        self.show_root = False
        self.guide_depth = 2
        if outline.checklist:
            self.root.add(
                Text.assemble(("Checklist ", "bold"), (f"{UNKNOWN}/{len(outline.checklist)}", "dim")),
                data=("checklist", "checklist"),
            )
        for phase in outline.phases:
            node = self.root.add(
                Text.assemble((f"{phase.id} {phase.title}", "bold"), (f" {UNKNOWN}/{len(phase.steps)}", "dim")),
                data=("phase", phase.id),
                expand=True,
            )
            for step in phase.steps:
                node.add_leaf(
                    Text.assemble((UNKNOWN + " ", "dim"), (f"{step.id} ", "bold"), step.title), data=("step", step.id)
                )


class OpeningScreen(Screen[None]):
    """The outline and the app's keys, until the session is open."""

    BINDINGS = [*GLOBAL_KEYS]

    def __init__(self, outline: Outline) -> None:
        super().__init__()
        self.outline = outline
        self.moved = False  # the person moved the cursor: the main screen keeps their choice

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(("amxwizard ", "bold"), self.outline.title, ("  opening the session…", "dim")), id="topbar"
        )
        with Horizontal(id="body"):
            with Vertical(id="outline-col"):
                yield OpeningOutline(self.outline, id="outline")
                yield Static(id="outline-selected")
            yield Static(
                Text(
                    "Opening the session: reading its record and checking it, then what happened while the wizard "
                    "was closed. The states of the steps show once it is read.",
                    style="dim",
                ),
                id="detail-scroll",
            )
        with Vertical(id="logpane"):
            yield Static(id="runstatus")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OpeningOutline).focus()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[tuple[str, str]]) -> None:
        if event.node.line > 0:
            self.moved = True

    @property
    def chosen(self) -> tuple[str, str] | None:
        """The row the person moved the cursor to, if they moved it."""
        if not self.moved:
            return None
        node = self.query_one(OpeningOutline).cursor_node
        return node.data if node is not None else None
