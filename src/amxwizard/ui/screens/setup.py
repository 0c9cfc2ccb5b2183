"""Setup: the runbook's variables with their defaults, checked as they are typed, and the preflight beside them.
Nothing runs until the person accepts them.

The first field has the focus (typing goes somewhere at once); a bare letter never quits a form. A flag variable
(``type: args``: ``-fa on``) is read against the ``--help`` of the programs it is passed to, not looked up as a
program. Reopened mid-session, the files the session itself edited are expected to differ from HEAD: the clean-tree
check says so instead of failing on them.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ...engine.notify import CHANNELS, NotifyError, NotifySettings, override, save_settings
from ...engine.preflight.checks import fixes_text
from ...runbook.variables import check_value
from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..tones import styled, tone

if TYPE_CHECKING:
    from ...engine.preflight import Check
    from ...engine.session import Session

STATUS_STYLE = {
    "ok": ("✔ ok  ", "good"),
    "warn": ("▲ warn", "warn"),
    "fail": ("✘ fail", "error bold"),
}


def session_edits(session: Session, repo: Path) -> list[str]:
    """The files this session's own steps (or the person through them) changed, relative to ``repo``."""
    out: list[str] = []
    for edit in session.state.edits:
        path = Path(str(edit.get("path", "")))
        try:
            out.append(str(path.resolve().relative_to(repo.resolve())))
        except (ValueError, OSError):
            continue
    return list(dict.fromkeys(out))


def own_edits_expected(check: Check, session: Session, values: Mapping[str, str]) -> Check:
    """``clean_tree`` as it is mid-session: the files the session edited are expected to differ, so they are named
    as the wizard's own and only other changes count against the check."""
    from ...engine.fileio import expand_path
    from ...engine.preflight import Check as CheckType
    from ...engine.preflight.repo import clean_tree, open_repo
    from ...runbook.models import CleanTreeCheck

    if check.name != "clean_tree" or check.status == "ok" or not values.get("repo"):
        return check
    repo_path = expand_path(values["repo"])
    own = session_edits(session, repo_path)
    if not own:
        return check
    allow = next((i.check.allow for i in session.runbook.model.checklist if isinstance(i.check, CleanTreeCheck)), [])
    repo, _ = open_repo(repo_path)
    if repo is None:
        return check
    try:
        again = clean_tree(repo, [*allow, *own])
    finally:
        repo.close()
    mine = f"this session's own edits: {', '.join(own)}"
    if again.status == "ok":
        return CheckType("clean_tree", "ok", f"nothing changed but {mine}")
    return CheckType("clean_tree", again.status, f"{again.finding} (expected: {mine})")


class SetupScreen(Screen[bool]):
    """Edit and accept the variables. Dismisses with True once accepted."""

    TITLE = "Setup"
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("ctrl+s", "accept", "Accept", priority=True),
        Binding("ctrl+r", "preflight", "Re-check", priority=True),
        Binding("ctrl+f", "apply_fixes", "Apply fixes", priority=True),
        Binding("f2", "toggle_preflight", "Preflight"),
        Binding("escape", "back", "Back"),
    ]

    app: WizardHost

    def compose(self) -> ComposeResult:
        session = self.app.session
        values = session.values()
        yield Static(
            Text.assemble(
                ("Setup ", "bold"),
                ("— check the values for this machine. Nothing runs until you accept them with ctrl+s.", "dim"),
            ),
            id="setup-title",
        )
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="vars"):
                for name, var in session.runbook.model.variables.items():
                    with Vertical(classes="var"):
                        with Horizontal(classes="var-row"):
                            yield Static(Text(name, style="bold"), classes="var-name")
                            yield Input(
                                value=values.get(name, var.default_text),
                                id=f"var-{name}",
                                classes="var-input",
                                select_on_focus=False,
                            )
                        yield Static(Text(var.description, style="dim"), id=f"hint-{name}", classes="var-hint")
                # The session's notifications, after the variables (they are the person's, not the runbook's).
                settings = self.app.notifier.settings
                when = (
                    "on" if settings.channels == frozenset(CHANNELS) else ",".join(sorted(settings.channels)) or "off"
                )
                for key, label, value, hint in (
                    (
                        "notify",
                        "notify",
                        when,
                        "on, off, or some of terminal,bell,tmux,command: when a step ends or goes quiet",
                    ),
                    (
                        "notify-command",
                        "notify cmd",
                        shlex.join(settings.command),
                        "run with AMXWIZARD_STEP, _STATE, _DURATION, _SUMMARY in its environment (never as shell text)",
                    ),
                ):
                    with Vertical(classes="var"):
                        with Horizontal(classes="var-row"):
                            yield Static(Text(label, style="bold"), classes="var-name")
                            yield Input(value=value, id=f"set-{key}", classes="notify-input", select_on_focus=False)
                        yield Static(Text(hint, style="dim"), id=f"hint-set-{key}", classes="var-hint")
            with VerticalScroll(id="preflight"):
                yield Static(Text("Preflight  (f2: here and back; ↑↓ pgup pgdn scroll)", style="bold"))
                yield Static(Text("checking…", style="dim"), id="preflight-results")
        yield Footer()

    def on_mount(self) -> None:
        self._fixes: dict[str, str] = {}  # what the latest preflight suggests, not yet applied
        self._applied: dict[str, str] = {}  # what the person applied with one key (the record notes it)
        self._helps: dict[tuple[Path, float], Any] = {}  # each program's --help, read once per build
        self._last_field = ""
        for name in self.app.session.runbook.model.variables:
            self._validate(name)
        fields = self.query(".var-input")
        if fields:
            fields.first(Input).focus()
        self.action_preflight()

    def current(self) -> dict[str, str]:
        """Every variable as typed now."""
        return {name: self.query_one(f"#var-{name}", Input).value for name in self.app.session.runbook.model.variables}

    def _edited(self, typed: dict[str, str]) -> dict[str, str]:
        """Values the person changed here. Compared with what is shown, so a default that refers to another
        variable (numactl → numa_nodes) keeps following it unless it is edited itself."""
        shown = self.app.session.values()
        return {k: v for k, v in typed.items() if v != shown.get(k)}

    def _validate(self, name: str) -> bool:
        from ...engine.preflight import check_variable

        var = self.app.session.runbook.model.variables[name]
        value = self.query_one(f"#var-{name}", Input).value
        hint = self.query_one(f"#hint-{name}", Static)
        problem = check_value(name, var, value)
        if problem:
            hint.update(Text(problem.split(": ", 1)[-1], style=tone("error", bold=True)))
            return False
        status, finding = check_variable(name, var, value) if "{{" not in value else ("ok", "")
        if status == "ok":
            hint.update(Text(var.description + (f"  ✔ {finding}" if finding else ""), style="dim"))
        else:
            hint.update(Text(finding, style=tone("warn") if status == "warn" else tone("error", bold=True)))
        if var.type == "args" and value.strip() and status == "ok":
            self._check_flags(name, self.current())
        return status != "fail"

    @work(thread=True, exclusive=False, group="flags", exit_on_error=False)
    def _check_flags(self, name: str, typed: dict[str, str]) -> None:
        """An ``args`` variable's flags against the help of the programs it is passed to (runs each once)."""
        from ...engine.preflight.variables import check_flags
        from ...runbook.variables import VariableError, resolve

        session = self.app.session
        try:
            values = resolve(
                session.runbook.model, {**session.state.overrides, **self._edited(typed)}, session.builtins()
            )
        except VariableError:
            return
        status, finding = check_flags(session.runbook.model, values, name, helps=self._helps)
        self.app.call_from_thread(self._show_flags, name, typed.get(name, ""), status, finding)

    def _show_flags(self, name: str, value: str, status: str, finding: str) -> None:
        field = self.query_one(f"#var-{name}", Input)
        if field.value != value or not finding:  # typed on since: a newer check is on its way
            return
        var = self.app.session.runbook.model.variables[name]
        if status == "ok":
            text = Text(var.description + f"  ✔ {finding}", style="dim")
        else:
            text = Text(finding, style=tone("warn") if status == "warn" else tone("error", bold=True))
        self.query_one(f"#hint-{name}", Static).update(text)

    @on(Input.Changed, ".var-input")
    def _changed(self, event: Input.Changed) -> None:
        assert event.input.id is not None
        self._validate(event.input.id.removeprefix("var-"))

    _generation = 0

    def action_preflight(self) -> None:
        self.query_one("#preflight-results", Static).update(Text("checking…", style="dim"))
        self._generation += 1
        self._run_preflight(self.current(), self._generation)

    @work(thread=True, exclusive=True, group="preflight", exit_on_error=False)
    def _run_preflight(self, typed: dict[str, str], generation: int) -> None:
        from ...engine.preflight import run_preflight, suggested_values
        from ...runbook.variables import VariableError, resolve

        session = self.app.session
        overrides = {**session.state.overrides, **self._edited(typed)}
        try:
            values = resolve(session.runbook.model, overrides, session.builtins())
        except VariableError as exc:
            self.app.call_from_thread(self._show_preflight, Text(str(exc), style=tone("error")), generation)
            return
        checks = [own_edits_expected(c, session, values) for c in run_preflight(session.runbook, values)]
        fixes = {k: v for k, v in suggested_values(checks).items() if typed.get(k) != v}
        text = Text()
        if fixes:
            text.append(
                f"ctrl+f applies what preflight suggests: {fixes_text(fixes)}\n", style=tone("accent", bold=True)
            )
        # Failures first: at 80x24 only the top of this pane is in view (f2 and the arrows scroll it).
        for check in sorted(checks, key=lambda c: {"fail": 0, "warn": 1}.get(c.status, 2)):
            label, spec = STATUS_STYLE.get(check.status, (check.status, ""))
            style = styled(spec)
            text.append(label, style=style)
            text.append(f" {check.name}: ", style="bold")
            text.append(f"{check.finding}\n")
        self.app.call_from_thread(self._show_preflight, text, generation, fixes)

    def _show_preflight(self, text: Text, generation: int, fixes: dict[str, str] | None = None) -> None:
        if generation == self._generation:  # an older check finishing late must not cover a newer one
            self.query_one("#preflight-results", Static).update(text)
            self._fixes = fixes or {}
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_fixes":
            return bool(getattr(self, "_fixes", None))
        return True

    def action_toggle_preflight(self) -> None:
        """Focus the preflight results (to scroll them with the keyboard), or go back to the field left."""
        pane = self.query_one("#preflight", VerticalScroll)
        if self.focused is pane:
            back = self.query(f"#var-{self._last_field}") if self._last_field else None
            (back.first(Input) if back else self.query(".var-input").first(Input)).focus()
            return
        if isinstance(self.focused, Input) and self.focused.id:
            self._last_field = self.focused.id.removeprefix("var-")
        pane.focus()

    def action_apply_fixes(self) -> None:
        """Put the values preflight suggests into their fields (the record notes it on accept), and check again."""
        for name, value in self._fixes.items():
            field = self.query(f"#var-{name}")
            if field:
                field.first(Input).value = value
                self._applied[name] = value
        self.notify(f"applied: {fixes_text(self._fixes)}", markup=False)
        self._fixes = {}
        self.action_preflight()

    def action_accept(self) -> None:
        from ...engine.session import SessionError
        from ...runbook.variables import VariableError

        typed = self.current()
        bad = [name for name in typed if not self._validate(name)]
        if bad:
            self.notify(f"fix {', '.join(bad)} first", severity="error", markup=False)
            self.query_one(f"#var-{bad[0]}", Input).focus()
            return
        settings = self._notify_settings()
        if settings is None:
            return
        session = self.app.session
        changed = self._edited(typed)
        applied = {k: v for k, v in self._applied.items() if typed.get(k) == v}
        try:
            if changed:
                session.set_variables(changed)
            if applied:
                session.note(f"setup: applied the values preflight suggested: {fixes_text(applied)}")
            session.accept_setup()
        except (VariableError, SessionError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if settings is not self.app.notifier.settings:
            try:
                save_settings(session.dir, settings)
            except (OSError, NotifyError) as exc:
                self.notify(f"notifications not saved: {exc}", severity="error")
                return
            self.app.notifier.settings = settings
            self.app.reattach_notifications()
        self.dismiss(True)

    def _notify_settings(self) -> NotifySettings | None:
        """The notification settings as typed (the same object when unchanged), or ``None`` after saying why not."""
        when = self.query_one("#set-notify", Input).value
        command = self.query_one("#set-notify-command", Input).value
        current = self.app.notifier.settings
        try:
            typed = override(current, notify=when, command=command)
        except NotifyError as exc:
            hint = "#hint-set-notify" if "--notify:" in str(exc) else "#hint-set-notify-command"
            self.query_one(hint, Static).update(Text(str(exc).split(": ", 1)[-1], style=tone("error", bold=True)))
            self.notify(str(exc).replace("--notify", "notify"), severity="error")
            return None
        same = typed.channels == current.channels and typed.command == current.command
        return current if same else typed

    def action_back(self) -> None:
        if self.app.session.state.setup_accepted:
            self.dismiss(False)
        else:
            self.notify("accept the values first (ctrl+s), or quit with ctrl+q", severity="warning")
