"""Modules without current bytecode are compiled for the next start, even where the environment says not to write
bytecode (the wizard's own start must not pay for compiling)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amxwizard.bytecode import compile_stale, stale_modules


def test_stale_modules_are_compiled_in_a_separate_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert sorted(p.name for p in stale_modules(package)) == ["__init__.py", "mod.py"]

    process = compile_stale(package, wait=True)
    assert process is not None and process.returncode == 0
    assert stale_modules(package) == []
    assert compile_stale(package) is None  # nothing left to do: no process

    (package / "sub" / "mod.py").write_text("VALUE = 2  # changed\n")
    os.utime(package / "sub" / "mod.py", ns=(2**62, 2**62))  # newer than its bytecode whatever the clock's grain
    assert [p.name for p in stale_modules(package)] == ["mod.py"]
