"""``amxwizard verify REPORT.json [--logs DIR]``: recompute the record's hash chain (and its logs' hashes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def run(args: argparse.Namespace) -> int:
    from ..report.build import RecordError
    from ..report.fmt import when
    from ..report.jsonfmt import read_document
    from ..report.verify import verify_document

    path = Path(args.report_file)
    logs = Path(args.logs) if args.logs else None
    if logs is not None and not logs.is_dir():
        raise CommandError(f"--logs {logs}: not a folder")
    try:
        doc = read_document(path)
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    result = verify_document(doc, logs_dir=logs)
    if not result.ok:
        print(f"not verified: {result.problems[0]}")
        for problem in result.problems[1:]:
            print(f"  also: {problem}")
        return 1
    print(f"verified: {result.events} events, {result.logs} logs")
    print(f"  last hash {result.last_hash}")
    if result.session_last_hash != result.last_hash:
        print(f"  session's last hash {result.session_last_hash}")
    for signoff in result.signoffs:
        print(
            f"  signed off by {signoff.reviewer} ({signoff.by}) at {when(signoff.ts)}"
            + (f": {signoff.note}" if signoff.note else "")
        )
    if not result.signoffs:
        print("  not signed off yet")
    for note in result.notes:
        print(f"  note: {note}")
    return 0
