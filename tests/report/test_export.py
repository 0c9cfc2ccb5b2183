"""A played session exported as Markdown, HTML and JSON through the real CLI, and the API the TUI uses."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session
from amxwizard.engine.store import EventStore
from amxwizard.report import build_record, render, write_record
from amxwizard.runbook import RunbookFile

from .conftest import RUNBOOK, PlayedSession, cli, load, report

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "track", "embed"}


class StrictHTML(HTMLParser):
    """Collects text and checks that every element is closed in order, with nothing fetched from elsewhere."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset") or (value and re.search(r"\burl\(|https?:", value)):
                self.problems.append(f"<{tag} {name}={value!r}> refers elsewhere")
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.problems.append(f"<{tag}> in a self-contained record")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> StrictHTML:
    parser = StrictHTML()
    parser.feed(text)
    parser.close()
    assert parser.doctype, "no <!DOCTYPE html>"
    assert not parser.problems, parser.problems[:5]
    assert not parser.stack, f"unclosed: {parser.stack}"
    return parser


def table_rows(markdown: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells, split on pipes that are not escaped."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_json_record_holds_the_whole_chain(
    full_session: PlayedSession, full_json: Path, runbook_file: RunbookFile
) -> None:
    doc = load(full_json)
    store = EventStore(full_session.dir / "events.db", readonly=True)
    try:
        events = [e.as_dict() for e in store.events()]
    finally:
        store.close()
    assert doc["format"] == "amxwizard-record" and doc["format_version"] == 2
    assert doc["events"] == events
    assert doc["last_hash"] == events[-1]["hash"] == doc["session"]["last_hash"]
    assert doc["runbook"]["sha256"] == runbook_file.sha256 == doc["runbook"]["recorded_sha256"]
    assert doc["runbook"]["text"] == runbook_file.text
    # test-4 was skipped: the criteria that need it are unmet, so the record is not COMPLETE, and says why.
    assert doc["status"]["complete"] is False and doc["status"]["label"] == "INCOMPLETE: 4 criteria unmet"
    assert doc["status"]["counts"] == "21 passed, 3 skipped of 24"
    assert [s["id"] for s in doc["steps"]] == list(full_session.step_ids)
    assert doc["signoffs"] == [] and doc["warnings"] == []
    assert set(doc["machine"]) >= {"hostname", "kernel", "cpu_model", "cpu_flags", "gpus", "gpu_query", "numa_nodes"}
    observed = next(e for e in events if e["kind"] == "machine_observed")
    assert doc["machine"]["event"] == observed["seq"] and doc["machine"]["cpu_model"] == observed["data"]["cpu_model"]
    assert doc["signatures"] == []


def test_json_record_derives_what_happened(full_session: PlayedSession, full_json: Path) -> None:
    doc = load(full_json)
    steps = {s["id"]: s for s in doc["steps"]}
    first, second = steps["test-1"]["runs"]
    assert (first["attempt"], first["exit_code"], second["attempt"], second["exit_code"]) == (1, 134, 2, 0)
    assert steps["test-1"]["exit_codes"] == [0] and steps["test-1"]["attempts"] == 2
    assert steps["test-4"]["status"] == "skipped" and doc["skips"][0]["step"] == "test-4"
    assert doc["skips"][0]["reason"].startswith("the GPU is shared")
    assert steps["2.B"]["status"] == "not chosen" and not steps["2.B"]["required"]
    assert doc["approach"]["step"] == "2.A" and doc["approach"]["letter"] == "A"
    repo = full_session.sandbox.repo
    commit = doc["repo"]["commit"]
    assert doc["repo"]["head_after"] == commit["sha"] != doc["repo"]["head_before"]
    assert doc["repo"]["path"] == str(repo)
    logged = [r for s in doc["steps"] for r in s["runs"] if r["log_sha256"]]
    assert len(logged) == full_session.logs
    for run in logged:
        assert Path(run["log"]).is_file()
    bench = {b["step"]: b for b in doc["benchmarks"]}
    tg = bench["bench-tg"]
    assert tg["baseline"] == "61.24" and tg["evidence"]["test"] == "tg128" and tg["evidence"]["level"] == "pass"
    # the figure is the one llama-bench printed in the run's log, not a number the test made up
    run = (tg["runs"] if "runs" in tg else steps["bench-tg"]["runs"])[-1]  # run again after 5.2: the latest
    assert f"{tg['evidence']['avg_ts']:.2f} ± " in Path(run["log"]).read_text()
    assert {c["id"] for c in doc["criteria"]} >= {"long-prompts", "performance", "documented"}
    ticked = {c["id"]: c for c in doc["criteria"] if c["ticked"]}
    assert ticked["performance"]["note"] == "tg128 within a few tenths of 61.24"


def test_markdown_record(full_session: PlayedSession, full_json: Path, tmp_path: Path) -> None:
    md = report(full_session, "md", tmp_path / "record.md").read_text(encoding="utf-8")
    doc = load(full_json)
    head = md.splitlines()[:5]
    assert head[0] == "# Record: AMX+GPU Scheduler Fix"
    assert head[2].startswith("**State: INCOMPLETE: 4 criteria unmet** — 21 passed, 3 skipped of 24 steps")
    assert head[4].startswith("> **Unsigned**: the hash chain shows the events agree with each other")
    for step_id in full_session.step_ids:
        assert f"| `{step_id}` |" in md, step_id
    for step in doc["steps"]:
        for run in step["runs"]:
            assert f"```bash\n{run['script'].rstrip()}\n```" in md
            assert run["log_sha256"] in md
    assert "**exit 134, signal 6**" in md or "**exit 134**" in md
    assert doc["runbook"]["sha256"] in md and doc["last_hash"] in md
    assert doc["repo"]["commit"]["sha"] in md
    assert "the GPU is shared with another job today" in md
    assert "blk.0.attn\\_q.weight AMX → CUDA0" in md
    for table in table_rows(md):
        widths = {len(row) for row in table}
        assert len(widths) == 1, table[:3]
    # A person's answer with a pipe, a newline and angle brackets stays inside its cell, as text.
    assert "weights \\| to the GPU<br>when a MUL\\_MAT runs there &lt;on purpose?&gt;" in md


def test_html_record_is_one_self_contained_page(full_session: PlayedSession, tmp_path: Path) -> None:
    page = report(full_session, "html", tmp_path / "record.html").read_text(encoding="utf-8")
    parsed = parse_html(page)
    text = "".join(parsed.text)
    for step_id in full_session.step_ids:
        assert step_id in text, step_id
        assert ("span", {"id": f"row-{step_id}"}) in parsed.tags
    banner = [attrs for tag, attrs in parsed.tags if tag == "p" and "banner" in (attrs.get("class") or "")]
    assert banner == [{"class": "banner incomplete", "id": "state"}]
    assert "State: INCOMPLETE: 4 criteria unmet — 21 passed, 3 skipped of 24 steps" in text
    assert "<on purpose?>" in text and ("on", {}) not in parsed.tags
    assert "@media print" in page


def test_unfinished_session_says_so_at_the_top(unfinished_session: PlayedSession, tmp_path: Path) -> None:
    md = report(unfinished_session, "md", tmp_path / "r.md").read_text(encoding="utf-8")
    state_line = md.splitlines()[2]
    assert state_line.startswith("**State: INCOMPLETE: ") and "next: test-2" in state_line
    assert "10 steps not done" in state_line and "12 passed, 2 skipped, 10 pending of 24 steps" in state_line
    page = report(unfinished_session, "html", tmp_path / "r.html").read_text(encoding="utf-8")
    parsed = parse_html(page)
    title = re.search(r"<title>(.*?)</title>", page)
    assert title and title.group(1).startswith("INCOMPLETE")
    first_paragraph = next(attrs for tag, attrs in parsed.tags if tag == "p")
    assert first_paragraph == {"class": "banner incomplete", "id": "state"}
    # 1.0-1.6, the two before-the-fix benchmarks, 2.choose, 2.A and test-1 passed; the approaches not chosen are
    # skipped by the choice.
    assert " — 12 passed, 2 skipped, 10 pending of 24 steps; next: test-2 (" in page
    doc = load(report(unfinished_session, "json", tmp_path / "r.json"))
    assert doc["status"]["label"].startswith("INCOMPLETE: ") and doc["status"]["next_step"] == "test-2"
    assert {s["id"]: s["status"] for s in doc["steps"]}["test-3"] == "pending"
    done = cli("verify", str(tmp_path / "r.json"), "--logs", str(unfinished_session.dir / "runs"))
    assert done.returncode == 0, done.stdout
    played = unfinished_session
    assert done.stdout.splitlines()[0] == f"verified: {played.events} events, {played.logs} logs"
    assert "not verified: who wrote the chain: the record is unsigned" in done.stdout


def test_report_defaults_to_markdown_on_stdout(full_session: PlayedSession) -> None:
    done = cli("report", "--runbook", str(RUNBOOK), "--state-dir", str(full_session.state_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Record: AMX+GPU Scheduler Fix\n")
    assert full_session.id in done.stdout


def test_report_errors_are_one_clear_line(full_session: PlayedSession, tmp_path: Path) -> None:
    done = cli("report", "--runbook", str(RUNBOOK), "--state-dir", str(full_session.state_dir), "--session", "nope")
    assert done.returncode == 2  # a session that does not exist is a usage error, as for every command
    assert done.stderr.strip() == (
        f"amxwizard: --session nope: no session 'nope' in {full_session.state_dir} (latest: {full_session.id})"
    )
    empty = tmp_path / "empty"
    done = cli("report", "--runbook", str(RUNBOOK), "--state-dir", str(empty))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "no session" in done.stderr and "Traceback" not in done.stderr
    done = cli(
        "report",
        "--runbook",
        str(RUNBOOK),
        "--state-dir",
        str(full_session.state_dir),
        "--session",
        full_session.id,
        "-o",
        str(tmp_path / "no-such-folder" / "r.md"),
    )
    assert done.returncode == 1 and "cannot write the record" in done.stderr and "Traceback" not in done.stderr


def test_tui_api_builds_and_writes_a_live_session(state_dir: Path, runbook_file: RunbookFile, tmp_path: Path) -> None:
    with Session.create(state_dir, runbook_file, {"repo": str(tmp_path)}) as session:
        session.record(ev.StepStarted(step="1.1"))
        session.record(ev.StepSkipped(step="1.1", reason="backed up by hand to the NAS"))
        record = build_record(session)
        assert record.status.label.startswith("INCOMPLETE: checklist 0/4, ") and record.status.next_step == "1.0"
        assert record.skips[0].reason == "backed up by hand to the NAS"
        assert record.last_hash == session.state.last_hash
        for fmt in ("md", "html", "json"):
            path = write_record(record, fmt, tmp_path / f"live.{fmt}")
            assert path.read_text(encoding="utf-8") == render(record, fmt)
        parse_html((tmp_path / "live.html").read_text(encoding="utf-8"))
        assert "INCOMPLETE" in (tmp_path / "live.md").read_text(encoding="utf-8").splitlines()[2]


def test_a_changed_runbook_is_flagged_not_hidden(state_dir: Path, runbook_file: RunbookFile) -> None:
    from amxwizard.report.jsonfmt import render_json
    from amxwizard.report.verify import verify_document
    from amxwizard.runbook import load_text

    with Session.create(state_dir, runbook_file, {}) as session:
        (session.dir / "runbook.yaml").unlink()
        session.runbook = load_text(runbook_file.text.replace("61.24", "59.00"))
        record = build_record(session)
    assert record.runbook.sha256 != record.runbook.recorded_sha256 == runbook_file.sha256
    assert record.warnings[0].startswith(
        f"the runbook in this record (sha256 {record.runbook.sha256[:12]}) is not the one the session started with"
    )
    assert "**Warning:** the runbook in this record" in render(record, "md")
    result = verify_document(json.loads(render_json(record)))
    assert result.ok and any("not the one the session started with" in note for note in result.notes)
