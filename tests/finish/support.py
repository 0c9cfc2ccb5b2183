"""Helpers for the finishing-step tests: real git in a tmp repository, and the real command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from amxwizard.engine.session import Session
from amxwizard.runbook.models import ApproachStep, CommitStep
from amxwizard.runbook.templates import render_text
from tests.conftest import FIXTURES, ROOT

FINISH = FIXTURES / "finish"
RUNBOOK = ROOT / "runbook.yaml"
SOURCES = {
    "ggml/src/ggml-backend.cpp": "ggml-backend.cpp",
    "ggml/src/ggml.c": "ggml.c",
    "ggml/src/CMakeLists.txt": "CMakeLists.txt",
    "ggml/src/ggml-cuda.cu": "ggml-cuda.cu",
}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run real git in ``repo``."""
    return subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True, text=True)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def commit_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").stdout)


def make_repo(path: Path) -> Path:
    """A git repository with the files the runbook touches, committed once, with its own identity."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Engineer")
    git(path, "config", "user.email", "engineer@example.com")
    git(path, "config", "commit.gpgsign", "false")
    for rel, fixture in SOURCES.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FINISH / fixture, target)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Fix AMX+GPU segfault by implementing cpy_tensor")
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real amxwizard command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "amxwizard.cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def template_values(session: Session) -> dict[str, str]:
    """Every dotted name the 5.3 message and 5.4 documents use, as the step executor would fill them."""
    approach = session.runbook.model.step("2.A")
    assert isinstance(approach, ApproachStep)
    values = {
        **session.values(),
        "answers.tensor": "blk.0.attn_q.weight",
        "answers.src_buffer": "AMX",
        "answers.dst_buffer": "CUDA0",
        "answers.op": "MUL_MAT",
        "answers.root_cause": "the scheduler assigned MUL_MAT to CUDA0 while its weight lives in the AMX buffer",
        "answers.recommended_approach": "A",
        "answers.solution_details": "ggml_backend_tensor_copy refuses to copy weight tensors between backends",
        "answers.backend_changes": "added ggml_tensor_is_weight() and a guard in ggml_backend_tensor_copy",
        "answers.other_files": "none",
        "answers.next_priorities": "upstream the fix",
        "evidence.tests_summary": "- Test 1 long prompt: 1000 tokens, passed\n- Test 2 short prompt: passed",
        "evidence.pp_tps": "412.37",
        "evidence.pp_ms_per_token": "2.42",
        "evidence.tg_tps": "61.02",
        "evidence.baseline_tps": "61.24",
        "evidence.tg_vs_baseline": "-0.4%, within 5%",
        "evidence.weight_copies": "0",
        "approach.id": approach.id,
        "approach.letter": approach.letter,
        "approach.title": approach.title,
        "approach.use_if": approach.use_if,
        "session.id": session.id,
        "session.date": "2025-10-07",
        "session.backup_dir": str(session.dir / "backups" / "amx-scheduler-fix-20251007-101500"),
    }
    # Every claim of the commit message as the evidence would prove it (engine.claims decides it in the wizard).
    commit = session.runbook.model.step("5.3")
    assert isinstance(commit, CommitStep)
    values.update({f"claims.{c.id}": render_text(c.sentence, values) for c in commit.claims})
    return values
