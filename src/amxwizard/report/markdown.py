"""The record as Markdown that reads well on a code-review page (GitHub-flavoured tables, fenced commands)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from . import fmt
from .model import Record, ResultView, StepView

_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def text(value: Any) -> str:
    """Plain text made inert for Markdown: no emphasis, links, tables or HTML from a value."""
    s = str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def cell(value: Any) -> str:
    """Text for a table cell (newlines become line breaks)."""
    return text(value).replace("\r\n", "\n").replace("\n", "<br>") if value not in (None, "") else fmt.NONE


def code(value: Any) -> str:
    """An inline code span that survives backticks and table pipes in the value."""
    s = str(value).replace("\n", " ")
    if not s:
        return fmt.NONE
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s.replace('|', chr(92) + '|')}{pad}{ticks}"


def fenced(body: str, lang: str = "") -> str:
    """A fenced block longer than any backtick run in ``body``."""
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip(chr(10))}\n{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured table whose cells are already Markdown."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(record: Record) -> str:
    """The whole record as Markdown text."""
    out: list[str] = []
    add = out.append
    st = record.status
    add(f"# Record: {text(record.title)}")
    add(f"**State: {st.label}** — {text(fmt.state_sentence(record).split(' — ', 1)[1])}")
    facts = [
        (
            "Session",
            f"{code(record.session.id)}, started {fmt.when(record.session.created)} by "
            f"{code(record.session.created_by)}; {record.session.events} events; "
            f"people: {', '.join(code(p) for p in record.session.people) or fmt.NONE}",
        ),
        ("Target", code(record.session.target)),
        ("Runbook", f"{code(record.runbook.path)}, sha256 {code(record.runbook.sha256)}"),
        ("Repo HEAD", f"{code(fmt.short(record.repo.head_before))} → {code(fmt.short(record.repo.head_after))}"),
        ("Commit", _commit_line(record)),
        ("Chain", f"{len(record.events)} events, last hash {code(record.last_hash)}"),
        (
            "Sign-off",
            "; ".join(f"{cell(s.reviewer)} ({code(s.by)}) at {fmt.when(s.ts)}" for s in record.signoffs) or "none yet",
        ),
        (
            "Written",
            f"{fmt.when(record.generated.at)} by {code(record.generated.by)} with amxwizard "
            f"{text(record.generated.amxwizard)}",
        ),
    ]
    add(table(["Item", "Value"], facts))
    for warning in record.warnings:
        add(f"> **Warning:** {text(warning)}")

    add("## Machine")
    m = record.machine
    add(f"_{text(m.note)}._")
    flags = ", ".join(f"{code(k)} {'yes' if v else 'no'}" for k, v in m.cpu_flags.items())
    gpus = "; ".join(f"{text(g.name)} (driver {text(g.driver or '?')})" for g in m.gpus) or text(m.gpu_query)
    add(
        table(
            ["Fact", "Value"],
            [
                ("Host", code(m.hostname)),
                ("Kernel", cell(m.kernel)),
                ("OS", cell(m.os)),
                ("CPU", f"{cell(m.cpu_model)} ({m.cpu_count} logical CPUs)"),
                ("AMX", "yes (amx_tile, amx_int8, amx_bf16)" if m.amx else "no"),
                ("CPU flags", flags or fmt.NONE),
                ("GPU", gpus),
                ("Collected", fmt.when(m.collected_at)),
            ],
        )
    )
    if record.session.hosts:
        add(f"The session ran on: {', '.join(code(h) for h in record.session.hosts)}.")

    add("## Variables")
    add(
        table(
            ["Name", "Value", "Source"],
            [(code(v.name), code(v.value) if v.value else fmt.NONE, v.source) for v in record.variables],
        )
    )

    add("## Checklist")
    items: list[str] = []
    for item in record.checklist:
        mark = "x" if item.ticked else " "
        detail = _who_when(item.by, item.ts) if item.ticked is not None else "not ticked"
        extra = f"; {text(item.note)}" if item.note else ""
        extra += f"; checked by the wizard: {text(item.finding)}" if item.auto and item.finding else ""
        items.append(f"- [{mark}] {code(item.id)} {text(item.text)} — {detail}{extra}")
    add("\n".join(items) or "The runbook has no checklist.")

    add("## Steps")
    add(
        table(["Step", "Title", "State", "Who", "When", "Exit codes", "Duration"], [_step_row(s) for s in record.steps])
    )

    add("## Commands")
    ran = [s for s in record.steps if s.runs or s.summary or s.evidence]
    if not ran:
        add("No command has run yet.")
    for step in ran:
        add(f"### {text(step.id)} — {text(step.title)}")
        add(f"State: **{text(step.status)}**" + (f" — {text(step.summary)}" if step.summary else ""))
        if step.evidence and step.kind not in ("test", "benchmark"):
            add(table(["Evidence", "Value"], [(code(k), cell(v)) for k, v in fmt.other_evidence(step.evidence, {})]))
        for run in step.runs:
            add(
                f"Run {code(run.run_id)} (attempt {run.attempt}, command {run.index + 1}) by {code(run.by)} at "
                f"{fmt.when(run.started)} in {code(run.cwd)}: **{text(fmt.run_outcome(run))}**, "
                f"{fmt.seconds(run.duration)}, log sha256 {code(run.log_sha256)}"
                + (f" ({run.log_size} bytes)" if run.log_size is not None else "")
            )
            add(fenced(run.script, "bash"))

    add("## Analysis answers")
    if record.answers:
        add(
            table(
                ["Field", "Answer", "Wizard suggested", "Who", "When"],
                [
                    (
                        f"{code(a.field)} {cell(a.label)}",
                        cell(a.value)
                        if a.value is not None
                        else ("(not answered)" if a.required else "(not answered, optional)"),
                        cell(a.suggested),
                        code(a.by) if a.by else fmt.NONE,
                        fmt.when(a.ts),
                    )
                    for a in record.answers
                ],
            )
        )
    add("## Approach")
    if record.approach:
        ap = record.approach
        add(
            f"**{text(ap.step)}** — Approach {text(ap.letter)}: {text(ap.title)}. Chosen by {code(ap.by)} at "
            f"{fmt.when(ap.ts)}."
        )
        add(f"Why: {text(ap.reason) or '(no reason given)'}")
        if ap.use_if:
            add(f"The runbook says to use it if: {text(ap.use_if)}")
    else:
        add("No approach chosen yet.")

    add("## Tests")
    add(
        table(
            ["Test", "Expected", "State", "Tokens", "Crashed", "Eval t/s", "Summary"],
            [_test_row(r) for r in record.tests],
        )
    )
    _extra_evidence(add, record.tests, fmt.TEST_KEYS)
    add("## Benchmarks")
    add(
        table(
            ["Benchmark", "Expected", "State", "Test", "t/s", "Baseline", "Verdict", "Summary"],
            [_bench_row(r) for r in record.benchmarks],
        )
    )
    _extra_evidence(add, record.benchmarks, fmt.BENCH_KEYS)

    add("## Success criteria")
    add(f"Evaluation: {text(record.criteria_evaluation)}.")
    items = []
    for c in record.criteria:
        mark = "x" if fmt.criterion_mark(c.verdict, c.ticked) else " "
        verdict = f"**{text(c.verdict)}**" if c.verdict else "not evaluated"
        tick = (
            f"ticked by {code(c.by)} at {fmt.when(c.ts)}"
            if c.ticked
            else f"unticked by {code(c.by)}"
            if c.ticked is False
            else "not ticked"
        )
        items.append(
            f"- [{mark}] {code(c.id)} {text(c.text)} — {verdict}; {tick}"
            + (f"; note: {text(c.note)}" if c.note else "")
        )
        items += [f"  - {text(line)}" for line in c.verdict_evidence]
        if c.step_states:
            items.append(f"  - steps: {text(', '.join(c.step_states))}")
    add("\n".join(items) or "The runbook has no success criteria.")

    add("## Skipped steps")
    if record.skips:
        add(
            table(
                ["Step", "Title", "Reason", "Who", "When"],
                [
                    (
                        code(s.step),
                        cell(s.title),
                        cell(s.reason) if s.reason else "(no reason given)",
                        code(s.by),
                        fmt.when(s.ts),
                    )
                    for s in record.skips
                ],
            )
        )
    else:
        add("None.")

    add("## Files changed")
    if record.edits:
        add(
            table(
                ["Step", "File", "How", "Before", "After", "Who", "When"],
                [
                    (
                        code(e.get("step", "")),
                        code(e.get("path", "")),
                        cell(e.get("how", "")),
                        code(fmt.short(str(e.get("before_sha256", "")))),
                        code(fmt.short(str(e.get("after_sha256", "")))),
                        code(e.get("by", "")),
                        fmt.when(str(e.get("ts", ""))),
                    )
                    for e in record.edits
                ],
            )
        )
    else:
        add("No file was edited by the wizard.")
    if record.backup:
        b = record.backup
        add(
            f"Backup in {code(b.get('dir', ''))} at {fmt.when(str(b.get('ts', '')))}"
            + (f"; location written to {code(b.get('location_file'))}" if b.get("location_file") else "")
            + "."
        )
        files = [f for f in b.get("files", []) if isinstance(f, dict)]
        if files:
            add(
                table(
                    ["File", "Backup", "sha256", "Size"],
                    [
                        (
                            code(f.get("path", "")),
                            code(f.get("backup", "")),
                            code(f.get("sha256", "")),
                            str(f.get("size", fmt.NONE)),
                        )
                        for f in files
                    ],
                )
            )
        if isinstance(b.get("git"), dict) and b["git"]:
            add(table(["Git capture", "sha256"], [(code(k), code(v)) for k, v in b["git"].items()]))
    if record.documents:
        add(
            table(
                ["Document", "Section", "Before", "After", "When"],
                [
                    (
                        code(d.get("path", "")),
                        cell(d.get("section", "")),
                        code(fmt.short(str(d.get("before_sha256", "")))),
                        code(fmt.short(str(d.get("after_sha256", "")))),
                        fmt.when(str(d.get("ts", ""))),
                    )
                    for d in record.documents
                ],
            )
        )
    if record.notes:
        add("## Notes")
        add(
            "\n".join(
                f"- {fmt.when(str(n.get('ts', '')))} {code(n.get('by', ''))}: {text(n.get('text', ''))}"
                for n in record.notes
            )
        )

    add("## Sign-offs")
    if record.signoffs:
        add(
            "\n".join(
                f"- **{text(s.reviewer)}** ({code(s.by)}) at {fmt.when(s.ts)}, event {s.seq}, hash "
                f"{code(s.hash)}" + (f": {text(s.note)}" if s.note else "")
                for s in record.signoffs
            )
        )
    else:
        add("Not signed off yet. A reviewer signs with `amxwizard signoff RECORD.json --reviewer NAME`.")

    add("## Chain")
    add(
        f"{len(record.events)} events; the session's last hash is {code(record.session.last_hash)}; the chain's "
        f"last hash is {code(record.last_hash)}. Check the JSON record with `amxwizard verify RECORD.json --logs "
        "DIR`."
    )
    add("<details><summary>Every event</summary>\n")
    add(
        table(
            ["#", "When", "Kind", "Who", "What", "Hash"],
            [
                (
                    str(e.get("seq")),
                    fmt.when(str(e.get("ts", ""))),
                    code(e.get("kind", "")),
                    code((e.get("data") or {}).get("by", "")),
                    cell(fmt.event_summary(e)),
                    code(fmt.short(str(e.get("hash")))),
                )
                for e in record.events
            ],
        )
    )
    add("</details>")
    return "\n\n".join(out) + "\n"


def _who_when(by: str, ts: str) -> str:
    return f"{code(by) if by else fmt.NONE}, {fmt.when(ts)}"


def _commit_line(record: Record) -> str:
    commit = record.repo.commit
    if not commit:
        return "none yet"
    return f"{code(commit.get('sha', ''))} {text(commit.get('subject', ''))}"


def _step_row(step: StepView) -> list[str]:
    state = step.status + ("" if step.required else " (not needed)") if step.status != "not chosen" else step.status
    when = fmt.when(step.finished or step.started)
    return [
        code(step.id),
        cell(step.title),
        f"**{text(state)}**",
        code(step.by) if step.by else fmt.NONE,
        when,
        fmt.exit_codes(step.exit_codes),
        fmt.seconds(step.duration),
    ]


def _test_row(r: ResultView) -> list[str]:
    ev = r.evidence
    return [
        f"{code(r.step)} {cell(r.title)}",
        cell(r.expect),
        f"**{text(r.status)}**",
        fmt.tokens(r),
        fmt.value_text(ev.get("crashed")),
        fmt.value_text(ev.get("eval_tps")),
        cell(r.summary),
    ]


def _bench_row(r: ResultView) -> list[str]:
    ev = r.evidence
    return [
        f"{code(r.step)} {cell(r.title)}",
        cell(r.expect),
        f"**{text(r.status)}**",
        cell(ev.get("test", "")),
        fmt.speed(r),
        cell(fmt.baseline(r)),
        cell(fmt.value_text(ev.get("level"))),
        cell(r.summary),
    ]


def _extra_evidence(add: Any, results: Sequence[ResultView], known: dict[str, str]) -> None:
    for r in results:
        extra = fmt.other_evidence(r.evidence, known)
        if extra:
            add(f"Other evidence of {code(r.step)}: " + "; ".join(f"{code(k)} = {cell(v)}" for k, v in extra))
