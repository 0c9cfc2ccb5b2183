"""Textual messages the UI turns engine events into. Past-tense facts, posted from any thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
