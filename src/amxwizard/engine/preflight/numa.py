"""The NUMA nodes the runbook's commands bind to (``numactl -N 2,3 -m 2,3``): do they exist on this machine?

The machine's nodes come from ``numactl --hardware`` (the numactl the commands run), else from
``/sys/devices/system/node``. A node list numactl would refuse makes every pinned run fail before the program
starts, so it is named here, with the value that fixes it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...runbook.models import Runbook
from ...runbook.templates import TemplateError, render_text, split_args
from ..procs import run_probe
from .checks import Check, Status, fixes_text, steps_text
from .commands import WRAPPER_OPTIONS, Invocation, StepCommands

SYS_NODES = Path("/sys/devices/system/node")
NUMACTL_TIMEOUT = 10.0
_NODE_OPTIONS = {"-N", "--cpunodebind", "-m", "--membind", "-i", "--interleave", "-p", "--preferred", "-P",
                 "--preferred-many", "-w", "--weighted-interleave"}  # fmt: skip
_CPU_OPTIONS = {"-N", "--cpunodebind"}
_LIST_RE = re.compile(r"^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$")


def parse_nodes(text: str) -> set[int] | None:
    """``"2,3"`` / ``"0-3"`` -> the node numbers; ``None`` for what is not a plain list (``all``, ``+1``, ``!0``)."""
    if not _LIST_RE.match(text):
        return None
    nodes: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        nodes.update(range(int(first), int(last or first) + 1))
    return nodes


def nodes_text(nodes: set[int] | frozenset[int] | Sequence[int]) -> str:
    return ", ".join(str(n) for n in sorted(nodes))


@dataclass(slots=True)
class NamedList:
    """One node list as a command names it, and where."""

    text: str
    nodes: set[int] | None
    needs_cpus: bool
    steps: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


def named_lists(commands: StepCommands) -> tuple[list[NamedList], Path | str | None]:
    """Every node list given to numactl, and the numactl the commands run (a path, a name, or ``None``)."""
    lists: dict[str, NamedList] = {}
    program: Path | str | None = None
    takes = WRAPPER_OPTIONS["numactl"]
    for inv in commands.invocations:
        if inv.program.expanded or os.path.basename(inv.program.text) != "numactl":
            continue
        word = inv.program.text
        program = program or (Path(os.path.normpath(inv.cwd / os.path.expanduser(word))) if "/" in word else word)
        args = inv.args
        i = 0
        while i < len(args):
            text = args[i].text
            option, value = text, None
            if text.startswith("--") and "=" in text:
                option, _, value = text.partition("=")
            elif len(text) > 2 and text[:2] in _NODE_OPTIONS and not text.startswith("--"):
                option, value = text[:2], text[2:]
            elif text in takes and i + 1 < len(args):
                value = args[i + 1].text if not args[i + 1].expanded else None
                i += 1
            elif not text.startswith("-"):
                break  # the program numactl runs
            i += 1
            if option in _NODE_OPTIONS and value is not None:
                entry = lists.setdefault(value, NamedList(value, parse_nodes(value), False))
                entry.needs_cpus |= option in _CPU_OPTIONS
                entry.steps.append(inv.step)
                entry.invocations.append(inv)
    return list(lists.values()), program


@dataclass(frozen=True, slots=True)
class MachineNodes:
    """The NUMA nodes of this machine, which of them have CPUs, and where that was read."""

    nodes: frozenset[int]
    with_cpus: frozenset[int]
    source: str
    note: str = ""


def _from_numactl(numactl: str) -> MachineNodes | None:
    try:
        probe = run_probe([numactl, "--hardware"], NUMACTL_TIMEOUT, merge_stderr=True)
    except OSError:
        return None
    if probe.returncode != 0:
        return None
    nodes: set[int] = set()
    with_cpus: set[int] = set()
    for line in probe.stdout.splitlines():
        m = re.match(r"^node (\d+) cpus:(.*)$", line.strip())
        if m:
            nodes.add(int(m.group(1)))
            if m.group(2).strip():
                with_cpus.add(int(m.group(1)))
    first = next((line.strip() for line in probe.stdout.splitlines() if line.strip()), "")
    if not nodes:
        m = re.match(r"^available: \d+ nodes? \(([\d,\-]+)\)", first)
        parsed = parse_nodes(m.group(1)) if m else None
        if not parsed:
            return None
        nodes = with_cpus = parsed
    summary = first.split(" -- ")[0] if first.startswith("available:") else f"{len(nodes)} nodes"
    note = first.split(" -- ", 1)[1] if " -- " in first else ""
    return MachineNodes(frozenset(nodes), frozenset(with_cpus), f"numactl --hardware: {summary}", note)


def _from_sys(root: Path) -> MachineNodes | None:
    try:
        entries = sorted(p for p in root.iterdir() if re.fullmatch(r"node\d+", p.name))
    except OSError:
        return None
    if not entries:
        return None
    nodes = {int(p.name[4:]) for p in entries}
    with_cpus = set()
    for p in entries:
        try:
            if (p / "cpulist").read_text().strip():
                with_cpus.add(int(p.name[4:]))
        except OSError:
            with_cpus.add(int(p.name[4:]))
    return MachineNodes(
        frozenset(nodes), frozenset(with_cpus), f"{root}: {len(nodes)} node{'s' if len(nodes) != 1 else ''}"
    )


def machine_nodes(numactl: Path | str | None, sys_nodes: Path = SYS_NODES) -> MachineNodes | None:
    """This machine's nodes: from the numactl the commands run, else from ``sys_nodes``."""
    exe = str(numactl) if isinstance(numactl, Path) else shutil.which(numactl) if numactl else None
    found = _from_numactl(exe) if exe and os.access(exe, os.X_OK) else None
    return found or _from_sys(sys_nodes)


def _fix(
    runbook: Runbook, values: Mapping[str, str], named: NamedList, wanted: str, steps: Mapping[str, frozenset[str]]
) -> dict[str, str]:
    """The variable value that puts ``wanted`` where ``named.text`` stands in the commands."""
    used = set().union(*(steps.get(s, frozenset()) for s in named.steps))
    for name in sorted(runbook.args_variables & used):
        try:
            words = split_args(values.get(name, ""))
        except TemplateError:
            continue
        if all(_with_list(w, named.text, "\0") == w for w in words):
            continue
        # a text variable the args variable's default is made from (numa_nodes in "numactl -N {{numa_nodes}}")
        default = runbook.variables[name].default_text
        for text_name, var in runbook.variables.items():
            if var.type != "text" or values.get(text_name) != named.text or "{{" not in default:
                continue
            try:
                from_default = render_text(default, values)
            except TemplateError:
                continue
            if re.search(r"\{\{\s*" + re.escape(text_name) + r"\s*\}\}", default) and from_default == values[name]:
                return {text_name: wanted}
        return {name: shlex.join([_with_list(w, named.text, wanted) for w in words])}
    return {}


def _with_list(word: str, old: str, new: str) -> str:
    """``word`` with the node list ``old`` replaced by ``new``: alone, or glued (``--membind=3``, ``-N3``)."""
    if word == old:
        return new
    if word.startswith("--") and word.partition("=")[2] == old and word.partition("=")[0] in _NODE_OPTIONS:
        return f"{word.partition('=')[0]}={new}"
    if not word.startswith("--") and word[:2] in _NODE_OPTIONS and word[2:] == old:
        return word[:2] + new
    return word


def numa_checks(
    runbook: Runbook, values: Mapping[str, str], commands: StepCommands, sys_nodes: Path = SYS_NODES
) -> list[Check]:
    """One check per node list the commands give numactl: which of its nodes exist here."""
    lists, numactl = named_lists(commands)
    if not lists:
        return []
    machine = machine_nodes(numactl, sys_nodes)
    checks: list[Check] = []
    for named in lists:
        name = f"numa nodes {named.text}"
        where = steps_text(named.steps)
        if named.nodes is None:
            checks.append(Check(name, "ok", f"not a plain node list ({where}); numactl reads it itself"))
            continue
        if machine is None:
            checks.append(
                Check(
                    name,
                    "warn",
                    f"not checked: neither numactl --hardware nor {sys_nodes} says which nodes exist ({where})",
                )
            )
            continue
        have = machine.nodes
        missing = named.nodes - have
        cpu_less = (named.nodes & have) - machine.with_cpus if named.needs_cpus else set()
        exist = named.nodes & have
        said = f"this machine has node{'s' if len(have) != 1 else ''} {nodes_text(have)} ({machine.source})"
        if not missing and not cpu_less:
            checks.append(
                Check(name, "ok", f"node{'s' if len(exist) != 1 else ''} {nodes_text(exist)} exist ({said}; {where})")
            )
            continue
        keep = sorted(exist - cpu_less) or sorted(machine.with_cpus or have)
        wanted = ",".join(str(n) for n in keep)
        fixes = _fix(runbook, values, named, wanted, commands.step_variables)
        parts = []
        if missing:
            one = len(missing) == 1
            parts.append(f"node{'' if one else 's'} {nodes_text(missing)} do{'es' if one else ''} not exist")
        if exist:
            parts.append(f"{nodes_text(exist)} do{'es' if len(exist) == 1 else ''}")
        if cpu_less:
            parts.append(f"{nodes_text(cpu_less)} ha{'s' if len(cpu_less) == 1 else 've'} no CPUs to run on (-N)")
        advice = f"; set {fixes_text(fixes)}" if fixes else ""
        stand_in = "stand-in" in machine.note
        status: Status = "warn" if stand_in else "fail"
        consequence = (
            f"the numactl here is a rehearsal stand-in that applies no placement ({machine.note}), "
            f"so {where} run anyway"
            if stand_in
            else f"numactl refuses the commands of {where} before their program starts"
        )
        checks.append(Check(name, status, f"{'; '.join(parts)}: {said}; {consequence}{advice}", fixes=fixes))
    return checks
