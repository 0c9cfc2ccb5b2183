"""Finding a run's log: where the session wrote it, or in a copy of the logs a reviewer was given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LogLocator:
    """Where to look for logs.

    ``logs_dir`` (a reviewer's copy) wins: ``DIR/<run_id>/output.log`` (the session's ``runs/`` layout),
    ``DIR/runs/<run_id>/output.log`` (a copied session folder) or ``DIR/<run_id>.log`` (a flat folder).
    Without it, a log is read at the path the session recorded (relative paths under ``session_dir``).
    """

    session_dir: Path | None = None
    logs_dir: Path | None = None

    def candidates(self, run_id: str, recorded: str) -> list[Path]:
        """Every place the log of ``run_id`` may be, best first."""
        if self.logs_dir is not None:
            base = self.logs_dir
            return [base / run_id / "output.log", base / "runs" / run_id / "output.log", base / f"{run_id}.log"]
        if not recorded:
            return [self.session_dir / "runs" / run_id / "output.log"] if self.session_dir else []
        path = Path(recorded)
        if not path.is_absolute() and self.session_dir is not None:
            path = self.session_dir / path
        return [path]

    def find(self, run_id: str, recorded: str) -> Path | None:
        """The first existing candidate for the log of ``run_id``, or ``None``."""
        return next((p for p in self.candidates(run_id, recorded) if p.is_file()), None)

    def describe(self) -> str:
        """Where logs are looked for, for messages."""
        if self.logs_dir is not None:
            return str(self.logs_dir)
        return "their recorded paths"
