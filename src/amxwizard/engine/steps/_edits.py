"""What the three kinds that change files (code_change, cmake_edit, approach) share: the diff planned against the
files as they are, applied exactly as shown, after the backup; or a person's own edit in their editor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...runbook import models as m
from .. import events as ev
from ..fileio import sha256_file, unified_diff
from ..state import StepStatus
from .base import (
    Approval,
    Blocker,
    ChangeFiles,
    ManualEdit,
    PlanInput,
    Prerequisite,
    ReviewChanges,
    RunIO,
    StepError,
    StepResult,
)
from .context import StepContext

EditStep = m.CodeChangeStep | m.CMakeEditStep | m.ApproachStep


def plan_edits(ctx: StepContext, step: EditStep, request: PlanInput) -> ChangeFiles:
    from ..edits import plan_step

    planned = tuple(plan_step(step, ctx.values(), workdir=ctx.workdir()))
    problems = tuple(p for f in planned for p in f.problems)
    notes = tuple(n for f in planned for n in f.notes)
    manual = all(e.action == "manual" for e in step.edits)
    blockers: list[Blocker] = []
    if problems:  # applying records the failure with its reason; nothing else stands in the way
        return ChangeFiles(step=step, files=planned, problems=problems, notes=notes, manual=manual)
    missing = backup_missing(ctx, [f.path for f in planned])
    if missing is not None:
        blockers.append(missing)
    elif manual and not _edited_by_hand(ctx, step, [f.path for f in planned]):
        path, line = edit_target(ctx, step)
        where = step.edits[0].where or (step.find or "")
        blockers.append(ManualEdit(path=path, line=line, where=where))
    changed = [f for f in planned if f.changed]
    if changed:
        noun = "change" if len(changed) == 1 else "changes"
        blockers.append(
            ReviewChanges(question=f"apply {len(changed)} file {noun}?", diff="\n".join(f.diff for f in changed))
        )
    return ChangeFiles(step=step, files=planned, notes=notes, manual=manual, blockers=tuple(blockers))


def apply_edits(ctx: StepContext, step: EditStep, plan: ChangeFiles, approval: Approval, io: RunIO) -> StepResult:
    """Apply exactly the planned files (refusing any that changed since they were planned), then verify."""
    from ..edits import EditError, apply_planned, verify_patterns

    if plan.problems:
        ctx.start(step)
        return ctx.finish(
            step, StepStatus.FAILED, plan.problems[0], ["edit_not_applicable"], {"problems": list(plan.problems)}
        )
    record_outside_edits(ctx, step, [f.path for f in plan.files], "editor" if plan.manual else "found")
    ctx.start(step, plan.acknowledged(approval))
    for f in plan.changed:
        before = sha256_file(f.path)
        try:
            apply_planned([f], policy=ctx.policy())
        except EditError as exc:
            return ctx.finish(step, StepStatus.FAILED, str(exc))
        except OSError as exc:
            return ctx.finish(step, StepStatus.FAILED, f"cannot write {f.path}: {exc.strerror or exc}")
        ctx.session.record(
            ev.FileEdited(
                step=step.id, path=str(f.path), before_sha256=before, after_sha256=sha256_file(f.path), how="snippet"
            )
        )
    if plan.manual and not _edited_by_hand(ctx, step, [f.path for f in plan.files]):
        where = ", ".join(str(f.path) for f in plan.files)
        return ctx.finish(step, StepStatus.FAILED, f"no change found in {where} (edit it, then run this step again)")
    findings = verify_patterns(step, ctx.values(), workdir=ctx.workdir())
    if findings:
        lines = [
            f"{f.path}:{f.line}: {f.kind} {f.pattern!r}" + (f": {f.text.strip()}" if f.text else "") for f in findings
        ]
        return ctx.finish(step, StepStatus.FAILED, lines[0], ["verify_failed"], {"verify": lines})
    changes = len(plan.changed)
    summary = f"{changes} file(s) changed" if changes else (plan.notes[0] if plan.notes else "already applied")
    return ctx.finish(step, StepStatus.PASSED, summary, evidence={"files": [str(f.path) for f in plan.files]})


def backup_missing(ctx: StepContext, paths: Sequence[Path]) -> Prerequisite | None:
    """Files are edited only once they are in the backup."""
    backup = ctx.session.state.backup
    backup_step = next((s.id for _, s in ctx.runbook.iter_steps() if isinstance(s, m.BackupStep)), None)
    if not backup:
        reason = (
            f"back up first: run step {backup_step} before editing files"
            if backup_step
            else ("back up the files before editing them")
        )
        return Prerequisite(reason=reason, step=backup_step)
    saved = {str(Path(f["path"])) for f in backup.get("files", [])}
    missing = [str(p) for p in paths if str(p) not in saved]
    if missing:
        return Prerequisite(
            reason=f"not in the backup: {', '.join(missing)} (run the backup step again)", step=backup_step
        )
    return None


def edit_target(ctx: StepContext, step: EditStep) -> tuple[Path, int]:
    """The file and line to open in an editor for ``step``: its first edit's function, where it is today."""
    from ..edits import edit_function

    edit = step.edits[0]
    path = ctx.path(edit.file)
    line = 1
    if path.exists():
        span = edit_function(edit, path.read_text(encoding="utf-8", errors="replace"))  # by name, or by what it does
        line = span.start_line if span is not None else 1
    return path, line


def editable(ctx: StepContext, step: EditStep) -> tuple[Path, int]:
    """:func:`edit_target`, once the files are in the backup (else :class:`StepError` saying which step first)."""
    missing = backup_missing(ctx, [ctx.path(e.file) for e in step.edits])
    if missing is not None:
        raise StepError(missing.reason)
    return edit_target(ctx, step)


def _last_known(ctx: StepContext) -> dict[str, str | None]:
    state = ctx.session.state
    last: dict[str, str | None] = {}
    for f in (state.backup or {}).get("files", []):
        last[str(Path(f["path"]))] = f.get("sha256")
    for e in state.edits:
        last[str(Path(e["path"]))] = e.get("after_sha256")
    return last


def _edited_by_hand(ctx: StepContext, step: m.Step, paths: Sequence[Path]) -> bool:
    """A person's edit for this step is recorded, or is on disk and not yet recorded."""
    if any(e.get("step") == step.id and e.get("how") == "editor" for e in ctx.session.state.edits):
        return True
    last = _last_known(ctx)
    return any(str(p) in last and sha256_file(p) != last[str(p)] for p in dict.fromkeys(paths))


def record_outside_edits(ctx: StepContext, step: m.Step, paths: Sequence[Path], how: str) -> list[Path]:
    """Record changes to backed-up files that the session does not know about yet; returns the files that changed.

    ``how`` is "editor" for a person's own edits in $EDITOR, "found" for a change the wizard finds on disk: made in
    another terminal, or written by an edit whose event a crash kept from the log.
    """
    last = _last_known(ctx)
    changed = []
    for path in dict.fromkeys(paths):
        if str(path) not in last:
            continue  # not a file this session backed up or touched: nothing to compare with
        now = sha256_file(path)
        if now != last[str(path)]:
            ctx.session.record(
                ev.FileEdited(step=step.id, path=str(path), before_sha256=last[str(path)], after_sha256=now, how=how)
            )
            changed.append(path)
    return changed


def file_diff(ctx: StepContext, path: Path) -> str:
    """``git diff`` of one file against HEAD (or against its backup outside a repo)."""
    import git

    try:
        repo = git.Repo(path.parent, search_parent_directories=True)
        return str(repo.git.diff("HEAD", "--", str(path)))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        pass
    backup = next((f for f in (ctx.session.state.backup or {}).get("files", []) if Path(f["path"]) == path), None)
    if backup is None:
        return ""
    old = Path(backup["backup"]).read_text(encoding="utf-8", errors="replace")
    return unified_diff(old, path.read_text(encoding="utf-8", errors="replace"), f"a/{path.name}", f"b/{path.name}")
