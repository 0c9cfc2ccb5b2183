"""The record as one self-contained HTML file: inline CSS, no scripts, no external URLs; fine on paper too."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from . import fmt
from .model import Record, ResultView, StepView

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #59636e; --line: #d0d7de; --code: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0 auto;
       max-width: 1100px; padding: 24px; }
h1 { font-size: 1.7em; margin: 0 0 .3em; }
h2 { font-size: 1.3em; border-bottom: 1px solid var(--line); padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--code); }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--code); padding: 0 3px; border-radius: 3px; word-break: break-all; }
pre { background: var(--code); padding: 10px; border: 1px solid var(--line); border-radius: 4px;
      white-space: pre-wrap; word-break: break-all; }
.banner { font-size: 1.15em; font-weight: 600; padding: 10px 14px; border-radius: 6px; margin: .6em 0 1em; }
.banner.complete { background: #dafbe1; border: 2px solid var(--ok); }
.banner.unfinished { background: #fff1e5; border: 2px solid var(--bad); }
.warning { background: #fff8c5; border: 1px solid var(--warn); padding: 6px 10px; border-radius: 4px; }
.muted { color: var(--muted); }
.state-passed, .state-chosen, .met { color: var(--ok); font-weight: 600; }
.state-failed, .state-interrupted, .unmet { color: var(--bad); font-weight: 600; }
.state-running, .state-skipped, .unknown { color: var(--warn); font-weight: 600; }
.run { margin: .5em 0 .2em; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; }
  tr, pre, .run { break-inside: avoid; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def e(value: Any) -> str:
    """Escaped text; ``None`` and empty as a dash."""
    if value is None or value == "":
        return fmt.NONE
    return html.escape(str(value), quote=True)


def c(value: Any) -> str:
    """Escaped inline code."""
    return f"<code>{e(value)}</code>" if value not in (None, "") else fmt.NONE


def table(header: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table whose cells are already HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def state(status: str) -> str:
    """A step or result state, coloured by its class."""
    return f'<span class="state-{e(status.replace(" ", "-"))}">{e(status)}</span>'


def render_html(record: Record) -> str:
    """The whole record as an HTML document."""
    out: list[str] = []
    add = out.append
    st = record.status
    add("<!DOCTYPE html>")
    add('<html lang="en"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{e(st.label)} — Record: {e(record.title)} ({e(record.session.id)})</title>")
    add(f"<style>{_CSS}</style></head><body>")
    add(f"<header><h1>Record: {e(record.title)}</h1>")
    add(
        f'<p class="banner {"complete" if st.complete else "unfinished"}" id="state">{e(fmt.state_sentence(record))}'
        "</p>"
    )
    for warning in record.warnings:
        add(f'<p class="warning"><strong>Warning:</strong> {e(warning)}</p>')
    commit = record.repo.commit
    add(
        table(
            ["Item", "Value"],
            [
                (
                    "Session",
                    f"{c(record.session.id)}, started {e(fmt.when(record.session.created))} by "
                    f"{c(record.session.created_by)}; {record.session.events} events; people: "
                    + (", ".join(c(p) for p in record.session.people) or fmt.NONE),
                ),
                ("Target", c(record.session.target)),
                ("Runbook", f"{c(record.runbook.path)}, sha256 {c(record.runbook.sha256)}"),
                ("Repo HEAD", f"{c(fmt.short(record.repo.head_before))} → {c(fmt.short(record.repo.head_after))}"),
                ("Commit", f"{c(commit.get('sha', ''))} {e(commit.get('subject', ''))}" if commit else "none yet"),
                ("Chain", f"{len(record.events)} events, last hash {c(record.last_hash)}"),
                (
                    "Sign-off",
                    "; ".join(f"{e(s.reviewer)} ({c(s.by)}) at {e(fmt.when(s.ts))}" for s in record.signoffs)
                    or "none yet",
                ),
                (
                    "Written",
                    f"{e(fmt.when(record.generated.at))} by {c(record.generated.by)} with amxwizard "
                    f"{e(record.generated.amxwizard)}",
                ),
            ],
            "facts",
        )
    )
    add("</header><main>")

    m = record.machine
    add('<section id="machine"><h2>Machine</h2>')
    add(f'<p class="muted">{e(m.note)}.</p>')
    add(
        table(
            ["Fact", "Value"],
            [
                ("Host", c(m.hostname)),
                ("Kernel", e(m.kernel)),
                ("OS", e(m.os)),
                ("CPU", f"{e(m.cpu_model)} ({m.cpu_count} logical CPUs)"),
                ("AMX", "yes (amx_tile, amx_int8, amx_bf16)" if m.amx else "no"),
                ("CPU flags", ", ".join(f"{c(k)} {'yes' if v else 'no'}" for k, v in m.cpu_flags.items()) or fmt.NONE),
                ("GPU", "; ".join(f"{e(g.name)} (driver {e(g.driver or '?')})" for g in m.gpus) or e(m.gpu_query)),
                ("Collected", e(fmt.when(m.collected_at))),
            ],
        )
    )
    if record.session.hosts:
        add(f"<p>The session ran on: {', '.join(c(h) for h in record.session.hosts)}.</p>")
    add("</section>")

    add('<section id="variables"><h2>Variables</h2>')
    add(table(["Name", "Value", "Source"], [(c(v.name), c(v.value), e(v.source)) for v in record.variables]))
    add("</section>")

    add('<section id="checklist"><h2>Checklist</h2><ul>')
    for item in record.checklist:
        box = "☑" if item.ticked else "☐"
        detail = f"{c(item.by)}, {e(fmt.when(item.ts))}" if item.ticked is not None else "not ticked"
        extra = f"; {e(item.note)}" if item.note else ""
        extra += f"; checked by the wizard: {e(item.finding)}" if item.auto and item.finding else ""
        add(f"<li>{box} {c(item.id)} {e(item.text)} — {detail}{extra}</li>")
    add("</ul></section>")

    add('<section id="steps"><h2>Steps</h2>')
    add(
        table(["Step", "Title", "State", "Who", "When", "Exit codes", "Duration"], [_step_row(s) for s in record.steps])
    )
    add("</section>")

    add('<section id="commands"><h2>Commands</h2>')
    ran = [s for s in record.steps if s.runs or s.summary or s.evidence]
    if not ran:
        add("<p>No command has run yet.</p>")
    for step in ran:
        add(f'<h3 id="step-{e(step.id)}">{e(step.id)} — {e(step.title)}</h3>')
        add(f"<p>State: {state(step.status)}" + (f" — {e(step.summary)}" if step.summary else "") + "</p>")
        if step.evidence and step.kind not in ("test", "benchmark"):
            add(table(["Evidence", "Value"], [(c(k), e(v)) for k, v in fmt.other_evidence(step.evidence, {})]))
        for run in step.runs:
            add(
                f'<p class="run">Run {c(run.run_id)} (attempt {run.attempt}, command {run.index + 1}) by {c(run.by)} '
                f"at {e(fmt.when(run.started))} in {c(run.cwd)}: <strong>{e(fmt.run_outcome(run))}</strong>, "
                f"{e(fmt.seconds(run.duration))}, log sha256 {c(run.log_sha256)}"
                + (f" ({run.log_size} bytes)" if run.log_size is not None else "")
                + "</p>"
            )
            add(f"<pre>{html.escape(run.script)}</pre>")
    add("</section>")

    add('<section id="answers"><h2>Analysis answers</h2>')
    add(
        table(
            ["Field", "Answer", "Wizard suggested", "Who", "When"],
            [
                (
                    f"{c(a.field)} {e(a.label)}",
                    _multiline(a.value)
                    if a.value is not None
                    else ("(not answered)" if a.required else "(not answered, optional)"),
                    _multiline(a.suggested),
                    c(a.by),
                    e(fmt.when(a.ts)),
                )
                for a in record.answers
            ],
        )
    )
    add("</section>")

    add('<section id="approach"><h2>Approach</h2>')
    if record.approach:
        ap = record.approach
        add(
            f"<p><strong>{e(ap.step)}</strong> — Approach {e(ap.letter)}: {e(ap.title)}. Chosen by {c(ap.by)} at "
            f"{e(fmt.when(ap.ts))}.</p>"
        )
        add(f"<p>Why: {e(ap.reason) if ap.reason else '(no reason given)'}</p>")
        if ap.use_if:
            add(f"<p>The runbook says to use it if: {e(ap.use_if)}</p>")
    else:
        add("<p>No approach chosen yet.</p>")
    add("</section>")

    add('<section id="tests"><h2>Tests</h2>')
    add(
        table(
            ["Test", "Expected", "State", "Tokens", "Crashed", "Eval t/s", "Summary"],
            [_test_row(r) for r in record.tests],
        )
    )
    _extra_evidence(add, record.tests, fmt.TEST_KEYS)
    add("</section>")
    add('<section id="benchmarks"><h2>Benchmarks</h2>')
    add(
        table(
            ["Benchmark", "Expected", "State", "Test", "t/s", "Baseline", "Verdict", "Summary"],
            [_bench_row(r) for r in record.benchmarks],
        )
    )
    _extra_evidence(add, record.benchmarks, fmt.BENCH_KEYS)
    add("</section>")

    add('<section id="criteria"><h2>Success criteria</h2>')
    add(f"<p>Evaluation: {e(record.criteria_evaluation)}.</p><ul>")
    for crit in record.criteria:
        box = "☑" if fmt.criterion_mark(crit.verdict, crit.ticked) else "☐"
        verdict = f'<span class="{e(crit.verdict)}">{e(crit.verdict)}</span>' if crit.verdict else "not evaluated"
        tick = (
            f"ticked by {c(crit.by)} at {e(fmt.when(crit.ts))}"
            if crit.ticked
            else f"unticked by {c(crit.by)}"
            if crit.ticked is False
            else "not ticked"
        )
        inner = "".join(f"<li>{e(line)}</li>" for line in crit.verdict_evidence)
        if crit.step_states:
            inner += f"<li>steps: {e(', '.join(crit.step_states))}</li>"
        add(
            f"<li>{box} {c(crit.id)} {e(crit.text)} — {verdict}; {tick}"
            + (f"; note: {e(crit.note)}" if crit.note else "")
            + (f"<ul>{inner}</ul>" if inner else "")
            + "</li>"
        )
    add("</ul></section>")

    add('<section id="skips"><h2>Skipped steps</h2>')
    if record.skips:
        add(
            table(
                ["Step", "Title", "Reason", "Who", "When"],
                [
                    (
                        c(s.step),
                        e(s.title),
                        e(s.reason) if s.reason else "(no reason given)",
                        c(s.by),
                        e(fmt.when(s.ts)),
                    )
                    for s in record.skips
                ],
            )
        )
    else:
        add("<p>None.</p>")
    add("</section>")

    add('<section id="files"><h2>Files changed</h2>')
    if record.edits:
        add(
            table(
                ["Step", "File", "How", "Before", "After", "Who", "When"],
                [
                    (
                        c(x.get("step", "")),
                        c(x.get("path", "")),
                        e(x.get("how", "")),
                        c(fmt.short(str(x.get("before_sha256", "")))),
                        c(fmt.short(str(x.get("after_sha256", "")))),
                        c(x.get("by", "")),
                        e(fmt.when(str(x.get("ts", "")))),
                    )
                    for x in record.edits
                ],
            )
        )
    else:
        add("<p>No file was edited by the wizard.</p>")
    if record.backup:
        b = record.backup
        add(
            f"<p>Backup in {c(b.get('dir', ''))} at {e(fmt.when(str(b.get('ts', ''))))}"
            + (f"; location written to {c(b.get('location_file'))}" if b.get("location_file") else "")
            + ".</p>"
        )
        files = [f for f in b.get("files", []) if isinstance(f, dict)]
        if files:
            add(
                table(
                    ["File", "Backup", "sha256", "Size"],
                    [
                        (c(f.get("path", "")), c(f.get("backup", "")), c(f.get("sha256", "")), e(f.get("size")))
                        for f in files
                    ],
                )
            )
        if isinstance(b.get("git"), dict) and b["git"]:
            add(table(["Git capture", "sha256"], [(c(k), c(v)) for k, v in b["git"].items()]))
    if record.documents:
        add(
            table(
                ["Document", "Section", "Before", "After", "When"],
                [
                    (
                        c(d.get("path", "")),
                        e(d.get("section", "")),
                        c(fmt.short(str(d.get("before_sha256", "")))),
                        c(fmt.short(str(d.get("after_sha256", "")))),
                        e(fmt.when(str(d.get("ts", "")))),
                    )
                    for d in record.documents
                ],
            )
        )
    add("</section>")

    if record.notes:
        add('<section id="notes"><h2>Notes</h2><ul>')
        for n in record.notes:
            add(f"<li>{e(fmt.when(str(n.get('ts', ''))))} {c(n.get('by', ''))}: {e(n.get('text', ''))}</li>")
        add("</ul></section>")

    add('<section id="signoffs"><h2>Sign-offs</h2>')
    if record.signoffs:
        add(
            "<ul>"
            + "".join(
                f"<li><strong>{e(s.reviewer)}</strong> ({c(s.by)}) at {e(fmt.when(s.ts))}, event {s.seq}, hash "
                f"{c(s.hash)}" + (f": {e(s.note)}" if s.note else "") + "</li>"
                for s in record.signoffs
            )
            + "</ul>"
        )
    else:
        add(
            "<p>Not signed off yet. A reviewer signs with <code>amxwizard signoff RECORD.json --reviewer NAME</code>."
            "</p>"
        )
    add("</section>")

    add('<section id="chain"><h2>Chain</h2>')
    add(
        f"<p>{len(record.events)} events; the session's last hash is {c(record.session.last_hash)}; the chain's last "
        f"hash is {c(record.last_hash)}. Check the JSON record with <code>amxwizard verify RECORD.json --logs DIR"
        "</code>.</p>"
    )
    add(
        table(
            ["#", "When", "Kind", "Who", "What", "Hash"],
            [
                (
                    e(ev.get("seq")),
                    e(fmt.when(str(ev.get("ts", "")))),
                    c(ev.get("kind", "")),
                    c((ev.get("data") or {}).get("by", "")),
                    e(fmt.event_summary(ev)),
                    c(fmt.short(str(ev.get("hash")))),
                )
                for ev in record.events
            ],
        )
    )
    add("</section></main></body></html>")
    return "\n".join(out) + "\n"


def _multiline(value: str | None) -> str:
    return e(value).replace("\n", "<br>") if value else fmt.NONE


def _step_row(step: StepView) -> list[str]:
    label = step.status if step.required or step.status == "not chosen" else f"{step.status} (not needed)"
    return [
        f'<span id="row-{e(step.id)}">{c(step.id)}</span>',
        e(step.title),
        state(label),
        c(step.by),
        e(fmt.when(step.finished or step.started)),
        e(fmt.exit_codes(step.exit_codes)),
        e(fmt.seconds(step.duration)),
    ]


def _test_row(r: ResultView) -> list[str]:
    ev = r.evidence
    return [
        f"{c(r.step)} {e(r.title)}",
        e(r.expect),
        state(r.status),
        e(fmt.tokens(r)),
        e(fmt.value_text(ev.get("crashed"))),
        e(fmt.value_text(ev.get("eval_tps"))),
        e(r.summary),
    ]


def _bench_row(r: ResultView) -> list[str]:
    ev = r.evidence
    return [
        f"{c(r.step)} {e(r.title)}",
        e(r.expect),
        state(r.status),
        e(ev.get("test")),
        e(fmt.speed(r)),
        e(fmt.baseline(r)),
        e(fmt.value_text(ev.get("level"))),
        e(r.summary),
    ]


def _extra_evidence(add: Any, results: Sequence[ResultView], known: dict[str, str]) -> None:
    for r in results:
        extra = fmt.other_evidence(r.evidence, known)
        if extra:
            add(f"<p>Other evidence of {c(r.step)}: " + "; ".join(f"{c(k)} = {e(v)}" for k, v in extra) + "</p>")
