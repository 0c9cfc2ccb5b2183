"""``amxwizard schema``: the runbook format as a JSON Schema, for editors (``> runbook.schema.json``)."""

from __future__ import annotations

import argparse
import json


def schema_text() -> str:
    """The schema as it is printed and shipped: indented, keys in the models' order, a final newline."""
    from ..runbook.schema import runbook_schema

    return json.dumps(runbook_schema(), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    print(schema_text(), end="")
    return 0
