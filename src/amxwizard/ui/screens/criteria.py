"""Success criteria: each with its state and the evidence behind it; ticking one by hand asks for a note."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..tones import styled, tone
from .dialogs import ConfirmScreen, NoteScreen

STATE_STYLE = {
    "met": ("✔ met", "good"),
    "unmet": ("✘ unmet", "error bold"),
    "unknown": ("? not yet", "warn"),
    "not_applicable": ("– n/a", "dim"),  # a criterion this build cannot meet or fail (no AMX backend): with its reason
    "manual": ("☐ manual", "dim"),
}


class CriteriaScreen(Screen[None]):
    TITLE = "Success criteria"
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("t", "tick", "Tick / untick"),
        Binding("escape,q", "back", "Back"),
    ]

    app: WizardHost

    def compose(self) -> ComposeResult:
        yield Static(id="criteria-title")
        yield DataTable(id="criteria", cursor_type="row", zebra_stripes=False)
        with VerticalScroll(id="criteria-evidence"):
            yield Static(id="evidence")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("state", key="state", width=10)
        table.add_column("criterion", key="text")
        self.refresh_table()
        table.focus()

    _results: dict[str, Any] | None = None

    def results(self) -> dict[str, Any]:
        """The evaluation behind the table, done once per refresh (it reads logs; a cursor move must not)."""
        if self._results is None:
            from ...engine.evidence.criteria import evaluate

            self._results = evaluate(self.app.runbook, self.app.session.state, self.app.executor.read_log)
        return self._results

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        self._results = None
        results = self.results()
        met = not_applicable = 0
        for crit in self.app.runbook.criteria:
            result = results[crit.id]
            label, spec = STATE_STYLE.get(result.status, (result.status, ""))
            style = styled(spec)
            met += result.status == "met"
            not_applicable += result.status == "not_applicable"
            if result.ticked_by_person:
                label += " ✎"
            table.add_row(Text(label, style=style), crit.text, key=crit.id)
        total = len(self.app.runbook.criteria)
        self.query_one("#criteria-title", Static).update(
            Text.assemble(
                ("Success criteria ", "bold"),
                (f"{met}/{total} met", tone("good") if met + not_applicable == total else tone("warn")),
                (f", {not_applicable} not applicable on this build" if not_applicable else "", "dim"),
                ("  — mark complete when ALL are true · ✎ ticked by hand", "dim"),
            )
        )
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.show_evidence()

    @on(DataTable.RowHighlighted)
    def show_evidence(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        crit = self.app.runbook.criteria[table.cursor_row]
        result = self.results()[crit.id]
        text = Text.assemble(
            (crit.text + "\n", "bold"),
            (f"check: {crit.check}", "dim"),
            (f" · steps: {', '.join(crit.steps)}\n" if crit.steps else "\n", "dim"),
        )
        for line in result.evidence or ["no evidence yet"]:
            text.append(f"  • {line}\n")
        tick = self.app.session.state.criteria.get(crit.id)
        if tick is not None:
            text.append(f"{'ticked' if tick.ticked else 'unticked'} by {tick.by}: {tick.note}\n", style=tone("accent"))
        text.append("t tick by hand (asks for a note)", style="dim italic")
        self.query_one("#evidence", Static).update(text)

    def action_tick(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        crit = self.app.runbook.criteria[table.cursor_row]
        tick = self.app.session.state.criteria.get(crit.id)
        if tick is not None and tick.ticked:

            def untick(yes: bool | None) -> None:
                if yes and self.app.safely(self.app.executor.tick_criterion, crit.id, False, "untick"):
                    self.refresh_table()

            self.app.push_screen(ConfirmScreen(f"Untick “{crit.text}”?", f"Its note was: {tick.note}"), untick)
            return

        def noted(note: str | None) -> None:
            if note and self.app.safely(self.app.executor.tick_criterion, crit.id, True, note):
                self.refresh_table()

        self.app.push_screen(NoteScreen(f"Tick “{crit.text}”: what shows it is true?"), noted)

    def action_back(self) -> None:
        self.dismiss(None)
