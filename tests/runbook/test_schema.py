"""The runbook's JSON Schema (issue 19): generated from the models, every field described, shipped beside both
runbooks and named by their modeline; a real JSON Schema validator accepts the shipped runbook and rejects broken
ones."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from amxwizard.runbook.schema import MODELINE, runbook_schema, undocumented

from ..cli_session import AMXWIZARD

ROOT = Path(__file__).resolve().parent.parent.parent
RUNBOOKS = [ROOT / "runbook.yaml", ROOT / "src" / "amxwizard" / "data" / "runbook.yaml"]


def _data(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = runbook_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # the schema itself is valid draft 2020-12
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_runbook_is_valid_against_the_generated_schema(validator: jsonschema.Draft202012Validator) -> None:
    for path in RUNBOOKS:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_data(path))]
        assert errors == [], path


def _broken(change: str) -> Any:
    data = _data(RUNBOOKS[0])
    broken = copy.deepcopy(data)
    if change == "no title":
        del broken["title"]
    elif change == "unknown step kind":
        broken["phases"][0]["steps"][0]["kind"] = "teleport"
    elif change == "negative silence":
        step = next(s for p in broken["phases"] for s in p["steps"] if s["kind"] == "shell")
        step["silence_minutes"] = -1
    elif change == "misspelt field":
        broken["phases"][0]["steps"][0]["comands"] = ["make"]
    elif change == "bad variable name":
        broken["variables"]["Not-A-Name"] = {"default": "x"}
    elif change == "number as commands":
        step = next(s for p in broken["phases"] for s in p["steps"] if s["kind"] == "shell")
        step["commands"] = 42
    return broken


@pytest.mark.parametrize(
    "change",
    ["no title", "unknown step kind", "negative silence", "misspelt field", "bad variable name", "number as commands"],
)
def test_a_broken_runbook_is_rejected(validator: jsonschema.Draft202012Validator, change: str) -> None:
    errors = list(validator.iter_errors(_broken(change)))
    assert errors, change


def test_every_field_is_described() -> None:
    schema = runbook_schema()
    assert undocumented(schema) == []
    shell = schema["$defs"]["ShellStep"]["properties"]
    assert "never stopped" in shell["silence_minutes"]["description"]
    assert shell["silence_minutes"]["default"] == 10
    assert "\n" not in json.dumps(schema["$defs"]["Edit"]["properties"]["claimed_lines"]["description"])


def test_the_shipped_schema_files_are_what_the_cli_prints(tmp_path: Path) -> None:
    done = subprocess.run([AMXWIZARD, "schema"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == runbook_schema()
    for folder in (ROOT, ROOT / "src" / "amxwizard" / "data"):
        shipped = (folder / "runbook.schema.json").read_text(encoding="utf-8")
        assert shipped == done.stdout, f"{folder}: regenerate with 'amxwizard schema > runbook.schema.json'"


def test_both_runbooks_name_the_schema_in_their_first_line() -> None:
    for path in RUNBOOKS:
        assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE
        assert (path.parent / "runbook.schema.json").is_file()  # the modeline's relative path resolves
