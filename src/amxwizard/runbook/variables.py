"""Variable values: checking what a person typed, and resolving defaults that refer to other variables."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping

from .models import Runbook, Variable
from .templates import TemplateError, placeholders, render_text, split_args

# Provided by the session, not the runbook. Shown as <name> where no session exists yet.
BUILTINS = ("session_dir", "session_id")

# Dotted names text templates (commit message, documents, form output) may use; filled in by the engine when the
# template is rendered. ``answers`` takes any field id of the runbook.
NAMESPACES: dict[str, frozenset[str] | None] = {
    "answers": None,
    "evidence": frozenset(
        {"pp_tps", "tg_tps", "pp_ms_per_token", "tg_vs_baseline", "baseline_tps", "tests_summary", "weight_copies"}
    ),
    "approach": frozenset({"id", "letter", "title", "use_if"}),
    "session": frozenset({"id", "date", "backup_dir"}),
    "claims": None,  # the commit step's own claims (checked against them when the runbook loads)
}
PATH_TYPES = frozenset({"path", "dir", "file", "repo"})
_COMMIT_RE = re.compile(r"^[0-9a-fA-F]{4,40}$")
# What a command line reads as a number: ASCII only (Python's int() and float() also take '1_000' and '１２').
_INT_TEXT_RE = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class VariableError(ValueError):
    """A variable value that cannot be used; the message names the variable (``name``, when there is one)."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


def check_value(name: str, var: Variable, text: str) -> str | None:
    """What is wrong with ``text`` as a value of ``var`` (syntax and range only), or ``None``."""
    if "\x00" in text:
        return f"{name}: contains a NUL byte"
    if var.type not in {"text", "args"} and ("\n" in text or "\r" in text):
        return f"{name}: must be one line"
    if var.type in {"path", "dir", "file", "repo"} and not text.strip():
        return f"{name}: a path is required"
    if var.type == "int":
        if not _INT_TEXT_RE.fullmatch(text.strip()):
            return f"{name}: {text!r} is not a whole number"
        if len(text.strip()) > 30:  # and int() refuses more than 4300 digits
            return f"{name}: a number of {len(text.strip()):,} digits is too large"
        number: float = int(text.strip())
    elif var.type == "number":
        if not _NUMBER_TEXT_RE.fullmatch(text.strip()):
            return f"{name}: {text!r} is not a number"
        number = float(text.strip())
        if not math.isfinite(number):
            return f"{name}: must be a finite number"
    else:
        if var.type == "args":
            try:
                split_args(text)
            except TemplateError as exc:
                return f"{name}: {exc}"
        if var.type == "commit" and text and not _COMMIT_RE.match(text.strip()):
            return f"{name}: {text!r} is not a commit hash (4-40 hex digits)"
        return None
    if var.min is not None and number < var.min:
        return f"{name}: {text.strip()} is below the minimum {var.min}"
    if var.max is not None and number > var.max:
        return f"{name}: {text.strip()} is above the maximum {var.max}"
    return None


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["repo=/x", "threads=8"]`` -> ``{"repo": "/x", "threads": "8"}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise VariableError(f"--var {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def default_order(variables: Mapping[str, Variable]) -> list[str]:
    """Variables in an order where each default's references come first; raises on a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            raise VariableError(f"{name}: defaults refer to each other in a cycle ({cycle})", name)
        state[name] = 1
        var = variables[name]
        if isinstance(var.default, str):
            for ref in placeholders(var.default):
                if ref in variables:
                    visit(ref, (*chain, name))
        state[name] = 2
        order.append(name)

    for name in variables:
        visit(name, ())
    return order


def resolve(
    runbook: Runbook, overrides: Mapping[str, str] | None = None, builtins: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every variable's value as text: overrides as given (checked), defaults rendered. Includes builtins."""
    overrides = dict(overrides or {})
    values: dict[str, str] = {name: f"<{name}>" for name in BUILTINS}
    values.update(builtins or {})
    unknown = sorted(set(overrides) - set(runbook.variables))
    if unknown:
        known = ", ".join(runbook.variables)
        raise VariableError(f"unknown variable {unknown[0]!r} (the runbook has: {known})")
    for name in default_order(runbook.variables):
        var = runbook.variables[name]
        if name in overrides:
            problem = check_value(name, var, overrides[name])
            if problem:
                raise VariableError(problem)
            values[name] = overrides[name].strip() if var.type not in {"text", "args"} else overrides[name]
        else:
            try:
                values[name] = render_text(var.default_text, values)
            except TemplateError as exc:
                raise VariableError(f"{name}: default refers to {exc}") from None
        if var.type in PATH_TYPES:
            # Once, here: a command quotes the value, and bash does not expand ~ inside quotes.
            values[name] = os.path.expanduser(values[name])
    return values
