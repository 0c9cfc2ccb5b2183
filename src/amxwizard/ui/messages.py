"""Textual messages the UI turns engine events into. Past-tense facts, posted from any thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from textual.message import Message

if TYPE_CHECKING:
    from ..engine.executor import StepResult
    from ..engine.store import Event


class EventRecorded(Message):
    """An event is durable in the session's store."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunStarted(Message):
    """A command of a step started (or was picked up from an earlier wizard)."""

    def __init__(self, step_id: str, handle: Any, log_path: str) -> None:
        super().__init__()
        self.step_id = step_id
        self.handle = handle
        self.log_path = log_path


class StepEnded(Message):
    """The executor returned (``result``) or stopped with something the person must supply (``error``)."""

    def __init__(self, step_id: str, result: StepResult | None = None, error: Exception | None = None) -> None:
        super().__init__()
        self.step_id = step_id
        self.result = result
        self.error = error


class ToastRequested(Message):
    """Something to tell the person: a toast (``kind="toast"``, held while a dialog is open) or a line of the main
    screen's banner (``kind="banner"``, under ``key``; ``sticky`` stays until replaced)."""

    def __init__(
        self,
        message: str,
        *,
        kind: Literal["toast", "banner"] = "toast",
        title: str = "",
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
        markup: bool = True,
        key: str = "",
        sticky: bool = False,
    ) -> None:
        super().__init__()
        self.message = message
        self.kind = kind
        self.title = title
        self.severity = severity
        self.timeout = timeout
        self.markup = markup
        self.key = key
        self.sticky = sticky
