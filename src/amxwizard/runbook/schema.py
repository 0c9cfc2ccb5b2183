"""The runbook format as a JSON Schema, generated from the pydantic models, with every field described.

``amxwizard schema > runbook.schema.json`` writes it; ``runbook.yaml`` names it in its first line
(``# yaml-language-server: $schema=runbook.schema.json``), so an editor with the YAML language server completes
and checks a runbook as it is typed. The copies shipped beside the two runbooks are tested to equal this output.

A field's description is the docstring under it in :mod:`.models` (or its ``Field(description=...)``). They are
read from the module's source here, when the schema is made, rather than by pydantic at import: the wizard
starts ~65 ms sooner.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
from typing import Any

from pydantic import BaseModel

from . import models

SCHEMA_FILE = "runbook.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def field_docs() -> dict[tuple[str, str], str]:
    """``{(class name, field name): docstring}`` for every field of :mod:`.models` that has one under it."""
    tree = ast.parse(inspect.getsource(models))
    out: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for stmt, after in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                out[(node.name, stmt.target.id)] = inspect.cleandoc(after.value.value)
    return out


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _describe(cls: type[BaseModel], properties: dict[str, Any], docs: dict[tuple[str, str], str]) -> None:
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        if not prop.get("description"):
            for klass in cls.__mro__:
                doc = docs.get((klass.__name__, name))
                if doc:
                    prop["description"] = doc
                    break
        if prop.get("description"):
            prop["description"] = _one_line(prop["description"])


def _tighten_keys(node: Any) -> None:
    """A ``dict[Name, X]`` comes out as ``patternProperties``, which leaves a key that does not match the pattern
    unchecked; the models refuse such a key, so the schema does too (``propertyNames`` with the pattern)."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            names = node.setdefault("propertyNames", {})
            if isinstance(names, dict):
                names.setdefault("pattern", next(iter(patterns)))
        for value in node.values():
            _tighten_keys(value)
    elif isinstance(node, list):
        for item in node:
            _tighten_keys(item)


def runbook_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a runbook file."""
    schema = models.Runbook.model_json_schema()
    docs = field_docs()
    for name, definition in schema.get("$defs", {}).items():
        cls = getattr(models, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            _describe(cls, definition.get("properties", {}), docs)
            if cls.__doc__ and not definition.get("description"):
                definition["description"] = _one_line(inspect.cleandoc(cls.__doc__))
            elif definition.get("description"):
                definition["description"] = _one_line(definition["description"])
    _describe(models.Runbook, schema.get("properties", {}), docs)
    _tighten_keys(schema)
    return {
        "$schema": DIALECT,
        "title": "amxwizard runbook",
        "description": "A runbook the amxwizard walks step by step: variables, checklist, phases of typed steps, "
        "success criteria and troubleshooting. Generated from the wizard's own models by 'amxwizard schema'.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def undocumented(schema: dict[str, Any]) -> list[str]:
    """Every property of ``schema`` without a description, as ``Definition.field``."""
    missing: list[str] = []
    places = [("Runbook", schema), *schema.get("$defs", {}).items()]
    for name, definition in places:
        for field, prop in definition.get("properties", {}).items():
            if not (isinstance(prop, dict) and prop.get("description")):
                missing.append(f"{name}.{field}")
    return missing
