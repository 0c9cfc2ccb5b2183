"""``amxwizard signoff REPORT.json --reviewer NAME [--note ...]``: append a reviewer's sign-off and rewrite the record.

The Markdown and HTML records beside it (same name, ``.md`` / ``.html``) are rewritten too when they exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def run(args: argparse.Namespace) -> int:
    from ..report import RecordError, write_record
    from ..report.jsonfmt import read_document
    from ..report.signoff import sign

    path = Path(args.report_file)
    try:
        record = sign(read_document(path), args.reviewer, args.note)
        write_record(record, "json", path)
        written = [path]
        for fmt in ("md", "html"):
            sibling = path.with_suffix(f".{fmt}")
            if sibling.is_file():
                written.append(write_record(record, fmt, sibling))
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    signoff = record.signoffs[-1]
    print(f"signed off by {signoff.reviewer}: event {signoff.seq}, last hash {record.last_hash}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
