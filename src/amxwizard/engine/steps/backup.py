"""The backup step: done by the wizard itself (checksummed copies, git captures, the location file)."""

from __future__ import annotations

from ...runbook import models as m
from ..state import StepStatus
from .base import Approval, MakeBackup, PlanInput, RunIO, StepResult
from .context import StepContext
from .kind import CUT_OFF, Kind


def plan(ctx: StepContext, step: m.BackupStep, request: PlanInput) -> MakeBackup:
    try:
        root = str(ctx.path(ctx.runbook.backup.root))
    except Exception:  # an unset variable: show the template itself
        root = ctx.runbook.backup.root
    files = [f.path.replace("{{repo}}/", "") + (" (if present)" if f.optional else "") for f in step.files]
    if step.include_edited:
        files.append("and every other file the runbook edits")
    made = ctx.session.state.backup
    notes: tuple[str, ...] = ()
    if made is not None:
        # Made once per session: a second copy would hold files already edited and hide the originals.
        notes = (f"the backup is already made in {made.get('dir')}; it keeps the files as they were before any edit",)
    return MakeBackup(step=step, root=f"{root}/{ctx.runbook.backup.pattern}", files=tuple(files), notes=notes)


def apply(ctx: StepContext, step: m.BackupStep, plan: MakeBackup, approval: Approval, io: RunIO) -> StepResult:
    from ..backup import BackupError, make_backup

    ctx.start(step, plan.acknowledged(approval))
    try:
        result = make_backup(ctx.session, step, ctx.values())
    except BackupError as exc:
        return ctx.finish(step, StepStatus.FAILED, str(exc))
    done = "backed up" if result.created else "already backed up (once per session):"
    return ctx.finish(
        step,
        StepStatus.PASSED,
        f"{done} {len(result.files)} files to {result.dir}",
        evidence={"dir": str(result.dir), "files": len(result.files), "created": result.created},
    )


def cut_off(ctx: StepContext, step: m.BackupStep) -> str:
    """What a backup cut off midway left: a half-made folder (marked INCOMPLETE by the backup itself) or nothing."""
    from ..backup import incomplete_backups

    try:
        half = incomplete_backups(ctx.session, ctx.values())
    except Exception:  # a variable that no longer resolves: say what is certain
        half = []
    if half:
        listed = ", ".join(str(p) for p in half)
        return (
            f"{CUT_OFF}: the backup was not finished ({listed} is marked INCOMPLETE and nothing restores from it); "
            "run the step again: it makes a new backup folder"
        )
    return f"{CUT_OFF}: no backup was recorded; run the step again: it makes a new backup folder"


KIND = Kind(
    name="backup", model=m.BackupStep, plan=plan, apply=apply, exports=lambda step: [step.export], cut_off=cut_off
)
