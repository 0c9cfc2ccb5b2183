"""Small modal questions: confirm, a short note, a diff to approve, a verdict on an interrupted step.

Every dialog says its keys twice, inside (next to the question) and in its footer, and both come from the same
bindings (:meth:`Dialog.keys_text`), so they cannot disagree: a read-only diff says "esc close" in both places, a
diff to approve "y apply · n cancel" in both.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from ..keys import key_label
from ..tones import tone

R = TypeVar("R")


class Dialog(ModalScreen[R]):
    """A modal question. Its own footer shows its keys (the screen beneath is dimmed, and so are its keys)."""

    def dialog_keys(self) -> list[Binding]:
        """The keys that answer this dialog, in the order they are offered (footer and text alike)."""
        out: list[Binding] = []
        seen: set[str] = set()
        for _key, binding in self._bindings:
            if binding.show and binding.description and binding.action not in seen and "." not in binding.action:
                seen.add(binding.action)
                out.append(binding)
        return out

    def keys_text(self) -> Text:
        """The dialog's keys as one line: "y apply · n cancel"."""
        return Text(" · ".join(f"{key_label(b.key)} {b.description.lower()}" for b in self.dialog_keys()), style="bold")

    def refresh_keys(self) -> None:
        for hint in self.query(".dialog-keys"):
            if isinstance(hint, Static):
                hint.update(self.keys_text())
        self.refresh_bindings()


class ConfirmScreen(Dialog[bool]):
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
            yield Static(self.keys_text(), classes="dialog-keys")
        yield Footer()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class NoteScreen(Dialog[str | None]):
    """Ask for one line of text (a note, a reason, a path); escape cancels."""

    BINDINGS = [
        # A priority binding, so the footer shows it: the field's own enter would hide it (and does the same).
        Binding("enter", "submit", "Confirm", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

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
            yield Static(self.keys_text(), id="note-hint", classes="dialog-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def action_submit(self) -> None:
        text = self.query_one("#note", Input).value.strip()
        if self.required and not text:
            self.query_one("#note-hint", Static).update(Text("a few words are needed here", style=tone("error")))
            return
        self.dismiss(text)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_cancel(self) -> None:
        self.dismiss(None)


class DiffScreen(Dialog[bool]):
    """Show a diff. To approve (``y`` applies, ``n``/escape does not), or read-only (escape closes).

    Long lines scroll sideways instead of wrapping mid-word: a diff is read by its columns."""

    def __init__(
        self, title: str, diff: str, *, question: str = "Apply these changes?", readonly: bool = False
    ) -> None:
        super().__init__()
        self.title_text = title
        self.diff = diff
        self.question = question
        self.readonly = readonly
        if readonly:
            self._bindings.bind("escape,q", "close", "Close")
        else:
            self._bindings.bind("y", "answer(True)", "Apply")
            self._bindings.bind("n,escape", "answer(False)", "Cancel")

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax  # here, not at import: pygments is needed only when a diff is shown

        with Vertical(classes="dialog wide"):
            yield Static(
                Text.assemble((self.title_text, "bold"), ("  (the arrows scroll it)", "dim")), classes="dialog-title"
            )
            with ScrollableContainer(id="diff-body", classes="sideways"):
                yield Static(
                    Syntax(self.diff or "(no changes)", "diff", theme="ansi_dark", background_color="default"),
                    classes="code-text",
                )
            question = "" if self.readonly else f"{self.question}  "
            yield Static(Text.assemble((question, "bold"), self.keys_text()), classes="dialog-keys-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-body").focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value and not self.readonly)

    def action_close(self) -> None:
        self.dismiss(False)


class DecideScreen(Dialog[str | None]):
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
            yield Static(self.summary or "The wizard lost track of this run.", classes="dialog-detail")
            yield Static(self.keys_text(), classes="dialog-keys")
        yield Footer()

    def action_pick(self, choice: str | None) -> None:
        self.dismiss(choice)


class ChoiceDialog(Dialog[str | None]):
    """A question whose answers are named keys ("b rebuild now · a run anyway · esc cancel"); dismisses with the
    chosen value, or ``None`` for escape."""

    def __init__(self, title: str, detail: str, choices: list[tuple[str, str, str]]) -> None:
        """``choices``: (key, label, value) in the order they are offered."""
        super().__init__()
        self.title_text = title
        self.detail = detail
        self.choices = choices
        for key, label, value in choices:
            self._bindings.bind(key, f"pick({value!r})", label)
        self._bindings.bind("escape", "pick(None)", "Cancel")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            yield Static(self.keys_text(), id="choice-keys", classes="dialog-keys")
        yield Footer()

    def action_pick(self, value: str | None) -> None:
        self.dismiss(value)


def is_dialog(screen: Any) -> bool:
    """A question is open on top: nothing else may cover it (toasts wait until it closes)."""
    return isinstance(screen, ModalScreen)
