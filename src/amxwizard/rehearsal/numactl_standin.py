"""A stand-in for ``numactl`` in the rehearsal sandbox: skips the placement options and runs the command.

``numactl -N 2,3 -m 2,3 ./build/bin/llama-cli ...`` becomes ``./build/bin/llama-cli ...``; the sandbox machine
need not have NUMA nodes 2 and 3 (or numactl at all).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Options that take a value (as the next word, or glued on: -N2,3 / --membind=2,3).
VALUE_OPTIONS = frozenset(
    {
        "-N",
        "--cpunodebind",
        "-m",
        "--membind",
        "-C",
        "--physcpubind",
        "-i",
        "--interleave",
        "-p",
        "--preferred",
        "-P",
        "--preferred-many",
        "-w",
        "--weighted-interleave",
    }
)
FLAG_OPTIONS = frozenset({"-l", "--localalloc", "-a", "--all", "-b", "--balancing", "--strict"})
USAGE = "usage: numactl [--cpunodebind=nodes | -N nodes] [--membind=nodes | -m nodes] ... command args ..."


def _is_one_word_option(arg: str) -> bool:
    """``--membind=2,3``, ``-N2,3`` or a flag such as ``-l``."""
    if arg in FLAG_OPTIONS:
        return True
    if arg.startswith("--"):
        return "=" in arg and arg.split("=", 1)[0] in VALUE_OPTIONS
    return len(arg) > 2 and arg[:2] in VALUE_OPTIONS


def split_command(argv: Sequence[str]) -> list[str] | str:
    """The command numactl would run, or an error message."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in VALUE_OPTIONS:
            if i + 1 >= len(argv):
                return f"numactl: option '{arg}' requires an argument"
            i += 2
        elif _is_one_word_option(arg):
            i += 1
        elif arg.startswith("-"):
            return f"numactl: unrecognized option '{arg}'\n{USAGE}"
        else:
            break
    command = list(argv[i:])
    return command if command else USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the stand-in ``numactl``: replaces this process with the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-H", "--hardware"):
        print("available: 1 nodes (0) -- amxwizard rehearsal stand-in; NUMA placement is not applied")
        return 0
    if args and args[0] in ("-s", "--show"):
        print("policy: default (amxwizard rehearsal stand-in)")
        return 0
    command = split_command(args)
    if isinstance(command, str):
        print(command, file=sys.stderr)
        return 1
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"numactl: execution of `{command[0]}': {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 0  # not reached: execvp does not return


if __name__ == "__main__":
    sys.exit(main())
