"""``amxwizard report [--format md|html|json] [-o FILE]``: the reviewer's record of a session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError, find_session, state_dir

if TYPE_CHECKING:
    from ..engine.session import Session


def _session(args: argparse.Namespace) -> Session:
    from ..engine.session import Session, SessionError

    info, runbook = find_session(state_dir(args.state_dir), args.runbook, args.session)
    try:
        return Session.peek(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from ..report import RecordError, build_record, render, write_record

    session = _session(args)
    try:
        record = build_record(session)
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    finally:
        session.close()
    try:
        if args.output:
            path = write_record(record, args.format, Path(args.output))
            print(
                f"wrote {path}: session {record.session.id}, {record.status.label}, {len(record.events)} events, "
                f"last hash {record.last_hash[:12]}"
            )
        else:
            sys.stdout.write(render(record, args.format))
    except RecordError as exc:
        raise CommandError(str(exc)) from None
    return 0
