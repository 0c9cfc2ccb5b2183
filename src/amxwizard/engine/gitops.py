"""Step 5.3: the commit, made once, the way a person would make it.

``plan_commit`` lists the files to stage (the runbook's, the ones it names "if modified" that are, and any the
person adds), the diff, and every reason not to commit yet (not a repository, detached HEAD, a merge/rebase/
cherry-pick/revert/bisect in progress, a file that is missing or ignored, nothing to commit).

``make_commit`` runs ``git add`` and ``git commit`` through GitPython's ``repo.git`` so hooks and signing run as for
a person. The commit carries two trailers: ``Runbook-Session: <id>`` (how a resumed wizard finds a commit it made
just before it died, so it never makes a second one) and ``Runbook-Chain: <last event hash>`` (so the event log and
the commit vouch for each other).

Only the plan's files go into the commit (``git commit -- <files>``); anything else the person had staged stays
staged and out of it. If ``git add`` or ``git commit`` fails (a hook refuses, signing fails), the index is put back
byte for byte as it was before staging, so a failed attempt leaves the repository exactly as the person had it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..runbook.models import CommitStep
from ..runbook.templates import TemplateError, render_text
from . import events as ev
from .fileio import atomic_write

if TYPE_CHECKING:
    from .session import Session

SESSION_TRAILER = "Runbook-Session"
CHAIN_TRAILER = "Runbook-Chain"
MESSAGE_FILE = "commit-message.txt"


class GitOpsError(Exception):
    """The commit cannot be made. ``str()`` is for the person; ``output`` holds what git (or a hook) printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True, slots=True)
class GitResult:
    """One git command's exit status and output (stdout as bytes, untouched)."""

    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def run_git(repo: Any, *args: str) -> GitResult:
    """Run ``git <args>`` in ``repo`` (a ``git.Repo``) without raising on a non-zero exit."""
    status, out, err = repo.git.execute(
        ["git", *args],
        with_extended_output=True,
        with_exceptions=False,
        stdout_as_string=False,
        strip_newline_in_stdout=False,
    )
    return GitResult(int(status or 0), bytes(out or b""), str(err or ""))


def open_repo(path: str | Path) -> Any:
    """A ``git.Repo`` for ``path``, or :class:`GitOpsError` naming the folder and what is wrong with it."""
    import git

    try:
        repo = git.Repo(path)
    except git.NoSuchPathError:
        raise GitOpsError(f"{path} does not exist (check the 'repo' variable)") from None
    except git.InvalidGitRepositoryError:
        try:
            top = git.Repo(path, search_parent_directories=True).working_tree_dir
        except git.InvalidGitRepositoryError:
            raise GitOpsError(f"{path} is not a git repository (check the 'repo' variable)") from None
        raise GitOpsError(f"{path} is inside the git repository {top}, not its top folder") from None
    if repo.bare or repo.working_tree_dir is None:
        raise GitOpsError(f"{path} is a bare repository; the runbook needs a checkout")
    refusal = git_refusal(repo)
    if refusal:
        raise GitOpsError(f"git refuses to work in {path}: {refusal}")
    return repo


def git_refusal(repo: Any) -> str | None:
    """What git says when it will not work in ``repo`` at all (owned by another user: "dubious ownership"), else
    ``None``. GitPython opens such a repository happily; every git command in it then fails."""
    result = run_git(repo, "rev-parse", "--git-dir")
    if result.status == 0:
        return None
    return " ".join(result.stderr.split()) or f"git rev-parse failed (exit {result.status})"


# --- the plan -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitPlan:
    """What committing would do: ``files`` (relative to the repository), their ``diff`` against HEAD, the
    ``problems`` that stop the commit (each one line), and ``notes`` worth showing that do not stop it.

    ``existing`` is the sha of this session's commit when it is already in HEAD's history (found by its trailer):
    committing then records that commit instead of making another, so nothing stops it.
    """

    repo: Path
    files: tuple[str, ...]
    diff: str
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    existing: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    """The session's commit; ``created`` is False when an earlier attempt's commit was found by its trailer."""

    sha: str
    created: bool
    subject: str


def state_problems(repo: Any) -> list[str]:
    """Why the repository is in no state for a new commit: detached HEAD, or an operation half done."""
    where = repo.working_tree_dir
    git_dir = Path(repo.git_dir)
    problems: list[str] = []
    in_progress = [
        ("MERGE_HEAD", "a merge is in progress", "finish it (git commit) or abort it (git merge --abort)"),
        (
            "rebase-merge",
            "a rebase is in progress",
            "finish it (git rebase --continue) or abort it (git rebase --abort)",
        ),
        (
            "rebase-apply",
            "a rebase or git am is in progress",
            "finish or abort it (git rebase --abort / git am --abort)",
        ),
        (
            "CHERRY_PICK_HEAD",
            "a cherry-pick is in progress",
            "finish it (git cherry-pick --continue) or abort it (git cherry-pick --abort)",
        ),
        (
            "REVERT_HEAD",
            "a revert is in progress",
            "finish it (git revert --continue) or abort it (git revert --abort)",
        ),
        ("BISECT_LOG", "a bisect is in progress", "end it first (git bisect reset)"),
    ]
    for marker, what, fix in in_progress:
        if (git_dir / marker).exists():
            problems.append(f"{what} in {where}: {fix}, then commit")
    if not problems and repo.head.is_detached:
        sha = repo.head.commit.hexsha[:12]
        problems.append(
            f"HEAD is detached at {sha} in {where}: switch to a branch first (git switch <branch>) "
            "so the commit is not lost"
        )
    return problems


def _relative(repo: Any, path: str) -> str | None:
    """``path`` (relative to the repository, or absolute inside it) as a repository-relative posix path."""
    root = Path(repo.working_tree_dir).resolve()
    candidate = Path(path)
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return None


def changed_files(repo: Any, files: Iterable[str]) -> set[str]:
    """Which of ``files`` differ from HEAD (staged, unstaged or untracked-not-ignored)."""
    files = list(files)
    if not files:
        return set()
    result = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *files)
    return {path for _, path in porcelain_entries(result.stdout.decode("utf-8", "surrogateescape"))}


def porcelain_entries(text: str) -> list[tuple[str, str]]:
    """``(XY code, path)`` of each entry of ``git status --porcelain=v1 -z`` output (renames by their new path)."""
    tokens = text.split("\0")
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        entry = tokens[i]
        i += 1
        if len(entry) < 4:
            continue
        out.append((entry[:2], entry[3:]))
        if set(entry[:2]) & set("RC"):
            i += 1  # the rename's or copy's source path follows (staged, or in the work tree)
    return out


def _tracked(repo: Any, path: str) -> bool:
    return run_git(repo, "ls-files", "--error-unmatch", "--", path).status == 0


def _ignored(repo: Any, path: str) -> bool:
    return run_git(repo, "check-ignore", "-q", "--", path).status == 0


def _head_valid(repo: Any) -> bool:
    return bool(repo.head.is_valid())


def commit_diff(repo: Any, files: Iterable[str]) -> str:
    """The diff a commit of ``files`` would make: tracked changes against HEAD, new files against nothing."""
    files = list(files)
    if not files:
        return ""
    changed = changed_files(repo, files)
    head = _head_valid(repo)
    tracked = [f for f in files if f in changed and head and _tracked_in_head(repo, f)]
    new = [f for f in files if f in changed and f not in tracked]
    parts: list[str] = []
    if tracked:
        parts.append(run_git(repo, "diff", "--no-color", "--no-ext-diff", "HEAD", "--", *tracked).text)
    for path in new:
        if (Path(repo.working_tree_dir) / path).exists():
            parts.append(
                run_git(repo, "diff", "--no-color", "--no-ext-diff", "--no-index", "--", os.devnull, path).text
            )
    return "".join(part if part.endswith("\n") or not part else part + "\n" for part in parts)


def _tracked_in_head(repo: Any, path: str) -> bool:
    return run_git(repo, "cat-file", "-e", f"HEAD:{path}").status == 0


def plan_commit(
    repo_path: str | Path, step: CommitStep, values: Mapping[str, str], extra_files: Iterable[str] = ()
) -> CommitPlan:
    """The files to stage, their diff, and every problem (one clear line each) that stops the commit.

    ``values`` are the session's values; with its ``session_id``, a commit this session already made (the wizard
    died before recording it) is found, and the plan says so instead of reporting "nothing to commit".
    """
    repo_path = Path(repo_path)
    try:
        repo = open_repo(repo_path)
    except GitOpsError as exc:
        return CommitPlan(repo_path, (), "", (str(exc),))
    existing = find_session_commit(repo_path, values["session_id"]) if values.get("session_id") else None
    if existing is not None:
        return CommitPlan(
            repo_path,
            tuple(_commit_facts(repo, existing).files),
            "",
            (),
            (
                f"this session already committed {existing[:12]} (found by its {SESSION_TRAILER} "
                "trailer); it will be recorded, not made again",
            ),
            existing,
        )
    problems = state_problems(repo)
    notes: list[str] = []
    wanted: list[str] = []

    def add(template: str, origin: str, *, only_if_modified: bool = False) -> None:
        try:
            rendered = os.path.expanduser(render_text(template, values))
        except TemplateError as exc:
            problems.append(f"cannot work out the file {template!r} ({origin}): {exc}")
            return
        rel = _relative(repo, rendered)
        if rel is None:
            problems.append(f"{rendered} ({origin}) is outside the repository {repo.working_tree_dir}")
            return
        if rel in wanted or (only_if_modified and not changed_files(repo, [rel])):
            return
        wanted.append(rel)

    for template in step.stage:
        add(template, f"step {step.id}")
    for template in step.stage_if_modified:
        add(template, f"step {step.id}, if modified", only_if_modified=True)
    for extra in extra_files:
        add(extra, "added by you")

    for rel in wanted:
        exists = (Path(repo.working_tree_dir) / rel).exists()
        tracked = _tracked(repo, rel)
        if not exists and not tracked:
            problems.append(f"{rel} does not exist in {repo.working_tree_dir} and git does not know it")
        elif exists and not tracked and _ignored(repo, rel):
            problems.append(
                f"{rel} is ignored by .gitignore, so git add refuses it; remove it from the files or change .gitignore"
            )
    changed = changed_files(repo, wanted)
    if wanted and not changed:
        problems.append(
            f"nothing to commit: {', '.join(wanted)} {'is' if len(wanted) == 1 else 'are'} the same "
            f"as HEAD in {repo.working_tree_dir}"
        )
    if _head_valid(repo):
        staged = run_git(repo, "diff", "--cached", "--name-only", "-z", "HEAD").text.split("\0")
        left_out = [path for path in staged if path and path not in wanted]
        if left_out:
            notes.append(f"also staged, left out of this commit and left staged: {', '.join(left_out)}")
    return CommitPlan(repo_path, tuple(wanted), commit_diff(repo, wanted), tuple(problems), tuple(notes))


# --- finding and making the commit --------------------------------------------------------------------------


def find_session_commit(repo_path: str | Path, session_id: str, search: int = 200) -> str | None:
    """The sha of the newest of HEAD's last ``search`` commits with a ``Runbook-Session: <session_id>`` trailer."""
    try:
        repo = open_repo(repo_path)
    except GitOpsError:
        return None
    if not _head_valid(repo):
        return None
    result = run_git(
        repo,
        "log",
        f"-n{search}",
        f"--format=%H%x1f%(trailers:key={SESSION_TRAILER},valueonly,separator=%x1f)%x1e",
        "HEAD",
    )
    for record in result.text.split("\x1e"):
        sha, _, trailers = record.strip().partition("\x1f")
        if sha and session_id in (value.strip() for value in trailers.split("\x1f")):
            return sha
    return None


def message_with_trailers(message: str, session_id: str, chain_hash: str) -> str:
    """The message as committed: the person's text, a blank line, then the session and chain trailers."""
    return f"{message.rstrip()}\n\n{SESSION_TRAILER}: {session_id}\n{CHAIN_TRAILER}: {chain_hash}\n"


@dataclass(frozen=True, slots=True)
class _CommitFacts:
    subject: str
    files: list[str]
    message_sha256: str  # of the message bytes in the commit object (what `git cat-file commit` prints after headers)
    chain: str


def _commit_facts(repo: Any, sha: str) -> _CommitFacts:
    raw = run_git(repo, "cat-file", "commit", sha).stdout
    _, _, message = raw.partition(b"\n\n")
    subject = message.decode("utf-8", "replace").split("\n", 1)[0]
    listing = run_git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", sha).text
    chain = run_git(repo, "log", "-1", f"--format=%(trailers:key={CHAIN_TRAILER},valueonly)", sha).text.strip()
    return _CommitFacts(
        subject, [path for path in listing.split("\0") if path], hashlib.sha256(message).hexdigest(), chain
    )


def _record(session: Session, repo: Any, sha: str, *, found: bool, unproven: Sequence[str] = ()) -> str:
    facts = _commit_facts(repo, sha)
    # session_trailer holds the trailer lines as committed, so a verifier finds the chain hash there too.
    trailer = f"{SESSION_TRAILER}: {session.id}" + (f"\n{CHAIN_TRAILER}: {facts.chain}" if facts.chain else "")
    session.record(
        ev.CommitMade(
            sha=sha,
            subject=facts.subject,
            files=facts.files,
            message_sha256=facts.message_sha256,
            session_trailer=trailer,
            chain_trailer=facts.chain,
            repo=str(repo.working_tree_dir),
            found_by_trailer=found,
            unproven_acknowledged=list(unproven) or None,
        )
    )
    return facts.subject


def _index_snapshot(repo: Any) -> bytes | None:
    try:
        return (Path(repo.git_dir) / "index").read_bytes()
    except FileNotFoundError:
        return None


def _put_back_index(repo: Any, saved: bytes | None) -> str:
    """Restore the index file as it was, under git's own ``index.lock``; returns a problem, or "" if it worked."""
    index = Path(repo.git_dir) / "index"
    lock = index.with_name("index.lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return f"the index was not put back: {lock} exists (another git command is running?)"
    except OSError as exc:
        return f"the index was not put back: {exc.strerror or exc}"
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(saved or b"")
            handle.flush()
            os.fsync(handle.fileno())
        if saved is None:
            index.unlink(missing_ok=True)
            lock.unlink()
        else:
            os.replace(lock, index)
    except OSError as exc:
        lock.unlink(missing_ok=True)
        return f"the index was not put back: {exc.strerror or exc}"
    return ""


def _head_sha(repo: Any) -> str | None:
    result = run_git(repo, "rev-parse", "--verify", "-q", "HEAD")
    if result.status != 0:
        return None
    return result.text.strip() or None


def make_commit(
    session: Session, repo_path: str | Path, plan: CommitPlan, message: str, *, unproven: Sequence[str] = ()
) -> CommitOutcome:
    """Commit the plan's files with ``message`` plus the session trailers, once per session.

    If a commit with this session's trailer is already in HEAD's history (the wizard died after ``git commit`` and
    before recording it), that commit is recorded (if it was not) and returned with ``created=False``.
    Raises :class:`GitOpsError` for a plan with problems, an empty message, or a failed ``git add``/``git commit``
    (the message carries git's and the hooks' output; the index is put back as it was; nothing is recorded).
    """
    repo = open_repo(repo_path)
    found = find_session_commit(repo_path, session.id)
    if found is not None:
        recorded = session.state.commit
        if recorded is not None and recorded.get("sha") == found:
            return CommitOutcome(found, False, str(recorded.get("subject", "")))
        return CommitOutcome(found, False, _record(session, repo, found, found=True))
    problems = list(plan.problems) or state_problems(repo)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GitOpsError(problems[0] + more)
    if not plan.files:
        raise GitOpsError("no files to commit")
    if not message.strip():
        raise GitOpsError("the commit message is empty")

    message_file = session.dir / MESSAGE_FILE
    try:
        atomic_write(message_file, message_with_trailers(message, session.id, session.state.last_hash))
    except OSError as exc:
        raise GitOpsError(f"cannot write the commit message to {message_file}: {exc.strerror or exc}") from None
    head_before = _head_sha(repo)
    saved_index = _index_snapshot(repo)
    added = run_git(repo, "add", "--", *plan.files)
    failed: GitResult | None = added if added.status != 0 else None
    if failed is None:
        # Absolute: git reads it from the repository folder, and a relative --state-dir makes session.dir relative.
        committed = run_git(
            repo, "commit", "-F", os.path.abspath(message_file), "--cleanup=whitespace", "--", *plan.files
        )
        failed = committed if committed.status != 0 else None
    if failed is not None:
        head_after = _head_sha(repo)
        if (
            head_after is not None
            and head_after != head_before
            and find_session_commit(repo_path, session.id) == head_after
        ):
            # git reported a failure after the commit was made; the commit stands and is recorded.
            return CommitOutcome(head_after, True, _record(session, repo, head_after, found=False, unproven=unproven))
        output = (failed.stderr + "\n" + failed.text).strip()
        index_problem = _put_back_index(repo, saved_index)
        step = "git add" if failed is added else "git commit"
        detail = " | ".join(line.strip() for line in output.splitlines() if line.strip()) or "no output"
        tail = f"; {index_problem}" if index_problem else "; the index is as it was"
        raise GitOpsError(f"{step} failed (exit {failed.status}), nothing was committed{tail}: {detail}", output)
    sha = _head_sha(repo) or ""
    return CommitOutcome(sha, True, _record(session, repo, sha, found=False, unproven=unproven))
