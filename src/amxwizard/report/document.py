"""The record as one document model — sections of paragraphs, tables, lists and code — built once from a Record.

The Markdown and HTML writers render this model and decide nothing about content: what a section says, in which
order, is decided here only. Every piece of text is a typed inline (:class:`Text`, :class:`Code`, :class:`Strong`),
so each writer escapes it for its own format and no value can change the document's structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import fmt
from .model import CriterionView, Record, ResultView, RunView, StepView
from .status import criterion_satisfied

# --- the model ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text (newlines become line breaks)."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """Inline code: commands, ids, hashes, paths."""

    text: str


@dataclass(frozen=True, slots=True)
class Strong:
    """Emphasised text; ``cls`` colours it in HTML (``state-passed``, ``unmet``...)."""

    text: str
    cls: str = ""


@dataclass(frozen=True, slots=True)
class Anchor:
    """An inline an HTML page can link to by ``id``."""

    id: str
    inner: Text | Code | Strong


Inline = Text | Code | Strong | Anchor
Line = tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph; ``role`` is ``banner-complete`` / ``banner-incomplete``, ``warning``, ``muted`` or plain."""

    parts: Line
    role: str = ""
    id: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]
    cls: str = ""


@dataclass(frozen=True, slots=True)
class CodeBlock:
    text: str
    lang: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """A list item: a box (ticked, unticked, or none), its line, and indented lines under it."""

    parts: Line
    box: bool | None = None
    children: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemList:
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Subheading:
    parts: Line
    id: str = ""


@dataclass(frozen=True, slots=True)
class Details:
    """Folded content (the long event table)."""

    summary: str
    blocks: tuple[Block, ...]


Block = Paragraph | Table | CodeBlock | ItemList | Subheading | Details


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """The whole record: a title, the head (state, signature, facts, warnings) and the sections."""

    title: str
    page_title: str
    head: tuple[Block, ...]
    sections: tuple[Section, ...] = field(default=())


# --- small builders -----------------------------------------------------------------------------------------------


def T(text: Any) -> Text:
    return Text("" if text is None else str(text))


def C(text: Any) -> Code | Text:
    """Inline code, or a dash for nothing."""
    return Code(str(text)) if text not in (None, "") else Text(fmt.NONE)


def D(text: Any) -> Text:
    """Text, or a dash for nothing."""
    return Text(str(text)) if text not in (None, "") else Text(fmt.NONE)


def state(status: str) -> Strong:
    return Strong(status, f"state-{status.replace(' ', '-')}")


def join(parts: Iterable[Line], sep: str = ", ") -> Line:
    out: list[Inline] = []
    for i, part in enumerate(parts):
        if i:
            out.append(Text(sep))
        out.extend(part)
    return tuple(out)


def table(header: Sequence[str], rows: Iterable[Sequence[Line | Inline]], cls: str = "") -> Table:
    def cell(value: Line | Inline) -> Line:
        return value if isinstance(value, tuple) else (value,)

    return Table(tuple(header), tuple(tuple(cell(c) for c in row) for row in rows), cls)


# --- the record as a document -------------------------------------------------------------------------------------


def record_document(record: Record) -> Document:
    """The document of ``record`` (what both writers render)."""
    st = record.status
    head: list[Block] = [
        Paragraph(
            (Strong(f"State: {st.label}"), T(" — " + fmt.state_sentence(record).split(" — ", 1)[1])),
            "banner-complete" if st.complete else "banner-incomplete",
            "state",
        ),
        Paragraph(
            (Strong("Signed" if record.signatures else "Unsigned"), T(": " + fmt.signature_sentence(record) + ".")),
            "" if record.signatures else "warning",
            "signature",
        ),
        _facts(record),
    ]
    head += [Paragraph((Strong("Warning:"), T(" " + w)), "warning") for w in record.warnings]
    sections = (
        _machine(record),
        Section("variables", "Variables", (_variables(record),)),
        Section("checklist", "Checklist", _checklist(record)),
        Section("steps", "Steps", _steps(record)),
        Section("commands", "Commands", _commands(record)),
        Section("answers", "Analysis answers", _answers(record)),
        Section("approach", "Approach", _approach(record)),
        Section("tests", "Tests", _results(record, record.tests, "test")),
        Section("benchmarks", "Benchmarks", _results(record, record.benchmarks, "benchmark")),
        Section("criteria", "Success criteria", _criteria(record)),
        Section("skips", "Skipped steps", _skips(record)),
        Section("commit", "Commit", _commit(record)),
        Section("files", "Files changed", _files(record)),
        *((Section("notes", "Notes", _notes(record)),) if record.notes else ()),
        Section("signoffs", "Signatures and sign-offs", _signoffs(record)),
        Section("chain", "Chain", _chain(record)),
    )
    page_title = f"{st.label} — Record: {record.title} ({record.session.id})"
    return Document(f"Record: {record.title}", page_title, tuple(head), sections)


def _facts(record: Record) -> Table:
    s = record.session
    commit = record.repo.commit
    commit_line: Line = (
        (C(commit.get("sha", "")), T(" " + str(commit.get("subject", "")))) if commit else (T("none yet"),)
    )
    signoffs = join(((T(x.reviewer), T(" ("), C(x.by), T(f") at {fmt.when(x.ts)}")) for x in record.signoffs), "; ")
    return table(
        ["Item", "Value"],
        [
            (
                T("Session"),
                (
                    C(s.id),
                    T(f", started {fmt.when(s.created)} by "),
                    C(s.created_by),
                    T(f"; {s.events} events; people: "),
                    *(join((C(p),) for p in s.people) or (T(fmt.NONE),)),
                ),
            ),
            (T("Target"), C(s.target)),
            (T("Runbook"), (C(record.runbook.path), T(", sha256 "), C(record.runbook.sha256))),
            (T("Repo HEAD"), (C(fmt.short(record.repo.head_before)), T(" → "), C(fmt.short(record.repo.head_after)))),
            (T("Commit"), commit_line),
            (T("Chain"), (T(f"{len(record.events)} events, last hash "), C(record.last_hash))),
            (T("Signed"), _signature_line(record)),
            (T("Sign-off"), signoffs or (T("none yet"),)),
            (
                T("Written"),
                (
                    T(f"{fmt.when(record.generated.at)} by "),
                    C(record.generated.by),
                    T(f" with amxwizard {record.generated.amxwizard}"),
                ),
            ),
        ],
        "facts",
    )


def _signature_line(record: Record) -> Line:
    if not record.signatures:
        return (T("no (unsigned)"),)
    return join(
        ((T(f"{s.role}: events 1–{s.seq}, key "), C(s.key or "?")) for s in record.signatures),
        "; ",
    )


def _machine(record: Record) -> Section:
    m = record.machine
    flags = join(((C(k), T(" yes" if v else " no")) for k, v in m.cpu_flags.items()))
    gpus = "; ".join(f"{g.name} (driver {g.driver or '?'})" for g in m.gpus) or m.gpu_query
    blocks: list[Block] = [
        Paragraph((T(m.note + "."),), "muted" if m.in_chain else "warning"),
        table(
            ["Fact", "Value"],
            [
                (T("Host"), C(m.hostname)),
                (T("Kernel"), D(m.kernel)),
                (T("OS"), D(m.os)),
                (T("CPU"), T(f"{m.cpu_model or fmt.NONE} ({m.cpu_count} logical CPUs)")),
                (T("AMX"), T("yes (amx_tile, amx_int8, amx_bf16)" if m.amx else "no")),
                (T("CPU flags"), flags or (T(fmt.NONE),)),
                (T("NUMA nodes"), D(m.numa_nodes)),
                (T("GPU"), D(gpus)),
                (T("Collected"), T(fmt.when(m.collected_at))),
            ],
        ),
    ]
    if record.session.hosts:
        blocks.append(Paragraph((T("The session ran on: "), *join((C(h),) for h in record.session.hosts), T("."))))
    return Section("machine", "Machine", tuple(blocks))


def _variables(record: Record) -> Table:
    return table(["Name", "Value", "Source"], [(C(v.name), C(v.value), T(v.source)) for v in record.variables])


def _checklist(record: Record) -> tuple[Block, ...]:
    if not record.checklist:
        return (Paragraph((T("The runbook has no checklist."),)),)
    st = record.status
    items = []
    for item in record.checklist:
        if item.ticked is None:
            how: Line = (T("not confirmed"),)
        elif not item.ticked:
            how = (T("unticked by "), C(item.by), T(f" at {fmt.when(item.ts)}"))
        elif item.auto:
            how = (T("verified by its check ("), C(item.check), T(f") at {fmt.when(item.ts)}, ticked by "), C(item.by))
        else:
            how = (T("confirmed by "), C(item.by), T(f" at {fmt.when(item.ts)}"))
        children: list[Line] = []
        if item.check and item.check != "manual" and item.finding:
            verdict = f"{item.check_status}: " if item.check_status else ""
            children.append((T(f"check {item.check}: {verdict}{item.finding}"),))
        if item.note:
            children.append((T("note: " + item.note),))
        items.append(Item((C(item.id), T(" " + item.text + " — "), *how), bool(item.ticked), tuple(children)))
    summary = f"Confirmed: {st.checklist_confirmed} of {st.checklist_total}."
    return Paragraph((T(summary),)), ItemList(tuple(items))


def _steps(record: Record) -> tuple[Block, ...]:
    return (
        Paragraph((T(f"{record.status.counts} steps ({record.status.steps_done} done)."),)),
        table(
            ["Step", "Title", "State", "Who", "When", "Exit codes", "Duration"],
            [_step_row(s) for s in record.steps],
        ),
    )


def _step_row(step: StepView) -> tuple[Line, ...]:
    return (
        (Anchor(f"row-{step.id}", Code(step.id)),),
        (T(step.title),),
        (state(step.status),),
        (C(step.by),),
        (T(fmt.when(step.finished or step.started)),),
        (T(fmt.exit_codes(step.exit_codes)),),
        (T(fmt.seconds(step.duration)),),
    )


def _commands(record: Record) -> tuple[Block, ...]:
    ran = [s for s in record.steps if s.runs or s.summary or s.evidence]
    if not ran:
        return (Paragraph((T("No command has run yet."),)),)
    blocks: list[Block] = []
    for step in ran:
        blocks.append(Subheading((T(f"{step.id} — {step.title}"),), f"step-{step.id}"))
        blocks.append(
            Paragraph((T("State: "), state(step.status), *((T(" — " + step.summary),) if step.summary else ())))
        )
        if step.evidence and step.kind not in ("test", "benchmark"):
            blocks.append(
                table(["Evidence", "Value"], [(C(k), T(v)) for k, v in fmt.other_evidence(step.evidence, {})])
            )
        for run in step.runs:
            blocks.append(
                Paragraph(
                    (
                        T("Run "),
                        C(run.run_id),
                        T(f" (attempt {run.attempt}, command {run.index + 1}) by "),
                        C(run.by),
                        T(f" at {fmt.when(run.started)} in "),
                        C(run.cwd),
                        T(": "),
                        Strong(fmt.run_outcome(run)),
                        T(f", {fmt.seconds(run.duration)}, log sha256 "),
                        C(run.log_sha256),
                        T(f" ({run.log_size} bytes)" if run.log_size is not None else ""),
                    ),
                    "run",
                )
            )
            blocks.append(CodeBlock(run.script, "bash"))
    return tuple(blocks)


def _answers(record: Record) -> tuple[Block, ...]:
    if not record.answers:
        return (Paragraph((T("The runbook asks for no answers."),)),)
    rows = []
    for a in record.answers:
        if a.value is not None:
            answer: Inline = D(a.value)
        else:
            answer = T("(not answered)" if a.required else "(not answered, optional)")
        rows.append(((C(a.field), T(" " + a.label)), answer, D(a.suggested), C(a.by), T(fmt.when(a.ts))))
    return (table(["Field", "Answer", "Wizard suggested", "Who", "When"], rows),)


def _approach(record: Record) -> tuple[Block, ...]:
    ap = record.approach
    if ap is None:
        return (Paragraph((T("No approach chosen yet."),)),)
    blocks: list[Block] = [
        Paragraph(
            (
                Strong(ap.step),
                T(f" — Approach {ap.letter}: {ap.title}. Chosen by "),
                C(ap.by),
                T(f" at {fmt.when(ap.ts)}."),
            )
        ),
        Paragraph((T("Why: " + (ap.reason or "(no reason given)")),)),
    ]
    if ap.use_if:
        blocks.append(Paragraph((T("The runbook says to use it if: " + ap.use_if),)))
    return tuple(blocks)


def _results(record: Record, results: Sequence[ResultView], kind: str) -> tuple[Block, ...]:
    if kind == "test":
        main = table(
            ["Test", "Expected", "State", "Tokens", "Crashed", "Eval t/s", "Summary"],
            [
                (
                    (C(r.step), T(" " + r.title)),
                    D(r.expect),
                    state(r.status),
                    T(fmt.tokens(r)),
                    T(fmt.value_text(r.evidence.get("crashed"))),
                    T(fmt.value_text(r.evidence.get("eval_tps"))),
                    D(r.summary),
                )
                for r in results
            ],
        )
        known = fmt.TEST_KEYS
    else:
        main = table(
            ["Benchmark", "Expected", "State", "Test", "t/s", "Baseline", "Verdict", "Summary"],
            [
                (
                    (C(r.step), T(" " + r.title)),
                    D(r.expect),
                    state(r.status),
                    D(r.evidence.get("test", "")),
                    T(fmt.speed(r)),
                    D(fmt.baseline(r)),
                    D(fmt.value_text(r.evidence.get("level"))),
                    D(r.summary),
                )
                for r in results
            ],
        )
        known = fmt.BENCH_KEYS
    blocks: list[Block] = [main]
    for r in results:
        extra = fmt.other_evidence(r.evidence, known)
        if extra:
            blocks.append(
                Paragraph(
                    (T("Other evidence of "), C(r.step), T(": "), *join(((C(k), T(" = " + v)) for k, v in extra), "; "))
                )
            )
    blocks += _fingerprints(record, [s for s in record.steps if s.id in {r.step for r in results}])
    return tuple(blocks)


def _fingerprints(record: Record, steps: Sequence[StepView]) -> list[Block]:
    runs: list[RunView] = [run for s in steps for run in s.runs]
    if not runs:
        return []
    with_fp = [r for r in runs if r.fingerprint]
    if not with_fp:
        return [Paragraph((T("Fingerprints: none recorded (this session's runs predate them)."),), "muted")]
    rows: list[tuple[Line | Inline, ...]] = []
    for run in runs:
        cells = fmt.fingerprint_cells(run.fingerprint, record.model_hashes)
        rows.append(((C(run.step), T(f" run {run.attempt}.{run.index + 1}")), *(D(c) for c in cells)))
    return [
        Paragraph(
            (Strong("Fingerprints"), T(": what each run ran (from its command_started event).")),
        ),
        table(["Run", "Binary", "Model", "Build", "Git", "Machine"], rows),
    ]


def _criteria(record: Record) -> tuple[Block, ...]:
    if not record.criteria:
        return (Paragraph((T("The runbook has no success criteria."),)),)
    st = record.status
    items = [_criterion_item(c) for c in record.criteria]
    return (
        Paragraph((T(f"Evaluation: {record.criteria_evaluation}; met: {st.criteria_met} of {st.criteria_total}."),)),
        ItemList(tuple(items)),
    )


def _criterion_item(c: CriterionView) -> Item:
    verdict: Inline = Strong(c.verdict, c.verdict) if c.verdict else T("not evaluated")
    if c.ticked:
        tick: Line = (T("ticked by "), C(c.by), T(f" at {fmt.when(c.ts)}"))
    elif c.ticked is False:
        tick = (T("unticked by "), C(c.by))
    else:
        tick = (T("not ticked"),)
    judged = {"events": "the events", "logs": "the run logs", "files": "files on the machine"}.get(c.judged_from, "")
    parts: Line = (
        C(c.id),
        T(" " + c.text + " — "),
        verdict,
        *((T(f" (judged from {judged})"),) if judged else ()),
        T("; "),
        *tick,
        *((T("; note: " + c.note),) if c.note else ()),
    )
    children = [(T(line),) for line in c.verdict_evidence]
    if c.step_states:
        children.append((T("steps: " + ", ".join(c.step_states)),))
    return Item(parts, criterion_satisfied(c), tuple(children))


def _skips(record: Record) -> tuple[Block, ...]:
    if not record.skips:
        return (Paragraph((T("None."),)),)
    return (
        table(
            ["Step", "Title", "Reason", "Who", "When"],
            [
                (C(s.step), T(s.title), T(s.reason or "(no reason given)"), C(s.by), T(fmt.when(s.ts)))
                for s in record.skips
            ],
        ),
    )


def _commit(record: Record) -> tuple[Block, ...]:
    commit = record.repo.commit
    if not commit:
        return (Paragraph((T("No commit made yet."),)),)
    files = commit.get("files") if isinstance(commit.get("files"), list) else []
    rows: list[tuple[Line, ...]] = [
        ((T("Commit"),), (C(commit.get("sha", "")), T(" " + str(commit.get("subject", ""))))),
        ((T("Files"),), join((C(f),) for f in files or []) or (T(fmt.NONE),)),
        ((T("Message sha256"),), (C(commit.get("message_sha256", "")),)),
        ((T("Runbook-Chain"),), (C(commit.get("chain_trailer", "")),)),
        (
            (T("Found by its trailer"),),
            (T("yes (made before the wizard could record it)" if commit.get("found_by_trailer") else "no"),),
        ),
    ]
    blocks: list[Block] = [table(["Item", "Value"], rows)]
    acknowledged = commit.get("unproven_acknowledged")
    if isinstance(acknowledged, list) and acknowledged:
        blocks.append(
            Paragraph(
                (
                    Strong("Committed with unproven claims"),
                    T(", acknowledged by "),
                    C(commit.get("by", "")),
                    T(": "),
                    *join((C(x),) for x in acknowledged),
                    T(". The message says what was measured instead of each."),
                ),
                "warning",
            )
        )
    elif isinstance(acknowledged, list):
        blocks.append(Paragraph((T("Every claim of the message was proven by its evidence when it was committed."),)))
    return tuple(blocks)


def _files(record: Record) -> tuple[Block, ...]:
    blocks: list[Block] = []
    if record.edits:
        blocks.append(
            table(
                ["Step", "File", "How", "Before", "After", "Who", "When"],
                [
                    (
                        C(e.get("step", "")),
                        C(e.get("path", "")),
                        D(e.get("how", "")),
                        C(fmt.short(str(e.get("before_sha256", "") or ""))),
                        C(fmt.short(str(e.get("after_sha256", "") or ""))),
                        C(e.get("by", "")),
                        T(fmt.when(str(e.get("ts", "")))),
                    )
                    for e in record.edits
                ],
            )
        )
    else:
        blocks.append(Paragraph((T("No file was edited by the wizard."),)))
    if record.backup:
        b = record.backup
        blocks.append(
            Paragraph(
                (
                    T("Backup in "),
                    C(b.get("dir", "")),
                    T(f" at {fmt.when(str(b.get('ts', '')))}"),
                    *((T("; location written to "), C(b.get("location_file"))) if b.get("location_file") else ()),
                    T("."),
                )
            )
        )
        files = [f for f in b.get("files", []) if isinstance(f, dict)] if isinstance(b.get("files"), list) else []
        if files:
            blocks.append(
                table(
                    ["File", "Backup", "sha256", "Size"],
                    [
                        (C(f.get("path", "")), C(f.get("backup", "")), C(f.get("sha256", "")), D(f.get("size")))
                        for f in files
                    ],
                )
            )
        if isinstance(b.get("git"), dict) and b["git"]:
            blocks.append(table(["Git capture", "sha256"], [(C(k), C(v)) for k, v in b["git"].items()]))
    if record.documents:
        blocks.append(
            table(
                ["Document", "Section", "Before", "After", "When"],
                [
                    (
                        C(d.get("path", "")),
                        D(d.get("section", "")),
                        C(fmt.short(str(d.get("before_sha256", "") or ""))),
                        C(fmt.short(str(d.get("after_sha256", "") or ""))),
                        T(fmt.when(str(d.get("ts", "")))),
                    )
                    for d in record.documents
                ],
            )
        )
    return tuple(blocks)


def _notes(record: Record) -> tuple[Block, ...]:
    return (
        ItemList(
            tuple(
                Item((T(fmt.when(str(n.get("ts", ""))) + " "), C(n.get("by", "")), T(": " + str(n.get("text", "")))))
                for n in record.notes
            )
        ),
    )


def _signoffs(record: Record) -> tuple[Block, ...]:
    blocks: list[Block] = [
        Paragraph(
            (Strong("Signed" if record.signatures else "Unsigned"), T(": " + fmt.signature_sentence(record) + ".")),
            "" if record.signatures else "warning",
        )
    ]
    if record.signatures:
        blocks.append(
            table(
                ["Role", "Covers", "Key", "Signed message"],
                [
                    (T(s.role), T(f"events 1–{s.seq} ({s.hash[:12]}…)"), C(s.key), _message_code(s.message))
                    for s in record.signatures
                ],
            )
        )
    if not record.signoffs:
        blocks.append(
            Paragraph(
                (
                    T("Not signed off yet. A reviewer signs with "),
                    Code("amxwizard signoff RECORD.json --reviewer NAME --sign-key KEY"),
                    T("."),
                )
            )
        )
        return tuple(blocks)
    items = []
    for s in record.signoffs:
        parts: Line = (
            Strong(s.reviewer),
            T(" ("),
            C(s.by),
            T(f") at {fmt.when(s.ts)}, event {s.seq}, covering events 1–{s.covers_seq}"),
            *(
                (T(", "), Strong("self-review: the reviewer is the operator (--self)", "unmet"))
                if s.self_review
                else ()
            ),
            *((T(", signed with key "), C(s.key)) if s.signed else (T(", "), Strong("unsigned", "unknown"))),
            *((T(": " + s.note),) if s.note else ()),
        )
        children: list[Line] = []
        if s.not_covered:
            first, last = s.not_covered[0], s.not_covered[-1]
            span = f"event {first}" if first == last else f"events {first}–{last}"
            children.append((Strong(f"{span}: not covered by {s.reviewer}'s sign-off", "unmet"),))
        items.append(Item(parts, None, tuple(children)))
    blocks.append(ItemList(tuple(items)))
    return tuple(blocks)


def _message_code(text: str) -> Code:
    """A signed message shown inline (its lines joined; the JSON record holds it exactly)."""
    return Code(" / ".join(text.splitlines()))


def _chain(record: Record) -> tuple[Block, ...]:
    return (
        Paragraph(
            (
                T(f"{len(record.events)} events; the session's last hash is "),
                C(record.session.last_hash),
                T("; the chain's last hash is "),
                C(record.last_hash),
                T(". Check the JSON record with "),
                Code("amxwizard verify RECORD.json --logs DIR --allowed-signers FILE --repo PATH"),
                T("."),
            )
        ),
        Details(
            "Every event",
            (
                table(
                    ["#", "When", "Kind", "Who", "What", "Hash"],
                    [
                        (
                            T(str(e.get("seq"))),
                            T(fmt.when(str(e.get("ts", "")))),
                            C(e.get("kind", "")),
                            C(_data(e).get("by", "")),
                            D(fmt.event_summary(e)),
                            C(fmt.short(str(e.get("hash")))),
                        )
                        for e in record.events
                    ],
                ),
            ),
        ),
    )


def _data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    return data if isinstance(data, Mapping) else {}


__all__ = [
    "Anchor",
    "Block",
    "Code",
    "CodeBlock",
    "Details",
    "Document",
    "Inline",
    "Item",
    "ItemList",
    "Line",
    "Paragraph",
    "Section",
    "Strong",
    "Subheading",
    "Table",
    "Text",
    "record_document",
]
