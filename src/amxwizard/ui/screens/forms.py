"""Fill-in fields (saved as each one is left, so nothing typed is lost) and the choice of approach."""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, RadioButton, RadioSet, Select, Static, TextArea

from ...engine.steps import kind_of
from ...engine.steps.base import Plan
from ...runbook import models as m
from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..tones import tone


def _field_widget(fld: m.FormField, value: str) -> Widget:
    wid = f"field-{fld.id}"
    if fld.type == "choice":
        options = [(opt, opt) for opt in fld.options]
        return Select(
            options,
            value=value if value in fld.options else Select.NULL,
            id=wid,
            allow_blank=True,
            prompt=fld.placeholder,
            classes="field",
        )
    if fld.type == "multiline":
        area = TextArea(value, id=wid, soft_wrap=True, classes="field multiline", show_line_numbers=False)
        return area
    return Input(
        value=value,
        placeholder=fld.placeholder,
        id=wid,
        classes="field",
        type="number" if fld.type == "number" else "text",
    )


def _value_of(widget: Widget) -> str:
    if isinstance(widget, Select):
        return "" if widget.value is Select.NULL else str(widget.value)
    if isinstance(widget, TextArea):
        return widget.text.strip()
    if isinstance(widget, Input):
        return widget.value.strip()
    return ""


class FormScreen(Screen[bool]):
    """The fill-in fields of a form, commit or docs step. Dismisses True when every required field is answered."""

    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("ctrl+s", "done", "Done", priority=True),
        Binding("ctrl+u", "use_suggestion", "Use suggestion", priority=True),
        Binding("ctrl+l", "open_log", "Log", priority=True),
        Binding("escape", "back", "Back"),
    ]

    app: WizardHost

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.step = plan.step
        self.evidence = getattr(plan, "evidence", "")
        self.evidence_line: int | None = getattr(plan, "evidence_line", None)
        self.suggested: dict[str, str] = {k: s.value for k, s in getattr(plan, "suggestions", ())}

    @property
    def fields(self) -> list[m.FormField]:
        return kind_of(self.step).fields(self.step)

    def compose(self) -> ComposeResult:
        state = self.app.session.state
        yield Static(
            Text.assemble(
                (f"{self.step.id} {self.step.title}", "bold"),
                ("  — each answer is saved as you leave its field", "dim"),
            ),
            id="form-title",
        )
        with VerticalScroll(id="form-body"):
            if self.evidence:
                line = f" (log line {self.evidence_line}; ctrl+l opens it there)" if self.evidence_line else ""
                yield Static(
                    Text(f"From the diagnostic log: {self.evidence}{line}", style=tone("accent")), id="form-evidence"
                )
            for fld in self.fields:
                recorded = state.answer(fld.id)
                suggested = self.suggested.get(fld.id)
                value = recorded if recorded is not None else (suggested or "")
                with Vertical(classes="form-field"):
                    yield Static(Text.assemble((fld.label, "bold"), (" *" if fld.required else "", tone("error"))))
                    yield _field_widget(fld, value)
                    yield Static(self._hint(fld, recorded, suggested), id=f"hint-{fld.id}", classes="field-hint")
        yield Footer()

    def _hint(self, fld: m.FormField, recorded: str | None, suggested: str | None) -> Text:
        if suggested and recorded is None:
            return Text(f"suggested from the log: {suggested} — edit it if it is wrong", style=tone("accent"))
        if suggested and recorded != suggested:
            return Text(f"your answer (the log suggested {suggested}; ctrl+u to use that)", style="dim")
        return Text(fld.help or ("saved" if recorded else ""), style="dim")

    def on_mount(self) -> None:
        self._shown = {w.id or "": _value_of(w) for w in self.query(".field")}  # as first shown, suggestions in
        first = self.query(".field").first()
        first.focus()

    def _save(self, widget: Widget) -> bool:
        """Record the field's value if it changed; False (with the reason shown) if it is not valid."""
        from ...engine.executor import StepError
        from ...engine.session import SessionError

        if not widget.id or not widget.id.startswith("field-"):
            return True
        field_id = widget.id.removeprefix("field-")
        fld = next(f for f in self.fields if f.id == field_id)
        value = _value_of(widget)
        if not value and self.app.session.state.answer(field_id) is None:
            return True
        suggested = self.suggested.get(fld.id)
        try:
            self.app.executor.answer(self.step.id, field_id, value, suggested=suggested)
        except (StepError, SessionError) as exc:
            self.query_one(f"#hint-{field_id}", Static).update(Text(str(exc), style=tone("error", bold=True)))
            return False
        self.query_one(f"#hint-{field_id}", Static).update(Text("saved", style=tone("good")))
        return True

    @on(events.DescendantBlur)
    def _left(self, event: events.DescendantBlur) -> None:
        self._save(event.widget)

    @on(Select.Changed)
    def _selected(self, event: Select.Changed) -> None:
        self._save(event.select)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self._save(event.input):
            self.focus_next()

    def action_use_suggestion(self) -> None:
        widget = self.focused
        if widget is None or not widget.id or not widget.id.startswith("field-"):
            return
        fld = next(f for f in self.fields if f.id == widget.id.removeprefix("field-"))
        value = self.suggested.get(fld.id)
        if not value:
            self.notify("no suggestion for this field")
            return
        if isinstance(widget, Input):
            widget.value = value
        elif isinstance(widget, TextArea):
            widget.text = value
        elif isinstance(widget, Select):
            widget.value = value
        self._save(widget)

    def action_open_log(self) -> None:
        source = getattr(self.step, "evidence_from", None)
        if not source:
            return
        runs = self.app.session.state.step(source).runs
        if not runs:
            self.notify(f"step {source} has not run yet")
            return
        from pathlib import Path

        from .fulllog import FullLogScreen

        line = self.evidence_line
        log = self.app.session.state.runs[runs[-1]].log
        self.app.push_screen(FullLogScreen(Path(log), start_line=line - 1 if line else None))

    def action_done(self) -> None:
        if not all(self._save(w) for w in self.query(".field")):
            return
        missing = [f.label for f in self.app.executor.missing_answers(self.step)]
        if missing:
            self.notify("still needed: " + ", ".join(missing), severity="warning")
            return
        self.dismiss(True)

    def action_back(self) -> None:
        # What the person typed is kept; a suggestion they never touched is not recorded as their answer.
        for widget in self.query(".field"):
            if _value_of(widget) != self._shown.get(widget.id or ""):
                self._save(widget)
        self.dismiss(False)


class ChoiceScreen(Screen[bool]):
    """Choose the approach, with each one's "use if" and what the analysis recommends."""

    BINDINGS = [*GLOBAL_KEYS, Binding("escape", "back", "Back")]

    app: WizardHost

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.step = cast(m.ChoiceStep, plan.step)

    def _approaches(self) -> list[m.ApproachStep]:
        out = []
        for option in self.step.options:
            approach = self.app.runbook.step(option)
            assert isinstance(approach, m.ApproachStep)
            out.append(approach)
        return out

    def compose(self) -> ComposeResult:
        state = self.app.session.state
        chosen = state.approach
        recommended = state.answer(self.step.default_from.split(".", 1)[1]) if self.step.default_from else None
        yield Static(
            Text.assemble((f"{self.step.id} {self.step.title}", "bold"), ("  — enter chooses", "dim")), id="form-title"
        )
        with VerticalScroll(id="form-body"):
            if recommended:
                yield Static(Text(f"Your analysis recommends approach {recommended}.", style=tone("accent")))
            with RadioSet(id="approaches"):
                for approach in self._approaches():
                    mark = "  (recommended)" if approach.letter == recommended else ""
                    yield RadioButton(
                        f"{approach.letter} — {approach.title}{mark}",
                        value=approach.id == chosen,
                        id=f"approach-{approach.letter}",
                    )
            for approach in self._approaches():
                yield Static(Text.assemble((f"{approach.letter}: ", "bold"), ("use if ", "dim"), approach.use_if))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    @on(RadioSet.Changed)
    def _chosen(self, event: RadioSet.Changed) -> None:
        if event.pressed.id is None:
            return
        letter = event.pressed.id.removeprefix("approach-")
        self.dismiss(self.app.safely(self.app.executor.answer, self.step.id, self.step.field, letter))

    def action_back(self) -> None:
        self.dismiss(False)
