"""The repository and the pre-implementation checklist: HEAD, a clean tree, a writable backup folder."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...runbook.models import ChecklistItem, CleanTreeCheck, HeadCommitCheck, WritableCheck
from ...runbook.templates import render_text
from ..fileio import expand_path
from .checks import Check

if TYPE_CHECKING:
    import git


def open_repo(path: Path) -> tuple[git.Repo | None, Check]:
    """The repository at ``path`` (closed by the caller), and the check saying what it is."""
    from ..gitops import GitOpsError
    from ..gitops import open_repo as open_git_repo

    if not path.exists():
        return None, Check("repo", "fail", f"{path} does not exist (set --var repo=...)")
    if not path.is_dir():
        return None, Check("repo", "fail", f"{path} is not a folder")
    try:
        repo = open_git_repo(path)
    except GitOpsError as exc:
        return None, Check("repo", "fail", str(exc))
    try:
        where = f"on branch {repo.active_branch.name}"
    except TypeError:
        where = "with a detached HEAD"
    return repo, Check("repo", "ok", f"{path}: git repository {where}")


def head_commit(repo: object, expected: str, subject: str) -> Check:
    """HEAD against the commit the checklist expects."""
    import git

    assert isinstance(repo, git.Repo)
    want = expected.strip().lower()
    try:
        head = repo.head.commit
    except ValueError:
        return Check("head_commit", "fail", "the repository has no commits yet")
    head_text = f"HEAD {head.hexsha[:8]} {head.summary!r}"
    if not want:
        return Check("head_commit", "ok", f"{head_text} (no expected commit set)")
    expected_text = f"{want}" + (f" {subject!r}" if subject else "")
    if head.hexsha.startswith(want):
        if subject and str(head.summary).strip() != subject.strip():
            return Check(
                "head_commit", "warn", f"{head_text} is the expected commit, but the checklist names it {subject!r}"
            )
        return Check("head_commit", "ok", f"{head_text}, as the checklist expects")
    try:
        # rev-parse, because repo.commit() takes any 40-hex string on trust and is_ancestor then fails on it.
        found = repo.commit(repo.git.rev_parse("--verify", "--quiet", f"{want}^{{commit}}"))
    except (git.BadName, ValueError, git.GitCommandError):
        found = None
    if found is None:
        same_subject = (
            " (HEAD has the expected subject: rebased or cherry-picked?)"
            if subject and str(head.summary).strip() == subject.strip()
            else ""
        )
        return Check(
            "head_commit",
            "warn",
            f"{head_text}; the expected {expected_text} is not anywhere in this repository's history{same_subject}",
        )
    if repo.is_ancestor(found, head):
        count = int(repo.git.rev_list("--count", f"{found.hexsha}..{head.hexsha}"))
        return Check(
            "head_commit",
            "warn",
            f"{head_text} is {count} commit{'s' if count != 1 else ''} after the "
            f"expected {found.hexsha[:8]} {found.summary!r}",
        )
    return Check(
        "head_commit",
        "warn",
        f"{head_text}; the expected {found.hexsha[:8]} {found.summary!r} is in the "
        "repository but not in HEAD's history",
    )


def clean_tree(repo: object, allow: list[str]) -> Check:
    """Uncommitted changes outside the ``allow`` patterns."""
    import git

    assert isinstance(repo, git.Repo)
    from ..gitops import porcelain_entries

    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=normal")
    changed: list[str] = []
    untracked: list[str] = []
    allowed: list[str] = []
    for code, path in porcelain_entries(out):
        if any(fnmatch.fnmatch(path, pattern) for pattern in allow):
            allowed.append(path)
        elif code == "??":
            untracked.append(path)
        else:
            changed.append(path)

    def listing(paths: list[str]) -> str:
        shown = ", ".join(paths[:5])
        return shown + (f" (+{len(paths) - 5} more)" if len(paths) > 5 else "")

    also = f"; allowed changes: {listing(allowed)}" if allowed else ""
    if changed:
        return Check(
            "clean_tree",
            "fail",
            f"uncommitted changes outside {', '.join(allow) or 'nothing'}: {listing(changed)}{also}",
        )
    if untracked:
        return Check("clean_tree", "warn", f"untracked files: {listing(untracked)}{also}")
    return Check("clean_tree", "ok", f"clean{' except ' + listing(allowed) if allowed else ''}")


def writable(path_text: str) -> Check:
    """The backup folder exists and is writable, or can be made."""
    if re.search(r"<session_(dir|id)>", path_text):
        return Check("writable", "ok", f"{path_text}: kept inside the session folder, made when the session starts")
    path = expand_path(path_text)
    if path.exists():
        if path.is_dir() and os.access(path, os.W_OK | os.X_OK):
            return Check("writable", "ok", f"{path} exists and is writable")
        return Check("writable", "fail", f"{path} exists but is not a writable folder")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK):
        return Check("writable", "ok", f"{path} can be created (under {ancestor})")
    return Check("writable", "fail", f"{path} cannot be created: {ancestor} is not writable")


def check_checklist_item(item: ChecklistItem, values: Mapping[str, str]) -> Check:
    """The automatic check behind one pre-implementation checklist item, against this machine now."""
    check = item.check
    if isinstance(check, WritableCheck):
        return writable(render_text(check.path, values))
    if not isinstance(check, HeadCommitCheck | CleanTreeCheck):
        return Check(item.id, "ok", "confirmed by a person")
    repo, repo_check = open_repo(expand_path(values.get("repo", ".")))
    if repo is None:
        return repo_check
    try:
        if isinstance(check, HeadCommitCheck):
            return head_commit(repo, render_text(check.commit, values), render_text(check.subject, values))
        return clean_tree(repo, check.allow)
    finally:
        repo.close()
