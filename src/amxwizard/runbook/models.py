"""The runbook as data: strict pydantic models, no I/O.

Every string that can hold ``{{ name }}`` placeholders is a template; which ones are shell and which are text is
decided in :mod:`amxwizard.runbook.load` (validation) and :mod:`amxwizard.runbook.templates` (rendering).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

StepId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=40)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
ShellName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=40)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]

VarType = Literal["text", "path", "dir", "file", "repo", "int", "number", "args", "commit"]
APPROX_LINES = 20  # a "~350" claim still holds when the function starts this close to it
TEXT_TYPES = frozenset({"text", "path", "dir", "file", "repo", "args", "commit"})
PATH_ROOT_TYPES = frozenset({"path", "dir", "file"})  # the repo variable is itself the default root


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- variables and document ---------------------------------------------------------------------------------


class Variable(Model):
    """A machine-specific value with the seed's value as default."""

    type: VarType = "text"
    default: str | int | float
    description: str = ""
    min: int | float | None = None
    max: int | float | None = None
    root: str | None = Field(
        default=None,
        description=(
            "the folder this path variable's value must lie in, declared because it is outside the target "
            "repository (the seed's /tmp files); without it a path the wizard writes must be inside the repository"
        ),
    )

    @model_validator(mode="after")
    def _default_matches_type(self) -> Variable:
        if self.type in TEXT_TYPES and not isinstance(self.default, str):
            raise ValueError(
                f"a {self.type} variable needs a text default; {self.default!r} was read as a number "
                "(quote it to keep it as written)"
            )
        if self.type == "int" and not isinstance(self.default, int):
            raise ValueError(f"an int variable needs a whole-number default, not {self.default!r}")
        if self.type == "number" and not isinstance(self.default, int | float):
            raise ValueError(f"a number variable needs a numeric default, not {self.default!r}")
        if self.root is not None and self.type not in PATH_ROOT_TYPES:
            raise ValueError(
                f"only a path, dir or file variable can declare a 'root' (this one is of type {self.type})"
            )
        return self

    @property
    def default_text(self) -> str:
        return self.default if isinstance(self.default, str) else repr(self.default)


class DocumentInfo(Model):
    version: str
    created: str
    last_updated: str
    status: str


class Backup(Model):
    """Where backups and test results go (the seed: ``/tmp/amx-scheduler-fix-YYYYMMDD-HHMMSS/``)."""

    root: str
    pattern: str = Field(description="strftime pattern of the folder name")
    location_file: str
    seed_location: str = ""


# --- checklist ----------------------------------------------------------------------------------------------


class HeadCommitCheck(Model):
    kind: Literal["head_commit"]
    commit: NonEmpty
    subject: str = ""


class CleanTreeCheck(Model):
    kind: Literal["clean_tree"]
    allow: list[str] = []


class WritableCheck(Model):
    kind: Literal["writable"]
    path: NonEmpty


class ManualCheck(Model):
    kind: Literal["manual"]


ChecklistCheck = Annotated[HeadCommitCheck | CleanTreeCheck | WritableCheck | ManualCheck, Field(discriminator="kind")]


class ChecklistItem(Model):
    """One item of the pre-implementation checklist: confirmed by a person, or verified by its check.

    ``text`` is a text template (``{{ expected_commit }}``): it is shown rendered with the session's variables, so it
    never names a commit or a folder other than the one the session checks.
    """

    id: StepId
    text: NonEmpty
    check: ChecklistCheck = ManualCheck(kind="manual")


# --- edits to source files ----------------------------------------------------------------------------------


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"/{pattern}/ is not a valid regular expression: {exc}") from None
    return pattern


class Anchor(Model):
    """Where an insertion goes: after/before a regex (inside the function, if one is named) or a fixed place."""

    after: str | None = None
    before: str | None = None
    at: Literal["before_function", "end_of_file"] | None = None
    last: bool = False

    @field_validator("after", "before")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Anchor:
        if sum(x is not None for x in (self.after, self.before, self.at)) != 1:
            raise ValueError("an anchor needs exactly one of 'after', 'before' or 'at'")
        return self


FindBy = Literal["op_offload_decision"]


class Edit(Model):
    """One change to one file, as the seed describes it, and how the wizard can apply it.

    ``extend_condition`` adds ``&& require`` to one ``if`` condition: the one ``condition`` (a regular expression)
    matches in ``function``, or, with ``find_by: op_offload_decision``, the scheduler's decision to offload an op
    whose source is a weight, wherever it is and whatever the function is called (the word ``src`` in ``require``
    then names that decision's source tensor). When the condition already requires it, there is nothing to do.
    """

    file: NonEmpty
    function: str | None = None
    claimed_lines: str | None = Field(default=None, pattern=r"^~?\d+(-\d+)?$")
    language: Literal["cpp", "c", "cuda", "cmake", "text"] = "cpp"
    action: Literal["insert", "remove_ifdef", "remove_lines", "manual", "extend_condition"]
    where: str = ""
    snippet: str = ""
    insert: str | None = None
    anchor: Anchor | None = None
    macro: ShellName | None = None
    lines: list[NonEmpty] = []  # an empty entry would match every blank line of the file
    find_by: FindBy | None = None
    condition: str | None = None
    require: str | None = None

    @model_validator(mode="after")
    def _action_fields(self) -> Edit:
        if self.action == "insert" and (self.anchor is None or not (self.insert or self.snippet)):
            raise ValueError("an 'insert' edit needs an 'anchor' and the text to insert")
        if self.action == "remove_ifdef" and not self.macro:
            raise ValueError("a 'remove_ifdef' edit needs 'macro'")
        if self.action == "remove_lines" and not self.lines:
            raise ValueError("a 'remove_lines' edit needs 'lines'")
        if self.anchor is not None and self.anchor.at == "before_function" and not self.function:
            raise ValueError("anchor 'before_function' needs 'function'")
        if self.action == "extend_condition":
            if not (self.require or "").strip():
                raise ValueError("an 'extend_condition' edit needs 'require' (what the condition must also require)")
            if self.find_by is None and not (self.condition and self.function):
                raise ValueError("an 'extend_condition' edit needs 'find_by', or 'function' and 'condition'")
        elif self.require is not None or self.condition is not None:
            raise ValueError("'require' and 'condition' belong to an 'extend_condition' edit")
        if self.find_by is not None and self.language not in ("c", "cpp", "cuda"):
            raise ValueError(f"'find_by' reads C, C++ or CUDA code, not {self.language}")
        return self

    @field_validator("condition")
    @classmethod
    def _condition_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)

    @field_validator("require")
    @classmethod
    def _require_balanced(cls, value: str | None) -> str | None:
        if value is not None and not _balanced(value):
            raise ValueError(f"unbalanced parentheses in {value!r}")
        return value

    @property
    def text_to_insert(self) -> str:
        return self.insert if self.insert is not None else self.snippet

    @property
    def claimed_range(self) -> tuple[int, int] | None:
        if not self.claimed_lines:
            return None
        first, _, last = self.claimed_lines.lstrip("~").partition("-")
        return int(first), int(last or first)

    def claim_holds(self, start: int, end: int) -> bool:
        """Whether the lines the runbook claims still fit a function found at ``start``-``end``: a range must be
        exact, a single line inside it, "~N" within ``APPROX_LINES`` of its start. No claim always holds."""
        claimed = self.claimed_range
        if claimed is None:
            return True
        lo, hi = claimed
        if self.claimed_lines and self.claimed_lines.startswith("~"):
            return abs(start - lo) <= APPROX_LINES
        if lo == hi:
            return start <= lo <= end
        return (lo, hi) == (start, end)


# --- fields -------------------------------------------------------------------------------------------------

Prefill = Literal["tensor", "src_buffer", "dst_buffer", "op", "root_cause", "approach"]


class FormField(Model):
    id: Name
    label: NonEmpty
    type: Literal["text", "multiline", "choice", "number"] = "text"
    options: list[str] = []
    required: bool = True
    placeholder: str = "[FILL IN]"
    prefill: Prefill | None = None
    help: str = ""

    @model_validator(mode="after")
    def _options(self) -> FormField:
        if self.type == "choice" and not self.options:
            raise ValueError("a 'choice' field needs 'options'")
        return self


class FormOutput(Model):
    path: NonEmpty
    template: NonEmpty
    append: bool = True


# --- steps --------------------------------------------------------------------------------------------------


class StepBase(Model):
    id: StepId
    title: NonEmpty
    description: str = ""
    destructive: bool = False
    confirm: str = ""
    notes: list[str] = []


EvidenceKind = Literal["tensor_copy", "llama_cli", "llama_bench", "build"]


class ShellStep(StepBase):
    """Commands run in order. Every line of each is accounted for: one that fails (a non-zero status, a program not
    found, a signal) fails the step where it stands, unless it is tolerated explicitly (``|| true``, a SIGPIPE after
    ``| head``, or a crash when ``expect_crash`` says the step is there to see one)."""

    kind: Literal["shell"]
    commands: Annotated[list[NonEmpty], Field(min_length=1)]
    exports: list[ShellName] = []
    cwd: str | None = None
    timeout: int | None = Field(default=None, gt=0)
    evidence: list[EvidenceKind] = []
    outputs: list[str] = []
    expect_crash: bool = Field(
        default=False,
        description=(
            "a diagnostic run: a command that dies of a crash signal (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE) is "
            "what the step is for; the shell goes on with the next line and the step says it crashed as expected "
            "(any other failure, numactl's say, still fails it)"
        ),
    )


class BackupFile(Model):
    path: NonEmpty
    name: NonEmpty
    optional: bool = False


class GitCapture(Model):
    name: NonEmpty
    args: Annotated[list[str], Field(min_length=1)]


class BackupStep(StepBase):
    kind: Literal["backup"]
    files: list[BackupFile]
    include_edited: bool = True
    git: list[GitCapture] = []
    export: ShellName = "BACKUP_DIR"
    script: str = ""


class EditStepBase(StepBase):
    """What every step that changes files has: the edits, where to look, and what must (not) be there after."""

    find: str = ""
    edits: Annotated[list[Edit], Field(min_length=1)]
    verify_present: list[str] = []
    verify_absent: list[str] = []


class CodeChangeStep(EditStepBase):
    kind: Literal["code_change"]


class CMakeEditStep(EditStepBase):
    kind: Literal["cmake_edit"]

    @model_validator(mode="after")
    def _cmake_only(self) -> CMakeEditStep:
        for edit in self.edits:
            if edit.language != "cmake" or edit.function:
                raise ValueError("a cmake_edit's edits are CMake, with no function")
        return self


class FormStep(StepBase):
    kind: Literal["form"]
    look_for: list[str] = []
    expected: str = ""
    evidence_from: StepId | None = None
    fields: Annotated[list[FormField], Field(min_length=1)]
    output: FormOutput | None = None


class ApproachStep(EditStepBase):
    kind: Literal["approach"]
    letter: Annotated[str, StringConstraints(pattern=r"^[A-Z]$")]
    use_if: NonEmpty


class ChoiceStep(StepBase):
    kind: Literal["choice"]
    field: Name
    options: Annotated[list[StepId], Field(min_length=2)]
    default_from: str | None = None


class TestStep(StepBase):
    __test__: ClassVar[bool] = False  # not a pytest class

    kind: Literal["test"]
    command: NonEmpty
    expect: NonEmpty
    mode: Literal["hybrid", "cpu", "gpu"]
    tokens: int = Field(gt=0, description="tokens the run must generate (the command's -n)")
    min_prompt_tokens: int | None = None
    timeout: int | None = Field(default=None, gt=0)
    setup: list[str] = []


class ReferenceMachine(Model):
    """The machine a reference figure was measured on, as far as the runbook knows it. Only stated facts are
    compared; an empty one is "not stated"."""

    description: NonEmpty
    cpu_model: str = Field(default="", description="text the CPU's model name contains")
    cpu_flags: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]] = Field(
        default=[], description="CPU flags the machine has (amx_tile, ...)"
    )
    numa_nodes: list[Annotated[int, Field(ge=0)]] = Field(default=[], description="NUMA nodes the machine has")
    gpu: str = Field(default="", description="text the GPU's name contains")


class BenchmarkReference(Model):
    """A figure from elsewhere (the runbook author's measurement): compared only on the same model and machine."""

    tps: NonEmpty = Field(description="the figure in t/s (a template: {{ baseline_tps }})")
    model: NonEmpty = Field(description="file name of the model it was measured with")
    model_type: str = Field(default="", description="the model as llama-bench names it (qwen3moe 30B.A3B Q4_0)")
    machine: ReferenceMachine
    note: str = Field(default="", description="how the figure was measured")


class BenchmarkStep(StepBase):
    kind: Literal["benchmark"]
    command: NonEmpty
    expect: NonEmpty
    metric: Annotated[str, StringConstraints(pattern=r"^(pp|tg)\d+$")]
    reference: BenchmarkReference | None = None
    before_fix: bool = Field(
        default=False,
        description="the measurement before any edit: later runs of the same benchmark are judged against it",
    )
    tolerance_pct: float = Field(default=5.0, ge=0)
    timeout: int | None = Field(default=None, gt=0)

    @property
    def baseline(self) -> str | None:
        """The reference figure's template (``{{ baseline_tps }}``), or ``None`` without a reference."""
        return self.reference.tps if self.reference else None


CLAIM_RE = r"\{\{\s*claims\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}"


class Claim(Model):
    """A sentence of the commit message that evidence decides, and the evidence that decides it.

    The sentence is written as true only when every criterion listed is met, every step listed passed and (with
    ``approach``) the chosen approach's step passed; otherwise the message says what was measured instead, starting
    with ``label``. The message template names it as ``{{ claims.<id> }}``.
    """

    id: Name
    sentence: NonEmpty
    label: NonEmpty
    criteria: list[StepId] = []
    steps: list[StepId] = []
    approach: bool = False

    @model_validator(mode="after")
    def _has_evidence(self) -> Claim:
        if not (self.criteria or self.steps or self.approach):
            raise ValueError(f"claim {self.id!r} names no evidence (criteria, steps or approach)")
        return self


class CommitStep(StepBase):
    kind: Literal["commit"]
    repo: NonEmpty = "{{repo}}"
    stage: Annotated[list[NonEmpty], Field(min_length=1)]
    stage_if_modified: list[str] = []
    message: NonEmpty
    claims: list[Claim] = []
    fields: list[FormField] = []
    script: str = ""

    @model_validator(mode="after")
    def _claims_used(self) -> CommitStep:
        ids = [c.id for c in self.claims]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(f"claim id {doubled[0]!r} is used twice")
        named = re.findall(CLAIM_RE, self.message)
        unknown = [n for n in named if n not in ids]
        if unknown:
            raise ValueError(f"the message names claims.{unknown[0]}, which is not one of this step's claims")
        unused = [i for i in ids if i not in named]
        if unused:
            raise ValueError(
                f"claim {unused[0]!r} is not used in the message (write it as {{{{ claims.{unused[0]} }}}})"
            )
        return self


class DocUpdate(Model):
    path: NonEmpty
    section: NonEmpty
    points: list[str] = []
    content: NonEmpty


class DocsStep(StepBase):
    kind: Literal["docs"]
    fields: list[FormField] = []
    documents: Annotated[list[DocUpdate], Field(min_length=1)]


Step = Annotated[
    ShellStep
    | BackupStep
    | CodeChangeStep
    | CMakeEditStep
    | FormStep
    | ApproachStep
    | ChoiceStep
    | TestStep
    | BenchmarkStep
    | CommitStep
    | DocsStep,
    Field(discriminator="kind"),
]
EDIT_KINDS = (CodeChangeStep, CMakeEditStep, ApproachStep)
COMMAND_KINDS = (ShellStep, TestStep, BenchmarkStep)


class Phase(Model):
    id: StepId
    title: NonEmpty
    tag: str = ""
    goal: str = ""
    steps: Annotated[list[Step], Field(min_length=1)]


# --- criteria and troubleshooting ---------------------------------------------------------------------------

CriterionCheck = Literal[
    "manual", "steps_passed", "no_weight_copies", "benchmark", "commit_made", "docs_updated", "backup_complete"
]
Finding = Literal[
    "crash",
    "build_failed",
    "slow",
    "weight_copy",
    "weight_offload",
    "unknown_weight_name",
    "flag_rejected",
    "numactl_failed",
    "wrong_mode",
]
Requirement = Literal["amx"]


class Criterion(Model):
    id: StepId
    text: NonEmpty
    check: CriterionCheck = "manual"
    steps: list[StepId] = []
    requires: list[Requirement] = Field(
        default=[],
        description="what the build must have for the criterion to apply at all ('amx': an AMX buffer in use in its "
        "steps' runs); without it the criterion is not applicable on this build",
    )


class Trigger(Model):
    steps: list[StepId] = []
    finding: Finding | None = None
    approach: StepId | None = None


class Troubleshooting(Model):
    id: StepId
    symptom: NonEmpty
    check: str = ""
    solution: NonEmpty
    goto: StepId | None = None
    when: Trigger = Trigger()


# --- the runbook --------------------------------------------------------------------------------------------


class Runbook(Model):
    schema_version: Literal[1]
    title: NonEmpty
    goal: str = ""
    approach: str = ""
    expected_outcome: str = ""
    document: DocumentInfo | None = None
    workdir: str = Field(default="", description="where commands run unless a step says otherwise")
    variables: dict[Name, Variable] = {}
    backup: Backup
    checklist: list[ChecklistItem] = []
    phases: Annotated[list[Phase], Field(min_length=1)]
    criteria: list[Criterion] = []
    troubleshooting: list[Troubleshooting] = []

    def iter_steps(self) -> Iterator[tuple[Phase, Step]]:
        """Every step with its phase, in runbook order."""
        for phase in self.phases:
            for step in phase.steps:
                yield phase, step

    @cached_property
    def steps_by_id(self) -> dict[str, Step]:
        return {step.id: step for _, step in self.iter_steps()}

    @cached_property
    def phase_of(self) -> dict[str, Phase]:
        return {step.id: phase for phase, step in self.iter_steps()}

    def step(self, step_id: str) -> Step:
        """The step with ``step_id``; ``KeyError`` if there is none."""
        return self.steps_by_id[step_id]

    @cached_property
    def args_variables(self) -> frozenset[str]:
        return frozenset(name for name, var in self.variables.items() if var.type == "args")

    @cached_property
    def fields(self) -> dict[str, FormField]:
        """Every fill-in field of every form and commit step, by id."""
        out: dict[str, FormField] = {}
        for _, step in self.iter_steps():
            if isinstance(step, FormStep | CommitStep | DocsStep):
                out.update((f.id, f) for f in step.fields)
        return out

    def edits(self) -> Iterator[tuple[Step, Edit]]:
        """Every edit of every code-change, CMake and approach step."""
        for _, step in self.iter_steps():
            if isinstance(step, EDIT_KINDS):
                for edit in step.edits:
                    yield step, edit

    @cached_property
    def edited_files(self) -> list[str]:
        """File templates the runbook changes, each once, in order."""
        return list(dict.fromkeys(edit.file for _, edit in self.edits()))
