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
DEFAULT_SILENCE_MINUTES = 10.0  # a command quiet this long is flagged (never stopped) unless its step says otherwise
SILENCE_DOC = (
    "Minutes without any output after which the running step is flagged as silent (on screen, in 'amxwizard "
    "status' and by a notification); it is never stopped for it. Raise it for a command that is quiet by nature."
)


class Model(BaseModel):
    # Each field's docstring is its description in the JSON Schema (runbook/schema.py reads them from this file;
    # pydantic's use_attribute_docstrings would read them at every start, ~65 ms).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


# --- variables and document ---------------------------------------------------------------------------------


class Variable(Model):
    """A machine-specific value with the seed's value as default."""

    type: VarType = "text"
    """What the value is: text, a path, dir, file or repo (checked on disk), an int or number (checked against min and
    max), args (split into words in commands) or a commit.
    """
    default: str | int | float
    """The value unless the person sets another (--var name=value or the setup screen); the original document's
    value."""
    description: str = ""
    """What the value is for, shown beside it on the setup screen and by 'amxwizard validate'."""
    min: int | float | None = None
    """The smallest value an int or number variable accepts."""
    max: int | float | None = None
    """The largest value an int or number variable accepts."""
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
    """The version of the document the runbook was written from."""
    created: str
    """When that document was written."""
    last_updated: str
    """When that document was last changed."""
    status: str
    """The document's own status line (e.g. 'Ready for implementation')."""


class Backup(Model):
    """Where backups and test results go (the seed: ``/tmp/amx-scheduler-fix-YYYYMMDD-HHMMSS/``)."""

    root: str
    """The folder the backup folder is made in (a template: {{ backup_root }})."""
    pattern: str = Field(description="strftime pattern of the folder name")
    location_file: str
    """A file the backup folder's path is written to, so a later shell can find it."""
    seed_location: str = ""
    """Where the original document put its backups, shown for comparison only."""


# --- checklist ----------------------------------------------------------------------------------------------


class HeadCommitCheck(Model):
    kind: Literal["head_commit"]
    """The check: the repository's HEAD must be this commit."""
    commit: NonEmpty
    """The commit HEAD must be (a template: {{ expected_commit }}); a prefix is enough."""
    subject: str = ""
    """The commit's subject line as the document gives it, shown beside what git says."""


class CleanTreeCheck(Model):
    kind: Literal["clean_tree"]
    """The check: the working tree has no uncommitted changes."""
    allow: list[str] = []
    """Paths whose changes do not count (untracked build folders and the like)."""


class WritableCheck(Model):
    kind: Literal["writable"]
    """The check: the wizard can write to a folder."""
    path: NonEmpty
    """The folder that must be writable (a template)."""


class ManualCheck(Model):
    kind: Literal["manual"]
    """No automatic check: the person confirms the item."""


ChecklistCheck = Annotated[HeadCommitCheck | CleanTreeCheck | WritableCheck | ManualCheck, Field(discriminator="kind")]


class ChecklistItem(Model):
    """One item of the pre-implementation checklist: confirmed by a person, or verified by its check.

    ``text`` is a text template (``{{ expected_commit }}``): it is shown rendered with the session's variables, so it
    never names a commit or a folder other than the one the session checks.
    """

    id: StepId
    """The item's id, used by 'amxwizard check ID'."""
    text: NonEmpty
    """What must be true before starting, as the person reads it (a text template)."""
    # A factory, not an instance: making a ManualCheck here would build its validator as the module is imported
    # (tens of milliseconds the wizard's start would pay; the models are built on first use).
    check: ChecklistCheck = Field(
        default_factory=lambda: ManualCheck(kind="manual"), json_schema_extra={"default": {"kind": "manual"}}
    )
    """How the wizard verifies the item on this machine; 'manual' when it cannot."""


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
    """Insert after the first line this regular expression matches (inside the edit's function, if one is named)."""
    before: str | None = None
    """Insert before the first line this regular expression matches (inside the edit's function, if one is named)."""
    at: Literal["before_function", "end_of_file"] | None = None
    """A fixed place instead of a pattern: just before the function, or at the end of the file."""
    last: bool = False
    """Use the last match of 'after' or 'before' instead of the first."""

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
    """The file to change, relative to the repository (a path template)."""
    function: str | None = None
    """The function the change goes in; found in today's source whatever line it is on."""
    claimed_lines: str | None = Field(default=None, pattern=r"^~?\d+(-\d+)?$")
    """The lines the runbook says the function is on ('356-377', '350' or '~350'); shown beside the lines found
    today."""
    language: Literal["cpp", "c", "cuda", "cmake", "text"] = "cpp"
    """The file's language: how it is parsed to find functions, and how the change is highlighted."""
    action: Literal["insert", "remove_ifdef", "remove_lines", "manual", "extend_condition"]
    """What to do: insert text at an anchor, remove an #ifdef block, remove lines, extend an if condition, or leave it
    to the person (manual).
    """
    where: str = ""
    """Where the change goes, in the document's own words (shown to the person)."""
    snippet: str = ""
    """The code as the document shows it; inserted when 'insert' is not given."""
    insert: str | None = None
    """The exact text to insert, when it differs from the document's snippet."""
    anchor: Anchor | None = None
    """Where an insert goes."""
    macro: ShellName | None = None
    """The macro whose #ifdef blocks a 'remove_ifdef' edit removes (GGML_DEBUG_TENSOR_COPY)."""
    lines: list[NonEmpty] = []  # an empty entry would match every blank line of the file
    """The lines a 'remove_lines' edit removes, each matched as written (surrounding blanks ignored)."""
    find_by: FindBy | None = None
    """Find the condition to extend by what it does rather than by a pattern: 'op_offload_decision' is the scheduler's
    decision to offload an op whose source is a weight.
    """
    condition: str | None = None
    """A regular expression matching the if condition to extend, inside 'function'."""
    require: str | None = None
    """What the condition must also require, added as '&& (require)'."""

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
    """The answer's name, used in templates as {{ answers.ID }} and by 'amxwizard step --answer ID=VALUE'."""
    label: NonEmpty
    """The question as the person reads it."""
    type: Literal["text", "multiline", "choice", "number"] = "text"
    """How it is answered: a line of text, several lines, one of 'options', or a number."""
    options: list[str] = []
    """The choices of a 'choice' field."""
    required: bool = True
    """Whether the step needs an answer before it can finish."""
    placeholder: str = "[FILL IN]"
    """The text the document had in the field's place; never taken as an answer."""
    prefill: Prefill | None = None
    """Which finding of the diagnostic log suggests an answer (the person's answer wins)."""
    help: str = ""
    """A hint shown under the field."""

    @model_validator(mode="after")
    def _options(self) -> FormField:
        if self.type == "choice" and not self.options:
            raise ValueError("a 'choice' field needs 'options'")
        return self


class FormOutput(Model):
    path: NonEmpty
    """The file the answers are written to (a path template)."""
    template: NonEmpty
    """The text written, with {{ answers.ID }} placeholders."""
    append: bool = True
    """Append to the file instead of replacing it."""


# --- steps --------------------------------------------------------------------------------------------------


class StepBase(Model):
    id: StepId
    """The step's id ('1.4', 'test-1'), used on the command line and in the record."""
    title: NonEmpty
    """The step's name as the person reads it."""
    description: str = ""
    """What the step does and why, shown with it."""
    destructive: bool = False
    """The step cannot be undone (a clean rebuild, a commit): the person confirms it first."""
    confirm: str = ""
    """The question asked before a destructive step runs."""
    notes: list[str] = []
    """Remarks shown with the step."""


EvidenceKind = Literal["tensor_copy", "llama_cli", "llama_bench", "build"]


class ShellStep(StepBase):
    """Commands run in order. Every line of each is accounted for: one that fails (a non-zero status, a program not
    found, a signal) fails the step where it stands, unless it is tolerated explicitly (``|| true``, a SIGPIPE after
    ``| head``, or a crash when ``expect_crash`` says the step is there to see one)."""

    kind: Literal["shell"]
    """A step that runs shell commands."""
    commands: Annotated[list[NonEmpty], Field(min_length=1)]
    """The commands, run one after the other in bash with pipefail; each is a shell template whose values are quoted
    where they stand.
    """
    exports: list[ShellName] = []
    """Shell variables the commands set that later steps see (BACKUP_DIR)."""
    cwd: str | None = None
    """The folder the commands run in (default: the runbook's workdir)."""
    timeout: int | None = Field(default=None, gt=0)
    """Seconds after which the commands are stopped (SIGTERM, then SIGKILL); none by default."""
    evidence: list[EvidenceKind] = []
    """Which readers judge the output: a build log, the tensor-copy diagnostics, llama-cli or llama-bench."""
    outputs: list[str] = []
    """Files the commands write, read as evidence with their output."""
    silence_minutes: float = Field(default=DEFAULT_SILENCE_MINUTES, gt=0, description=SILENCE_DOC)
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
    """The file to back up (a path template)."""
    name: NonEmpty
    """Its name in the backup folder."""
    optional: bool = False
    """A missing file is noted instead of failing the backup."""


class GitCapture(Model):
    name: NonEmpty
    """The file in the backup folder the output goes to."""
    args: Annotated[list[str], Field(min_length=1)]
    """git's arguments (run in the repository, without a shell)."""


class BackupStep(StepBase):
    kind: Literal["backup"]
    """A step that backs up files and git's state before anything is edited."""
    files: list[BackupFile]
    """The files to copy into the backup folder, each with its sha256."""
    include_edited: bool = True
    """Also back up every file a later step edits."""
    git: list[GitCapture] = []
    """git outputs saved with the backup (status, HEAD, diff)."""
    export: ShellName = "BACKUP_DIR"
    """The shell variable later steps find the backup folder in."""
    script: str = ""
    """The document's own backup script, shown for comparison; the wizard makes the backup itself."""


class EditStepBase(StepBase):
    """What every step that changes files has: the edits, where to look, and what must (not) be there after."""

    find: str = ""
    """Where to look, in the document's words."""
    edits: Annotated[list[Edit], Field(min_length=1)]
    """The changes, each to one file."""
    verify_present: list[str] = []
    """Text that must be in the changed files afterwards."""
    verify_absent: list[str] = []
    """Text that must not be in the changed files afterwards."""


class CodeChangeStep(EditStepBase):
    kind: Literal["code_change"]
    """A step that changes source code."""


class CMakeEditStep(EditStepBase):
    kind: Literal["cmake_edit"]
    """A step that changes a CMake file."""

    @model_validator(mode="after")
    def _cmake_only(self) -> CMakeEditStep:
        for edit in self.edits:
            if edit.language != "cmake" or edit.function:
                raise ValueError("a cmake_edit's edits are CMake, with no function")
        return self


class FormStep(StepBase):
    kind: Literal["form"]
    """A step the person answers (an analysis), with suggestions from the evidence."""
    look_for: list[str] = []
    """What to look for in the evidence, shown as a list."""
    expected: str = ""
    """What the evidence is expected to show, as the document gives it."""
    evidence_from: StepId | None = None
    """The step whose log the suggestions are read from."""
    fields: Annotated[list[FormField], Field(min_length=1)]
    """The questions."""
    output: FormOutput | None = None
    """Where the answers are also written as text."""


class ApproachStep(EditStepBase):
    kind: Literal["approach"]
    """One of the alternative fixes; the person's choice decides which runs."""
    letter: Annotated[str, StringConstraints(pattern=r"^[A-Z]$")]
    """The approach's letter (A, B, C), as the choice names it."""
    use_if: NonEmpty
    """When this approach is the right one, in the document's words."""


class ChoiceStep(StepBase):
    kind: Literal["choice"]
    """A step where the person chooses one of several approach steps; the others are skipped."""
    field: Name
    """The answer the choice is saved as."""
    options: Annotated[list[StepId], Field(min_length=2)]
    """The ids of the approach steps to choose from."""
    default_from: str | None = None
    """An answer whose value is recommended ('answers.recommended_approach')."""


class TestStep(StepBase):
    __test__: ClassVar[bool] = False  # not a pytest class

    kind: Literal["test"]
    """A step that runs one model test and judges what llama-cli printed."""
    command: NonEmpty
    """The test command (a shell template)."""
    expect: NonEmpty
    """What should happen, in the document's words."""
    mode: Literal["hybrid", "cpu", "gpu"]
    """Which backends the run must use: hybrid (CPU with AMX and GPU), cpu or gpu; a run that used others fails."""
    tokens: int = Field(gt=0, description="tokens the run must generate (the command's -n)")
    min_prompt_tokens: int | None = None
    """The prompt must be at least this many tokens (a long prompt is what crashed)."""
    timeout: int | None = Field(default=None, gt=0)
    """Seconds after which the test is stopped; none by default."""
    setup: list[str] = []
    """Commands run before the test command (writing a long prompt to a file, ...)."""
    silence_minutes: float = Field(default=DEFAULT_SILENCE_MINUTES, gt=0, description=SILENCE_DOC)


class ReferenceMachine(Model):
    """The machine a reference figure was measured on, as far as the runbook knows it. Only stated facts are
    compared; an empty one is "not stated"."""

    description: NonEmpty
    """The machine in words."""
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
    """The machine the figure was measured on: the figure is compared only on a machine like it."""
    note: str = Field(default="", description="how the figure was measured")


class BenchmarkStep(StepBase):
    kind: Literal["benchmark"]
    """A step that runs llama-bench and compares the speed."""
    command: NonEmpty
    """The llama-bench command (a shell template)."""
    expect: NonEmpty
    """What the speed should be, in the document's words."""
    metric: Annotated[str, StringConstraints(pattern=r"^(pp|tg)\d+$")]
    """The llama-bench test to read: pp<N> (prompt processing) or tg<N> (generation)."""
    reference: BenchmarkReference | None = None
    """A figure from elsewhere to compare with, when it was measured on the same model and machine."""
    before_fix: bool = Field(
        default=False,
        description="the measurement before any edit: later runs of the same benchmark are judged against it",
    )
    tolerance_pct: float = Field(default=5.0, ge=0)
    """How far below the figure it is compared with, in percent, still counts as the same speed."""
    timeout: int | None = Field(default=None, gt=0)
    """Seconds after which the benchmark is stopped; none by default."""
    silence_minutes: float = Field(default=DEFAULT_SILENCE_MINUTES, gt=0, description=SILENCE_DOC)

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
    """The claim's name, used in the message as {{ claims.ID }}."""
    sentence: NonEmpty
    """The sentence written when the evidence backs it."""
    label: NonEmpty
    """The start of what is written instead when it does not (followed by what was measured)."""
    criteria: list[StepId] = []
    """Criteria that must be met."""
    steps: list[StepId] = []
    """Steps that must have passed."""
    approach: bool = False
    """The chosen approach's step must have passed."""

    @model_validator(mode="after")
    def _has_evidence(self) -> Claim:
        if not (self.criteria or self.steps or self.approach):
            raise ValueError(f"claim {self.id!r} names no evidence (criteria, steps or approach)")
        return self


class CommitStep(StepBase):
    kind: Literal["commit"]
    """A step that commits the change with git (hooks and signing run as for the person's own commits)."""
    repo: NonEmpty = "{{repo}}"
    """The repository to commit in."""
    stage: Annotated[list[NonEmpty], Field(min_length=1)]
    """Files to stage (path templates)."""
    stage_if_modified: list[str] = []
    """Files staged only when they changed."""
    message: NonEmpty
    """The commit message template: answers, approach, measured figures and claims."""
    claims: list[Claim] = []
    """Sentences of the message that evidence decides."""
    fields: list[FormField] = []
    """Questions answered before the commit, used in the message."""
    script: str = ""
    """The document's own commit script, shown for comparison; the wizard commits itself."""

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
    """The document to update (a path template)."""
    section: NonEmpty
    """The heading of the section that is written or replaced."""
    points: list[str] = []
    """What the section should cover, shown to the person."""
    content: NonEmpty
    """The section's text (a template with answers and figures)."""


class DocsStep(StepBase):
    kind: Literal["docs"]
    """A step that updates documents."""
    fields: list[FormField] = []
    """Questions answered before the documents are written."""
    documents: Annotated[list[DocUpdate], Field(min_length=1)]
    """The documents and sections to write."""


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
    """The phase's id ('1', '2')."""
    title: NonEmpty
    """The phase's name."""
    tag: str = ""
    """A short label shown under the title ('Research')."""
    goal: str = ""
    """What the phase is for."""
    steps: Annotated[list[Step], Field(min_length=1)]
    """The phase's steps, in order."""


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
    """The criterion's id."""
    text: NonEmpty
    """The criterion as the document states it."""
    check: CriterionCheck = "manual"
    """How the evidence decides it ('manual': the person ticks it, with a note)."""
    steps: list[StepId] = []
    """The steps whose runs are its evidence."""
    requires: list[Requirement] = Field(
        default=[],
        description="what the build must have for the criterion to apply at all ('amx': an AMX buffer in use in its "
        "steps' runs); without it the criterion is not applicable on this build",
    )


class Trigger(Model):
    steps: list[StepId] = []
    """Steps whose failure brings the entry up."""
    finding: Finding | None = None
    """A finding in a failed step's evidence that brings it up."""
    approach: StepId | None = None
    """Only when this approach was chosen."""


class Troubleshooting(Model):
    id: StepId
    """The entry's id."""
    symptom: NonEmpty
    """What the person sees."""
    check: str = ""
    """What to check, in the document's words."""
    solution: NonEmpty
    """What to do."""
    goto: StepId | None = None
    """The step to go back to ('g' on the main screen)."""
    when: Trigger = Field(
        default_factory=lambda: Trigger(),  # as ChecklistItem.check
        json_schema_extra={"default": {"steps": [], "finding": None, "approach": None}},
    )
    """When the entry is shown beside a failed step."""


# --- the runbook --------------------------------------------------------------------------------------------


class Runbook(Model):
    schema_version: Literal[1]
    """The version of this format; 1."""
    title: NonEmpty
    """The runbook's name."""
    goal: str = ""
    """What the work achieves."""
    approach: str = ""
    """How, in a sentence."""
    expected_outcome: str = ""
    """What should be true at the end."""
    document: DocumentInfo | None = None
    """The document the runbook was written from."""
    workdir: str = Field(default="", description="where commands run unless a step says otherwise")
    variables: dict[Name, Variable] = {}
    """Machine-specific values, each with the original document's value as default; used as {{ name }}."""
    backup: Backup
    """Where backups go."""
    checklist: list[ChecklistItem] = []
    """The pre-implementation checklist, confirmed before the first step."""
    phases: Annotated[list[Phase], Field(min_length=1)]
    """The phases, each with its steps, in order."""
    criteria: list[Criterion] = []
    """The success criteria, judged from the evidence."""
    troubleshooting: list[Troubleshooting] = []
    """Known problems and what to do about them."""

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
