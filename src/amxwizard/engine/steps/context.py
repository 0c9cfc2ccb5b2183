"""What every step kind needs from the session: values, paths, logs, and the two events that frame an attempt."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...runbook import models as m
from ...runbook.templates import TemplateError, render_path, render_text
from .. import events as ev
from ..confine import PathPolicy
from ..fileio import expand_path
from ..session import Session
from ..state import StepStatus
from .base import StepError, StepResult


class StepContext:
    """One session's steps: rendering, logs, and recording an attempt. Plans only read through it."""

    def __init__(self, session: Session, *, nice: int = 10) -> None:
        self.session = session
        self.runbook: m.Runbook = session.runbook.model
        self.nice = nice
        self._suggestions: dict[tuple[tuple[str, int | None], ...], Any] = {}
        self.handle: Any = None  # the live RunHandle while a command runs (for cancel)
        self._hashing: set[str] = set()  # model files being hashed in the background
        self.on_hash_progress: Callable[[int, int], None] | None = None  # (done, total) bytes, from that thread
        self.on_hash_done: Callable[[dict[str, Any]], None] | None = None
        self.closing = False  # set when the wizard closes: no further command starts in this process
        self.settling = False  # judging an attempt that ended while no wizard watched (see engine.settle)

    # -- values and paths ---------------------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        return self.session.values()

    def workdir(self) -> Path:
        text = render_text(self.runbook.workdir, self.values()) if self.runbook.workdir else "."
        return expand_path(text)

    def text(self, template: str) -> str:
        """A text template rendered with variables, answers, evidence and the chosen approach."""
        return render_text(template, self.template_values())

    def path(self, template: str) -> Path:
        """A path template rendered, with ``$BACKUP_DIR``-style exports expanded."""
        try:
            return expand_path(render_path(template, self.values(), self.session.env()))
        except TemplateError as exc:
            raise StepError(str(exc)) from None

    def policy(self) -> PathPolicy:
        """Where this session's paths may lie (the repository, the session, the backup, declared roots)."""
        return PathPolicy.for_session(self.session)

    @property
    def cache_dir(self) -> Path:
        """Where hashes of big files (binaries, models) are kept between runs and sessions."""
        return self.session.dir.parent.parent / "cache"

    def fingerprint(self, script: str, cwd: Path) -> dict[str, Any] | None:
        """What a test or benchmark command is about to run; starts hashing its model in the background once."""
        from ..fingerprint import collect_fingerprint, hash_model_in_background

        try:
            found = collect_fingerprint(script, cwd, self.values(), self.cache_dir)
        except Exception as exc:  # a fingerprint is evidence, never a reason a test cannot run
            return {"error": f"{type(exc).__name__}: {exc}"}
        model = found.get("model") or {}
        path = model.get("path")
        if path and model.get("sha256") is None and path not in self._hashing:
            self._hashing.add(path)
            hash_model_in_background(Path(path), self.cache_dir, self.on_hash_progress, self._model_hashed)
        return found

    def _model_hashed(self, data: dict[str, Any]) -> None:
        from ..session import SessionError

        # A session closed meanwhile records nothing: the cache keeps the hash, and the next fingerprint carries it.
        with contextlib.suppress(SessionError):
            self.session.record(
                ev.ModelHashed(
                    path=str(data.get("path", "")),
                    size=data.get("size"),
                    mtime=data.get("mtime"),
                    sha256=data.get("sha256"),
                    error=data.get("error"),
                )
            )
        if self.on_hash_done is not None:
            self.on_hash_done(data)

    def template_values(self) -> dict[str, str]:
        from ..evidence.context import template_values

        return template_values(self.runbook, self.session.state, self.values(), self.read_log)

    # -- logs ----------------------------------------------------------------------------------------------------

    def read_log(self, run_id: str, tail: int | None = None) -> str:
        """A run's log as text (U+FFFD for bytes that are not UTF-8); with ``tail``, only its last ``tail`` bytes
        (from a line start), after a line saying how much was left out."""
        run = self.session.state.runs.get(run_id)
        if run is None or not run.log:
            return ""
        try:
            with open(run.log, "rb") as fh:
                size = fh.seek(0, 2)
                if tail is None or size <= tail:
                    fh.seek(0)
                    return fh.read().decode("utf-8", "replace")
                fh.seek(size - tail)
                data = fh.read()
        except OSError:
            return ""
        start = data.find(b"\n") + 1
        return f"[… the first {size - tail + start:,} bytes of this log were not read …]\n" + data[start:].decode(
            "utf-8", "replace"
        )

    def step_log(self, step_id: str, tail: int | None = None) -> str:
        """All logs of the step's latest attempt, in order (each cut to its last ``tail`` bytes if given)."""
        return "".join(self.read_log(r.run_id, tail) for r in self.session.state.attempt_runs(step_id))

    def suggestion(self, step: m.FormStep) -> Any:
        """What the diagnostic log suggests for a form's fields (``None`` without evidence)."""
        if not step.evidence_from:
            return None
        from ..evidence import tensor_copy

        # Asked on every plan of the form; parse a diagnostic log again only when it changed.
        state = self.session.state
        key = tuple((r.run_id, r.log_size) for r in state.attempt_runs(step.evidence_from))
        if key not in self._suggestions:
            text = self.step_log(step.evidence_from)
            found = tensor_copy.suggest(tensor_copy.parse(text), tensor_copy.diagnose_log(text)) if text else None
            self._suggestions = {key: found}
        return self._suggestions[key]

    # -- an attempt ----------------------------------------------------------------------------------------------

    def missing_answers(self, step: m.Step) -> list[m.FormField]:
        """The required fill-in fields of ``step`` that have no answer yet (blank counts as none)."""
        fields: list[m.FormField] = getattr(step, "fields", [])
        return [f for f in fields if f.required and not (self.session.state.answer(f.id) or "").strip()]

    def start(self, step: m.Step, acknowledged: Sequence[dict[str, Any]] = ()) -> None:
        self.session.record(ev.StepStarted(step=step.id, acknowledged=list(acknowledged) or None))

    def finish(
        self,
        step: m.Step,
        status: StepStatus,
        summary: str,
        findings: Sequence[str] = (),
        evidence: dict[str, Any] | None = None,
    ) -> StepResult:
        evidence = dict(evidence or {})
        if findings:
            evidence.setdefault("findings", list(findings))
        settled = True if self.settling else None
        self.session.record(
            ev.StepFinished(step=step.id, status=status.value, summary=summary, evidence=evidence, settled=settled)
        )
        troubles: tuple[m.Troubleshooting, ...] = ()
        if status is not StepStatus.PASSED:
            from ..evidence.troubleshoot import matching

            troubles = tuple(matching(self.runbook, self.session.state, step.id, list(findings)))
        return StepResult(step.id, status, summary, tuple(findings), evidence, troubles)
