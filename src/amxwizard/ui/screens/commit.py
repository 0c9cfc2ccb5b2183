"""The commit: the files to stage, the diff, and the message built from the runbook's template — editable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea

from ...runbook import models as m
from .dialogs import ConfirmScreen, DiffScreen, NoteScreen

if TYPE_CHECKING:
    from ..app import WizardApp


class CommitScreen(Screen[None]):
    TITLE = "Commit"
    BINDINGS = [
        Binding("ctrl+s", "commit", "Commit", priority=True),
        Binding("ctrl+d", "diff", "Diff", priority=True),
        Binding("ctrl+o", "add_file", "Add a file", priority=True),
        Binding("ctrl+r", "rebuild_message", "Rebuild message", priority=True),
        Binding("escape", "back", "Back"),
    ]

    app: WizardApp

    def __init__(self, step: m.CommitStep) -> None:
        super().__init__()
        self.step = step
        self.extra: list[str] = []
        self.plan: Any = None
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
                    yield Static(Text.assemble((fld.label, "bold"), (" *" if fld.required else "", "red")))
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
        self.refresh_plan()
        self.action_rebuild_message()
        self.query(".field").first().focus()

    def refresh_plan(self) -> None:
        from ...engine.gitops import plan_commit

        executor = self.app.executor
        try:
            self.plan = plan_commit(executor.path(self.step.repo), self.step, executor.values(), self.extra)
        except Exception as exc:
            self.query_one("#commit-files", Static).update(Text(str(exc), style="bold red"))
            return
        text = Text.assemble(("Files to commit: ", "bold"), ", ".join(str(f) for f in self.plan.files) or "none")
        for problem in self.plan.problems:
            text.append(f"\n✘ {problem}", style="bold red")
        text.append("\nctrl+d shows the diff · ctrl+o adds a file", style="dim")
        self.query_one("#commit-files", Static).update(text)

    def action_rebuild_message(self) -> None:
        try:
            message = self.app.executor.text(self.step.message)
        except Exception as exc:
            message = f"(cannot build the message: {exc})"
        self._setting = True
        self.query_one("#message", TextArea).text = message
        self._setting = False
        self.message_edited = False

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
            self.action_rebuild_message()

    def action_diff(self) -> None:
        if self.plan is not None:
            self.app.push_screen(DiffScreen("Changes to commit", self.plan.diff, readonly=True))

    def action_add_file(self) -> None:
        def added(path: str | None) -> None:
            if path:
                self.extra.append(path)
                self.refresh_plan()

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
        if self.plan is None or self.plan.problems:
            self.notify(self.plan.problems[0] if self.plan else "no commit plan", severity="error")
            return
        message = self.query_one("#message", TextArea).text
        if "[FILL IN]" in message or "{{" in message:
            self.notify("the message still has a blank to fill in", severity="warning")
            return

        def go(yes: bool | None) -> None:
            if yes:
                self.app.execute(
                    self.step.id, confirmed=True, message=message, extra_files=tuple(self.extra), shown=self.plan
                )
                self.dismiss(None)

        n = len(self.plan.files)
        self.app.push_screen(
            ConfirmScreen(
                f"Commit {n} file{'s' if n != 1 else ''} with this message?",
                "Hooks and signing run as for your own commits.",
            ),
            go,
        )

    def action_back(self) -> None:
        self.dismiss(None)
