"""Rich renderables for the detail pane: what a step is, what it will run, and what came of it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import Text

from ..engine.state import StepStatus
from ..engine.steps.base import (
    ChangeFiles,
    ChooseApproach,
    Confirm,
    MakeBackup,
    MakeCommit,
    Plan,
    ReviewChanges,
    RunCommands,
    SaveAnswers,
    UpdateDocuments,
)
from ..runbook import models as m
from ..runbook.templates import render_text
from .tones import styled, tone
from .widgets.outline import STATUS_GLYPH

if TYPE_CHECKING:
    from rich.syntax import Syntax

    from ..engine.executor import StepExecutor

THEME = "ansi_dark"  # uses the terminal's own 16 colours: readable on 256-colour terminals and themes alike
LEXER = {"cpp": "cpp", "c": "c", "cuda": "cuda", "cmake": "cmake", "text": "text"}
KEYS = {
    "shell": "r run · c cancel · l full log · s skip",
    "test": "r run · c cancel · l full log · s skip",
    "benchmark": "r run · c cancel · l full log · s skip",
    "backup": "r back up now · s skip",
    "code_change": "r show diff and apply · e edit in $EDITOR · s skip",
    "cmake_edit": "r show diff and apply · e edit in $EDITOR · s skip",
    "approach": "r show diff and apply · e edit in $EDITOR · s skip",
    "form": "a answer · r save the analysis · l diagnostic log",
    "choice": "a choose the approach",
    "commit": "r review and commit · s skip",
    "docs": "r show diffs and update · s skip",
}


def heading(text: str) -> Text:
    return Text(text, style="bold underline")


def code(text: str, lexer: str) -> Syntax:
    """Code as it is, one line per line: the detail pane scrolls it sideways rather than wrap it mid-word."""
    from rich.syntax import Syntax  # here, not at import: pygments is not needed before the first frame

    return Syntax(text.rstrip("\n"), lexer, theme=THEME, word_wrap=False, background_color="default")


def status_line(executor: StepExecutor, step: m.Step) -> Text:
    state = executor.session.state.step(step.id)
    glyph, spec = STATUS_GLYPH[state.status]
    style = styled(spec)
    parts: list[tuple[str, Style | str] | str] = [(f"{glyph} {state.status.value}", style), f"  · {step.kind}"]
    if state.attempts > 1:
        parts.append(f" · attempt {state.attempts}")
    when = state.finished or state.started
    if when:
        parts.append((f" · {state.by} {when[:16].replace('T', ' ')} UTC", "dim"))
    return Text.assemble(*parts)


def outcome(executor: StepExecutor, step: m.Step) -> list[RenderableType]:
    """The summary, findings and any troubleshooting that matches a failure."""
    state = executor.session.state.step(step.id)
    out: list[RenderableType] = []
    if state.status is StepStatus.SKIPPED:
        out.append(Text(f"Skipped: {state.skip_reason}", style="dim"))
    elif state.summary:
        style = (
            tone("good")
            if state.status is StepStatus.PASSED
            else (tone("error") if state.status is StepStatus.FAILED else tone("warn"))
        )
        out.append(Text(state.summary, style=style))
    if state.status is StepStatus.INTERRUPTED:
        out.append(
            Text(
                "The wizard lost track of this run. Press m to decide (passed / failed, with a note), "
                "or r to run it again.",
                style=tone("note"),
            )
        )
    findings = state.evidence.get("findings", [])
    if findings:
        out.append(Text("findings: " + ", ".join(findings), style=tone("warn")))
    for line in state.evidence.get("verify", [])[:8]:
        out.append(Text("  " + line, style=tone("error")))
    if state.status is StepStatus.FAILED:
        from ..engine.evidence.troubleshoot import matching

        for entry in matching(executor.runbook, executor.session.state, step.id, list(findings)):
            go = f" — press g to go to {entry.goto}" if entry.goto else ""
            check = f" Check: {entry.check}." if entry.check else ""
            out.append(
                Text.assemble(
                    ("Troubleshooting: ", tone("warn", bold=True)),
                    f"{entry.symptom}.{check} ",
                    (f"{entry.solution}{go}", tone("warn")),
                )
            )
    return out


def commands_block(executor: StepExecutor, plan: RunCommands) -> list[RenderableType]:
    if not plan.commands:
        return []
    out: list[RenderableType] = [heading(f"Commands, exactly as they will run (in {plan.cwd})")]
    out += [code(c, "bash") for c in plan.commands]
    return out


def located(executor: StepExecutor, edit: m.Edit) -> Text:
    """The file and function an edit touches, with the real line numbers found beside the runbook's."""
    from ..engine.edits import edit_function
    from ..engine.executor import StepError

    try:
        path = executor.path(edit.file)  # the file the edit will touch (~ expanded), as the engine finds it
    except StepError as exc:
        return Text.assemble(("file ", "dim"), (edit.file, "bold"), (f"  — {exc}", tone("error")))
    line = Text.assemble(("file ", "dim"), (str(path), "bold"))
    if not path.exists():
        line.append("  — missing", style=tone("error", bold=True))
        return line
    if not edit.function and edit.find_by is None:
        return line
    line.append("\n  function ", style="dim")
    line.append(edit.function or f"(found by what it does: {edit.find_by})", style="bold")
    try:
        span = edit_function(edit, path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        line.append(f"  — unreadable ({exc.strerror})", style=tone("error"))
        return line
    if span is None:
        line.append("  — not found in the file", style=tone("error", bold=True))
    else:
        if span.name != edit.function:
            line.append(f" ({span.name} here)", style=tone("warn"))  # a fork renamed it; found by what it does
        line.append(f"  at lines {span.start_line}-{span.end_line}", style=tone("good"))
        if not edit.claim_holds(span.start_line, span.end_line):  # the same rule as preflight's
            line.append(f" (the runbook says {edit.claimed_lines}: moved)", style=tone("warn"))
    return line


def edits_block(executor: StepExecutor, plan: ChangeFiles) -> list[RenderableType]:
    step = cast(m.EditStepBase, plan.step)
    out: list[RenderableType] = []
    use_if = getattr(step, "use_if", "")
    if use_if:
        out.append(Text.assemble(("Use if: ", "bold"), use_if))
    if step.find:
        out.append(Text.assemble(("Find: ", "bold"), step.find))
    for i, edit in enumerate(step.edits, 1):
        out.append(Rule(f"change {i} of {len(step.edits)}: {edit.action}", style="dim"))
        out.append(located(executor, edit))
        if edit.where:
            out.append(Text(edit.where, style="italic"))
        if edit.action == "remove_ifdef":
            out.append(Text(f"removes every #ifdef {edit.macro} … #endif block", style="dim"))
        if edit.lines:
            out.append(code("\n".join(edit.lines), LEXER[edit.language]))
        if edit.snippet:
            out.append(code(edit.snippet, LEXER[edit.language]))
    if step.verify_present:
        out.append(Text("afterwards the file must contain: " + ", ".join(step.verify_present), style="dim"))
    if step.verify_absent:
        out.append(Text("afterwards no file may contain: " + ", ".join(step.verify_absent), style="dim"))
    for problem in plan.problems:
        out.append(Text(f"cannot apply: {problem}", style=tone("error", bold=True)))
    return out


def form_block(executor: StepExecutor, plan: SaveAnswers) -> list[RenderableType]:
    step = cast(m.FormStep, plan.step)
    out: list[RenderableType] = []
    if step.look_for:
        out.append(heading("Look for"))
        out += [Text(f"  {i}. {item}") for i, item in enumerate(step.look_for, 1)]
    if step.expected:
        out.append(heading("Expected findings"))
        out.append(code(step.expected, "text"))
    suggestion = executor.suggestion(step)
    if suggestion is not None:
        out.append(heading("What the diagnostic log shows"))
        out.append(Text(suggestion.reason or "", style=tone("accent")))
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    answers = dict(plan.answers)
    for fld in step.fields:
        value = answers.get(fld.id, "")
        table.add_row(fld.label, Text(value, style=tone("good")) if value else Text(fld.placeholder, style="dim"))
    out.append(heading("Answers"))
    out.append(table)
    return out


def choice_block(executor: StepExecutor, plan: ChooseApproach) -> list[RenderableType]:
    step = cast(m.ChoiceStep, plan.step)
    chosen = executor.session.state.approach
    out: list[RenderableType] = []
    for option in step.options:
        approach = executor.runbook.step(option)
        mark = "●" if option == chosen else "○"
        out.append(Text.assemble((f"{mark} {getattr(approach, 'letter', option)}  ", "bold"), approach.title))
        out.append(Text(f"     use if: {getattr(approach, 'use_if', '')}", style="dim"))
    recommended = executor.session.state.answer("recommended_approach")
    if recommended:
        out.append(Text(f"The analysis recommends {recommended}.", style=tone("accent")))
    return out


def bench_block(executor: StepExecutor, step: m.Step) -> list[RenderableType]:
    step = cast(m.BenchmarkStep, step)
    from ..engine.evidence import llama_bench

    out: list[RenderableType] = [Text.assemble(("Expected: ", "bold"), step.expect)]
    if step.baseline:
        with contextlib.suppress(Exception):
            baseline = render_text(step.baseline, executor.values())  # a variable; no need for every log's figures
            out.append(
                Text(
                    f"baseline {baseline} t/s, tolerance {step.tolerance_pct:g}% (widened by the measured ± stddev)",
                    style="dim",
                )
            )
    rows = llama_bench.session_rows(executor.session.state, executor.read_log, test=step.metric)
    if rows:
        table = Table(title=f"{step.metric} runs this session", box=None, padding=(0, 1))
        table.add_column("#", justify="right")
        table.add_column("t/s", justify="right")
        table.add_column("±", justify="right")
        table.add_column("")
        top = max(r.avg_ts for r in rows) or 1.0
        for i, row in enumerate(rows, 1):
            bar = "█" * max(1, round(20 * row.avg_ts / top))
            table.add_row(str(i), f"{row.avg_ts:.2f}", f"{row.stddev_ts:.2f}", Text(bar, style=tone("accent")))
        out.append(table)
    return out


def test_block(executor: StepExecutor, step: m.Step) -> list[RenderableType]:
    step = cast(m.TestStep, step)
    return [Text.assemble(("Expected: ", "bold"), f"{step.expect} ({step.mode} mode, {step.tokens} tokens)")]


def backup_block(executor: StepExecutor, plan: MakeBackup) -> list[RenderableType]:
    step = cast(m.BackupStep, plan.step)
    backup = executor.session.state.backup
    out: list[RenderableType] = []
    if backup:
        out.append(Text(f"Backup folder: {backup['dir']}", style=tone("good")))
        for f in backup.get("files", []):
            out.append(Text(f"  {f['sha256'][:12]}  {f['path']}", style="dim"))
    else:
        out.append(Text(f"Backs up into {plan.root}"))
        out += [Text(f"  {f}") for f in plan.files]
    if step.script:
        out.append(heading("The original script (the wizard does the same itself, with checksums)"))
        out.append(code(step.script, "bash"))
    return out


def commit_block(executor: StepExecutor, plan: MakeCommit) -> list[RenderableType]:
    step = cast(m.CommitStep, plan.step)
    out: list[RenderableType] = [
        Text(
            "stages: "
            + ", ".join(step.stage)
            + (f" (and, if modified: {', '.join(step.stage_if_modified)})" if step.stage_if_modified else "")
        ),
        Text(
            "The message is built from the analysis, the approach and the measured figures; "
            "you can edit it before committing.",
            style="dim",
        ),
    ]
    out += [Text(f"cannot commit: {p}", style=tone("error", bold=True)) for p in plan.git.problems]
    return out


def docs_block(executor: StepExecutor, plan: UpdateDocuments) -> list[RenderableType]:
    step = cast(m.DocsStep, plan.step)
    out: list[RenderableType] = []
    for doc in step.documents:
        out.append(Text.assemble(("• ", "bold"), doc.path.replace("{{repo}}/", ""), (f"  [{doc.section}]", "dim")))
        out += [Text(f"    – {p}", style="dim") for p in doc.points]
    return out


def _run_block(executor: StepExecutor, plan: RunCommands) -> list[RenderableType]:
    extra = KIND_BLOCKS.get(plan.step.kind)
    return [*(extra(executor, plan.step) if extra else []), *commands_block(executor, plan)]


# What each plan shows in the detail pane; command steps add what their kind knows (expectation, history).
PLAN_BLOCKS: dict[type[Plan], Callable[[StepExecutor, Any], list[RenderableType]]] = {
    RunCommands: _run_block,
    MakeBackup: backup_block,
    ChangeFiles: edits_block,
    SaveAnswers: form_block,
    ChooseApproach: choice_block,
    MakeCommit: commit_block,
    UpdateDocuments: docs_block,
}
KIND_BLOCKS: dict[str, Callable[[StepExecutor, m.Step], list[RenderableType]]] = {
    "test": test_block,
    "benchmark": bench_block,
}


def step_header(executor: StepExecutor, step: m.Step) -> list[RenderableType]:
    """What the pane shows at once: the step, its state and outcome, its description (no file or log reads)."""
    parts: list[RenderableType] = [Text(f"{step.id}  {step.title}", style="bold reverse"), status_line(executor, step)]
    parts += outcome(executor, step)
    if step.description:
        parts.append(Text(" ".join(step.description.split())))
    parts += [Text(f"• {note}") for note in step.notes]
    return parts


def step_detail(executor: StepExecutor, plan: Plan) -> list[RenderableType]:
    """Everything the detail pane shows for a step, from its plan (built off the UI thread: it reads files).

    A list of parts: the pane shows prose wrapped to its width and each code block (a :class:`Syntax`) as it is,
    scrolling sideways."""
    step = plan.step
    parts = step_header(executor, step)
    parts += PLAN_BLOCKS[type(plan)](executor, plan)
    for blocker in plan.blockers:
        if not isinstance(blocker, ReviewChanges | Confirm):  # what every such step asks; the keys say it
            parts.append(Text(f"needs: {blocker.describe()}", style=tone("warn")))
    parts.append(Text(KEYS.get(step.kind, ""), style="dim italic"))
    return [Padding(p, (0, 0, 1, 0)) if isinstance(p, Table) else p for p in parts]


def pending_detail(executor: StepExecutor, step: m.Step) -> list[RenderableType]:
    """The header alone, while the plan is being worked out."""
    return [*step_header(executor, step), Text("…", style="dim")]


def detail_text(parts: list[RenderableType]) -> str:
    """The parts as plain text (tests, and the palette's search)."""
    from rich.console import Console

    out = io.StringIO()
    Console(width=400, file=out, color_system=None).print(Group(*parts))
    return out.getvalue()
