"""``amxwizard rehearse [DIR] [--state-dir D] [--no-tui]``: build a stand-in sandbox and walk the runbook in it."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from ..runbook import bundled_runbook
from . import CommandError, load_or_exit


def continue_command(runbook_path: Path | None, state: Path, overrides: dict[str, str]) -> str:
    """The ``amxwizard`` command line that opens the wizard on the sandbox."""
    words = ["amxwizard", "tui"]
    if runbook_path is not None:
        words.append(str(runbook_path.absolute()))
    words += ["--state-dir", str(state)]
    for name, value in overrides.items():
        words += ["--var", f"{name}={value}"]
    return " ".join(shlex.quote(word) for word in words)


def run(args: argparse.Namespace) -> int:
    from ..rehearsal.sandbox import SandboxError, build_sandbox

    runbook = load_or_exit(None)
    if args.directory:
        root = Path(args.directory).expanduser().absolute()
    else:
        root = Path(tempfile.mkdtemp(prefix="amxwizard-rehearsal-"))
    state = Path(args.state_dir).expanduser().absolute() if args.state_dir else root / "state"
    try:
        sandbox = build_sandbox(root)
    except SandboxError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot build the sandbox in {root}: {exc.strerror or exc}") from None
    state.mkdir(parents=True, exist_ok=True)

    if not args.no_tui:
        from .tui import launch

        return launch(runbook, state, sandbox.overrides, new=True)

    is_bundled = runbook.path is not None and runbook.path.resolve() == bundled_runbook().resolve()
    print(f"Rehearsal sandbox built in {sandbox.root} (stand-ins only: nothing here is the real project)")
    print(f"  repo   {sandbox.repo}  (HEAD {sandbox.head[:8]})")
    print(f"  model  {sandbox.model}")
    print(f"  tools  {sandbox.tools}  (stand-in cmake and numactl)")
    print(f"  state  {state}")
    print(f"  runbook {runbook.display}")
    print("Variables:")
    width = max(len(name) for name in sandbox.overrides)
    for name, value in sandbox.overrides.items():
        print(f"  {name:<{width}} = {value}")
    print("Continue in it with:")
    print(f"  {continue_command(None if is_bundled else runbook.path, state, sandbox.overrides)}")
    return 0
