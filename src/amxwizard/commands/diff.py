"""``amxwizard diff A B [--json]``: two records or sessions side by side, benchmarks with a noise-aware verdict.

Each side is a JSON record (checked with verify, and said so), a session folder, or a session id in ``--state-dir``
(its record is built now, as ``amxwizard report`` would).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError, runbook_path, state_dir

if TYPE_CHECKING:
    from ..report.diff import Side


def _side(spec: str, args: argparse.Namespace) -> Side:
    from ..engine.session import Session, SessionError, sessions_root
    from ..report import RecordError, build_record
    from ..report.diff import Side
    from ..report.jsonfmt import read_document
    from ..report.verify import verify_document
    from ..runbook import RunbookError, load_runbook

    path = Path(spec).expanduser()
    if path.is_file():
        try:
            doc = read_document(path)
        except RecordError as exc:
            raise CommandError(str(exc)) from None
        checked = verify_document(doc)
        verdict = "verified (chain and sections)" if checked.ok else f"NOT VERIFIED: {checked.problems[0]}"
        return Side(spec, doc, verdict)
    folder = path if (path / "events.db").is_file() else sessions_root(state_dir(args.state_dir)) / spec
    if not (folder / "events.db").is_file():
        raise CommandError(
            f"{spec}: not a JSON record, a session folder or a session id in {state_dir(args.state_dir)}"
        )
    copy = folder / "runbook.yaml"
    rb_path = copy if copy.is_file() else runbook_path(args.runbook)[0]
    try:
        runbook = load_runbook(rb_path)
    except RunbookError as exc:
        raise CommandError(f"{spec}: its runbook does not load: {exc.problems[0] if exc.problems else exc}") from None
    try:
        session = Session.peek(folder, runbook)
    except SessionError as exc:
        raise CommandError(f"{spec}: {exc}") from None
    try:
        record = build_record(session)
    except RecordError as exc:
        raise CommandError(f"{spec}: {exc}") from None
    finally:
        session.close()
    return Side(spec, record.to_document(), "a session: its record built now from the events")


def run(args: argparse.Namespace) -> int:
    from ..report.diff import compare_records, render_json, render_markdown

    if args.tolerance < 0:
        raise CommandError("--tolerance: a percentage of 0 or more", 2)
    diff = compare_records(_side(args.a, args), _side(args.b, args), tolerance_pct=args.tolerance)
    sys.stdout.write(render_json(diff) if args.json else render_markdown(diff))
    return 0
