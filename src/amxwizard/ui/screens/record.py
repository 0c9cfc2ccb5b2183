"""The last screen: the state of the reviewer's record, and writing it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...engine.state import StepStatus
from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..tones import tone
from .dialogs import ConfirmScreen, NoteScreen


def _machine_placeholder() -> object:
    from ...report.model import MachineFacts

    # The screen shows the record's state; the machine facts (nvidia-smi can take seconds) wait for writing it.
    return MachineFacts("", "", "", "", 0, {}, (), "not collected for the screen", "")


class RecordScreen(Screen[None]):
    TITLE = "Record"
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("m", "write('md')", "Write Markdown"),
        Binding("h", "write('html')", "Write HTML"),
        Binding("j", "write('json')", "Write JSON"),
        Binding("x", "finish", "Finish session"),
        Binding("y", "copy_path", "Copy path", show=False),  # in help (f1) and said after a write
        Binding("escape,q", "back", "Back"),
    ]

    app: WizardHost
    complete = False
    shown = False  # the record's state is on screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="record-body"):
            yield Static(id="record-state")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#record-state", Static).update(Text("reading the record…", style="dim"))
        self.refresh_state()

    def refresh_state(self) -> None:
        self._build()

    @work(thread=True, exclusive=True, group="record", exit_on_error=False)
    def _build(self) -> None:
        """The record exactly as it would be written (its own idea of complete), built off the UI thread."""
        from ...report import build_record
        from ...report.fmt import state_sentence

        try:
            record = build_record(self.app.session, machine=_machine_placeholder())  # type: ignore[arg-type]
        except Exception as exc:  # shown, so the person can still try to write it and see the same error
            self.app.call_from_thread(
                self.query_one("#record-state", Static).update,
                Text(f"the record cannot be built: {exc}", style=tone("error", bold=True)),
            )
            return
        self.app.call_from_thread(self._show, record.status.complete, state_sentence(record))

    def _show(self, complete: bool, sentence: str) -> None:
        rb, state = self.app.runbook, self.app.session.state
        self.complete = complete
        counts = {status: 0 for status in StepStatus}
        for _, step in rb.iter_steps():
            counts[state.step(step.id).status] += 1
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("record", Text(sentence, style=tone("good", bold=True) if complete else tone("warn", bold=True)))
        table.add_row("steps", ", ".join(f"{n} {s.value}" for s, n in counts.items() if n))
        table.add_row("events", f"{state.last_seq} in the chain, last hash {state.last_hash[:24]}…")
        commit = state.commit
        if commit:
            table.add_row("commit", f"{commit.get('sha', '')[:12]} {commit.get('subject', '')}")
            table.add_row("", Text("its Runbook-Chain trailer names the chain as it stood at the commit", style="dim"))
        else:
            table.add_row("commit", Text("not made yet", style="dim"))
        table.add_row("session", f"{self.app.session.id}  ({self.app.session.dir})")
        if state.finished:
            table.add_row("", Text("this session is finished", style=tone("good")))
        hint = Text(
            "\nm / h / j write the record as Markdown, HTML or JSON (verify it with "
            "'amxwizard verify record.json') · x finish the session",
            style="dim",
        )
        self.query_one("#record-state", Static).update(
            Group(Text("The reviewer's record", style="bold underline"), table, hint)
        )
        self.shown = True

    def action_write(self, fmt: str) -> None:
        default = str(self.app.session.dir / f"record.{fmt}")

        def chosen(path: str | None) -> None:
            if path:
                self._write(fmt, Path(path).expanduser())

        self.app.push_screen(NoteScreen(f"Write the {fmt.upper()} record to", value=default), chosen)

    @work(thread=True, exit_on_error=False, group="record")
    def _write(self, fmt: str, path: Path) -> None:
        from ...report import build_record, write_record

        try:
            write_record(build_record(self.app.session), fmt, path)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot write {path}: {exc}", severity="error")
            return
        self.written = path
        self.app.call_from_thread(self.notify, f"written: {path}  (y copies its path)")

    written: Path | None = None

    def action_copy_path(self) -> None:
        """Copy the path of the record written last (else the session folder) to the local clipboard."""
        from ..clipboard import copy_text

        if self.written is not None:
            copy_text(self.app, str(self.written), "the record's path")
        else:
            copy_text(self.app, str(self.app.session.dir), "the session folder's path (no record written yet)")

    def action_finish(self) -> None:
        if self.app.busy is not None:
            self.notify(f"{self.app.busy} is still running; finish the session after it", severity="warning")
            return

        def go(yes: bool | None) -> None:
            if yes and self.app.safely(self.app.session.finish):
                self.refresh_state()

        self.app.push_screen(
            ConfirmScreen(
                "Finish this session?", "A finished session is not resumed by default; its record stays readable."
            ),
            go,
        )

    def action_back(self) -> None:
        self.dismiss(None)
