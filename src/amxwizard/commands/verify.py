"""``amxwizard verify REPORT.json [--logs DIR] [--allowed-signers FILE] [--repo PATH]``: check a record.

Prints ``verified: N events, M logs`` and what was proven (signatures and who made them, the commit anchor), then
what could not be checked (``not verified: ...``); or ``not verified: <the first problem>`` and exit 1.
"""

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
    allowed = Path(args.allowed_signers) if args.allowed_signers else None
    if allowed is not None and not allowed.is_file():
        raise CommandError(f"--allowed-signers {allowed}: no such file")
    repo = Path(args.repo).expanduser() if args.repo else None
    if repo is not None and not repo.is_dir():
        raise CommandError(f"--repo {repo}: not a folder")
    try:
        doc = read_document(path)
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    result = verify_document(doc, logs_dir=logs, allowed_signers=allowed, repo=repo)
    if not result.ok:
        print(f"not verified: {result.problems[0]}")
        for problem in result.problems[1:]:
            print(f"  also: {problem}")
        return 1
    print(f"verified: {result.events} events, {result.logs} logs")
    print(f"  record format {result.format_version}; chain head {result.last_hash}")
    if result.session_last_hash != result.last_hash:
        print(f"  session's last hash {result.session_last_hash}")
    for signature in result.signatures:
        print(f"  signed: {signature.describe()}")
    for signoff in result.signoffs:
        signer = f", signed by {signoff.principal or signoff.key}" if signoff.signed else ", unsigned"
        print(
            f"  signed off by {signoff.reviewer} ({signoff.by}) at {when(signoff.ts)}, covering events "
            f"1–{signoff.covers_seq}{signer}"
            + (" — a self-review (--self)" if signoff.self_review else "")
            + (f": {signoff.note}" if signoff.note else "")
        )
    if not result.signoffs:
        print("  not signed off yet")
    for anchor in result.anchors:
        print(f"  anchored: {anchor}")
    for item in result.not_verified:
        print(f"  not verified: {item}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0
