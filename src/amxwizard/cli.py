"""Command line entry point. Heavy modules are imported inside each command, so ``--help`` and start-up stay fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__


def _add_runbook_arg(p: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        p.add_argument("runbook", nargs="?", help="runbook file (default: ./runbook.yaml, else the bundled one)")
    else:
        p.add_argument("--runbook", help="runbook file (default: ./runbook.yaml, else the bundled one)")


def _add_state_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir", help="where sessions live (default: $AMXWIZARD_STATE_DIR, else $XDG_STATE_HOME/amxwizard)"
    )


def _add_session_args(p: argparse.ArgumentParser) -> None:
    _add_state_dir_arg(p)
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="set a runbook variable")


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` in the command list, ``description`` at the top of its own ``--help``."""
    return sub.add_parser(name, help=summary, description=description, epilog=epilog)


def _add_notify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--notify",
        metavar="WHEN",
        help="notifications for this session: on (default), off, or a comma list of terminal,bell,tmux,command "
        "(else $AMXWIZARD_NOTIFY)",
    )
    p.add_argument(
        "--notify-command",
        metavar="CMD",
        help="a command run when a step ends or goes quiet, with the step, state, duration and summary in "
        "AMXWIZARD_* environment variables (never in its arguments); '' removes it (else $AMXWIZARD_NOTIFY_COMMAND)",
    )
    p.add_argument(
        "--notify-after",
        metavar="SECONDS",
        help="announce a step's end only when it ran at least this long (default 10; else $AMXWIZARD_NOTIFY_AFTER)",
    )


class _VersionAction(argparse.Action):
    """``--version``: amxwizard, Python, Textual and the runbook schema, read without importing the UI."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """What ``amxwizard --version`` prints: one line per component."""
    import platform
    from importlib import metadata
    from typing import get_args

    try:
        textual = metadata.version("textual")
    except metadata.PackageNotFoundError:
        textual = "not installed"
    from .runbook.models import Runbook

    schema = "/".join(str(v) for v in get_args(Runbook.model_fields["schema_version"].annotation))
    return (
        f"amxwizard {__version__}\n"
        f"Python {platform.python_version()} ({platform.python_implementation()})\n"
        f"Textual {textual}\n"
        f"runbook schema {schema}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amxwizard",
        description="Walk the AMX+GPU scheduler-fix runbook step by step, and keep a record a reviewer can trust.",
        epilog="With no command, opens the wizard (the same as 'amxwizard tui'). Exit codes: 0 done or passed, "
        "1 failed, 2 usage, 3 blocked (a step needs something: it is printed).",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _command(
        sub,
        "tui",
        "open the wizard (the default)",
        "Open the wizard on the session of this folder's repository (or the latest unfinished one for the "
        "runbook), or start one. Quitting prints how to come back when plain 'amxwizard' would not.",
    )
    _add_runbook_arg(p, positional=True)
    _add_session_args(p)
    p.add_argument("--session", metavar="ID", help="resume this session (see 'amxwizard sessions')")
    p.add_argument("--new", action="store_true", help="start a new session instead of resuming the latest")
    _add_notify_args(p)

    p = _command(
        sub,
        "validate",
        "check a runbook and print a summary",
        "Check a runbook: every problem as FILE:LINE:COL: path: message (exit 1), else a summary with every "
        "variable as --var would take it.",
    )
    _add_runbook_arg(p, positional=True)

    p = _command(
        sub,
        "preflight",
        "check the runbook's assumptions against this machine and repo",
        "Check the runbook's assumptions (commit, files, functions, build, flags, NUMA nodes, model) against this "
        "machine and repository; nothing is changed.",
    )
    _add_runbook_arg(p, positional=True)
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="set a runbook variable")

    p = _command(
        sub, "sessions", "list sessions", "Every session under the state folder, each with the command that resumes it."
    )
    _add_state_dir_arg(p)

    p = _command(
        sub,
        "setup",
        "set the variables, run preflight, and start (or resume) a session with --accept",
        "Show the variables as they resolve and the preflight checks; with --accept, start the session "
        "(or resume the latest for this runbook and target). Nothing runs before the setup is accepted.",
    )
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--accept", action="store_true", help="accept the setup: start or resume the session with it")
    p.add_argument("--force", action="store_true", help="accept even when a preflight check fails (recorded)")
    p.add_argument("--apply-fixes", action="store_true", help="take the variable values preflight suggests (recorded)")
    p.add_argument("--new", action="store_true", help="start a new session instead of resuming the latest")
    _add_notify_args(p)

    p = _command(
        sub,
        "step",
        "plan one step of the current session, show what it needs, and apply it (no TUI)",
        "Plan step ID of the current session and apply it once everything it needs is given. Each "
        "need has its own flag; all of them are listed on the first call.",
        epilog="exit codes: 0 passed (or skipped), 1 failed, 2 usage, 3 blocked (what is needed is printed)",
    )
    p.add_argument("step_id", metavar="ID", help="the step to run, e.g. 1.4 or test-1 (see 'amxwizard validate')")
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--session", metavar="ID", help="the session (default: the latest unfinished one)")
    p.add_argument("--answer", action="append", default=[], metavar="FIELD=VALUE", help="answer a fill-in field")
    p.add_argument(
        "--accept-suggestions", action="store_true", help="take the answers the evidence suggests for missing fields"
    )
    p.add_argument("--yes", action="store_true", help="confirm a destructive step, or the file changes it shows")
    p.add_argument(
        "--run-stale", action="store_true", help="run a binary older than the last source edit (the record says so)"
    )
    p.add_argument("--again", action="store_true", help="run a step that already passed once more")
    p.add_argument(
        "--allow-unproven", action="store_true", help="commit claims the evidence does not back (the record says so)"
    )
    p.add_argument("--plan", action="store_true", help="print what the step would run or change; change nothing")
    p.add_argument("--skip", metavar="REASON", help="mark the step skipped, with a reason")

    p = _command(
        sub,
        "status",
        "where the current session stands",
        "Where the session stands: steps with exit codes and summaries, answers, the checklist and the criteria. "
        "Read without taking the session's lock (a wizard may be running in it).",
    )
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--session", metavar="ID", help="the session (default: the latest unfinished one)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _command(
        sub,
        "rehearse",
        "walk the runbook in a throwaway sandbox: resume the latest unfinished rehearsal, or build one",
        "Open the wizard on the latest unfinished rehearsal (the same sandbox, at the same step), or build a new "
        "sandbox shaped like the target (a git repo, a stand-in model, stand-in cmake, numactl, llama-cli and "
        "llama-bench) when there is none or with --new.",
    )
    p.add_argument(
        "directory",
        nargs="?",
        help="the sandbox: an existing one is resumed, an empty or new folder gets a new one (default: the latest "
        "unfinished rehearsal, else a new temporary folder)",
    )
    p.add_argument("--new", action="store_true", help="build a fresh sandbox even if a rehearsal is unfinished")
    p.add_argument(
        "--state-dir",
        help="where the rehearsal's sessions live (default: $AMXWIZARD_STATE_DIR, else the sandbox's state/ folder)",
    )
    p.add_argument("--no-tui", action="store_true", help="build (or find) the sandbox, print how to open it, and exit")

    p = _command(
        sub,
        "restore",
        "put backed-up files back (shows the plan; --yes restores)",
        "Show what restoring the session's backup would change, file by file with the diff; with --yes, restore "
        "them (all or nothing). A file someone else changed since the backup is a conflict unless --force.",
        epilog="exit codes: 0 restored (or nothing to do), 1 failed or refused, 2 usage, 3 needs --yes",
    )
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--session", metavar="ID", help="the session (default: the latest unfinished one)")
    p.add_argument("--yes", action="store_true", help="restore the files as shown (without it nothing is written)")
    p.add_argument("--force", action="store_true", help="overwrite files that changed since the backup")

    p = _command(
        sub,
        "report",
        "write the reviewer's record of the session",
        "Write the reviewer's record of the session as Markdown, HTML or JSON, signed over its chain head.",
    )
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--format", choices=("md", "html", "json"), default="md", help="md (default), html or json")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument("--session", metavar="ID", help="the session to report (default: the latest for the runbook)")
    p.add_argument(
        "--sign-key",
        metavar="KEY",
        help="SSH key to sign the chain head with (default: git's user.signingkey when gpg.format=ssh)",
    )
    p.add_argument("--no-sign", action="store_true", help="write the record unsigned even if git names a signing key")

    p = _command(
        sub,
        "verify",
        "check a JSON record: format, hash chain, every derived section, signatures, commit anchor, logs",
        "Check a JSON record: its format, the hash chain, every section rebuilt from the events, signatures, the "
        "commit's Runbook-Chain trailer and the logs' sha256s. What it cannot check, it lists.",
    )
    p.add_argument("report_file", metavar="REPORT.json", help="the JSON record to check")
    p.add_argument("--logs", metavar="DIR", help="folder with the session's run logs (checks each log's sha256)")
    p.add_argument(
        "--allowed-signers",
        metavar="FILE",
        help="git's allowed-signers file: every event must be covered by a signature from a key it names",
    )
    p.add_argument(
        "--repo", metavar="PATH", help="the repository the session committed to: its Runbook-Chain trailer is checked"
    )

    p = _command(
        sub,
        "signoff",
        "append a reviewer's sign-off to a JSON record",
        "Append a reviewer's sign-off to a JSON record (rewritten in place), signed with an SSH key.",
    )
    p.add_argument("report_file", metavar="REPORT.json", help="the JSON record to sign off (rewritten in place)")
    p.add_argument("--reviewer", required=True, help="the reviewer's name, as the record will show it")
    p.add_argument("--note", default="", help="what the reviewer looked at, or any remark")
    p.add_argument(
        "--sign-key",
        metavar="KEY",
        help="SSH key to sign the sign-off with (default: git's user.signingkey when gpg.format=ssh)",
    )
    p.add_argument("--no-sign", action="store_true", help="sign off without a signature even if git names a key")
    p.add_argument("--self", action="store_true", help="the reviewer is the operator (the record shows a self-review)")
    p.add_argument("--md", metavar="FILE", help="also write the signed-off record as Markdown to FILE")
    p.add_argument("--html", metavar="FILE", help="also write the signed-off record as HTML to FILE")

    p = _command(
        sub,
        "check",
        "tick (or untick) a pre-implementation checklist item, running its check",
        "Tick a pre-implementation checklist item: its check runs first; one that does not pass needs --note.",
    )
    p.add_argument("item", metavar="ITEM", help="the checklist item's id (pre-1, pre-2, ...)")
    _add_runbook_arg(p)
    _add_session_args(p)
    p.add_argument("--note", default="", help="why it is confirmed (required when its check does not pass)")
    p.add_argument("--untick", action="store_true", help="take the tick back")

    p = _command(
        sub,
        "diff",
        "compare two records or sessions: variables, fingerprints, verdicts, benchmarks",
        "Compare two records or sessions: variables, fingerprints, verdicts, and benchmarks with a noise-aware "
        "verdict.",
    )
    p.add_argument("a", metavar="A", help="a JSON record, a session folder, or a session id (with --state-dir)")
    p.add_argument("b", metavar="B", help="the other one (the 'after' side: its benchmarks are compared against A's)")
    _add_runbook_arg(p)
    _add_state_dir_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output instead of Markdown")
    p.add_argument(
        "--tolerance", type=float, default=5.0, metavar="PCT", help="difference that matters, in percent (default 5)"
    )

    p = sub.add_parser(
        "notify",
        help="show or set the session's notifications, or send a test one",
        description="Notifications when a step ends or goes quiet: the terminal's own notification (OSC 9 or "
        "OSC 777, through tmux's passthrough), the bell, tmux's status line, and a command of your own.",
    )
    p.add_argument("when", nargs="?", metavar="WHEN", help="on, off, or a comma list of terminal,bell,tmux,command")
    p.add_argument("--command", dest="notify_command", metavar="CMD", help="the command to run ('' removes it)")
    p.add_argument("--after", dest="notify_after", metavar="SECONDS", help="announce ends of steps this long or more")
    p.add_argument("--test", action="store_true", help="send a test notification through every channel now")
    _add_runbook_arg(p)
    p.add_argument("--state-dir", help="where sessions live")
    p.add_argument("--session", metavar="ID", help="the session (default: the latest unfinished one)")

    p = _command(
        sub,
        "schema",
        "print the runbook format as a JSON Schema (for editors)",
        "Print the runbook format as a JSON Schema, for an editor's completion and checks of runbook.yaml.",
    )

    p = _command(
        sub,
        "completion",
        "print a shell completion script (bash, zsh or fish)",
        "Print a completion script for the shell: subcommands, options, step ids, variables and sessions.",
    )
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")

    # Hidden: what the completion scripts ask for step ids and names, and the runs' end-of-run hook.
    p = sub.add_parser("_complete", description="Words for shell completion, one a line (used by the scripts).")
    p.add_argument(
        "what", choices=("steps", "variables", "fields", "checklist", "sessions"), help="which words to list"
    )
    p.add_argument("--runbook", help="the runbook whose words are listed (default: as the other commands find it)")
    p.add_argument("--state-dir", help="where sessions live (for 'sessions')")
    p = sub.add_parser("_run-ended", description="Called by a run's wrapper when its command ends (notifications).")
    p.add_argument("run_dir", help="the run's folder")
    p.add_argument("status", help="the run's exit status")
    return parser


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    import importlib

    module = importlib.import_module(f"amxwizard.commands.{name.lstrip('_').replace('-', '_')}")
    return module.run  # type: ignore[no-any-return]


def commands(parser: argparse.ArgumentParser) -> list[str]:
    """The subcommand names the parser knows."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = commands(parser)
    first = args_list[0] if args_list else ""
    # `amxwizard [RUNBOOK] [options]` (no command) opens the TUI; a word that is neither a command nor a runbook
    # file is a mistyped command, not a runbook path.
    if not args_list or (first.startswith("-") and first not in {"-h", "--help", "--version"}):
        args_list.insert(0, "tui")
    elif first not in known and first not in {"-h", "--help", "--version"}:
        from pathlib import Path

        if first.endswith((".yaml", ".yml")) or Path(first).is_file():
            args_list.insert(0, "tui")
        else:
            print(f"amxwizard: unknown command {first!r} (commands: {', '.join(known)})", file=sys.stderr)
            return 2
    args = parser.parse_args(args_list)
    from .commands import CommandError

    try:
        return _handler(args.command)(args)
    except CommandError as exc:
        print(f"amxwizard: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("amxwizard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (`| head`): not an error to show
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141


if __name__ == "__main__":
    sys.exit(main())
