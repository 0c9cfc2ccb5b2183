"""The runbook as a navigable outline: checklist, then phase → step, each with its state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...engine.checklist import item_text
from ...engine.state import SessionState, StepStatus
from ...runbook.models import Runbook
from ..tones import styled, tone

# Glyphs carry the meaning on their own (NO_COLOR, monochrome terminals); colours only reinforce it.
STATUS_GLYPH = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("▶", "warn bold"),
    StepStatus.PASSED: ("✔", "good"),
    StepStatus.FAILED: ("✘", "error bold"),
    StepStatus.SKIPPED: ("↷", "dim"),
    StepStatus.INTERRUPTED: ("!", "note bold"),
}


@dataclass(frozen=True, slots=True)
class Item:
    kind: Literal["checklist", "check", "phase", "step"]
    id: str


class StepOutline(Tree[Item]):
    """Checklist items and steps; ``node.data`` says which."""

    DEFAULT_CSS = """
    StepOutline {
        padding: 0;
        background: $surface;
    }
    """

    def __init__(
        self,
        runbook: Runbook,
        state: SessionState,
        values: Callable[[], Mapping[str, str]] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__("runbook", **kwargs)  # type: ignore[arg-type]
        self.runbook = runbook
        self.state = state
        self.values = values  # the session's variables: checklist texts name what this session checks
        self.show_root = False
        self.guide_depth = 2
        self._by_item: dict[tuple[str, str], TreeNode[Item]] = {}

    def on_mount(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        self._by_item.clear()
        rb = self.runbook
        if rb.checklist:
            node = self.root.add(self._checklist_label(), data=Item("checklist", "checklist"), expand=True)
            self._by_item[("checklist", "checklist")] = node
            for item in rb.checklist:
                leaf = node.add_leaf(self._check_label(item.id), data=Item("check", item.id))
                self._by_item[("check", item.id)] = leaf
        for phase in rb.phases:
            node = self.root.add(self._phase_label(phase.id), data=Item("phase", phase.id), expand=True)
            self._by_item[("phase", phase.id)] = node
            for step in phase.steps:
                self._by_item[("step", step.id)] = node.add_leaf(self._step_label(step.id), data=Item("step", step.id))

    # -- labels --------------------------------------------------------------------------------------------------

    def _step_label(self, step_id: str) -> Text:
        step = self.runbook.step(step_id)
        status = self.state.step(step_id).status
        glyph, spec = STATUS_GLYPH[status]
        style = styled(spec)
        label = Text.assemble((glyph + " ", style), (f"{step.id} ", "bold"), step.title)
        if status is StepStatus.SKIPPED:
            label.stylize("dim")
        return label

    def _check_label(self, item_id: str) -> Text:
        item = next(i for i in self.runbook.checklist if i.id == item_id)
        tick = self.state.checklist.get(item_id)
        done = bool(tick and tick.ticked)
        text = item_text(item, self.values()) if self.values is not None else item.text
        return Text.assemble(("✔ " if done else "☐ ", tone("good") if done else "dim"), text)

    def _checklist_label(self) -> Text:
        done = sum(1 for i in self.runbook.checklist if (t := self.state.checklist.get(i.id)) and t.ticked)
        return Text.assemble(("Checklist ", "bold"), (f"{done}/{len(self.runbook.checklist)}", "dim"))

    def _phase_label(self, phase_id: str) -> Text:
        phase = next(p for p in self.runbook.phases if p.id == phase_id)
        done = sum(1 for s in phase.steps if self.state.step(s.id).status.done)
        failed = any(self.state.step(s.id).status is StepStatus.FAILED for s in phase.steps)
        counts = (f" {done}/{len(phase.steps)}", tone("error") if failed else "dim")
        return Text.assemble((f"{phase.id} {phase.title}", "bold"), counts)

    def refresh_labels(self) -> None:
        """Re-read every label from the state (cheap: a few dozen nodes)."""
        for (kind, key), node in self._by_item.items():
            if kind == "step":
                node.set_label(self._step_label(key))
            elif kind == "check":
                node.set_label(self._check_label(key))
            elif kind == "phase":
                node.set_label(self._phase_label(key))
            else:
                node.set_label(self._checklist_label())

    def select(self, kind: str, key: str) -> bool:
        """Put the cursor on the row of ``kind`` and ``key`` (as in :class:`Item`); False if there is none."""
        node = self._by_item.get((kind, key))
        if node is None:
            return False
        if node.parent is not None:
            node.parent.expand()
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)
        return True

    def select_step(self, step_id: str) -> None:
        node = self._by_item.get(("step", step_id))
        if node is not None:
            if node.parent is not None:
                node.parent.expand()
            self.move_cursor(node)
            self.scroll_to_node(node, animate=False)

    def select_checklist(self) -> None:
        """The cursor on the checklist (the first rows), scrolled into view."""
        node = self._by_item.get(("checklist", "checklist"))
        if node is not None:
            node.expand()
            self.move_cursor(node)
            self.scroll_home(animate=False)

    def first_open_item(self) -> str | None:
        """The first checklist item not ticked."""
        for item in self.runbook.checklist:
            tick = self.state.checklist.get(item.id)
            if not (tick and tick.ticked):
                return item.id
        return None

    def select_item(self, item_id: str) -> None:
        node = self._by_item.get(("check", item_id))
        if node is not None:
            self.move_cursor(node)
            self.scroll_to_node(node, animate=False)

    @property
    def current(self) -> Item | None:
        node = self.cursor_node
        return node.data if node is not None else None
