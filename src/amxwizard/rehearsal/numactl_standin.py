"""A stand-in for ``numactl`` in the rehearsal sandbox: checks the nodes, skips the placement, runs the command.

``numactl -N 2,3 -m 2,3 ./build/bin/llama-cli ...`` becomes ``./build/bin/llama-cli ...`` on a simulated machine
whose NUMA nodes are ``$AMXWIZARD_STANDIN_NUMA_NODES`` (default ``0-3``, like the runbook author's machine, so the
runbook's nodes 2 and 3 exist). A node the simulated machine does not have fails the way numactl 2.x with libnuma
fails, in the same words and order (stdout is buffered into a pipe, so ``<..> is invalid`` comes last there)::

    libnuma: Warning: node argument 7 is out of range
    usage: numactl [--all | -a] [--balancing | -b] ...
    <7> is invalid

and exit status 1. Nothing is placed on any node: this machine need not have them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

NODES_ENV = "AMXWIZARD_STANDIN_NUMA_NODES"
DEFAULT_NODES = "0-3"

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
# The options whose value is a list of nodes (the rest take CPUs).
NODE_OPTIONS = frozenset(VALUE_OPTIONS - {"-C", "--physcpubind"})
FLAG_OPTIONS = frozenset({"-l", "--localalloc", "-a", "--all", "-b", "--balancing", "--strict"})
USAGE = (
    "usage: numactl [--all | -a] [--balancing | -b]\n"
    "               [--interleave= | -i <nodes>] [--weighted-interleave= | -w <nodes>]\n"
    "               [--preferred= | -p <node>] [--preferred-many= | -P <nodes>]\n"
    "               [--physcpubind= | -C <cpus>] [--cpunodebind= | -N <nodes>]\n"
    "               [--membind= | -m <nodes>] [--localalloc | -l] command args ...\n"
    "       numactl [--show | -s]\n"
    "       numactl [--hardware | -H]\n"
    "\n"
    "<nodes> is a comma delimited list of node numbers or A-B ranges or all.\n"
)


def parse_nodes(text: str) -> list[int] | None:
    """``0-3,6`` -> ``[0, 1, 2, 3, 6]``; ``None`` when it is not a node list."""
    nodes: list[int] = []
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            return None
        nodes += list(range(int(first), int(last if sep else first) + 1))
    return nodes


def machine_nodes() -> list[int]:
    """The NUMA nodes of the simulated machine."""
    return parse_nodes(os.environ.get(NODES_ENV, "") or DEFAULT_NODES) or [0]


def check_nodes(value: str, available: list[int]) -> str | None:
    """libnuma's warning for a node list this machine cannot have, or ``None`` when every node exists."""
    text = value.lstrip("!+")
    if text == "all":
        return None
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            return f"unparseable node description `{part}'"
        for node in range(int(first), int(last if sep else first) + 1):
            if node not in available:
                return f"node argument {node} is out of range"
    return None


def _is_one_word_option(arg: str) -> bool:
    """``--membind=2,3``, ``-N2,3`` or a flag such as ``-l``."""
    if arg in FLAG_OPTIONS:
        return True
    if arg.startswith("--"):
        return "=" in arg and arg.split("=", 1)[0] in VALUE_OPTIONS
    return len(arg) > 2 and arg[:2] in VALUE_OPTIONS


def split_command(argv: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]] | str:
    """``([(option, value)], command)`` numactl would apply and run, or an error message."""
    options: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in VALUE_OPTIONS:
            if i + 1 >= len(argv):
                return f"numactl: option '{arg}' requires an argument\n{USAGE}"
            options.append((arg, argv[i + 1]))
            i += 2
        elif _is_one_word_option(arg):
            if arg not in FLAG_OPTIONS:
                name, value = arg.split("=", 1) if arg.startswith("--") else (arg[:2], arg[2:])
                options.append((name, value))
            i += 1
        elif arg.startswith("-"):
            return f"numactl: unrecognized option '{arg}'\n{USAGE}"
        else:
            break
    command = list(argv[i:])
    return (options, command) if command else USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the stand-in ``numactl``: replaces this process with the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    nodes = machine_nodes()
    if args and args[0] in ("-H", "--hardware"):
        listed = ",".join(str(n) for n in nodes)
        print(
            f"available: {len(nodes)} nodes ({listed}) -- amxwizard rehearsal stand-in; NUMA placement is not applied"
        )
        return 0
    if args and args[0] in ("-s", "--show"):
        print("policy: default (amxwizard rehearsal stand-in)")
        return 0
    parsed = split_command(args)
    if isinstance(parsed, str):
        sys.stderr.write(parsed if parsed.endswith("\n") else parsed + "\n")
        return 1
    options, command = parsed
    for option, value in options:
        if option not in NODE_OPTIONS:
            continue
        warning = check_nodes(value, nodes)
        if warning is not None:
            sys.stderr.write(f"libnuma: Warning: {warning}\n")
            sys.stderr.flush()
            # numactl prints this with printf to stdout: line-buffered on a terminal, but buffered on a pipe until
            # exit, so a log written through a pipe has it after the usage (which goes to stderr at once).
            invalid = f"<{value}> is invalid\n"
            if sys.stdout.isatty():
                sys.stdout.write(invalid)
                sys.stdout.flush()
                invalid = ""
            sys.stderr.write(USAGE)
            sys.stderr.flush()
            sys.stdout.write(invalid)
            sys.stdout.flush()
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
