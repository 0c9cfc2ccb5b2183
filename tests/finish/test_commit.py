"""Step 5.3: the commit plan, the commit made exactly once (even across a kill -9), and every clear refusal."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amxwizard.engine.gitops import (
    CHAIN_TRAILER,
    SESSION_TRAILER,
    CommitOutcome,
    GitOpsError,
    find_session_commit,
    make_commit,
    plan_commit,
)
from amxwizard.engine.session import Session
from amxwizard.runbook import RunbookFile
from amxwizard.runbook.models import CommitStep, DocsStep
from amxwizard.runbook.templates import placeholders, render_text
from amxwizard.runbook.variables import NAMESPACES
from tests.finish.support import FINISH, RUNBOOK, commit_count, git, head, template_values

BACKEND = "ggml/src/ggml-backend.cpp"
CUDA = "ggml/src/ggml-cuda.cu"
SUBJECT = "Fix AMX+GPU hybrid mode crash with long prompts"


def commit_step(session: Session) -> CommitStep:
    step = session.runbook.model.step("5.3")
    assert isinstance(step, CommitStep)
    return step


def commit_message(session: Session) -> str:
    return render_text(commit_step(session).message, template_values(session))


def apply_fix(repo: Path) -> None:
    backend = repo / BACKEND
    text = backend.read_text()
    backend.write_text(
        text.replace(
            "        return;\n    }\n",
            "        return;\n    }\n\n    if (ggml_tensor_is_weight(src)) {\n        return;\n    }\n",
            1,
        )
    )


def trailers(repo: Path, sha: str) -> dict[str, str]:
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=git(repo, "log", "-1", "--format=%B", sha).stdout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(": ", 1) for line in parsed.splitlines())


# --- the message --------------------------------------------------------------------------------------------


def test_message_and_documents_render_with_every_placeholder_filled(session: Session) -> None:
    values = template_values(session)
    docs = session.runbook.model.step("5.4")
    assert isinstance(docs, DocsStep)
    templates = [commit_step(session).message, *(doc.content for doc in docs.documents)]
    for template in templates:
        for name in placeholders(template):
            namespace, _, field = name.partition(".")
            if field:
                allowed = NAMESPACES[namespace]
                assert allowed is None or field in allowed, name
        rendered = render_text(template, values)
        assert "{{" not in rendered and "}}" not in rendered
        assert "[FILL IN]" not in rendered and "[X ms/token]" not in rendered
        assert re.search(r"\[[^\]\n]*\]", rendered) is None, "a [placeholder] is left"
        for name in placeholders(template):
            assert values[name] in rendered
    message = render_text(commit_step(session).message, values)
    assert message.startswith(SUBJECT + "\n\n")
    assert "Approach A - Filter Weight Tensors from Copy Operations" in message
    assert "Prompt processing: 2.42 ms/token (412.37 t/s)" in message


# --- the plan -----------------------------------------------------------------------------------------------


def test_plan_stages_the_runbooks_files_and_the_optional_ones_only_when_modified(
    session: Session, target_repo: Path
) -> None:
    apply_fix(target_repo)
    plan = plan_commit(target_repo, commit_step(session), session.values())
    assert plan.problems == ()
    assert plan.files == (BACKEND,)
    assert "+    if (ggml_tensor_is_weight(src)) {" in plan.diff

    (target_repo / CUDA).write_text((target_repo / CUDA).read_text() + "// AMX-aware path\n")
    notes = target_repo / "notes" / "fix.md"
    notes.parent.mkdir()
    notes.write_text("measured 61.02 t/s\n")
    plan = plan_commit(target_repo, commit_step(session), session.values(), extra_files=["notes/fix.md"])
    assert plan.files == (BACKEND, CUDA, "notes/fix.md")
    assert "+// AMX-aware path" in plan.diff
    assert "+++ b/notes/fix.md" in plan.diff and "+measured 61.02 t/s" in plan.diff


def test_plan_refuses_files_outside_the_repo_missing_or_ignored(
    session: Session, target_repo: Path, tmp_path: Path
) -> None:
    apply_fix(target_repo)
    (target_repo / ".gitignore").write_text("*.log\n")
    (target_repo / "run.log").write_text("noise\n")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x\n")
    plan = plan_commit(
        target_repo, commit_step(session), session.values(), extra_files=[str(outside), "ghost.txt", "run.log"]
    )
    assert plan.problems == (
        f"{outside} (added by you) is outside the repository {target_repo}",
        f"ghost.txt does not exist in {target_repo} and git does not know it",
        "run.log is ignored by .gitignore, so git add refuses it; remove it from the files or change .gitignore",
    )


# --- the commit ---------------------------------------------------------------------------------------------


def test_commit_carries_both_trailers_and_is_made_only_once(session: Session, target_repo: Path) -> None:
    apply_fix(target_repo)
    # Something the person staged on their own stays staged and out of the wizard's commit.
    (target_repo / "ggml/src/ggml.c").write_text("// staged by the person\n")
    git(target_repo, "add", "ggml/src/ggml.c")
    plan = plan_commit(target_repo, commit_step(session), session.values())
    assert plan.notes == ("also staged, left out of this commit and left staged: ggml/src/ggml.c",)
    chain_before = session.state.last_hash

    outcome = make_commit(session, target_repo, plan, commit_message(session))

    assert outcome == CommitOutcome(head(target_repo), True, SUBJECT)
    assert commit_count(target_repo) == 2
    found = trailers(target_repo, outcome.sha)
    assert found[SESSION_TRAILER] == session.id
    assert found[CHAIN_TRAILER] == chain_before
    assert git(target_repo, "show", "--name-only", "--format=", outcome.sha).stdout.split() == [BACKEND]
    assert git(target_repo, "diff", "--cached", "--name-only").stdout.split() == ["ggml/src/ggml.c"]
    body = git(target_repo, "cat-file", "commit", outcome.sha).stdout.encode().partition(b"\n\n")[2]
    record = session.state.commit
    assert record is not None
    assert (record["sha"], record["subject"], record["files"]) == (outcome.sha, SUBJECT, [BACKEND])
    assert record["message_sha256"] == hashlib.sha256(body).hexdigest()
    assert record["session_trailer"] == f"{SESSION_TRAILER}: {session.id}\n{CHAIN_TRAILER}: {chain_before}"
    assert record["chain_trailer"] == chain_before
    assert find_session_commit(target_repo, session.id) == outcome.sha

    events = session.state.last_seq
    again = make_commit(session, target_repo, plan, commit_message(session))
    assert again == CommitOutcome(outcome.sha, False, SUBJECT)
    assert commit_count(target_repo) == 2
    assert session.state.last_seq == events


def test_a_kill_between_git_commit_and_the_record_still_gives_one_commit(
    session: Session, runbook_file: RunbookFile, target_repo: Path, tmp_path: Path
) -> None:
    apply_fix(target_repo)
    folder = session.dir
    message_file = tmp_path / "message.txt"
    message_file.write_text(commit_message(session))
    session.close()
    pid_file = tmp_path / "child.pid"
    hook = target_repo / ".git" / "hooks" / "post-commit"
    hook.write_text(f"#!/bin/sh\nkill -9 \"$(cat '{pid_file}')\"\n")
    hook.chmod(0o755)

    child = subprocess.run(
        [
            sys.executable,
            str(FINISH / "commit_child.py"),
            str(folder),
            str(RUNBOOK),
            str(target_repo),
            str(pid_file),
            str(message_file),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert commit_count(target_repo) == 2
    made = head(target_repo)
    hook.unlink()
    with Session.open(folder, runbook_file) as resumed:
        assert resumed.state.commit is None  # the child died before it could record the commit
        plan = plan_commit(target_repo, commit_step(resumed), resumed.values())
        # Already committed: the plan says so instead of "nothing to commit", so the step can go on to record it.
        assert (plan.existing, plan.problems, plan.files) == (made, (), (BACKEND,))
        assert plan.notes[0].startswith(f"this session already committed {made[:12]}")

        outcome = make_commit(resumed, target_repo, plan, commit_message(resumed))
        assert outcome == CommitOutcome(made, False, SUBJECT)
        outcome = make_commit(resumed, target_repo, plan, commit_message(resumed))
        assert outcome == CommitOutcome(made, False, SUBJECT)

        events = resumed.store.events()
        commits = [event for event in events if event.kind == "commit_made"]
        assert len(commits) == 1
        assert commits[0].data["sha"] == made and commits[0].data["found_by_trailer"] is True
        # The chain hash in the commit is one of the session's own events, recorded before the commit.
        chain = trailers(target_repo, made)[CHAIN_TRAILER]
        assert chain in {event.hash for event in events if event.seq < commits[0].seq}
        assert commits[0].data["chain_trailer"] == chain
    assert commit_count(target_repo) == 2


def test_a_failing_pre_commit_hook_is_shown_and_changes_nothing(session: Session, target_repo: Path) -> None:
    apply_fix(target_repo)
    hook = target_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'clang-format: ggml/src/ggml-backend.cpp needs formatting' >&2\nexit 1\n")
    hook.chmod(0o755)
    before_head = head(target_repo)
    index = target_repo / ".git" / "index"
    before_index = index.read_bytes()
    events = session.state.last_seq
    plan = plan_commit(target_repo, commit_step(session), session.values())

    with pytest.raises(GitOpsError) as failed:
        make_commit(session, target_repo, plan, commit_message(session))

    assert "clang-format: ggml/src/ggml-backend.cpp needs formatting" in str(failed.value)
    assert str(failed.value).startswith("git commit failed (exit 1), nothing was committed; the index is as it was")
    assert "\n" not in str(failed.value)
    assert head(target_repo) == before_head
    assert index.read_bytes() == before_index
    assert session.state.commit is None and session.state.last_seq == events
    assert git(target_repo, "status", "--porcelain").stdout == f" M {BACKEND}\n"


# --- refusals -----------------------------------------------------------------------------------------------


def diverge(repo: Path) -> None:
    """Two branches that change the same line, so merging, cherry-picking or rebasing stops half way."""
    backend = repo / BACKEND
    git(repo, "switch", "-q", "-c", "other")
    backend.write_text(backend.read_text().replace("return;", "return; // other side"))
    git(repo, "commit", "-qam", "other side")
    git(repo, "switch", "-q", "main")
    backend.write_text(backend.read_text().replace("return;", "return; // main side"))
    git(repo, "commit", "-qam", "main side")


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            ["merge", "other"],
            "a merge is in progress in {repo}: finish it (git commit) or abort it (git merge --abort), then commit",
        ),
        (
            ["cherry-pick", "other"],
            "a cherry-pick is in progress in {repo}: finish it (git cherry-pick --continue) or "
            "abort it (git cherry-pick --abort), then commit",
        ),
        (
            ["rebase", "other"],
            "a rebase is in progress in {repo}: finish it (git rebase --continue) or abort it "
            "(git rebase --abort), then commit",
        ),
    ],
)
def test_an_operation_half_done_is_refused(
    session: Session, target_repo: Path, operation: list[str], expected: str
) -> None:
    diverge(target_repo)
    stopped = git(target_repo, *operation, check=False)
    assert stopped.returncode != 0  # the conflict left it half done
    commits = commit_count(target_repo)

    plan = plan_commit(target_repo, commit_step(session), session.values())

    assert plan.problems[0] == expected.format(repo=target_repo)
    with pytest.raises(GitOpsError, match=re.escape(expected.format(repo=target_repo))):
        make_commit(session, target_repo, plan, commit_message(session))
    assert commit_count(target_repo) == commits and session.state.commit is None


def test_a_detached_head_is_refused(session: Session, target_repo: Path) -> None:
    git(target_repo, "checkout", "-q", "--detach")
    apply_fix(target_repo)
    plan = plan_commit(target_repo, commit_step(session), session.values())
    expected = (
        f"HEAD is detached at {head(target_repo)[:12]} in {target_repo}: switch to a branch first "
        "(git switch <branch>) so the commit is not lost"
    )
    assert plan.problems == (expected,)
    with pytest.raises(GitOpsError, match=re.escape(expected)):
        make_commit(session, target_repo, plan, commit_message(session))


def test_nothing_to_commit_is_refused(session: Session, target_repo: Path) -> None:
    plan = plan_commit(target_repo, commit_step(session), session.values())
    expected = f"nothing to commit: {BACKEND} is the same as HEAD in {target_repo}"
    assert plan.problems == (expected,)
    assert plan.diff == ""
    with pytest.raises(GitOpsError, match=re.escape(expected)):
        make_commit(session, target_repo, plan, commit_message(session))
    assert commit_count(target_repo) == 1


def test_a_folder_that_is_not_a_repository_is_refused(session: Session, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    plan = plan_commit(plain, commit_step(session), session.values())
    assert plan.problems == (f"{plain} is not a git repository (check the 'repo' variable)",)
    assert find_session_commit(plain, session.id) is None


def test_a_repository_git_refuses_is_named_as_such_not_nothing_to_commit(session: Session, target_repo: Path) -> None:
    # What git says for a checkout owned by another user ("dubious ownership") is the common case; an unknown
    # repository format is the same refusal, and a test can make it without root.
    apply_fix(target_repo)
    git(target_repo, "config", "core.repositoryformatversion", "99")
    plan = plan_commit(target_repo, commit_step(session), session.values())
    assert plan.problems == (f"git refuses to work in {target_repo}: fatal: Expected git repo version <= 1, found 99",)
    with pytest.raises(GitOpsError, match="git refuses to work in"):
        make_commit(session, target_repo, plan, commit_message(session))


def test_a_session_in_a_relative_state_folder_commits(
    runbook_file: RunbookFile,
    overrides: dict[str, str],
    target_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--state-dir state` (or a relative AMXWIZARD_STATE_DIR) makes the session folder relative, and git runs in
    # the repository: the message file must be named so that git finds it from there.
    monkeypatch.chdir(tmp_path)
    opened = Session.create(Path("relative-state"), runbook_file, overrides)
    try:
        assert not opened.dir.is_absolute()
        apply_fix(target_repo)
        plan = plan_commit(target_repo, commit_step(opened), opened.values())
        outcome = make_commit(opened, target_repo, plan, commit_message(opened))
        assert outcome == CommitOutcome(head(target_repo), True, SUBJECT)
        assert commit_count(target_repo) == 2
    finally:
        opened.close()


def test_porcelain_entries_skip_the_source_of_a_rename_in_either_column() -> None:
    from amxwizard.engine.gitops import porcelain_entries

    text = "R  new.c\0old.c\0 R moved.h\0was.h\0 M other.c\0"
    assert porcelain_entries(text) == [("R ", "new.c"), (" R", "moved.h"), (" M", "other.c")]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see which files git opens")
def test_reading_git_state_never_takes_the_lock_a_commit_needs(tmp_path: Path) -> None:
    """git status refreshes the index under index.lock unless told not to, and a commit running at that moment
    fails ("index.lock exists"); the wizard reads status from worker threads, so every git it starts runs with
    git's optional locks off."""
    import amxwizard.engine  # noqa: F401  (sets the switch for every git the wizard starts)

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("a\n")
    subprocess.run(["git", "-C", str(repo), "add", "a.txt"], check=True)

    def opens_the_lock(env: dict[str, str]) -> bool:
        stale = time.time() - 3600 - len(env)  # the file looks changed: status wants to refresh the index
        os.utime(repo / "a.txt", (stale, stale))
        traced = subprocess.run(
            ["strace", "-f", "-e", "trace=openat", "git", "-C", str(repo), "status", "--porcelain"],
            capture_output=True,
            text=True,
            env=env,
        )
        return "index.lock" in traced.stderr

    assert opens_the_lock({**os.environ, "GIT_OPTIONAL_LOCKS": "1"})  # what git does by default
    assert os.environ["GIT_OPTIONAL_LOCKS"] == "0"
    assert not opens_the_lock(dict(os.environ))
