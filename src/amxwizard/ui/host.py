"""What the screens need from the app, as a narrow base class: screens import this, never ``ui.app``.

``WizardApp`` (in :mod:`.app`) is the one implementation. The screens reach the session, the executor and a few
actions through it; the app owns the screens and imports them, so the dependency goes one way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from . import tones

if TYPE_CHECKING:
    from ..engine.executor import StepExecutor
    from ..engine.notify import Notifier
    from ..engine.session import Session
    from ..engine.steps.base import StepResult
    from ..engine.watchdog import Watch
    from ..runbook import models as m
    from .widgets.runlog import OutputFeed


class WizardHost(App[None]):
    """The app as its screens see it."""

    COMPONENT_CLASSES = set(tones.COMPONENT_CLASSES)  # coloured in wizard.tcss

    def on_mount(self) -> None:
        # Called after the subclass's own on_mount (Textual calls the handler of each class): before any paint.
        tones.load(self)
        self.theme_changed_signal.subscribe(self, lambda _theme: self.call_after_refresh(tones.load, self))

    session: Session
    runbook: m.Runbook
    executor: StepExecutor
    busy: str | None  # the step whose commands or changes are being applied
    walking: bool  # a step is on its way through its dialogs
    output_feed: OutputFeed
    notifier: Notifier
    # Banner notices waiting for the main screen (key -> text, sticky), and every one shown, in order.
    pending_notices: dict[str, tuple[str, bool]]
    resume_notes: list[str]

    def safely(self, action: Callable[..., Any], *args: Any) -> bool:
        """Record something a person did; a failure to (disk full, read-only) is a message, not a crash."""
        raise NotImplementedError

    def start_step(self, step_id: str) -> None:
        """Walk a step from its plan through the dialogs its blockers need to its end."""
        raise NotImplementedError

    def answer_step(self, step_id: str) -> None:
        """Open a step's answers (its form, the choice)."""
        raise NotImplementedError

    async def edit_step(self, step: m.Step) -> None:
        """Open the person's editor at the step's place and show what changed."""
        raise NotImplementedError

    async def walk(self, step_id: str, approval: Any = None) -> StepResult | None:
        raise NotImplementedError

    def cancel_running(self) -> None:
        """Cancel the command that is running (its whole process group)."""
        raise NotImplementedError

    def watch_tick(self) -> Watch | None:
        """The running step's watchdog reading (silence, usual duration), if a step runs."""
        raise NotImplementedError

    def palette_shortcut(self, typed: str) -> Callable[[], None] | None:
        """What Enter on ``typed`` does at once in the command palette (go to the step it names), if anything."""
        raise NotImplementedError

    def reattach_notifications(self) -> None:
        """Take up notification settings changed on the setup screen."""
        raise NotImplementedError
