"""Install like the ecosystem expects (issue 19): a wheel built offline installs into a fresh virtual environment
and runs from there with its runbook and schema; ``--version`` names every part.

pipx itself is not driven here: it insists on upgrading the pip of its shared environment from an index first
(``pip >= 26.1``), which cannot be done offline. What pipx installs is this same wheel, into a venv like this one.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from .cli_session import AMXWIZARD

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, env=env or dict(os.environ))


def test_version_names_amxwizard_python_textual_and_the_schema(tmp_path: Path) -> None:
    from importlib import metadata

    done = _run([AMXWIZARD, "--version"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "amxwizard 0.1.0"
    assert lines[1].startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")
    assert lines[2] == f"Textual {metadata.version('textual')}"
    assert lines[3] == "runbook schema 1"


def test_a_wheel_built_offline_installs_and_runs_from_a_fresh_environment(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(source),
        ],
        tmp_path,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("amxwizard-*-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("amxwizard/data/runbook.yaml", "amxwizard/data/runbook.schema.json", "amxwizard/ui/wizard.tcss"):
        assert shipped in names
    assert any(n.endswith("entry_points.txt") for n in names)

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The dependencies come from this test environment (offline), after the fresh venv's own site-packages, whose
    # amxwizard (the wheel's) wins over this checkout's editable one.
    fresh_site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path).stdout.strip()
    )
    ours = [p for p in {sysconfig.get_path("purelib"), *site.getsitepackages()} if Path(p).is_dir()]
    (fresh_site / "deps-from-tests.pth").write_text("\n".join(ours) + "\n")

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    where = _run([str(python), "-c", "import amxwizard.commands as c; print(c.__file__)"], empty)
    assert Path(where.stdout.strip()).is_relative_to(fresh_site), where.stdout + where.stderr
    exe = str(venv / "bin" / "amxwizard")
    version = _run([exe, "--version"], empty)
    assert version.returncode == 0 and version.stdout.startswith("amxwizard 0.1.0\n"), version.stderr
    validated = _run([exe, "validate"], empty)
    assert validated.returncode == 0 and validated.stdout.startswith("runbook.yaml (bundled): AMX+GPU Scheduler Fix")
    schema = _run([exe, "schema"], empty)
    assert schema.stdout == (ROOT / "runbook.schema.json").read_text(encoding="utf-8")
    completion = _run([exe, "completion", "bash"], empty)
    assert completion.returncode == 0 and "_shtab_amxwizard" in completion.stdout
