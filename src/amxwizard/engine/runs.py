"""Runs inside a session: every command start and end goes into the event log, and a reopened session picks up
runs a previous wizard left behind (still running, finished while nobody watched, or gone)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from . import events as ev
from .procs import boot_id, proc_start_ticks, process_alive
from .runner import (
    LOG_FILE,
    META_FILE,
    PROCESS_FILE,
    STARTED_FILE,
    WRAPPER_FILE,
    CommandRunner,
    OutputCallback,
    RunError,
    RunHandle,
    RunResult,
    RunSpec,
    read_exit_code,
)
from .session import Session, SessionError
from .state import NOT_STARTED, RunRecord, StepStatus

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What became of one run a previous wizard left unfinished."""

    run: RunRecord
    state: Literal["running", "finished", "interrupted"]
    handle: RunHandle | None
    result: RunResult | None


def git_snapshot(cwd: Path) -> dict[str, Any]:
    """``{"head": sha or "", "status_sha256": ...}`` of the repository holding ``cwd``; ``{}`` outside a repository.

    A repository git cannot read gives ``{"error": ...}`` so the record shows why there is no snapshot.
    """
    import git

    try:
        repo = git.Repo(cwd, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return {}
    try:
        with repo:
            try:
                head = repo.head.commit.hexsha
            except ValueError:  # a repository without commits
                head = ""
            status = repo.git.status("--porcelain")
    except (git.GitError, OSError) as exc:
        return {"error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}
    return {"head": head, "status_sha256": hashlib.sha256(status.encode("utf-8", "surrogateescape")).hexdigest()}


def new_run_id(step_id: str, attempt: int, index: int) -> str:
    """``<step>-<attempt>-<index>-<random>``, safe as a folder name."""
    step = _UNSAFE_RE.sub("_", step_id).strip("._") or "step"
    return f"{step}-{attempt}-{index}-{secrets.token_hex(3)}"


def _finished_data(
    run: RunRecord | str, step: str, result: RunResult, cwd: str, *, unwatched: bool = False
) -> ev.CommandFinished:
    return ev.CommandFinished(
        step=step,
        run_id=run.run_id if isinstance(run, RunRecord) else run,
        outcome=result.outcome,
        exit_code=result.exit_code,
        signal=result.signal,
        ended=result.ended,
        duration=result.duration,
        log_size=result.log_size,
        log_sha256=result.log_sha256,
        git_after=git_snapshot(Path(cwd)) if cwd else {},
        exports=result.exports,
        shell_errors=[dict(e) for e in result.shell_errors] or None,
        unwatched=True if unwatched else None,
    )


def run_command(
    session: Session,
    step_id: str,
    index: int,
    script: str,
    cwd: Path,
    *,
    exports: Sequence[str] = (),
    timeout: float | None = None,
    nice: int = 10,
    on_output: OutputCallback | None = None,
    runner: CommandRunner | None = None,
    on_started: Callable[[RunHandle], None] | None = None,
    git_before: dict[str, Any] | None = None,
    fingerprint: dict[str, Any] | None = None,
    expect_crash: bool = False,
) -> RunResult:
    """Run one command of ``step_id`` to its end, recording ``command_started`` and ``command_finished``.

    ``fingerprint`` (a test's or benchmark's: what binary, model, build and machine it ran) is recorded with the
    start.

    The command sees the shell variables earlier steps exported. ``on_started`` gets the handle (to cancel it)
    once the start is recorded; ``handle.detach()`` makes this return a ``detached`` result at once, recording no
    end (the run goes on and :func:`reconcile` settles it later). Raises :class:`SessionError` when the run cannot
    be started or recorded.
    """
    runner = runner or CommandRunner()
    attempt = session.state.step(step_id).attempts
    run_id = new_run_id(step_id, attempt, index)
    if git_before is None:  # the previous command's "after", when the step just ran one in the same folder
        git_before = git_snapshot(cwd)
    spec = RunSpec(
        run_id=run_id,
        run_dir=session.runs_dir / run_id,
        script=script,
        cwd=cwd,
        env=session.env(),
        exports=tuple(exports),
        timeout=timeout,
        nice=nice,
        meta={"step": step_id, "index": index, "git_before": git_before},
        expect_crash=expect_crash,
    )
    try:
        handle = runner.start(spec, on_output)
    except RunError as exc:
        raise SessionError(str(exc)) from None
    started = handle.started
    try:
        session.record(
            ev.CommandStarted(
                step=step_id,
                run_id=run_id,
                index=index,
                script=script,
                cwd=str(cwd),
                pid=started.pid,
                proc_start=started.proc_start,
                boot_id=started.boot_id,
                log=str(started.log),
                git_before=git_before,
                fingerprint=fingerprint,
            )
        )
    except SessionError:
        # A run the log does not know about could never be reattached or reviewed: stop it.
        handle.cancel(grace=1.0)
        handle.wait()
        raise
    if on_started is not None:
        on_started(handle)
    result = handle.result()
    if result.outcome != "detached":  # a detached run is still going: the next wizard reconciles it
        session.record(_finished_data(run_id, step_id, result, str(cwd)))
    return result


def _interrupted_summary(run: RunRecord) -> str:
    return (
        f"command {run.index + 1} (run {run.run_id}) stopped while no wizard was watching and left no exit "
        "status; check its log and decide whether to run the step again"
    )


def _record_end(session: Session, run: RunRecord, result: RunResult, *, unwatched: bool = False) -> None:
    finished = _finished_data(run, run.step, result, run.cwd, unwatched=unwatched)
    began = not never_started(session, run)
    if not began:
        # Recorded as what it is: no command ran. The attempt's runs leave it out, and settling resumes the step
        # at that command.
        finished = replace(finished, outcome=NOT_STARTED)
    session.record(finished)
    if began and result.outcome == "interrupted" and session.state.step(run.step).status == StepStatus.RUNNING:
        session.record(
            ev.StepFinished(
                step=run.step,
                status=StepStatus.INTERRUPTED.value,
                summary=_interrupted_summary(run),
                evidence={"run_id": run.run_id, "log": run.log},
                settled=True if unwatched else None,
            )
        )


@dataclass(frozen=True, slots=True)
class RunLook:
    """What a run folder says about a run the log shows unfinished, read without recording anything."""

    run: RunRecord
    state: Literal["running", "finished", "gone"]
    exit_code: int | None
    pid: int | None


def look(session: Session, run: RunRecord, runner: CommandRunner | None = None) -> RunLook:
    """Whether an unfinished run still lives, ended with an exit status, or is gone (a read-only look)."""
    runner = runner or CommandRunner()
    run_dir = session.runs_dir / run.run_id
    pid, proc_start = run.pid, run.proc_start
    if pid is None:
        found = find_wrapper(run_dir)
        if found is not None:
            pid, proc_start = found
    if pid is None:
        code = read_exit_code(run_dir)
        return RunLook(run, "finished" if code is not None else "gone", code, None)
    state = runner.probe(run_dir, pid=pid, proc_start=proc_start, boot_id=run.boot_id)
    return RunLook(run, state, read_exit_code(run_dir) if state == "finished" else None, pid)


def find_wrapper(run_dir: Path, wait: float = 1.0) -> tuple[int, int | None] | None:
    """The live process running ``run_dir``'s wrapper, ``(pid, start ticks)``, when the run's start never said who
    it is (a wizard killed between starting it and writing its pid). A start in flight takes milliseconds, so a run
    folder with neither a process nor an exit status is looked for again for up to ``wait`` seconds."""
    target = str(run_dir / WRAPPER_FILE).encode()
    deadline = time.monotonic() + wait
    while True:
        if read_exit_code(run_dir) is not None:
            return None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if target in argv:
                pid = int(entry.name)
                if process_alive(pid, None, ""):
                    return pid, proc_start_ticks(pid)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def reconcile(
    session: Session,
    on_output: OutputCallback | None = None,
    runner: CommandRunner | None = None,
    *,
    follow: bool = True,
) -> list[Reconciled]:
    """Settle every run the session's log shows as started but not finished; call when a wizard opens a session.

    A run still going is reattached (``on_output`` replays its log, then follows it; finish it with
    :func:`finish_reattached`), or, with ``follow=False``, only reported. A run that ended while nobody watched has
    its result recorded now (``unwatched``). A run that is gone without an exit status is recorded as interrupted,
    and so is its step: never passed, the person decides.
    """
    runner = runner or CommandRunner()
    _adopt_unrecorded(session)
    out: list[Reconciled] = []
    for run in session.state.running_runs():
        run_dir = session.runs_dir / run.run_id
        started = _started_of(run_dir, run)
        seen = look(session, run, runner)
        pid = seen.pid
        if seen.state == "running" and pid is not None:
            if not follow:
                out.append(Reconciled(run, "running", None, None))
                continue
            handle = runner.reattach(
                run_dir, on_output, pid=pid, proc_start=run.proc_start, boot_id=run.boot_id, started=started
            )
            out.append(Reconciled(run, "running", handle, None))
            continue
        # Ended: read its folder once (log hash, exit status) through a handle that finishes at once.
        handle = runner.reattach(
            run_dir, None, pid=pid or 0, proc_start=run.proc_start, boot_id=run.boot_id, started=started
        )
        result = handle.result()
        _record_end(session, run, result, unwatched=True)
        out.append(Reconciled(run, "interrupted" if result.outcome == "interrupted" else "finished", None, result))
    return out


def _adopt_unrecorded(session: Session) -> None:
    """Record the start of runs whose folder exists but whose ``command_started`` never reached the log.

    A wizard killed between starting a command and recording it would otherwise leave a build nobody knows about,
    and the step would start the same command again beside it. Such a run is recorded now from its folder
    (``recovered``), and then settled like any other: followed, finished, or interrupted.
    """
    known = set(session.state.runs)
    try:
        folders = sorted(p for p in session.runs_dir.iterdir() if p.is_dir() and p.name not in known)
    except OSError:
        return
    for folder in folders:
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            script = (folder / "command.sh").read_text(encoding="utf-8")
        except (OSError, ValueError):
            continue  # not a run folder this wizard made, or made before it could say whose it is
        try:
            process = json.loads((folder / PROCESS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Killed between starting it and saying who it is: find the wrapper by its command line. Not found and
            # no exit status: it never started, and reconcile calls it interrupted.
            found = find_wrapper(folder)
            process = {"pid": found[0], "proc_start": found[1], "boot_id": boot_id()} if found else {}
        step = str(meta.get("step", ""))
        if step not in session.runbook.model.steps_by_id:
            continue
        session.record(
            ev.CommandStarted(
                step=step,
                run_id=folder.name,
                index=int(meta.get("index", 0)),
                script=script,
                cwd=str(meta.get("cwd", "")),
                pid=process.get("pid"),
                proc_start=process.get("proc_start"),
                boot_id=str(process.get("boot_id", "")),
                log=str(folder / LOG_FILE),
                git_before=meta.get("git_before") or {},
                recovered=True,
            )
        )


def never_started(session: Session, run: RunRecord) -> bool:
    """Whether a run's command never began: no exit status, no process ever named, nothing in its log. A wizard
    killed between preparing a run folder and starting its wrapper leaves one; it is adopted as interrupted, and a
    resumed step starts at it (the commands before it ran, it did not)."""
    if run.exit_code is not None or run.pid is not None:
        return False
    try:
        return (session.runs_dir / run.run_id / LOG_FILE).stat().st_size == 0
    except OSError:
        return True


def finish_reattached(session: Session, reconciled: Reconciled) -> RunResult:
    """Wait for a reattached run to end and record its result (interrupted if it vanishes without exit status).

    A ``detached`` result (the handle was detached) is returned without recording anything.
    """
    if reconciled.result is not None:
        return reconciled.result
    if reconciled.handle is None:
        raise ValueError(f"run {reconciled.run.run_id} has neither a result nor a handle")
    result = reconciled.handle.result()
    if result.outcome != "detached":
        _record_end(session, reconciled.run, result)
    return result


def _started_of(run_dir: Path, run: RunRecord) -> str:
    # The runner's own start time is a little earlier than the command_started event; prefer it.
    try:
        text = (run_dir / STARTED_FILE).read_text().strip()
    except OSError:
        return run.started
    return text or run.started
