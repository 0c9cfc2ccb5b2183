"""The package ships its runbook and keeps its core free of the UI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from amxwizard.runbook import bundled_runbook, load_runbook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_bundled_runbook_is_byte_identical_to_the_root_one() -> None:
    assert (ROOT / "src" / "amxwizard" / "data" / "runbook.yaml").read_bytes() == (ROOT / "runbook.yaml").read_bytes()


def test_the_package_finds_its_bundled_runbook() -> None:
    path = bundled_runbook()
    assert path.is_file()
    assert path.read_bytes() == (ROOT / "runbook.yaml").read_bytes()
    assert load_runbook(path).model.title == "AMX+GPU Scheduler Fix"


def test_validate_in_an_empty_folder_uses_the_bundled_copy(tmp_path: Path) -> None:
    result = _run([str(BIN / "amxwizard"), "validate"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("runbook.yaml (bundled): AMX+GPU Scheduler Fix")
    assert "5 phases" in result.stdout and "9 criteria" in result.stdout
    assert list(tmp_path.iterdir()) == []  # and it wrote nothing where it was run


def test_a_local_runbook_wins_over_the_bundled_one(tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests" / "fixtures" / "bad-runbooks" / "_valid_minimal.yaml", tmp_path / "runbook.yaml")
    result = _run([str(BIN / "amxwizard"), "validate"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("runbook.yaml: Minimal runbook")


def test_a_build_of_the_package_ships_the_runbook_and_finds_it(tmp_path: Path) -> None:
    """Build the package as an installer would (setuptools build_py from pyproject), then run it from the build."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    built = tmp_path / "built"
    result = _run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(built),
        ],
        cwd=source,
    )
    assert result.returncode == 0, result.stderr
    assert (built / "amxwizard" / "data" / "runbook.yaml").read_bytes() == (ROOT / "runbook.yaml").read_bytes()

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    probe = "import amxwizard.runbook as r; print(r.__file__); print(r.bundled_runbook())"
    result = _run([sys.executable, "-c", probe], cwd=empty, env={"PYTHONPATH": str(built)})
    assert result.returncode == 0, result.stderr
    module_file, runbook = result.stdout.splitlines()
    assert Path(module_file).is_relative_to(built)
    assert Path(runbook) == built / "amxwizard" / "data" / "runbook.yaml"
    result = _run([sys.executable, "-m", "amxwizard.cli", "validate"], cwd=empty, env={"PYTHONPATH": str(built)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("runbook.yaml (bundled): AMX+GPU Scheduler Fix")


# --- the core never imports textual -------------------------------------------------------------------------


def test_import_linter_contracts_are_kept() -> None:
    result = _run([str(BIN / "lint-imports")], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The core (runbook, engine, report) never imports textual KEPT" in result.stdout
    assert "0 broken" in result.stdout


def test_import_linter_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The same kind of contract, on a tiny package that breaks it, fails: the check is live."""
    package = tmp_path / "corepkg"
    (package / "runbook").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "runbook" / "__init__.py").write_text("from . import models\n")
    (package / "runbook" / "models.py").write_text("import textual.app\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        textwrap.dedent("""\
        [tool.importlinter]
        root_package = "corepkg"
        include_external_packages = true

        [[tool.importlinter.contracts]]
        name = "core never imports textual"
        type = "forbidden"
        source_modules = ["corepkg.runbook"]
        forbidden_modules = ["textual"]
    """)
    )
    result = _run([str(BIN / "lint-imports"), "--config", str(config)], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "corepkg.runbook.models -> textual" in result.stdout


CORE_IMPORT_PROBE = """
import importlib, pkgutil, sys
names = []
for package in ("amxwizard.runbook", "amxwizard.engine", "amxwizard.report"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(len(names))
print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
"""


def test_core_modules_load_without_textual(tmp_path: Path) -> None:
    """Every module of runbook/, engine/ and report/, imported in a fresh interpreter, leaves textual unloaded."""
    result = _run([sys.executable, "-c", CORE_IMPORT_PROBE], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    count, loaded = result.stdout.splitlines()
    assert int(count) >= 10  # the packages and their modules really were imported
    assert loaded == "[]"


def test_the_probe_sees_textual_when_it_is_imported(tmp_path: Path) -> None:
    result = _run([sys.executable, "-c", "import textual.app\n" + CORE_IMPORT_PROBE], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "'textual'" in result.stdout.splitlines()[1]
