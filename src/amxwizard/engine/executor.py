"""Carry out one runbook step, whatever its kind, and record what happened.

Used by the TUI (from a worker thread) and by ``amxwizard step``. Everything a person decides — answers, the approach,
confirmation of a destructive step — comes in as arguments; what is missing is raised as :class:`NeedsAnswers` or
:class:`NeedsConfirmation` before anything irreversible happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runbook import models as m
from ..runbook.templates import TemplateError, render_path, render_shell, render_text
from . import events as ev
from .fileio import expand_path, sha256_file, unified_diff
from .runner import OutputCallback
from .session import Session, SessionError
from .state import StepStatus

BUILD_LOG_TAIL = 2 << 20  # bytes of a build log its verdict reads


class StepError(Exception):
    """The step cannot be carried out as asked; the message says why and what to do."""


class NeedsAnswers(StepError):
    def __init__(self, step_id: str, fields: Sequence[m.FormField], suggested: Mapping[str, str] | None = None) -> None:
        self.fields = list(fields)
        self.suggested = dict(suggested or {})
        names = ", ".join(f.id for f in self.fields)
        tail = " or --yes to take the suggestions" if self.suggested else ""
        super().__init__(f"step {step_id} needs answers: {names} (use --answer FIELD=VALUE{tail})")


class NeedsConfirmation(StepError):
    def __init__(self, step_id: str, question: str, preview: str = "") -> None:
        self.question = question
        self.preview = preview
        super().__init__(f"step {step_id}: {question} (confirm with --yes)")


@dataclass(frozen=True, slots=True)
class StepResult:
    """How a step ended, with what was found."""

    step: str
    status: StepStatus
    summary: str
    findings: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    troubleshooting: tuple[m.Troubleshooting, ...] = ()


class StepExecutor:
    """Runs steps of one session. Not thread-safe: one step at a time (the TUI runs it in one worker)."""

    def __init__(self, session: Session, *, nice: int = 10) -> None:
        self.session = session
        self.runbook = session.runbook.model
        self.nice = nice
        self._handle: Any = None  # the live RunHandle while a command runs (for cancel)
        self._closing = False  # set by detach(): no further command starts in this process
        self._suggestions: dict[tuple[tuple[str, int | None], ...], Any] = {}

    # -- what a step will do -------------------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        return self.session.values()

    def workdir(self) -> Path:
        text = render_text(self.runbook.workdir, self.values()) if self.runbook.workdir else "."
        return expand_path(text)

    def shell_commands(self, step: m.Step) -> list[str]:
        """The step's commands exactly as they will run (placeholders quoted for their place)."""
        values, args = self.values(), self.runbook.args_variables
        if isinstance(step, m.ShellStep):
            return [render_shell(c, values, args) for c in step.commands]
        if isinstance(step, m.TestStep):
            return [render_shell(c, values, args) for c in [*step.setup, step.command]]
        if isinstance(step, m.BenchmarkStep):
            return [render_shell(step.command, values, args)]
        return []

    def text(self, template: str) -> str:
        """A text template rendered with variables, answers, evidence and the chosen approach."""
        return render_text(template, self.template_values())

    def path(self, template: str) -> Path:
        """A path template rendered, with ``$BACKUP_DIR``-style exports expanded."""
        try:
            return expand_path(render_path(template, self.values(), self.session.env()))
        except TemplateError as exc:
            raise StepError(str(exc)) from None

    def template_values(self) -> dict[str, str]:
        from .evidence.context import template_values

        return template_values(self.runbook, self.session.state, self.values(), self.read_log)

    def read_log(self, run_id: str, tail: int | None = None) -> str:
        """A run's log as text (U+FFFD for bytes that are not UTF-8); with ``tail``, only its last ``tail`` bytes
        (from a line start), after a line saying how much was left out."""
        run = self.session.state.runs.get(run_id)
        if run is None or not run.log:
            return ""
        try:
            with open(run.log, "rb") as fh:
                size = fh.seek(0, 2)
                if tail is None or size <= tail:
                    fh.seek(0)
                    return fh.read().decode("utf-8", "replace")
                fh.seek(size - tail)
                data = fh.read()
        except OSError:
            return ""
        start = data.find(b"\n") + 1
        return f"[… the first {size - tail + start:,} bytes of this log were not read …]\n" + data[start:].decode(
            "utf-8", "replace"
        )

    def step_log(self, step_id: str, tail: int | None = None) -> str:
        """All logs of the step's latest attempt, in order (each cut to its last ``tail`` bytes if given)."""
        return "".join(self.read_log(r.run_id, tail) for r in self.session.state.attempt_runs(step_id))

    def suggestion(self, step: m.FormStep) -> Any:
        """What the diagnostic log suggests for a form's fields (``None`` without evidence)."""
        if not step.evidence_from:
            return None
        from .evidence import tensor_copy

        # The detail pane asks on every cursor move; parse a diagnostic log again only when it changed.
        state = self.session.state
        key = tuple((r.run_id, r.log_size) for r in state.attempt_runs(step.evidence_from))
        if key not in self._suggestions:
            text = self.step_log(step.evidence_from)
            self._suggestions = {key: tensor_copy.suggest(tensor_copy.parse(text)) if text else None}
        return self._suggestions[key]

    # -- carrying it out -----------------------------------------------------------------------------------------

    def run(
        self,
        step_id: str,
        *,
        answers: Mapping[str, str] | None = None,
        confirmed: bool = False,
        message: str | None = None,
        extra_files: Sequence[str] = (),
        shown: Sequence[Any] | None = None,
        on_output: OutputCallback | None = None,
        on_started: Callable[[Any], None] | None = None,
    ) -> StepResult:
        """Carry out ``step_id``. Raises :class:`StepError` subclasses for what a person must supply first."""
        try:
            step = self.runbook.step(step_id)
        except KeyError:
            raise StepError(f"no step {step_id!r} in the runbook") from None
        for field_id, value in (answers or {}).items():  # answers are kept even if the step cannot run yet
            self.answer(step_id, field_id, value)
        if step.destructive and not confirmed:
            raise NeedsConfirmation(step_id, step.confirm or f"{step.title}: this cannot be undone. Go ahead?")
        stale = self.stale_build(step)
        if stale and not confirmed:
            raise NeedsConfirmation(step_id, stale)
        handler = _HANDLERS[type(step)]
        result: StepResult = handler(
            self,
            step,
            confirmed=confirmed,
            message=message,
            extra_files=extra_files,
            shown=shown,
            on_output=on_output,
            on_started=on_started,
        )
        return result

    def stale_build(self, step: m.Step) -> str | None:
        """Why running ``step`` now would test an old binary: a source file was edited after the last build.

        The runbook has no rebuild between the fix (phase 2) and the tests (phase 3); this says so before a test
        runs the binary built before the fix.
        """
        builds_itself = isinstance(step, m.ShellStep) and "build" in step.evidence
        runs_binary = isinstance(step, m.TestStep | m.BenchmarkStep) or (
            isinstance(step, m.ShellStep) and bool({"llama_cli", "tensor_copy"} & set(step.evidence))
        )
        if builds_itself or not runs_binary:
            return None
        state = self.session.state
        build_steps = [
            s.id for _, s in self.runbook.iter_steps() if isinstance(s, m.ShellStep) and "build" in s.evidence
        ]
        if not build_steps or not state.edits:
            return None
        passed = [(state.step(b).finished, b) for b in build_steps if state.step(b).status is StepStatus.PASSED]
        built_at, build_step = max(passed) if passed else ("", build_steps[0])
        newer = [e for e in state.edits if e["ts"] > built_at]
        if not newer:
            return None
        last = newer[-1]
        when = "no successful build yet" if not built_at else f"the last build ({build_step}) was before it"
        return (
            f"{Path(last['path']).name} was edited at step {last.get('step', '?')} and {when}: this would run "
            f"an old binary. Rebuild first (step {build_step}), or run anyway?"
        )

    def cancel(self) -> bool:
        """Cancel the command that is running, if any (SIGTERM, then SIGKILL, to its whole process group)."""
        handle = self._handle
        if handle is None or handle.done:
            return False
        handle.cancel()
        return True

    def missing_answers(self, step: m.Step) -> list[m.FormField]:
        """The required fill-in fields of ``step`` that have no answer yet (blank counts as none)."""
        return [
            f for f in getattr(step, "fields", []) if f.required and not (self.session.state.answer(f.id) or "").strip()
        ]

    def answer(self, step_id: str, field_id: str, value: str, suggested: str | None = None) -> bool:
        """Record a person's answer if it differs from what is recorded; True if recorded."""
        fld = self.runbook.fields.get(field_id)
        if fld is None and field_id != "approach":
            raise StepError(f"no fill-in field {field_id!r} (fields: {', '.join(self.runbook.fields)})")
        if fld is not None and fld.type == "choice" and value and value not in fld.options:
            raise StepError(f"{field_id}: {value!r} is not one of {', '.join(fld.options)}")
        if fld is not None and fld.type == "number" and value:
            try:
                float(value)
            except ValueError:
                raise StepError(f"{field_id}: {value!r} is not a number") from None
        if self.session.state.answer(field_id) == value:
            return False
        self.session.record(ev.FieldAnswered(step=step_id, field=field_id, value=value, suggested=suggested))
        return True

    def skip(self, step_id: str, reason: str) -> None:
        """Mark a step skipped; a reason is required."""
        if not reason.strip():
            raise StepError("a skip needs a reason")
        self.runbook.step(step_id)
        self.session.record(ev.StepSkipped(step=step_id, reason=reason.strip()))

    def decide(self, step_id: str, status: StepStatus, note: str) -> None:
        """A person's verdict on a step the wizard could not judge (an interrupted run)."""
        if status not in (StepStatus.PASSED, StepStatus.FAILED):
            raise StepError("decide a step as passed or failed")
        if not note.strip():
            raise StepError("say why (a short note)")
        self.session.record(
            ev.StepFinished(
                step=step_id,
                status=status.value,
                summary=f"marked {status.value} by hand: {note.strip()}",
                evidence={"manual": True},
            )
        )

    def edit_target(self, step: m.CodeChangeStep | m.CMakeEditStep | m.ApproachStep) -> tuple[Path, int]:
        """The file and line to open in an editor for ``step`` (its first edit's function); needs the backup."""
        from .source import locate_function

        edit = step.edits[0]
        path = self.path(edit.file)
        _require_backup(self, [self.path(e.file) for e in step.edits])
        line = 1
        if edit.function and path.exists():
            span = locate_function(path.read_text(encoding="utf-8", errors="replace"), edit.function)
            line = span.start_line if span is not None else 1
        return path, line

    def record_hand_edits(self, step: m.Step) -> list[Path]:
        """Record the changes a person made by hand to the files ``step`` touches."""
        if not isinstance(step, m.EDIT_KINDS):
            return []
        return _record_outside_edits(self, step, [self.path(e.file) for e in step.edits], "editor")

    def file_diff(self, path: Path) -> str:
        """``git diff`` of one file against HEAD (or against its backup outside a repo)."""
        import git

        try:
            repo = git.Repo(path.parent, search_parent_directories=True)
            return str(repo.git.diff("HEAD", "--", str(path)))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
            pass
        backup = next((f for f in (self.session.state.backup or {}).get("files", []) if Path(f["path"]) == path), None)
        if backup is None:
            return ""
        old = Path(backup["backup"]).read_text(encoding="utf-8", errors="replace")
        return unified_diff(old, path.read_text(encoding="utf-8", errors="replace"), f"a/{path.name}", f"b/{path.name}")

    def tick_criterion(self, criterion_id: str, ticked: bool, note: str) -> None:
        if criterion_id not in {c.id for c in self.runbook.criteria}:
            raise StepError(f"no criterion {criterion_id!r}")
        if ticked and not note.strip():
            raise StepError("ticking a criterion by hand needs a short note")
        self.session.record(ev.CriterionTicked(criterion=criterion_id, ticked=ticked, note=note.strip()))

    def tick_checklist(self, item_id: str, checked: bool, note: str = "") -> None:
        if item_id not in {c.id for c in self.runbook.checklist}:
            raise StepError(f"no checklist item {item_id!r}")
        self.session.record(ev.ChecklistTicked(item=item_id, checked=checked, note=note.strip(), auto=False))

    # -- helpers for the handlers --------------------------------------------------------------------------------

    def _start(self, step: m.Step) -> None:
        self.session.record(ev.StepStarted(step=step.id))

    def _finish(
        self,
        step: m.Step,
        status: StepStatus,
        summary: str,
        findings: Sequence[str] = (),
        evidence: dict[str, Any] | None = None,
    ) -> StepResult:
        evidence = dict(evidence or {})
        if findings:
            evidence.setdefault("findings", list(findings))
        self.session.record(ev.StepFinished(step=step.id, status=status.value, summary=summary, evidence=evidence))
        troubles: tuple[m.Troubleshooting, ...] = ()
        if status is not StepStatus.PASSED:
            from .evidence.troubleshoot import matching

            troubles = tuple(matching(self.runbook, self.session.state, step.id, list(findings)))
        return StepResult(step.id, status, summary, tuple(findings), evidence, troubles)

    def _continue(
        self,
        step: m.ShellStep | m.TestStep | m.BenchmarkStep,
        start: int,
        on_output: OutputCallback | None,
        on_started: Callable[[Any], None] | None,
    ) -> StepResult:
        """Run the step's commands from ``start`` until one does not succeed, then judge the attempt."""
        from .runs import run_command

        cwd = self.path(step.cwd) if isinstance(step, m.ShellStep) and step.cwd else self.workdir()
        if not cwd.is_dir():
            return self._finish(
                step, StepStatus.FAILED, f"the working folder {cwd} does not exist (check the repo variable)"
            )

        def started(handle: Any) -> None:
            self._handle = handle
            if on_started is not None:
                on_started(handle)

        scripts = self.shell_commands(step)
        exports = step.exports if isinstance(step, m.ShellStep) else ()
        for index in range(start, len(scripts)):
            if self._closing:  # between two commands of a step: the next start runs the rest (resume)
                return StepResult(step.id, StepStatus.RUNNING, "left for the next start")
            earlier = self.session.state.attempt_runs(step.id)
            result = run_command(
                self.session,
                step.id,
                index,
                scripts[index],
                cwd,
                exports=exports,
                timeout=step.timeout,
                nice=self.nice,
                on_output=on_output,
                on_started=started,
                git_before=earlier[-1].git_after if earlier and earlier[-1].git_after else None,
            )
            self._handle = None
            if result.outcome == "detached":  # the wizard is closing; the next start picks the run up
                return StepResult(step.id, StepStatus.RUNNING, "still running in the background")
            if result.outcome != "ok":
                break
        return _JUDGES[type(step)](self, step)

    def resume(
        self, step_id: str, on_output: OutputCallback | None = None, on_started: Callable[[Any], None] | None = None
    ) -> StepResult | None:
        """Finish a step left running by an earlier wizard once its last run has ended: run the commands that
        remain, then judge it. ``None`` if there is nothing to resume (or a run is still going)."""
        step = self.runbook.steps_by_id.get(step_id)
        state = self.session.state.step(step_id)
        if not isinstance(step, m.COMMAND_KINDS) or state.status is not StepStatus.RUNNING:
            return None
        runs = self.session.state.attempt_runs(step.id)
        if any(not r.finished for r in runs):
            return None
        if runs and runs[-1].outcome != "ok":
            return _JUDGES[type(step)](self, step)
        return self._continue(step, runs[-1].index + 1 if runs else 0, on_output, on_started)

    def detach(self) -> None:
        """The wizard is closing: stop following the running command without stopping it, and start no other."""
        self._closing = True
        handle = self._handle
        if handle is not None and not handle.done:
            handle.detach()


def _describe_outcome(result: Any, index: int, total: int) -> str:
    which = f"command {index + 1} of {total}" if total > 1 else "the command"
    if result.outcome == "cancelled":
        return f"{which} was cancelled"
    if result.outcome == "timeout":
        return f"{which} ran out of time and was stopped"
    if result.outcome == "interrupted":
        return f"{which} was interrupted"
    if result.signal:
        return f"{which} was killed by signal {result.signal}"
    return f"{which} exited with status {result.exit_code}"


# --- one handler per step kind ----------------------------------------------------------------------------------


def _stopped(runs: Sequence[Any], total: int) -> str | None:
    """Why the commands stopped early, or ``None`` if every one of them ran and succeeded."""
    for run in runs:
        if run.outcome != "ok":
            return _describe_outcome(run, run.index, total)
    return None if len(runs) >= total else f"only {len(runs)} of {total} commands ran"


def _judge_shell(ex: StepExecutor, step: m.ShellStep) -> StepResult:
    runs = ex.session.state.attempt_runs(step.id)
    stopped = _stopped(runs, len(step.commands))
    evidence: dict[str, Any] = {"exit_codes": [r.exit_code for r in runs]}
    findings: list[str] = []
    status = StepStatus.PASSED if stopped is None else StepStatus.FAILED
    summary = stopped or "all commands succeeded"
    if "build" in step.evidence:
        from .evidence.judge import judge_build

        # A build verdict lives at the end of its log; a 20-minute build's whole log would cost memory and hold
        # the interpreter while the UI waits.
        verdict = judge_build(ex.step_log(step.id, tail=BUILD_LOG_TAIL), runs[-1].exit_code if runs else None)
        evidence["build"] = verdict.evidence
        findings += verdict.findings
        if verdict.status != "passed":
            status, summary = StepStatus.FAILED, verdict.summary
    log = ex.step_log(step.id) if {"tensor_copy", "llama_cli"} & set(step.evidence) else ""
    if "tensor_copy" in step.evidence:
        from .evidence import tensor_copy

        report = tensor_copy.parse(log)
        evidence["tensor_copy"] = report.as_evidence()
        findings += report.findings()
        summary += f"; {report.headline()}"
    if "llama_cli" in step.evidence:
        from .evidence import llama_cli

        run = llama_cli.parse(log)
        evidence["llama_cli"] = run.as_evidence()
        if run.flag_error:
            findings.append("flag_rejected")
            status, summary = StepStatus.FAILED, f"the program rejected a flag: {run.flag_error}"
    return ex._finish(step, status, summary, findings, evidence)


def _judge_test(ex: StepExecutor, step: m.TestStep) -> StepResult:
    from .evidence import llama_cli

    runs = ex.session.state.attempt_runs(step.id)
    stopped = _stopped(runs, len(step.setup) + 1)
    if stopped and runs and runs[-1].outcome in ("cancelled", "timeout", "interrupted"):
        return ex._finish(step, StepStatus.FAILED, stopped, [], {"outcome": runs[-1].outcome})
    log = ex.step_log(step.id)
    last = runs[-1] if runs else None
    verdict = llama_cli.judge_test(
        step, llama_cli.parse(log), last.exit_code if last else None, last.signal if last else None, log
    )
    status = StepStatus.PASSED if verdict.status == "passed" else StepStatus.FAILED
    return ex._finish(step, status, verdict.summary, verdict.findings, verdict.evidence)


def _judge_benchmark(ex: StepExecutor, step: m.BenchmarkStep) -> StepResult:
    from .evidence import llama_bench

    runs = ex.session.state.attempt_runs(step.id)
    stopped = _stopped(runs, 1)
    if stopped and runs and runs[-1].outcome in ("cancelled", "timeout", "interrupted"):
        return ex._finish(step, StepStatus.FAILED, stopped, [], {"outcome": runs[-1].outcome})
    # Judged even when the command failed: the log then says why (a rejected flag, a missing model).
    verdict = llama_bench.judge_step(step, ex.runbook, ex.session.state, ex.read_log, ex.values())
    status = StepStatus.FAILED if verdict.status == "failed" or stopped else StepStatus.PASSED
    summary = verdict.summary if verdict.status == "failed" or not stopped else f"{stopped}; {verdict.summary}"
    return ex._finish(step, status, summary, verdict.findings, verdict.evidence)


_JUDGES: dict[type, Callable[[StepExecutor, Any], StepResult]] = {
    m.ShellStep: _judge_shell,
    m.TestStep: _judge_test,
    m.BenchmarkStep: _judge_benchmark,
}


def _commands(ex: StepExecutor, step: m.ShellStep | m.TestStep | m.BenchmarkStep, **kw: Any) -> StepResult:
    ex._start(step)
    return ex._continue(step, 0, kw["on_output"], kw["on_started"])


def _backup(ex: StepExecutor, step: m.BackupStep, **kw: Any) -> StepResult:
    from .backup import BackupError, make_backup

    ex._start(step)
    try:
        result = make_backup(ex.session, step, ex.values())
    except BackupError as exc:
        return ex._finish(step, StepStatus.FAILED, str(exc))
    return ex._finish(
        step,
        StepStatus.PASSED,
        f"backed up {len(result.files)} files to {result.dir}",
        evidence={"dir": str(result.dir), "files": len(result.files)},
    )


def _require_backup(ex: StepExecutor, paths: Sequence[Path]) -> None:
    backup = ex.session.state.backup
    if not backup:
        backup_step = next((s.id for _, s in ex.runbook.iter_steps() if isinstance(s, m.BackupStep)), None)
        raise StepError(
            f"back up first: run step {backup_step} before editing files"
            if backup_step
            else "back up the files before editing them"
        )
    saved = {str(Path(f["path"])) for f in backup.get("files", [])}
    missing = [str(p) for p in paths if str(p) not in saved]
    if missing:
        raise StepError(f"not in the backup: {', '.join(missing)} (run the backup step again)")


def _edit(ex: StepExecutor, step: m.CodeChangeStep | m.CMakeEditStep | m.ApproachStep, **kw: Any) -> StepResult:
    from .edits import EditError, apply_planned, plan_step, verify_patterns

    # What the person approved, if they saw a diff: applying it refuses a file that changed since it was shown.
    planned = list(kw.get("shown") or plan_step(step, ex.values(), workdir=ex.workdir()))
    problems = [p for f in planned for p in f.problems]
    if problems:
        ex._start(step)
        return ex._finish(step, StepStatus.FAILED, problems[0], ["edit_not_applicable"], {"problems": problems})
    _require_backup(ex, [f.path for f in planned])
    manual = all(e.action == "manual" for e in step.edits)
    _record_outside_edits(ex, step, [f.path for f in planned], "editor" if manual else "found")
    changes = [f for f in planned if f.new != f.old]
    if changes and not kw["confirmed"]:
        preview = "\n".join(f.diff for f in changes)
        raise NeedsConfirmation(step.id, f"apply {len(changes)} file change(s)?", preview)
    ex._start(step)
    for f in changes:
        before = sha256_file(f.path)
        try:
            apply_planned([f])
        except EditError as exc:
            return ex._finish(step, StepStatus.FAILED, str(exc))
        except OSError as exc:
            return ex._finish(step, StepStatus.FAILED, f"cannot write {f.path}: {exc.strerror or exc}")
        ex.session.record(
            ev.FileEdited(
                step=step.id,
                path=str(f.path),
                before_sha256=before,
                after_sha256=sha256_file(f.path),
                how="snippet",
            )
        )
    if manual:
        edited = [e for e in ex.session.state.edits if e.get("step") == step.id and e.get("how") == "editor"]
        if not edited:
            return ex._finish(
                step,
                StepStatus.FAILED,
                "no change found in "
                + ", ".join(str(f.path) for f in planned)
                + " (edit it, then run this step again)",
            )
    findings = verify_patterns(step, ex.values(), workdir=ex.workdir())
    if findings:
        lines = [
            f"{f.path}:{f.line}: {f.kind} {f.pattern!r}" + (f": {f.text.strip()}" if f.text else "") for f in findings
        ]
        return ex._finish(step, StepStatus.FAILED, lines[0], ["verify_failed"], {"verify": lines})
    notes = [n for f in planned for n in f.notes]
    summary = f"{len(changes)} file(s) changed" if changes else (notes[0] if notes else "already applied")
    return ex._finish(step, StepStatus.PASSED, summary, evidence={"files": [str(f.path) for f in planned]})


def _record_outside_edits(ex: StepExecutor, step: m.Step, paths: Sequence[Path], how: str) -> list[Path]:
    """Record changes to backed-up files that the session does not know about yet; returns the files that changed.

    ``how`` is "editor" for a person's own edits in $EDITOR, "found" for a change the wizard finds on disk: made in
    another terminal, or written by an edit whose event a crash kept from the log.
    """
    state = ex.session.state
    last: dict[str, str | None] = {}
    for f in (state.backup or {}).get("files", []):
        last[str(Path(f["path"]))] = f.get("sha256")
    for e in state.edits:
        last[str(Path(e["path"]))] = e.get("after_sha256")
    changed = []
    for path in dict.fromkeys(paths):
        if str(path) not in last:
            continue  # not a file this session backed up or touched: nothing to compare with
        now = sha256_file(path)
        if now != last[str(path)]:
            ex.session.record(
                ev.FileEdited(step=step.id, path=str(path), before_sha256=last[str(path)], after_sha256=now, how=how)
            )
            changed.append(path)
    return changed


def _form(ex: StepExecutor, step: m.FormStep, **kw: Any) -> StepResult:
    missing = ex.missing_answers(step)
    suggested = form_suggestions(ex, step)
    if missing and kw["confirmed"]:
        # Confirming a form takes what the log suggests for the fields not yet answered (recorded as suggested).
        for fld in missing:
            if suggested.get(fld.id):
                ex.answer(step.id, fld.id, suggested[fld.id], suggested=suggested[fld.id])
        missing = ex.missing_answers(step)
    if missing:
        raise NeedsAnswers(step.id, missing, {f.id: suggested[f.id] for f in missing if suggested.get(f.id)})
    # Before the start is recorded: a path that cannot be rendered (no backup yet) must not leave the step running.
    target = ex.path(step.output.path) if step.output is not None else None
    ex._start(step)
    evidence: dict[str, Any] = {"answers": {f.id: ex.session.state.answer(f.id) for f in step.fields}}
    summary = "answered"
    if step.output is not None and target is not None:
        text = ex.text(step.output.template)
        from .fileio import atomic_write

        try:
            old = target.read_text(encoding="utf-8") if (step.output.append and target.exists()) else ""
            atomic_write(target, old + ("\n" if old and not old.endswith("\n") else "") + text)
        except OSError as exc:
            return ex._finish(step, StepStatus.FAILED, f"cannot write {target}: {exc.strerror or exc}")
        evidence["output"] = str(target)
        summary = f"answered; written to {target}"
    return ex._finish(step, StepStatus.PASSED, summary, evidence=evidence)


def form_suggestions(ex: StepExecutor, step: m.FormStep) -> dict[str, str]:
    """Field id -> what the evidence suggests for it (only fields with a ``prefill`` and a suggestion)."""
    suggestion = ex.suggestion(step)
    if suggestion is None:
        return {}
    return {f.id: suggestion.values[f.prefill] for f in step.fields if f.prefill and suggestion.values.get(f.prefill)}


def _choice(ex: StepExecutor, step: m.ChoiceStep, **kw: Any) -> StepResult:
    chosen = ex.session.state.answer(step.field)
    default = ex.text(f"{{{{{step.default_from}}}}}") if step.default_from else ""
    default = default if default and not default.startswith("(") else ""  # "(not answered)" is no default
    if not chosen and default and kw["confirmed"]:
        ex.answer(step.id, step.field, default, suggested=default)
        chosen = default
    if not chosen:
        letters = [ex.runbook.step(o).letter for o in step.options]  # type: ignore[union-attr]
        raise NeedsAnswers(
            step.id,
            [m.FormField(id=step.field, label="Approach", type="choice", options=letters)],
            {step.field: default} if default else None,
        )
    options = {ex.runbook.step(o).letter: o for o in step.options}  # type: ignore[union-attr]
    target = options.get(chosen.upper(), chosen if chosen in step.options else None)
    if target is None:
        raise StepError(f"{chosen!r} is not one of {', '.join(options)}")
    approach = ex.runbook.step(target)
    reason = ex.session.state.answer("root_cause") or ""
    ex._start(step)
    ex.session.record(ev.ApproachChosen(step=step.id, approach=target, reason=reason))
    if ex.session.state.step(target).status is StepStatus.SKIPPED:  # skipped when another was chosen before
        ex.session.record(ev.StepReset(step=target, reason=f"chosen at {step.id}"))
    for other in step.options:
        if other != target and ex.session.state.step(other).status is StepStatus.PENDING:
            ex.session.record(ev.StepSkipped(step=other, reason=f"not chosen ({approach.title} was chosen)"))
    return ex._finish(step, StepStatus.PASSED, f"chose {target}: {approach.title}", evidence={"approach": target})


def _commit(ex: StepExecutor, step: m.CommitStep, **kw: Any) -> StepResult:
    from .gitops import GitOpsError, make_commit, plan_commit

    missing = ex.missing_answers(step)
    if missing:
        raise NeedsAnswers(step.id, missing)
    repo = ex.path(step.repo)
    plan = plan_commit(repo, step, ex.values(), kw.get("extra_files", ()))
    shown = kw.get("shown")
    if shown is not None and not plan.existing and (shown.files, shown.diff) != (plan.files, plan.diff):
        raise StepError("the files to commit changed since their diff was shown; review it again")
    if plan.problems:
        ex._start(step)
        return ex._finish(
            step, StepStatus.FAILED, plan.problems[0], ["commit_problem"], {"problems": list(plan.problems)}
        )
    message = kw.get("message") or ex.text(step.message)
    ex._start(step)
    try:
        outcome = make_commit(ex.session, repo, plan, message)
    except GitOpsError as exc:
        return ex._finish(step, StepStatus.FAILED, str(exc), ["commit_failed"])
    verb = "committed" if outcome.created else "found the commit already made"
    return ex._finish(step, StepStatus.PASSED, f"{verb}: {outcome.sha[:12]}", evidence={"sha": outcome.sha})


def doc_plans(ex: StepExecutor, step: m.DocsStep) -> list[Any]:
    """The document changes a docs step will make, for showing before applying."""
    from .docs import plan_update

    values = ex.template_values()
    return [plan_update(ex.path(doc.path), doc.section, render_text(doc.content, values)) for doc in step.documents]


def _docs(ex: StepExecutor, step: m.DocsStep, **kw: Any) -> StepResult:
    from .docs import DocError, apply

    try:
        plans = list(kw.get("shown") or doc_plans(ex, step))  # the diffs the person saw, if any
    except DocError as exc:
        raise StepError(str(exc)) from None
    changed = [p for p in plans if p.changed]
    if changed and not kw["confirmed"]:
        raise NeedsConfirmation(step.id, f"update {len(changed)} document(s)?", "\n".join(p.diff for p in changed))
    ex._start(step)
    try:
        apply(ex.session, step.id, changed)
    except DocError as exc:
        return ex._finish(step, StepStatus.FAILED, str(exc))
    summary = f"updated {len(changed)} document(s)" if changed else "documents already up to date"
    return ex._finish(step, StepStatus.PASSED, summary, evidence={"documents": [str(p.path) for p in plans]})


_HANDLERS: dict[type, Callable[..., StepResult]] = {
    m.ShellStep: _commands,
    m.TestStep: _commands,
    m.BenchmarkStep: _commands,
    m.BackupStep: _backup,
    m.CodeChangeStep: _edit,
    m.CMakeEditStep: _edit,
    m.ApproachStep: _edit,
    m.FormStep: _form,
    m.ChoiceStep: _choice,
    m.CommitStep: _commit,
    m.DocsStep: _docs,
}


__all__ = ["NeedsAnswers", "NeedsConfirmation", "SessionError", "StepError", "StepExecutor", "StepResult"]
