"""``amxwizard report [--format md|html|json] [-o FILE] [--sign-key KEY]``: the reviewer's record of a session.

The record is signed over its chain head with the engineer's SSH key (``--sign-key``, else git's
``user.signingkey`` when ``gpg.format=ssh``); without one it says *unsigned* at the top.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError, find_session, state_dir

if TYPE_CHECKING:
    from ..engine.session import Session


def _session(args: argparse.Namespace) -> Session:
    from ..engine.session import SessionError
    from ..engine.settle import open_settled

    info, runbook = find_session(state_dir(args.state_dir), args.runbook, args.session)
    try:
        # What happened while no wizard watched is recorded first (read-only when another wizard holds it).
        session, settled, _ = open_settled(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    if session.recovery is not None:
        print(f"amxwizard: {session.recovery}", file=sys.stderr)
    for item in settled:
        if item.status.value != "running":
            print(f"amxwizard: {item.describe()} (while no wizard watched)", file=sys.stderr)
    return session


def run(args: argparse.Namespace) -> int:
    from ..report import RecordError, build_record, render, write_record
    from ..report.signing import sign_record, signing_key
    from ..report.sshsig import SigningError

    session = _session(args)
    try:
        record = build_record(session)
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    finally:
        session.close()
    repo = record.repo.path
    key = None if args.no_sign else signing_key(args.sign_key, Path(repo).expanduser() if repo else None)
    if key is not None:
        try:
            record = sign_record(record, key)
        except SigningError as exc:
            raise CommandError(f"--sign-key: {exc} (or write it unsigned with --no-sign)") from None
    try:
        if args.output:
            path = write_record(record, args.format, Path(args.output))
            signed = f"signed with {record.signatures[-1].key}" if record.signatures else "unsigned"
            print(
                f"wrote {path}: session {record.session.id}, {record.status.label}, {len(record.events)} events, "
                f"last hash {record.last_hash[:12]}, {signed}"
            )
        else:
            sys.stdout.write(render(record, args.format))
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    return 0
