"""Setup: the runbook's variables with their defaults, checked as they are typed, and the preflight beside them.
Nothing runs until the person accepts them."""

from __future__ import annotations

import shlex

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

STATUS_STYLE = {"ok": ("✔ ok  ", "green"), "warn": ("▲ warn", "yellow"), "fail": ("✘ fail", "bold red")}


class SetupScreen(Screen[bool]):
    """Edit and accept the variables. Dismisses with True once accepted."""

    TITLE = "Setup"
    BINDINGS = [
        Binding("ctrl+s", "accept", "Accept", priority=True),
        Binding("ctrl+r", "preflight", "Re-check", priority=True),
        Binding("ctrl+f", "apply_fixes", "Apply fixes", priority=True),
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
                yield Static(Text("Preflight", style="bold underline"))
                yield Static(Text("checking…", style="dim"), id="preflight-results")
        yield Footer()

    def on_mount(self) -> None:
        self._fixes: dict[str, str] = {}  # what the latest preflight suggests, not yet applied
        self._applied: dict[str, str] = {}  # what the person applied with one key (the record notes it)
        for name in self.app.session.runbook.model.variables:
            self._validate(name)
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
            hint.update(Text(problem.split(": ", 1)[-1], style="bold red"))
            return False
        status, finding = check_variable(name, var, value) if "{{" not in value else ("ok", "")
        if status == "ok":
            hint.update(Text(var.description + (f"  ✔ {finding}" if finding else ""), style="dim"))
        else:
            hint.update(Text(finding, style="yellow" if status == "warn" else "bold red"))
        return status != "fail"

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
            self.app.call_from_thread(self._show_preflight, Text(str(exc), style="red"), generation)
            return
        checks = run_preflight(session.runbook, values)
        fixes = {k: v for k, v in suggested_values(checks).items() if typed.get(k) != v}
        text = Text()
        if fixes:
            text.append(f"ctrl+f applies what preflight suggests: {fixes_text(fixes)}\n", style="bold cyan")
        # Failures first: at 80x24 only the top of this pane is in view.
        for check in sorted(checks, key=lambda c: {"fail": 0, "warn": 1}.get(c.status, 2)):
            label, style = STATUS_STYLE.get(check.status, (check.status, ""))
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

    def action_apply_fixes(self) -> None:
        """Put the values preflight suggests into their fields (the record notes it on accept), and check again."""
        for name, value in self._fixes.items():
            field = self.query(f"#var-{name}")
            if field:
                field.first(Input).value = value
                self._applied[name] = value
        self.notify(f"applied: {fixes_text(self._fixes)}")
        self._fixes = {}
        self.action_preflight()

    def action_accept(self) -> None:
        from ...engine.session import SessionError
        from ...runbook.variables import VariableError

        typed = self.current()
        bad = [name for name in typed if not self._validate(name)]
        if bad:
            self.notify(f"fix {', '.join(bad)} first", severity="error")
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
            self.notify(str(exc), severity="error")
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
            self.query_one(hint, Static).update(Text(str(exc).split(": ", 1)[-1], style="bold red"))
            self.notify(str(exc).replace("--notify", "notify"), severity="error")
            return None
        same = typed.channels == current.channels and typed.command == current.command
        return current if same else typed

    def action_back(self) -> None:
        if self.app.session.state.setup_accepted:
            self.dismiss(False)
        else:
            self.notify("accept the values first (ctrl+s), or quit with ctrl+q", severity="warning")
