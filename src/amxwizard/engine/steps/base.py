"""What a step will do (its plan), what still stands in its way (blockers), what a person approved, how it ended.

A plan is a plain value, computed without changing anything: the commands as they will run, the diff, the
commit message, the documents. What the step still needs from a person is a typed :class:`Blocker` on the plan,
never an exception: missing answers, a confirmation, a stale build, a manual edit not yet made. The TUI maps each
blocker type to a dialog, the CLI to a flag; either way the person's decisions come back as an :class:`Approval`
and :func:`amxwizard.engine.steps.apply` carries out the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...runbook import models as m
from ..state import StepStatus

if TYPE_CHECKING:
    from ..claims import Claim


class StepError(Exception):
    """The step cannot be carried out as asked (a bad value, a bug in the runbook); the message says why."""


class PlanChanged(StepError):
    """What was approved no longer matches the disk (a file changed while the person read the diff)."""


@dataclass(frozen=True, slots=True)
class Approval:
    """What a person said yes to. Each blocker names the field that resolves it; nothing resolves everything."""

    confirmed: bool = False  # a destructive step, or the changes shown (CLI: --yes)
    run_stale: bool = False  # run a binary older than the last source edit (CLI: --run-stale)
    again: bool = False  # run a step that already passed once more (CLI: --again)
    allow_unproven: bool = False  # commit a message whose claims the evidence does not back (CLI: --allow-unproven)


@dataclass(frozen=True, slots=True)
class PlanInput:
    """What a person typed into a plan before approving it: the commit message as edited, files added to it."""

    message: str | None = None
    extra_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunIO:
    """Where a running step reports: output lines as they come, and the run's handle once it started."""

    on_output: Callable[[list[str]], None] | None = None
    on_started: Callable[[Any], None] | None = None


# --- blockers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Blocker:
    """Something the plan needs before it can be applied. ``flag`` is the CLI option that resolves it, if any."""

    KIND: ClassVar[str] = "blocker"
    FLAG: ClassVar[str | None] = None

    def resolved_by(self, approval: Approval) -> bool:
        return False

    def describe(self) -> str:
        """One line for a person: what is needed and how to give it."""
        raise NotImplementedError

    def as_json(self) -> dict[str, Any]:
        """What the record keeps about this blocker once a person resolved it."""
        return {"blocker": self.KIND}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A value the wizard proposes for a field, and where it came from ("the diagnostic log, line 812")."""

    value: str
    source: str


@dataclass(frozen=True, slots=True)
class NeededAnswer:
    field: m.FormField
    suggestion: Suggestion | None = None


@dataclass(frozen=True, slots=True)
class MissingAnswers(Blocker):
    """Required fields without an answer. Answers are recorded one by one; then the step is planned again."""

    KIND = "missing_answers"
    FLAG = "--answer FIELD=VALUE"
    step: str = ""
    needed: tuple[NeededAnswer, ...] = ()

    @property
    def suggested(self) -> tuple[NeededAnswer, ...]:
        return tuple(n for n in self.needed if n.suggestion is not None)

    def describe(self) -> str:
        names = ", ".join(n.field.id for n in self.needed)
        tail = " (or --accept-suggestions for the suggested ones)" if self.suggested else ""
        return f"step {self.step} needs answers: {names}; give them with --answer FIELD=VALUE{tail}"


@dataclass(frozen=True, slots=True)
class Confirm(Blocker):
    """A destructive step: it cannot be undone (a clean rebuild, a commit)."""

    KIND = "confirm"
    FLAG = "--yes"
    question: str = ""
    detail: str = ""

    def resolved_by(self, approval: Approval) -> bool:
        return approval.confirmed

    def describe(self) -> str:
        return f"{self.question} (confirm with --yes)"

    def as_json(self) -> dict[str, Any]:
        return {"blocker": self.KIND, "question": self.question}


@dataclass(frozen=True, slots=True)
class ReviewChanges(Blocker):
    """Files will change: the diff is shown first, and applied only as shown."""

    KIND = "review_changes"
    FLAG = "--yes"
    question: str = ""
    diff: str = ""

    def resolved_by(self, approval: Approval) -> bool:
        return approval.confirmed

    def describe(self) -> str:
        return f"{self.question} (see the diff with --plan; apply it with --yes)"

    def as_json(self) -> dict[str, Any]:
        return {"blocker": self.KIND, "question": self.question}


@dataclass(frozen=True, slots=True)
class StaleBuild(Blocker):
    """The step would run a binary built before the last source edit. Choices: rebuild now, run anyway, cancel."""

    KIND = "stale_build"
    FLAG = "--run-stale"
    edited: str = ""  # the file edited last
    edit_step: str = ""  # the step that edited it
    build_step: str = ""  # the step that rebuilds
    built_at: str = ""  # when the last successful build ended ("" for never)

    def resolved_by(self, approval: Approval) -> bool:
        return approval.run_stale

    @property
    def reason(self) -> str:
        when = "there has been no successful build since" if not self.built_at else "the last build was before it"
        return f"{Path(self.edited).name} was edited at step {self.edit_step} and {when}: this would run an old binary"

    def describe(self) -> str:
        return (
            f"{self.reason}. Rebuild first (amxwizard step {self.build_step} --yes), or run the old binary anyway "
            "with --run-stale (the record says so)"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "blocker": self.KIND,
            "edited": self.edited,
            "edit_step": self.edit_step,
            "build_step": self.build_step,
            "built_at": self.built_at,
        }


@dataclass(frozen=True, slots=True)
class ManualEdit(Blocker):
    """A change the person makes by hand, not made yet. Choice: open the editor at the place."""

    KIND = "manual_edit"
    path: Path = Path()
    line: int = 1
    where: str = ""

    def describe(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"edit {self.path} at line {self.line}{where} in your editor, then run this step again"


@dataclass(frozen=True, slots=True)
class Prerequisite(Blocker):
    """Another step must come first (the backup before an edit, the step that sets $BACKUP_DIR)."""

    KIND = "prerequisite"
    reason: str = ""
    step: str | None = None

    def describe(self) -> str:
        return self.reason + (f" (amxwizard step {self.step})" if self.step else "")


@dataclass(frozen=True, slots=True)
class AlreadyPassed(Blocker):
    """The step passed already; running it again starts a new attempt whose verdict replaces this one."""

    KIND = "already_passed"
    FLAG = "--again"
    step: str = ""
    summary: str = ""

    def resolved_by(self, approval: Approval) -> bool:
        return approval.again

    def describe(self) -> str:
        return f"step {self.step} already passed ({self.summary}); run it again with --again"


@dataclass(frozen=True, slots=True)
class UnprovenClaims(Blocker):
    """The message would assert what nothing measured; committing needs each acknowledged."""

    KIND = "unproven_claims"
    FLAG = "--allow-unproven"
    claims: tuple[Claim, ...] = ()  # each unproven: the sentence, and what was measured instead

    def resolved_by(self, approval: Approval) -> bool:
        return approval.allow_unproven

    def describe(self) -> str:
        listed = "; ".join(f"{c.sentence!r}: {c.measured}" for c in self.claims)
        return f"the evidence does not back {len(self.claims)} claim(s): {listed} (acknowledge with --allow-unproven)"

    def as_json(self) -> dict[str, Any]:
        return {"blocker": self.KIND, "claims": [c.id for c in self.claims]}


BLOCKER_TYPES: tuple[type[Blocker], ...] = (
    MissingAnswers,
    Confirm,
    ReviewChanges,
    StaleBuild,
    ManualEdit,
    Prerequisite,
    AlreadyPassed,
    UnprovenClaims,
)


# --- plans -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a step will do. Subclasses carry the what; ``blockers`` what stands in the way; ``notes`` what is worth
    saying that stops nothing."""

    step: m.Step
    blockers: tuple[Blocker, ...] = ()
    notes: tuple[str, ...] = ()

    def unresolved(self, approval: Approval) -> tuple[Blocker, ...]:
        """The blockers ``approval`` does not resolve, in the order a person meets them."""
        return tuple(b for b in self.blockers if not b.resolved_by(approval))

    def blocker(self, kind: type[Blocker]) -> Blocker | None:
        return next((b for b in self.blockers if isinstance(b, kind)), None)

    def acknowledged(self, approval: Approval) -> list[dict[str, Any]]:
        """What the record keeps about the blockers ``approval`` resolved."""
        return [b.as_json() for b in self.blockers if b.resolved_by(approval)]

    def describe(self) -> list[str]:
        """What will run or change, as plain lines (``amxwizard step ID --plan``)."""
        return []

    def with_blockers(self, blockers: tuple[Blocker, ...]) -> Plan:
        return replace(self, blockers=blockers)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCommands(Plan):
    """Shell, test and benchmark steps: commands exactly as they will run, from ``start`` (a resumed step)."""

    commands: tuple[str, ...] = ()
    cwd: Path = Path()
    start: int = 0

    def describe(self) -> list[str]:
        out = [f"in {self.cwd}:"]
        for index, command in enumerate(self.commands):
            skipped = "  (already ran)" if index < self.start else ""
            out.append(f"$ {command.rstrip(chr(10)).replace(chr(10), chr(10) + '  ')}{skipped}")
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeBackup(Plan):
    root: str = ""
    files: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        return [f"back up into {self.root}:", *(f"  {f}" for f in self.files)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeFiles(Plan):
    """Code, CMake and approach steps. ``files`` are the planned files (``engine.edits.PlannedFile``), applied
    exactly as planned; ``problems`` fail the step when it is applied; ``manual`` when a person edits by hand."""

    files: tuple[Any, ...] = ()
    problems: tuple[str, ...] = ()
    manual: bool = False

    @property
    def changed(self) -> tuple[Any, ...]:
        return tuple(f for f in self.files if f.changed)

    @property
    def diff(self) -> str:
        return "\n".join(f.diff for f in self.changed)

    def describe(self) -> list[str]:
        if self.problems:
            return [f"cannot apply: {p}" for p in self.problems]
        if not self.changed:
            return list(self.notes) or ["nothing to change (already applied)"]
        return [self.diff.rstrip("\n")]


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveAnswers(Plan):
    """A form: the answers as they stand, and the file they are written to (if the form writes one)."""

    answers: tuple[tuple[str, str], ...] = ()
    output: Path | None = None
    output_root: Path | None = None  # the root the output was checked to lie in (written without leaving it)
    output_text: str = ""
    suggestions: tuple[tuple[str, Suggestion], ...] = ()  # field id -> what the evidence suggests
    evidence: str = ""  # what the evidence shows, in a sentence
    evidence_line: int | None = None  # where in the log it shows it

    def describe(self) -> list[str]:
        out = [f"{name} = {value}" for name, value in self.answers]
        if self.output is not None:
            out += [f"appends to {self.output}:", self.output_text.rstrip("\n")]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChooseApproach(Plan):
    """The approach to take (its step id), and the ones that are skipped because of it."""

    target: str | None = None
    title: str = ""
    skips: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        if self.target is None:
            return ["no approach chosen yet"]
        return [f"choose {self.target}: {self.title}", *(f"skip {s} (not chosen)" for s in self.skips)]


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeCommit(Plan):
    """``git`` is the ``engine.gitops.CommitPlan`` (files, diff, problems); ``message`` is committed as is."""

    git: Any = None
    message: str = ""
    extra_files: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        out = [f"commit in {self.git.repo}: {', '.join(self.git.files) or 'no files'}"]
        out += [f"cannot commit: {p}" for p in self.git.problems]
        out += ["message:", *("  " + line for line in self.message.splitlines())]
        if self.git.diff:
            out.append(self.git.diff.rstrip("\n"))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateDocuments(Plan):
    """``documents`` are ``engine.docs.DocPlan``s, written exactly as planned."""

    documents: tuple[Any, ...] = ()

    @property
    def changed(self) -> tuple[Any, ...]:
        return tuple(d for d in self.documents if d.changed)

    def describe(self) -> list[str]:
        if not self.changed:
            return ["documents already up to date"]
        return ["\n".join(d.diff for d in self.changed).rstrip("\n")]


# --- how it ended --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepResult:
    """How a step ended, with what was found."""

    step: str
    status: StepStatus
    summary: str
    findings: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    troubleshooting: tuple[m.Troubleshooting, ...] = ()


@dataclass(frozen=True, slots=True)
class Blocked:
    """A step that could not be applied: its plan and the blockers the approval did not resolve."""

    plan: Plan
    blockers: tuple[Blocker, ...]

    @property
    def step(self) -> str:
        return self.plan.step.id
