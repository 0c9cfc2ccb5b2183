"""All of preflight, in the order a person reads it: the repository, the build, the code, the tools, the flags."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...runbook.models import CleanTreeCheck, HeadCommitCheck, Runbook, WritableCheck
from ...runbook.templates import render_text
from ..fileio import expand_path
from .build import CudaMachine, build_checks, cuda_machine
from .checks import Check
from .commands import step_invocations
from .flags import HELP_TIMEOUT, ProbeBudget, flag_checks
from .functions import function_checks
from .model import model_check
from .numa import SYS_NODES, numa_checks
from .repo import clean_tree, head_commit, open_repo, writable
from .scheduler import CPUINFO, crash_checks
from .tools import tool_checks, tool_uses

if TYPE_CHECKING:
    from ...runbook import RunbookFile


def run_preflight(
    runbook_file: RunbookFile | Runbook,
    values: Mapping[str, str],
    *,
    help_timeout: float = HELP_TIMEOUT,
    machine: CudaMachine | None = None,
    cpuinfo: Path = CPUINFO,
    sys_nodes: Path = SYS_NODES,
) -> list[Check]:
    """Check the runbook's assumptions against this machine. ``values`` are resolved variable values
    (:func:`amxwizard.runbook.variables.resolve`). ``machine``, ``cpuinfo`` and ``sys_nodes`` stand in for this
    machine's CUDA, CPU and NUMA facts (tests)."""
    runbook = runbook_file if isinstance(runbook_file, Runbook) else runbook_file.model
    checks: list[Check] = []
    repo_path = expand_path(values["repo"]) if values.get("repo") else None
    workdir_text = render_text(runbook.workdir, values) if runbook.workdir else ""
    workdir = expand_path(workdir_text) if workdir_text else (repo_path or Path.cwd())
    root = repo_path or workdir

    repo = None
    if repo_path is not None:
        repo, repo_check = open_repo(repo_path)
        checks.append(repo_check)
    for item in runbook.checklist:
        check = item.check
        if isinstance(check, HeadCommitCheck | CleanTreeCheck) and repo is None:
            checks.append(Check(check.kind, "warn", "not checked: no git repository"))
        elif isinstance(check, HeadCommitCheck):
            checks.append(head_commit(repo, render_text(check.commit, values), render_text(check.subject, values)))
        elif isinstance(check, CleanTreeCheck):
            checks.append(clean_tree(repo, check.allow))
        elif isinstance(check, WritableCheck):
            checks.append(writable(render_text(check.path, values)))
    if repo is not None:
        repo.close()  # else its `git cat-file` processes live on until the garbage collector finds the Repo

    commands = step_invocations(runbook, values, workdir)
    build, folders = build_checks(runbook, values, commands, root, machine or cuda_machine())
    checks.extend(build)
    files, functions = function_checks(runbook, values, root)
    checks.extend(files)
    checks.extend(functions)
    checks.extend(crash_checks(root, folders, cpuinfo))
    checks.extend(commands.problems)
    uses = tool_uses(commands.invocations, workdir)
    checks.extend(tool_checks(uses, folders))
    if "model" in values:
        checks.append(model_check(values["model"]))
    budget = ProbeBudget()
    for use in uses:
        if use.built and use.path is not None and use.path.is_file():
            checks.extend(
                flag_checks(runbook, values, commands.step_variables, use.path, use.invocations, budget, help_timeout)
            )
    checks.extend(numa_checks(runbook, values, commands, sys_nodes))
    return checks
