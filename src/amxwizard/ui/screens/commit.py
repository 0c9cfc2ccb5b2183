"""The commit: the files to stage, the diff, and the message built from the runbook's template — editable.

The screen reviews a commit plan; it dismisses with what the person typed (the message as edited, files added) and
the flow then asks what the plan still needs (the confirmation, unproven claims). Everything that runs git or reads
logs happens off the UI thread.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea

from ...engine.steps.base import Approval, MakeCommit, PlanInput
from ...runbook import models as m
from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..tones import tone
from .dialogs import DiffScreen, NoteScreen


class CommitScreen(Screen[tuple[PlanInput, Approval] | None]):
    TITLE = "Commit"
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("ctrl+s", "commit", "Commit", priority=True),
        Binding("ctrl+d", "diff", "Diff", priority=True),
        Binding("ctrl+o", "add_file", "Add a file", priority=True),
        Binding("ctrl+r", "rebuild_message", "Rebuild message", priority=True),
        Binding("escape", "back", "Back"),
    ]

    app: WizardHost

    def __init__(self, plan: MakeCommit) -> None:
        super().__init__()
        self.plan = plan
        self.step: m.CommitStep = plan.step  # type: ignore[assignment]
        self.extra: list[str] = list(plan.extra_files)
        self.message_edited = False
        self._setting = False

    def compose(self) -> ComposeResult:
        state = self.app.session.state
        yield Static(
            Text.assemble(
                (f"{self.step.id} {self.step.title}", "bold"),
                ("  — review, edit the message, commit with ctrl+s", "dim"),
            ),
            id="form-title",
        )
        with VerticalScroll(id="form-body"):
            yield Static(id="commit-files")
            for fld in self.step.fields:
                with Vertical(classes="form-field"):
                    yield Static(Text.assemble((fld.label, "bold"), (" *" if fld.required else "", tone("error"))))
                    yield Input(
                        value=state.answer(fld.id) or "",
                        placeholder=fld.placeholder,
                        id=f"field-{fld.id}",
                        classes="field",
                    )
            yield Static(Text("Commit message (edit freely; ctrl+r rebuilds it from the answers)", style="bold"))
            yield TextArea("", id="message", soft_wrap=True, show_line_numbers=False)
        yield Footer()

    def on_mount(self) -> None:
        self._show_plan(self.plan)
        self._set_message(self.plan.message)
        fields = self.query(".field")
        (fields.first() if fields else self.query_one("#message", TextArea)).focus()

    def _show_plan(self, plan: MakeCommit) -> None:
        self.plan = plan
        git = plan.git
        text = Text.assemble(("Files to commit: ", "bold"), ", ".join(str(f) for f in git.files) or "none")
        for problem in git.problems:
            text.append(f"\n✘ {problem}", style=tone("error", bold=True))
        for note in git.notes:
            text.append(f"\n{note}", style=tone("warn"))
        text.append("\nctrl+d shows the diff · ctrl+o adds a file", style="dim")
        self.query_one("#commit-files", Static).update(text)

    def _set_message(self, message: str) -> None:
        self._setting = True
        self.query_one("#message", TextArea).text = message
        self._setting = False
        self.message_edited = False

    @work(exclusive=True, group="commit-plan", exit_on_error=False)
    async def replan(self, rebuild_message: bool) -> None:
        """Plan the commit again (git status and diff, the message from the answers and logs) off the UI thread."""
        plan = await asyncio.to_thread(self.app.executor.plan, self.step.id, PlanInput(None, tuple(self.extra)))
        if isinstance(plan, MakeCommit):
            self._show_plan(plan)
            if rebuild_message:
                self._set_message(plan.message)

    def action_rebuild_message(self) -> None:
        self.replan(True)

    @on(TextArea.Changed, "#message")
    def _edited(self) -> None:
        if not self._setting:
            self.message_edited = True

    @on(events.DescendantBlur)
    def _left(self, event: events.DescendantBlur) -> None:
        widget = event.widget
        if not (isinstance(widget, Input) and widget.id and widget.id.startswith("field-")):
            return
        field_id = widget.id.removeprefix("field-")
        before = self.app.session.state.answer(field_id)
        self.app.safely(self.app.executor.answer, self.step.id, field_id, widget.value.strip())
        if self.app.session.state.answer(field_id) != before and not self.message_edited:
            self.replan(True)

    def action_diff(self) -> None:
        self.app.push_screen(DiffScreen("Changes to commit", self.plan.git.diff, readonly=True))

    def action_add_file(self) -> None:
        def added(path: str | None) -> None:
            if path:
                self.extra.append(path)
                self.replan(False)

        self.app.push_screen(NoteScreen("Add a file to the commit (path in the repo)"), added)

    def action_commit(self) -> None:
        for widget in self.query(Input):
            if (
                widget.id
                and widget.id.startswith("field-")
                and not self.app.safely(
                    self.app.executor.answer, self.step.id, widget.id.removeprefix("field-"), widget.value.strip()
                )
            ):
                return
        missing = [f.label for f in self.app.executor.missing_answers(self.step)]
        if missing:
            self.notify("still needed: " + ", ".join(missing), severity="warning")
            return
        if self.plan.git.problems:
            self.notify(self.plan.git.problems[0], severity="error")
            return
        message = self.query_one("#message", TextArea).text
        if "[FILL IN]" in message or "{{" in message:
            self.notify("the message still has a blank to fill in", severity="warning")
            return
        # An unedited message is built again from the answers as they are now (a rebuild may still be on its way).
        self.dismiss((PlanInput(message if self.message_edited else None, tuple(self.extra)), Approval()))

    def action_back(self) -> None:
        self.dismiss(None)
