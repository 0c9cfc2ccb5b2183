"""Where the wizard may read and write with this session's values: the run-time half of ``runbook/paths.py``.

``validate`` checks the shape of each path template; only now are the values known. :class:`PathPolicy` renders a
template, works out the root its shape names (the repository, the session folder, the backup folder, or a root a
variable declares) and refuses a result outside it: ``repo=/`` (every path would be inside), a ``..`` or an
absolute path inside a value, a declared-root variable set to somewhere else. The :class:`Confined` path it
returns carries its root, which :func:`~amxwizard.engine.fileio.atomic_write` and
:func:`~amxwizard.engine.fileio.read_file` take to refuse links below it.

Every refusal is an :class:`~amxwizard.engine.fileio.UnsafePathError`: one line, naming the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..runbook.paths import PathRoot, path_shape, repo_variable
from ..runbook.templates import render_path, render_text
from .fileio import UnsafePathError, check_target, expand_path, is_inside, normal_path

if TYPE_CHECKING:
    from ..runbook.models import Runbook
    from .session import Session


@dataclass(frozen=True, slots=True)
class Confined:
    """A path (normalised, absolute) and the root it was checked to lie below."""

    path: Path
    root: Path


class PathPolicy:
    """The roots of one session's paths, and the checks of rendered paths against them."""

    def __init__(
        self,
        runbook: Runbook,
        values: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        workdir: Path | str | None = None,
    ) -> None:
        self.runbook = runbook
        self.values = dict(values)
        self.env = dict(env or {})
        if workdir is None:
            workdir = expand_path(render_text(runbook.workdir, self.values)) if runbook.workdir else Path(".")
        self.workdir = normal_path(workdir)

    @classmethod
    def for_session(cls, session: Session) -> PathPolicy:
        """The policy of ``session``: its runbook, variable values and the exports of earlier steps."""
        return cls(session.runbook.model, session.values(), session.env())

    # -- roots -------------------------------------------------------------------------------------------------

    def repo(self) -> Path:
        """The target repository: the repo variable's value, else the workdir. Never ``/``."""
        name = repo_variable(self.runbook)
        if name is not None and self.values.get(name):
            path, what = normal_path(expand_path(self.values[name])), f"{name}={self.values[name]}"
        else:
            path, what = self.workdir, "the working folder"
        return _not_everything(path, what, "the repository")

    def root(self, root: PathRoot) -> Path:
        """Where ``root`` is with these values."""
        if root.kind == "repo":
            return self.repo()
        if root.kind == "session":
            value = self.values.get("session_dir", "")
            if not value or value.startswith("<"):
                raise UnsafePathError("{{session_dir}}", "there is no session folder yet")
            return _not_everything(normal_path(value), "session_dir", "the session folder")
        if root.kind == "backup":
            value = self.env.get(root.name, "")
            if not value:
                raise UnsafePathError(f"${root.name}", "is not set yet (the backup step sets it)")
            return _not_everything(normal_path(value), f"${root.name}", "the backup folder")
        declared = self.runbook.variables[root.name].root or ""
        return _not_everything(normal_path(expand_path(declared)), f"the root of {root.name}", "a declared root")

    def declared_roots(self) -> dict[str, Path]:
        """Every root the runbook's variables declare, by variable."""
        return {name: self.root(PathRoot("declared", name)) for name, var in self.runbook.variables.items() if var.root}

    # -- paths -------------------------------------------------------------------------------------------------

    def locate(self, template: str, what: str) -> Confined:
        """Render ``template`` (placeholders, then ``$EXPORTS``, then ``~``; relative to the workdir) and check it
        lies below the root its shape names. Raises :class:`UnsafePathError` (or ``TemplateError`` for a name
        with no value yet)."""
        shape = path_shape(template, self.runbook)
        if shape.root is None:
            raise UnsafePathError(template, f"{what}: {shape.problem}")
        root = self.root(shape.root)
        rendered = expand_path(render_path(template, self.values, self.env))
        path = normal_path(rendered if rendered.is_absolute() else self.workdir / rendered)
        if not is_inside(path, root):
            where = shape.root.describe(self.runbook)
            raise UnsafePathError(path, f"{what} must lie inside {where}, {root}; this one is outside it")
        return Confined(path, root)

    def confine(self, path: Path | str, what: str) -> Confined:
        """An already rendered path (as the executor renders it) checked against the repository and the declared
        roots, in that order. For paths whose template is not at hand; :meth:`locate` is stricter."""
        target = normal_path(path)
        roots = [self.repo(), *self.declared_roots().values()]
        for root in roots:
            if is_inside(target, root):
                return Confined(target, root)
        raise UnsafePathError(target, f"{what} must lie inside the repository {roots[0]}; this one is outside it")

    def problems(self) -> list[str]:
        """What is wrong with these values, as one line each, before anything runs: a repository of ``/``, a
        declared-root variable set outside its root, or pointing at a symlink or at another user's file."""
        out: list[str] = []
        try:
            self.repo()
        except UnsafePathError as exc:
            out.append(str(exc))
        for name, var in self.runbook.variables.items():
            if var.root is None or not self.values.get(name):
                continue
            try:
                confined = self.locate("{{" + name + "}}", name)
                check_target(confined.path, root=confined.root)
            except (UnsafePathError, ValueError) as exc:
                out.append(f"{name}: {exc}")
            except OSError:
                continue  # a missing folder is made later, or reported by the step that writes there
        return out


def _not_everything(path: Path, what: str, role: str) -> Path:
    if path == Path(path.anchor) or not path.is_absolute():
        raise UnsafePathError(path, f"{what} cannot be {role}: every path would be inside it")
    return path


def confined_root(policy: PathPolicy | None, path: Path | str, what: str) -> Path | None:
    """The root to write ``path`` below: the policy's, if there is one (raising if ``path`` is outside every
    root), else ``None`` (only the file itself and its folder are checked)."""
    if policy is None:
        return None
    return policy.confine(path, what).root


__all__ = ["Confined", "PathPolicy", "confined_root"]
