"""Nothing of the seed runbook is missing from runbook.yaml.

Every line of the seed (``tests/fixtures/seed-runbook.md``, a copy of the original instructions) is accounted for:
it is found in runbook.yaml once the runbook's templates are rendered with the seed's values (the variable
defaults; a fill-in answer renders as the field's placeholder, which is the seed's own ``[FILL IN]`` text), or it
is listed below as structure or as a deliberate difference, with the reason. Comparison ignores whitespace; a
shell line also matches when bash would read the same words (the runbook quotes values its own way).
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import ApproachStep, BenchmarkStep, Runbook, TestStep
from amxwizard.runbook.templates import TemplateError, placeholders, render_shell, render_text
from amxwizard.runbook.variables import resolve

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed-runbook.md"

# Lines that are the seed's layout, not content: the runbook's structure (sections, fields, kinds) stands for them.
STRUCTURE = {
    "# AMX+GPU Scheduler Fix - Step-by-Step Implementation Instructions": "document title; checked as the title",
    "---": "a horizontal rule",
    "## Pre-Implementation Checklist": "the 'checklist' section",
    "Before starting, confirm:": "the checklist's lead-in",
    "### Goal": "a phase's 'goal' field (its text is checked)",
    "**Add before the copy logic**:": "checked as the edit's 'where'",
    "**Add**:": "the cmake_edit's insert action",
    "**Look for**:": "the form's 'look_for' list (its items are checked)",
    "**Expected findings**:": "the form's 'expected' block (its lines are checked)",
    "**Save findings**:": "the form's 'output' (its lines are checked)",
    "**Add helper function** (around line 350, before `ggml_backend_tensor_copy`):": "checked as the edit's 'where'",
    "**Modify `ggml_backend_tensor_copy`**:": "checked as the edit's 'where'",
    "**Modify** to check weight locations:": "checked as approach B's 'where'",
    "**Modify CUDA buffer's `cpy_tensor`** (around line 626):": "checked as the edit's 'where'",
    "Update with:": "the document's 'points' list (its items are checked)",
    "## Success Criteria": "the 'criteria' section",
    "Mark complete when ALL of the following are true:": "criteria are all required by definition",
    "## Troubleshooting": "the 'troubleshooting' section",
    "## Backup Location": "the 'backup' section",
    "All backups and test results stored in:": "lead-in of backup.seed_location",
    "Location saved to:": "lead-in of backup.location_file",
}

# Seed lines the runbook represents differently on purpose. Each maps to the text that must be present instead
# (None: nothing, the runbook does the job another way) and why.
DIFFERENT: dict[str, tuple[str | None, str]] = {
    'BACKUP_DIR="/tmp/amx-scheduler-fix-$(date +%Y%m%d-%H%M%S)"': (
        'BACKUP_DIR="<session_dir>/backups/amx-scheduler-fix-$(date +%Y%m%d-%H%M%S)"',
        "backups live with the session (backup_root) instead of /tmp, which a reboot empties; the seed's /tmp "
        "location is kept as backup.seed_location",
    ),
    'LONG_PROMPT="The history of artificial intelligence is a fascinating journey that spans multiple decades and '
    'encompasses numerous breakthroughs..." # (continue for 500+ tokens)': (
        'LONG_PROMPT="The history of artificial intelligence is a fascinating journey that spans multiple decades '
        'and encompasses numerous breakthroughs..."',
        "the seed leaves the rest of the 500+ token prompt to the person; test 5 builds it by repeating the long "
        "prompt, so the '# (continue for 500+ tokens)' comment is gone",
    ),
    '-p "The history of artificial intelligence..." \\': (
        "-p {{prompt_long}} \\",
        "the seed abbreviates the long prompt with '...'; tests run the whole long prompt of step 1.5",
    ),
    '-p "The history of artificial intelligence..." | head -50': (
        "-p {{prompt_long}} | head -50",
        "the seed abbreviates the long prompt with '...'; the final check runs the whole long prompt",
    ),
    'cat >> "$BACKUP_DIR/analysis.txt" << EOF': (
        "$BACKUP_DIR/analysis.txt",
        "the wizard appends the analysis form's answers itself (form output, append: true)",
    ),
    "EOF": (
        None,
        "a here-document terminator: step 1.5's is in the runbook's command; those of the analysis and "
        "commit-message wrappers went with the wrappers",
    ),
    "# Document what operation is causing the issue": (
        None,
        "the comment of the seed's analysis script; the analysis is a form whose answers the wizard saves",
    ),
    "Date: $(date)": ("Date: {{session.date}}", "the wizard writes the date when it saves the answers"),
    "# Commit with detailed message": (
        "# Commit with the message above, then verify",
        "the commit message is a field of the commit step, not a here-document in the script",
    ),
    "git commit -m \"$(cat <<'EOF'": (
        "git commit -F <message>",
        "the seed's here-document wrapper around the commit message",
    ),
    ')"': (None, "closes the seed's commit-message wrapper"),
    "# Verify commit": ("then verify", "merged into the comment above the commit command"),
    "- Scheduler was attempting to copy blk.0.attn_q.weight from AMX to CUDA": (
        "- Scheduler was attempting to copy {{answers.tensor}} from {{answers.src_buffer}} to {{answers.dst_buffer}}",
        "the seed hard-codes the expected finding; the message uses what step 1.6 actually found",
    ),
    "**Solution implemented**: [Approach A/B/C - describe which one]": (
        "{{claims.solution}}",
        "a claim: 'Approach {{approach.letter}} - {{approach.title}}' once the chosen approach's step passed",
    ),
    "- ✅ Long prompts (200+ tokens) now work correctly": (
        "- {{claims.long_prompts}}",
        "a claim: written as the seed has it only when its criterion is met, else what was measured (engine.claims)",
    ),
    "- ✅ Token generation speed maintained (~61 t/s)": (
        "- {{claims.tg_speed}}",
        "a claim: written (with the measured speed) only when the token-generation benchmark passed",
    ),
    "- ✅ No regressions in CPU-only or GPU-only modes": (
        "- {{claims.no_regressions}}",
        "a claim: written only when the CPU-only and GPU-only tests passed",
    ),
    "- ✅ Short prompts still work as before": (
        "- {{claims.short_prompts}}",
        "a claim: written only when the short-prompt test passed",
    ),
    "- Prevents weight tensor copies during inference": (
        "- {{claims.no_weight_copies}}",
        "a claim: written only when the logs show no weight tensor copied",
    ),
    "- Operations now execute on backend where weights reside": (
        "- {{claims.weights_stay}}",
        "a claim: written only when the logs show no weight tensor copied",
    ),
    "- No performance degradation from fix": (
        "- {{claims.no_degradation}}",
        "a claim: written only when the performance criterion is met",
    ),
    "- [ ] Backup location prepared: `/tmp/amx-scheduler-fix-YYYYMMDD-HHMMSS/`": (
        "Backup location prepared: {{backup_root}}",
        "the item names the session's own backup root, where the timestamped folder is made (the seed's /tmp "
        "pattern is backup.seed_location)",
    ),
    "- Prompt processing: [X ms/token]": (
        "- Prompt processing: {{evidence.pp_ms_per_token}} ms/token",
        "filled from the prompt-processing benchmark",
    ),
    "- Token generation: [Y tokens/s]": (
        "- Token generation: {{evidence.tg_tps}} tokens/s",
        "filled from the token-generation benchmark",
    ),
    "[attribution footer line of the original, left out of this copy]": (
        None,
        "the original commit message ends with two tool-attribution lines; the runbook leaves attribution to "
        "the person (and this copy leaves them out)",
    ),
    "**File**: `/home/ron/src/ik_llama.cpp/ggml/src/ggml-backend.cpp` or related scheduler file": (
        "`ggml-backend.cpp` or related scheduler file",
        "approach B's edit is manual; its 'where' names the file",
    ),
    "**Find**: `add_compile_definitions` or similar section": (
        "`add_compile_definitions` or similar section",
        "the cmake_edit's 'find' keeps the seed's words",
    ),
}

LABEL_RE = re.compile(r"^\*\*(?P<label>[^*]+)\*\*:\s*(?P<value>.+)$")
HEADING_RE = re.compile(
    r"^### (?:Step (?P<step>\d+\.\d+)|Approach (?P<letter>[A-Z])|(?P<test>Test \d+)|"
    r"(?P<bench>Benchmark)): (?P<title>.+)$"
)
PHASE_RE = re.compile(r"^## Phase (?P<id>\d+): (?P<title>.+?)(?: \((?P<tag>[^)]+)\))?$")
ISSUE_RE = re.compile(r"^### Issue: (?P<symptom>.+)$")
CHECKBOX_RE = re.compile(r"^- \[ \] (?P<text>.+)$")
LIST_RE = re.compile(r"^(?:\d+\.|-) (?P<text>.+)$")


@dataclass(frozen=True, slots=True)
class SeedLine:
    """One non-blank line of the seed, where it is, and the fenced code block it sits in (0: none)."""

    number: int
    text: str
    block: int
    section: str

    @property
    def fenced(self) -> bool:
        return self.block > 0


def seed_lines() -> list[SeedLine]:
    """Every non-blank line of the seed with its code block and ``##`` section."""
    out: list[SeedLine] = []
    blocks, inside = 0, False
    section = ""
    for number, raw in enumerate(SEED.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        if line.startswith("```"):
            inside = not inside
            blocks += inside
            continue
        if not inside and line.startswith("## "):
            section = line
        if line.strip():
            out.append(SeedLine(number, line, blocks if inside else 0, section))
    return out


def seed_blocks() -> list[list[SeedLine]]:
    """The fenced code blocks of the seed, each as its lines (blank lines dropped)."""
    blocks: dict[int, list[SeedLine]] = {}
    for line in seed_lines():
        if line.fenced:
            blocks.setdefault(line.block, []).append(line)
    return list(blocks.values())


# --- the runbook, rendered with the seed's values -----------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _words(line: str) -> list[str] | None:
    """How bash would split one line into words (a trailing continuation backslash dropped), or None."""
    try:
        return shlex.split(line.rstrip().removesuffix("\\"), comments=False, posix=True)
    except ValueError:
        return None


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _leaves(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    elif isinstance(data, str):
        yield data
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield str(data)


def _seed_values(model: Runbook) -> dict[str, str]:
    """Variable defaults, answers as their placeholders; names filled only at run time stay as written."""
    values = resolve(model)
    values.update({f"answers.{fid}": field.placeholder for fid, field in model.fields.items()})
    return values


@dataclass(frozen=True, slots=True)
class Rendered:
    """Every string of the runbook rendered as text and, where it parses, as shell; squashed and as words."""

    squashed: str
    word_lines: list[list[str]]
    raw_squashed: str


@cache
def rendered(runbook_path: Path) -> Rendered:
    from amxwizard.runbook import load_runbook

    model = load_runbook(runbook_path).model
    values = _seed_values(model)
    texts: list[str] = []
    raws = list(_leaves(model.model_dump()))
    for text in raws:
        names = {name: values.get(name, "{{" + name + "}}") for name in placeholders(text)}
        scope = {**values, **names}
        texts.append(render_text(text, scope))
        with contextlib.suppress(TemplateError):  # not a shell command (C++, prose): the text rendering stands
            texts.append(render_shell(text, scope, model.args_variables))
    word_lines = [w for text in texts for line in text.splitlines() if (w := _words(line))]
    return Rendered("\x00".join(_squash(t) for t in texts), word_lines, "\x00".join(_squash(t) for t in raws))


def present(text: str, found: Rendered) -> bool:
    """``text`` is in the rendered runbook, ignoring whitespace, or bash reads the same words in one of its lines."""
    if _squash(text) in found.squashed:
        return True
    words = _words(text)
    return words is not None and any(_contains_run(line, words) for line in found.word_lines)


# --- what each seed line must match -------------------------------------------------------------------------


def expectation(line: SeedLine) -> tuple[str, str | None]:
    """(what kind of seed line this is, the text that must be present, or None when checked structurally)."""
    text = line.text.strip()
    if text in STRUCTURE:
        return "structure", None
    if text in DIFFERENT:
        return "different", DIFFERENT[text][0]
    if line.fenced:
        return "code", text
    if PHASE_RE.match(text):
        return "phase heading", None  # see test_headings_are_phases_and_steps
    if HEADING_RE.match(text):
        return "step heading", None
    if m := ISSUE_RE.match(text):
        return "troubleshooting symptom", m["symptom"]
    if m := CHECKBOX_RE.match(text):
        kind = "success criterion" if line.section == "## Success Criteria" else "checklist item"
        return kind, m["text"]
    if m := LABEL_RE.match(text):
        label, value = m["label"], m["value"]
        if label in {"File", "Remove"}:
            return f"'{label}'", value.strip("`")
        if label == "Location":
            return "'Location'", None  # function and line range: see test_location_is_the_edit_target
        if label == "Expected":
            return "'Expected'", value.removeprefix("✅ ")  # the seed's tick means "should pass"; a test's expect
        return f"'{label}'", value
    if m := LIST_RE.match(text):
        return "list item", m["text"]
    return "prose", text


def missing_lines(runbook_path: Path) -> list[str]:
    """Seed lines (with their kind) that the runbook at ``runbook_path`` lacks."""
    found = rendered(runbook_path)
    missing: list[str] = []
    for line in seed_lines():
        kind, wanted = expectation(line)
        if wanted is None:
            continue
        if kind == "different":
            # the replacement is checked as written in the runbook (it names placeholders, not their values)
            ok = _squash(wanted) in found.raw_squashed or present(wanted, found)
        else:
            ok = present(wanted, found)
        if not ok:
            missing.append(f"seed line {line.number} ({kind}): {line.text.strip()}")
    return missing


def test_every_seed_line_is_in_the_runbook(runbook_file: RunbookFile) -> None:
    assert runbook_file.path is not None
    missing = missing_lines(runbook_file.path)
    assert not missing, "seed lines missing from runbook.yaml:\n" + "\n".join(missing)


def test_a_runbook_missing_a_line_fails(runbook_file: RunbookFile, tmp_path: Path) -> None:
    """Drop one line of a snippet, one flag value and one criterion: each is reported by its seed line."""
    text = runbook_file.text
    op_line = '    fprintf(stderr, "  Op: %s\\n", ggml_op_name(src->op));\n'
    assert text.count(op_line) == 2  # in the step 1.2 snippet and in the text it inserts
    text = text.replace(op_line, "")
    text = text.replace("-n 1000 -ngl", "-n 100 -ngl").replace("No crashes during generation", "No crashes")
    broken = tmp_path / "runbook.yaml"
    broken.write_text(text, encoding="utf-8")
    missing = "\n".join(missing_lines(broken))
    assert 'fprintf(stderr, "  Op: %s\\n", ggml_op_name(src->op));' in missing
    assert "-t 64 -b 2048 -c 4096 -n 1000 -ngl 15 --amx -fa" in missing
    assert "(success criterion): - [ ] No crashes during generation" in missing
    assert len(missing.splitlines()) == 3  # and nothing else


def test_every_code_block_is_there_whole_or_line_by_line(runbook_file: RunbookFile) -> None:
    """Whole blocks (order kept) for the C++/CMake snippets and the expected output; shell blocks line by line."""
    assert runbook_file.path is not None
    found = rendered(runbook_file.path)
    whole = {
        block[0].block for block in seed_blocks() if _squash("".join(line.text for line in block)) in found.squashed
    }
    # Intact, in order: the C/C++ snippets of 1.2, A (two), B and C; the CMake line; the 1.4 rebuild; the expected
    # debug output; both benchmarks; the two backup paths. The rest are shell blocks checked line by line above
    # (their prompts are quoted differently, or they are listed in DIFFERENT).
    assert whole >= {2, 3, 4, 6, 8, 9, 10, 11, 17, 18, 21, 22}, sorted(whole)


def test_seed_line_accounting_is_not_vacuous() -> None:
    """The extraction sees the seed's content (a broken parser would skip everything and pass)."""
    lines = seed_lines()
    kinds: dict[str, int] = {}
    for line in lines:
        kind, _ = expectation(line)
        kinds[kind] = kinds.get(kind, 0) + 1
    assert len(lines) == 381
    assert sum(1 for x in lines if x.fenced) == 263
    assert kinds["code"] == 236  # the other 27 fenced lines are listed in DIFFERENT
    assert kinds["checklist item"] == 3  # the fourth (the backup location) is listed in DIFFERENT
    assert kinds["success criterion"] == 9
    assert kinds["troubleshooting symptom"] == 4
    assert kinds["phase heading"] == 5
    assert kinds["step heading"] == 6 + 3 + 5 + 2 + 4
    assert kinds["'Expected'"] == 7
    assert kinds["'Use if'"] == 3
    assert kinds["'Try'"] + kinds["'Solution'"] == 4
    assert kinds["'Check'"] == 2
    assert kinds["list item"] == 3 + 4  # look-for items, documentation points
    # Prose outside the known shapes is still checked as text; these are the only two such lines.
    assert [x.text for x in lines if expectation(x)[0] == "prose"] == [
        "Identify exactly which operation is triggering the weight tensor copy from AMX to CUDA.",
        'Update "Current Status" section with results.',
    ]
    # Every listed exception is a real seed line (a stale entry would hide nothing and mislead).
    texts = {line.text.strip() for line in lines}
    assert set(STRUCTURE) <= texts, set(STRUCTURE) - texts
    assert set(DIFFERENT) <= texts, set(DIFFERENT) - texts


def test_a_missing_line_is_noticed(runbook_file: RunbookFile) -> None:
    """The check can fail: text that is not in the runbook is reported missing, a renamed flag too."""
    assert runbook_file.path is not None
    found = rendered(runbook_file.path)
    assert present("-t 64 -b 2048 -c 4096 -n 1000 -ngl 15 --amx -fa \\", found)
    assert not present("-t 64 -b 2048 -c 4096 -n 1000 -ngl 16 --amx -fa \\", found)
    assert not present('fprintf(stderr, "  Name: %s\\n", src->name);', found)  # the seed has a ternary here
    assert not present("- [ ] Long prompts work on Tuesdays", found)


# --- headings, counts and defaults --------------------------------------------------------------------------


def _plain(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_headings_are_phases_and_steps(runbook_file: RunbookFile) -> None:
    model = runbook_file.model
    approaches = {s.letter: s for _, s in model.iter_steps() if isinstance(s, ApproachStep)}
    tests = [s for _, s in model.iter_steps() if isinstance(s, TestStep)]
    benchmarks = [s for _, s in model.iter_steps() if isinstance(s, BenchmarkStep)]
    phases = {p.id: p for p in model.phases}
    for line in seed_lines():
        text = line.text.strip()
        if line.fenced:
            continue
        if m := PHASE_RE.match(text):
            phase = phases[m["id"]]
            assert (phase.title, phase.tag) == (m["title"], m["tag"] or ""), text
        elif m := HEADING_RE.match(text):
            title = _plain(m["title"])
            if m["step"]:
                step = model.step(m["step"])
                assert _plain(step.title) == title, text
                assert model.phase_of[step.id].id == m["step"].split(".")[0]
            elif m["letter"]:
                assert _plain(approaches[m["letter"]].title) == title, text
            elif m["test"]:
                assert any(_plain(t.title) == f"{m['test']}: {title}" for t in tests), text
            else:
                assert any(_plain(b.title) == f"Benchmark: {title}" for b in benchmarks), text
    assert model.title == "AMX+GPU Scheduler Fix"


def test_location_is_the_edit_target(runbook_file: RunbookFile) -> None:
    """``**Location**: Function `f` (around line a-b)`` is an edit of ``f`` that claims those lines."""
    locations = [
        m.groups()
        for x in seed_lines()
        if (m := re.match(r"^\*\*Location\*\*: Function `(\w+)` \(around line ([\d-]+)\)$", x.text))
    ]
    assert locations == [("ggml_backend_tensor_copy", "356-377")]
    edits = [(edit.function, edit.claimed_lines) for _, edit in runbook_file.model.edits()]
    for location in locations:
        assert location in edits


def test_counts_match_the_seed(runbook_file: RunbookFile) -> None:
    model = runbook_file.model
    ids = [step.id for _, step in model.iter_steps()]
    assert len(model.checklist) == 4
    assert [p.id for p in model.phases] == ["1", "2", "3", "4", "5"]
    # the seed's steps in order; a step the runbook adds is named here with the reason
    added = {
        "1.0": "configures build/ where it is not configured yet; the seed's first build assumes it is",
        "bench-pp-before": "phase 4's 'same as before fix' needs a run before the fix to compare with",
        "bench-tg-before": "phase 4's 'same as before fix' needs a run before the fix to compare with",
    }
    assert [s.id for s in model.phases[0].steps if s.id not in added] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]
    assert set(added) <= {s.id for s in model.phases[0].steps}
    assert sorted(s.letter for _, s in model.iter_steps() if isinstance(s, ApproachStep)) == ["A", "B", "C"]
    assert [s.id for _, s in model.iter_steps() if isinstance(s, TestStep)] == [f"test-{n}" for n in range(1, 6)]
    benchmarks = [s for _, s in model.iter_steps() if isinstance(s, BenchmarkStep)]
    assert [s.id for s in benchmarks if not s.before_fix] == ["bench-pp", "bench-tg"]
    assert [s.id for s in model.phases[4].steps] == ["5.1", "5.2", "5.3", "5.4"]
    assert len(model.criteria) == 9
    assert len(model.troubleshooting) == 4
    assert len(ids) == len(set(ids))
    # The same numbers, read from the seed itself.
    lines = [x for x in seed_lines() if not x.fenced]
    assert sum(1 for x in lines if CHECKBOX_RE.match(x.text) and x.section != "## Success Criteria") == 4
    assert sum(1 for x in lines if CHECKBOX_RE.match(x.text) and x.section == "## Success Criteria") == 9
    assert sum(1 for x in lines if ISSUE_RE.match(x.text)) == 4
    assert sum(1 for x in lines if PHASE_RE.match(x.text)) == 5


def test_criteria_and_troubleshooting_in_seed_order(runbook_file: RunbookFile) -> None:
    model = runbook_file.model
    lines = [x for x in seed_lines() if not x.fenced]
    criteria = [m["text"] for x in lines if x.section == "## Success Criteria" and (m := CHECKBOX_RE.match(x.text))]
    assert [c.text for c in model.criteria] == criteria
    checklist = [m["text"] for x in lines if x.section != "## Success Criteria" and (m := CHECKBOX_RE.match(x.text))]
    # Item texts are templates: with the seed's values they read as the seed does (the backup item: see DIFFERENT).
    values = _seed_values(model)
    assert [render_text(c.text, values) for c in model.checklist][:3] == checklist[:3]
    assert f"- [ ] {checklist[3]}" in DIFFERENT
    symptoms = [m["symptom"] for x in lines if (m := ISSUE_RE.match(x.text))]
    assert [t.symptom for t in model.troubleshooting] == symptoms


def _seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def _one(pattern: str) -> str:
    """The single distinct value ``pattern`` captures in the seed's commands (hybrid runs only for -ngl)."""
    found = set(re.findall(pattern, _seed_text()))
    assert len(found) == 1, (pattern, found)
    return found.pop()


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("repo", r"cd (/\S+)\n"),
        ("model", r"-m (\S+\.gguf)"),
        ("numa_nodes", r"numactl -N (\S+) -m \S+"),
        ("threads", r" -t (\d+) "),
        ("ngl", r"-ngl (\d+) --amx"),
        ("ngl_gpu_only", r"-ngl (\d+) \\\n  -p \"Test prompt for GPU-only\""),
        ("batch", r" -b (\d+) "),
        ("ctx", r" -c (\d+) "),
        ("build_jobs", r"cmake --build build -j (\d+)"),
        ("baseline_tps", r"Short prompts work \((\d+\.\d+) t/s\)"),
        ("amx_flag", r" (--amx) "),
        ("fa_flag", r" (-fa) \\"),
        ("expected_commit", r"Last commit: ([0-9a-f]+) "),
        ("expected_subject", r'Last commit: [0-9a-f]+ "([^"]+)"'),
        ("backup_location_file", r'echo "\$BACKUP_DIR" > (\S+)'),
    ],
)
def test_defaults_are_the_seed_values(runbook_file: RunbookFile, name: str, pattern: str) -> None:
    variable = runbook_file.model.variables[name]
    assert variable.default_text == _one(pattern)


def test_numactl_default_renders_the_seed_prefix(runbook_file: RunbookFile) -> None:
    assert resolve(runbook_file.model)["numactl"] == _one(r"(numactl -N \S+ -m \S+) ")


def test_prompts_are_the_seed_prompts(runbook_file: RunbookFile) -> None:
    values = resolve(runbook_file.model)
    assert values["prompt_long"] == _one(r'-p "(The history of artificial intelligence began[^"]+)"')
    assert values["prompt_very_long"] == _one(r'LONG_PROMPT="([^"]+)"')
    assert values["prompt_short"] == _one(r'-p "(Test)"')
    assert values["prompt_cpu"] == _one(r'-p "(Test prompt for CPU-only)"')
    assert values["prompt_gpu"] == _one(r'-p "(Test prompt for GPU-only)"')


def test_backup_keeps_the_seed_location(runbook_file: RunbookFile) -> None:
    backup = runbook_file.model.backup
    assert backup.seed_location == _one(r"Backup location prepared: `([^`]+)`")
    assert backup.pattern == "amx-scheduler-fix-%Y%m%d-%H%M%S"
