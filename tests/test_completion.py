"""Shell completion (issue 19): scripts for bash, zsh and fish generated from the argument parser; bash's is sourced
by a real bash and completes subcommands, options and step ids (from the hidden ``_complete``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .cli_session import AMXWIZARD

BIN = str(Path(AMXWIZARD).parent)
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _script(shell: str, tmp_path: Path) -> str:
    done = subprocess.run([AMXWIZARD, "completion", shell], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated_for_each_shell(shell: str, tmp_path: Path) -> None:
    text = _script(shell, tmp_path)
    for word in ("step", "status", "report", "completion", "accept-suggestions", "notify-command"):
        assert word in text, (shell, word)
    assert "amxwizard _complete steps" in text  # step ids come from the runbook when completing
    assert "_complete variables" in text and "_complete checklist" in text
    assert "_run-ended" not in text  # hidden commands are not offered


def _complete_in_bash(script: Path, words: list[str], cwd: Path) -> list[str]:
    """Run bash's completion function for ``words`` (the last one being completed) and return COMPREPLY."""
    probe = f"""
source {script}
fn=$(complete -p amxwizard | sed -E 's/.* -F ([^ ]+) .*/\\1/')
COMP_WORDS=({" ".join(repr(w) if w else "''" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" amxwizard "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", probe], capture_output=True, text=True, timeout=60, cwd=cwd, env=ENV
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_sources_the_script_and_completes_steps_and_options(tmp_path: Path) -> None:
    script = tmp_path / "amxwizard.bash"
    script.write_text(_script("bash", tmp_path))
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"source {script} && complete -p amxwizard"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "amxwizard" in done.stdout
    assert "status" in _complete_in_bash(script, ["amxwizard", "sta"], tmp_path)
    steps = _complete_in_bash(script, ["amxwizard", "step", "1."], tmp_path)
    assert "1.1" in steps and "1.4" in steps and all(s.startswith("1.") for s in steps)
    assert "--accept-suggestions" in _complete_in_bash(script, ["amxwizard", "step", "--acc"], tmp_path)
    assert "model=" in _complete_in_bash(script, ["amxwizard", "setup", "--var", "mo"], tmp_path)


@pytest.mark.parametrize("shell,check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_zsh_and_fish_scripts_parse(shell: str, check: list[str], tmp_path: Path) -> None:
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed here (the script is still generated, see above)")
    script = tmp_path / f"amxwizard.{shell}"
    script.write_text(_script(shell, tmp_path))
    done = subprocess.run([*check, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_complete_lists_names_from_the_runbook(tmp_path: Path) -> None:
    def words(what: str) -> list[str]:
        done = subprocess.run([AMXWIZARD, "_complete", what], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0
        return done.stdout.split()

    assert "1.4" in words("steps") and "test-1" in words("steps")
    assert "repo=" in words("variables") and "pre-1" in words("checklist")
    assert "tensor=" in words("fields")


def test_hidden_commands_stay_out_of_help(tmp_path: Path) -> None:
    done = subprocess.run([AMXWIZARD, "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "completion" in done.stdout and "schema" in done.stdout and "notify" in done.stdout
    assert "_complete" not in done.stdout and "_run-ended" not in done.stdout
