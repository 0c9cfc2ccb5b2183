"""One module per step kind, registered in one table; nothing outside engine/steps/ dispatches on the kind."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from amxwizard.engine import steps
from amxwizard.engine.steps import base
from amxwizard.runbook import models as m

SRC = Path(__file__).resolve().parents[2] / "src" / "amxwizard"


def _step_models() -> set[type]:
    union = typing.get_args(typing.get_args(m.Step)[0])
    return set(union)


def test_every_step_kind_of_the_model_has_its_own_registered_module() -> None:
    models = _step_models()
    assert set(steps.KINDS) == models
    for model, kind in steps.KINDS.items():
        assert kind.model is model
        assert kind.name == model.model_fields["kind"].annotation.__args__[0]  # the YAML's kind: value
        module = SRC / "engine" / "steps" / f"{kind.name}.py"
        assert module.is_file(), f"{kind.name} has no module {module.name}"
        assert kind.plan.__module__.startswith("amxwizard.engine.steps.")


def test_every_blocker_type_says_what_resolves_it() -> None:
    for blocker in base.BLOCKER_TYPES:
        assert blocker.KIND != "blocker"
        instance = blocker(reason="run it first") if blocker is base.Prerequisite else blocker()
        assert isinstance(instance.describe(), str) and instance.describe()
        if blocker.FLAG is not None:
            assert blocker.FLAG in instance.describe() or blocker is base.ReviewChanges


def _ladders(tree: ast.AST) -> list[int]:
    """Lines where an if/elif chain tests isinstance(..., m.<Kind>) twice or more (a dispatch on the step kind)."""

    def kind_test(node: ast.expr) -> bool:
        return any(
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "isinstance"
            and len(call.args) == 2
            and "m." in ast.unparse(call.args[1])
            for call in ast.walk(node)
        )

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and kind_test(node.test):
            chain, branch = 1, node.orelse
            while len(branch) == 1 and isinstance(branch[0], ast.If):
                chain += kind_test(branch[0].test)
                branch = branch[0].orelse
            if chain >= 2:
                found.append(node.lineno)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.extend(_if_return_ladder(node))
    return sorted(set(found))


def _if_return_ladder(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[int]:
    """Lines where one function tests the same name against two step kinds in separate ``if`` statements (the
    ``if isinstance(step, m.A): return …`` / ``if isinstance(step, m.B): return …`` form of a ladder)."""
    kinds: dict[str, dict[str, int]] = {}
    for node in ast.walk(function):
        test = node.test if isinstance(node, ast.If) else None
        if (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and len(test.args) == 2
            and isinstance(test.args[0], ast.Name)
            and ast.unparse(test.args[1]).startswith("m.")
        ):
            kinds.setdefault(test.args[0].id, {}).setdefault(ast.unparse(test.args[1]), node.lineno)
    return [min(lines.values()) for lines in kinds.values() if len(lines) >= 2]


def test_no_module_outside_engine_steps_dispatches_on_the_step_kind() -> None:
    ladders = {}
    for path in SRC.rglob("*.py"):
        if (SRC / "engine" / "steps") in path.parents:
            continue
        lines = _ladders(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            ladders[str(path.relative_to(SRC))] = lines
    assert ladders == {}


def test_the_ladder_finder_finds_a_ladder() -> None:
    code = "if isinstance(step, m.A):\n    pass\nelif isinstance(step, m.B):\n    pass\n"
    assert _ladders(ast.parse(code)) == [1]


def test_the_ladder_finder_finds_a_ladder_of_early_returns() -> None:
    code = (
        "def count(step):\n"
        "    if isinstance(step, m.A):\n        return 1\n"
        "    if isinstance(step, m.B):\n        return 2\n"
        "    return 0\n"
    )
    assert _ladders(ast.parse(code)) == [2]
    one_kind = "def f(step):\n    if isinstance(step, m.A):\n        return 1\n    return 0\n"
    assert _ladders(ast.parse(one_kind)) == []
