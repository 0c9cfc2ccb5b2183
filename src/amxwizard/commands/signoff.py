"""``amxwizard signoff REPORT.json --reviewer NAME [--note ...] [--sign-key KEY] [--self] [--md F] [--html F]``.

Appends a reviewer's sign-off to the JSON record and rewrites it; writes the Markdown or HTML record only where
asked (``--md``, ``--html``), and says which files it wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def run(args: argparse.Namespace) -> int:
    from ..report import RecordError, write_record
    from ..report.jsonfmt import read_document
    from ..report.signing import signing_key
    from ..report.signoff import sign

    path = Path(args.report_file)
    key = None if args.no_sign else signing_key(args.sign_key, Path.cwd())
    try:
        record = sign(read_document(path), args.reviewer, args.note, key=key, self_review=args.self)
        written = [write_record(record, "json", path)]
        if args.md:
            written.append(write_record(record, "md", Path(args.md)))
        if args.html:
            written.append(write_record(record, "html", Path(args.html)))
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    signoff = record.signoffs[-1]
    how = f"signed with {signoff.key}" if signoff.signed else "unsigned (no --sign-key)"
    print(
        f"signed off by {signoff.reviewer}: event {signoff.seq}, covering events 1–{signoff.covers_seq}, {how}"
        + ("; a self-review" if signoff.self_review else "")
    )
    print(f"last hash {record.last_hash}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
