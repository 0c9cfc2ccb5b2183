"""Small modal questions: confirm, a short note, a diff to approve, a verdict on an interrupted step."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; escape is no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            yield Static(Text("y yes · n / esc no", style="dim"))

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class NoteScreen(ModalScreen[str | None]):
    """Ask for one line of text (a note, a reason, a search); escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, *, value: str = "", placeholder: str = "", required: bool = True) -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.prompt, style="bold"), classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="note")
            yield Static(Text("enter to confirm · esc to cancel", style="dim"), id="note-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.required and not text:
            self.query_one("#note-hint", Static).update(Text("a few words are needed here", style="red"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DiffScreen(ModalScreen[bool]):
    """Show a diff before it is applied; ``y`` applies, ``n``/escape does not."""

    BINDINGS = [
        Binding("y", "answer(True)", "Apply"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(
        self, title: str, diff: str, *, question: str = "Apply these changes?", readonly: bool = False
    ) -> None:
        super().__init__()
        self.title_text = title
        self.diff = diff
        self.question = question
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax  # here, not at import: pygments is needed only when a diff is shown

        with Vertical(classes="dialog wide"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(id="diff-body"):
                yield Static(
                    Syntax(
                        self.diff or "(no changes)",
                        "diff",
                        theme="ansi_dark",
                        word_wrap=True,
                        background_color="default",
                    )
                )
            hint = "esc close" if self.readonly else f"{self.question}  y apply · n / esc cancel"
            yield Static(Text(hint, style="bold" if not self.readonly else "dim"))
        yield Footer()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value and not self.readonly)


class DecideScreen(ModalScreen[str | None]):
    """The person's call on a step the wizard could not judge: rerun, passed or failed."""

    BINDINGS = [
        Binding("r", "pick('rerun')", "Run again"),
        Binding("p", "pick('passed')", "Mark passed"),
        Binding("f", "pick('failed')", "Mark failed"),
        Binding("escape", "pick(None)", "Later"),
    ]

    def __init__(self, step_id: str, summary: str) -> None:
        super().__init__()
        self.step_id = step_id
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Step {self.step_id} needs your decision", style="bold"), classes="dialog-title")
            yield Static(self.summary or "The wizard lost track of this run.")
            yield Static(Text("r run it again · p mark passed · f mark failed · esc later", style="dim"))

    def action_pick(self, choice: str | None) -> None:
        self.dismiss(choice)


class ChoiceDialog(ModalScreen[str | None]):
    """A question whose answers are named keys ("b rebuild now · a run anyway · esc cancel"); dismisses with the
    chosen value, or ``None`` for escape."""

    BINDINGS = [Binding("escape", "pick(None)", "Cancel")]

    def __init__(self, title: str, detail: str, choices: list[tuple[str, str, str]]) -> None:
        """``choices``: (key, label, value) in the order they are offered."""
        super().__init__()
        self.title_text = title
        self.detail = detail
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            keys = " · ".join(f"{key} {label}" for key, label, _ in self.choices)
            yield Static(Text(f"{keys} · esc cancel", style="bold"), id="choice-keys")
        yield Footer()

    def on_mount(self) -> None:
        for key, label, value in self.choices:
            self._bindings.bind(key, f"pick({value!r})", label)
        self.refresh_bindings()

    def action_pick(self, value: str | None) -> None:
        self.dismiss(value)
