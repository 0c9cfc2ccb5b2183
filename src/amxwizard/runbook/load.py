"""Load a runbook file into a validated :class:`Runbook`, or raise :class:`RunbookError` with located problems."""

from __future__ import annotations

import difflib
import hashlib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Problem, RunbookError, dotted
from .file import RunbookFile as RunbookFile  # re-exported: it lived here
from .models import (
    COMMAND_KINDS,
    ApproachStep,
    BenchmarkStep,
    ChoiceStep,
    CommitStep,
    FormStep,
    Runbook,
    ShellStep,
    TestStep,
)
from .paths import confined_fields, path_shape, root_problems
from .source import Loc, Located, read_yaml_file, read_yaml_text
from .templates import check_shell_template, placeholders
from .variables import BUILTINS, NAMESPACES, VariableError, check_value, default_order


def load_runbook(path: str | Path, display: str | None = None) -> RunbookFile:
    """Load and validate ``path``. Raises :class:`RunbookError` (and nothing else) on any problem."""
    path = Path(path)
    name = display or str(path)
    located, raw = read_yaml_file(path, name)
    text = raw.decode("utf-8")
    return _checked(located, name, hashlib.sha256(raw).hexdigest(), text, path, text.removeprefix("\ufeff"))


def load_text(text: str, filename: str = "runbook.yaml") -> RunbookFile:
    """Load a runbook from a string (tests, fuzzing, the TUI's editor)."""
    located = read_yaml_text(text, filename)
    sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _checked(located, filename, sha, text, None, text)


def _checked(located: Located, name: str, sha: str, text: str, path: Path | None, source: str) -> RunbookFile:
    """Validate; a document libyaml composed is re-read by the pure parser when it has problems, so every reported
    position is the pure parser's."""
    try:
        return _finish(located, name, sha, text, path)
    except RunbookError:
        if not located.fast:
            raise
    return _finish(read_yaml_text(source, name, fast=False), name, sha, text, path)


def _finish(located: Located, name: str, sha: str, text: str, path: Path | None) -> RunbookFile:
    if not isinstance(located.data, dict):
        raise RunbookError([Problem(name, 1, 1, "", "the top level must be a mapping of keys")])
    try:
        model = Runbook.model_validate(located.data)
    except ValidationError as exc:
        raise RunbookError(_pydantic_problems(exc, located, name)) from None
    problems = [Problem(name, *pos, dotted(loc), msg) for loc, pos, msg in _semantic(model, located)]
    if problems:
        raise RunbookError(problems)
    return RunbookFile(model, path, name, sha, text)


# --- pydantic errors -> located problems --------------------------------------------------------------------


def _data_loc(loc: tuple[Any, ...], data: Any) -> tuple[Loc, bool]:
    """Map pydantic's loc onto the data (dropping union tags); True if the last part exists in the data."""
    out: list[str | int] = []
    node = data
    exists = True
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str):
            if part not in node and i < len(loc) - 1:
                continue  # a discriminator tag, e.g. 'shell' in (..., 'steps', 1, 'shell', 'commands')
            out.append(part)
            exists = part in node
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        # else: a union member or discriminator tag name; not part of the document
    return tuple(out), exists


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:76]}...{shown[-1]}"


def _pydantic_problems(exc: ValidationError, located: Located, name: str) -> list[Problem]:
    by_path: dict[Loc, list[Any]] = {}
    for err in exc.errors(include_url=False):
        loc, _ = _data_loc(err["loc"], located.data)
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "kind")
        by_path.setdefault(loc, []).append(err)
    problems: list[Problem] = []
    for loc, errs in by_path.items():
        message = _message(errs, loc, located)
        problems.append(Problem(name, *located.where(loc), dotted(loc), message))
    return problems


_TYPE_ERRORS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(errs: list[Any], loc: Loc, located: Located) -> str:
    err = errs[0]
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(loc[:-1], located.data)
        hint = difflib.get_close_matches(key, allowed, n=1)
        tail = f" (did you mean {hint[0]!r}?)" if hint else (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"unknown key {key!r}{tail}"
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}" if loc else "missing required key"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown step kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return (
            "this needs a 'kind' (shell, backup, code_change, cmake_edit, form, approach, choice, test, "
            "benchmark, commit or docs)"
        )
    if all(e["type"] in _TYPE_ERRORS for e in errs):
        wanted = " or ".join(dict.fromkeys(_TYPE_ERRORS[e["type"]] for e in errs))
        message = f"expected {wanted}, got {_describe(value)}"
        raw = located.raw.get(loc)
        if "text" in wanted and isinstance(value, int | float | bool) and raw is not None:
            message += f" (YAML read {raw!r} as {_describe(value).split(' ', 1)[1]}; quote it to keep it as text)"
        return message
    msg = str(err["msg"])
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind == "literal_error":
        msg = f"{_describe(value)} is not allowed; {msg[0].lower()}{msg[1:]}"
    elif kind == "string_pattern_mismatch":
        msg = f"{_describe(value)} is not a valid name here ({msg[0].lower()}{msg[1:]})"
    return msg


def _allowed_keys(loc: Loc, data: Any) -> list[str]:
    """Field names of the model found at ``loc`` (following discriminated unions by their 'kind')."""
    model: Any = Runbook
    node = data
    for part in loc:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part]
        else:
            node = None
        model = _descend(model, part, node)
        if model is None:
            return []
    model = _pick(model, node)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _descend(tp: Any, part: str | int, node: Any) -> Any:
    tp = _pick(tp, node if isinstance(part, int) else None)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        field = tp.model_fields.get(part)
        return field.annotation if field else None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return tp


def _pick(tp: Any, node: Any) -> Any:
    """Unwrap Annotated/Optional/unions, choosing the union member whose ``kind`` matches ``node``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if isinstance(node, dict) and "kind" in node:
                for m in models:
                    kind = m.model_fields.get("kind")
                    if kind is not None and node["kind"] in typing.get_args(kind.annotation):
                        return m
            tp = models[0] if len(models) == 1 else (members[0] if len(members) == 1 else None)
            if tp is None:
                return None
            continue
        return tp


# --- checks across the document -----------------------------------------------------------------------------


def _index_locs(model: Runbook) -> dict[str, Loc]:
    """Data location of every step by id."""
    return {
        step.id: ("phases", p, "steps", s) for p, phase in enumerate(model.phases) for s, step in enumerate(phase.steps)
    }


def _strings(data: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _strings(value, (*loc, i))
    elif isinstance(data, str):
        yield loc, data


def _semantic(model: Runbook, located: Located) -> Iterator[tuple[Loc, tuple[int, int], str]]:
    def at(loc: Loc, message: str, offset: int | None = None) -> tuple[Loc, tuple[int, int], str]:
        pos = located.where_in(loc, offset) if offset is not None else located.where(loc)
        return loc, pos, message

    step_locs = _index_locs(model)

    # ids are unique where they are looked up by id
    seen: dict[str, Loc] = {}
    for p, phase in enumerate(model.phases):
        for s, step in enumerate(phase.steps):
            loc: Loc = ("phases", p, "steps", s, "id")
            if step.id in seen:
                yield at(loc, f"duplicate step id {step.id!r} (first at {dotted(seen[step.id])})")
            else:
                seen[step.id] = loc
    for section in ("phases", "checklist", "criteria", "troubleshooting"):
        ids: set[str] = set()
        for i, item in enumerate(getattr(model, section)):
            if item.id in ids:
                yield at((section, i, "id"), f"duplicate id {item.id!r} in {section}")
            ids.add(item.id)
    field_ids: dict[str, str] = {}
    for _, step in model.iter_steps():
        for j, fld in enumerate(getattr(step, "fields", [])):
            if fld.id in field_ids:
                yield at(
                    (*step_locs[step.id], "fields", j, "id"),
                    f"duplicate field id {fld.id!r} (also in step {field_ids[fld.id]})",
                )
            field_ids.setdefault(fld.id, step.id)

    # references to steps
    def ref(loc: Loc, step_id: str | None, want: type | None = None) -> Iterator[tuple[Loc, tuple[int, int], str]]:
        if step_id is None:
            return
        if step_id not in model.steps_by_id:
            close = difflib.get_close_matches(step_id, list(model.steps_by_id), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield at(loc, f"no step has id {step_id!r}{hint}")
        elif want is not None and not isinstance(model.steps_by_id[step_id], want):
            yield at(loc, f"step {step_id!r} is not an approach step")

    for i, crit in enumerate(model.criteria):
        for j, sid in enumerate(crit.steps):
            yield from ref(("criteria", i, "steps", j), sid)
    for i, entry in enumerate(model.troubleshooting):
        yield from ref(("troubleshooting", i, "goto"), entry.goto)
        yield from ref(("troubleshooting", i, "when", "approach"), entry.when.approach, ApproachStep)
        for j, sid in enumerate(entry.when.steps):
            yield from ref(("troubleshooting", i, "when", "steps", j), sid)
    criteria_ids = {c.id for c in model.criteria}
    letters: dict[str, str] = {}
    for _, step in model.iter_steps():
        loc = step_locs[step.id]
        if isinstance(step, CommitStep):
            for j, claim in enumerate(step.claims):
                for k, sid in enumerate(claim.steps):
                    yield from ref((*loc, "claims", j, "steps", k), sid)
                for k, cid in enumerate(claim.criteria):
                    if cid not in criteria_ids:
                        close = difflib.get_close_matches(cid, sorted(criteria_ids), n=1)
                        hint = f" (did you mean {close[0]!r}?)" if close else ""
                        yield at((*loc, "claims", j, "criteria", k), f"no criterion has id {cid!r}{hint}")
        if isinstance(step, ChoiceStep):
            for j, sid in enumerate(step.options):
                yield from ref((*loc, "options", j), sid, ApproachStep)
        if isinstance(step, FormStep):
            yield from ref((*loc, "evidence_from"), step.evidence_from)
        if isinstance(step, ApproachStep):
            if step.letter in letters:
                other = letters[step.letter]
                yield at((*loc, "letter"), f"approach letter {step.letter!r} is also used by step {other}")
            letters.setdefault(step.letter, step.id)

    # variables: defaults valid, references known, no cycles
    for name, var in model.variables.items():
        problem = check_value(name, var, var.default_text) if "{{" not in var.default_text else None
        if problem:
            yield at(("variables", name, "default"), problem.split(": ", 1)[1])
    try:
        default_order(model.variables)
    except VariableError as exc:
        if exc.name is None:
            yield at(("variables",), str(exc))
        else:
            yield at(("variables", exc.name, "default"), str(exc).removeprefix(f"{exc.name}: "))

    # templates: every {{ name }} is known; shell templates are quoted safely
    known_vars = {name: var.type == "args" for name, var in model.variables.items()}
    known_vars.update({name: False for name in BUILTINS})
    shell_locs: set[Loc] = set()
    for _, step in model.iter_steps():
        if isinstance(step, COMMAND_KINDS):
            loc = step_locs[step.id]
            templates: list[tuple[Loc, str]] = []
            if isinstance(step, ShellStep):
                templates = [((*loc, "commands", j), c) for j, c in enumerate(step.commands)]
            elif isinstance(step, TestStep | BenchmarkStep):
                templates = [((*loc, "command"), step.command)]
                if isinstance(step, TestStep):
                    templates += [((*loc, "setup", j), c) for j, c in enumerate(step.setup)]
            for tloc, template in templates:
                shell_locs.add(tloc)
                for err in check_shell_template(template, known_vars):
                    yield at(tloc, str(err), err.offset)
    for loc, text in _strings(located.data, ()):
        if loc in shell_locs or "{{" not in text:
            continue
        in_variables = loc[:1] == ("variables",)
        for name, offset in _names(text):
            message = _unknown_name(name, known_vars, model, allow_namespaces=not in_variables)
            if message:
                yield at(loc, message, offset)

    # paths the wizard writes stay in the repository, or in a root the runbook declares for them
    for loc, message in root_problems(model):
        yield at(loc, message)
    for item in confined_fields(model):
        shape = path_shape(item.template, model)
        if shape.problem is not None:
            yield at(item.loc, f"{item.what}: {shape.problem}", shape.offset)


def _names(text: str) -> Iterator[tuple[str, int]]:
    from .templates import PLACEHOLDER_RE

    for m in PLACEHOLDER_RE.finditer(text):
        yield m.group(1), m.start()


def _unknown_name(name: str, known: dict[str, bool], model: Runbook, allow_namespaces: bool) -> str | None:
    if "." not in name:
        if name in known:
            return None
        close = difflib.get_close_matches(name, list(known), n=1)
        return f"undefined variable {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    space, key = name.split(".", 1)
    if not allow_namespaces or space not in NAMESPACES:
        return f"undefined variable {name!r}" + ("" if allow_namespaces else " (a default may only use variables)")
    keys = NAMESPACES[space]
    if space == "claims":
        claims = {c.id for _, s in model.iter_steps() if isinstance(s, CommitStep) for c in s.claims}
        return None if key in claims else f"{name!r}: no commit step has a claim with id {key!r}"
    if keys is None:
        if key in model.fields:
            return None
        return f"{name!r}: no fill-in field has id {key!r}"
    if key not in keys:
        return f"{name!r}: {space} has no {key!r} (it has: {', '.join(sorted(keys))})"
    return None


__all__ = ["RunbookFile", "load_runbook", "load_text", "placeholders"]
