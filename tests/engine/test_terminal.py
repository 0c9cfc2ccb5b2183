"""Issue 17: nothing a tool prints can move, retitle, clear or recolour the person's terminal, in 7-bit or C1 form;
the log on disk keeps every byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amxwizard.engine.runner import DisplayLines, clean_lines, display_line
from amxwizard.engine.terminal import safe_for_terminal, safe_line
from tests.cli_session import accept_setup
from tests.conftest import ROOT

AMXWIZARD = Path(sys.executable).with_name("amxwizard")

# Each hostile sequence a terminal would act on, and the text around it that must survive.
SEQUENCES = {
    "csi-7bit-clear": "\x1b[2J",
    "csi-c1-clear": "\u009b2J",
    "csi-c1-cursor-home": "\u009bH",
    "csi-c1-colour": "\u009b31;1m",
    "osc-7bit-title-bel": "\x1b]0;pwned\x07",
    "osc-7bit-title-st": "\x1b]2;pwned\x1b\\",
    "osc-c1-title-st": "\u009d0;pwned\u009c",
    "osc-c1-title-bel": "\u009d0;pwned\x07",
    "osc-c1-hyperlink": "\u009d8;;https://evil.example/\u009c",
    "dcs-7bit": "\x1bPq#0;2;0;0;0\x1b\\",
    "dcs-c1": "\u0090+q544e\u009c",
    "pm-c1": "\u009eprivacy\u009c",
    "apc-c1": "\u009fapplication\u009c",
    "sos-c1": "\u0098string\u009c",
    "ris-reset": "\x1bc",
    "decaln-fill-screen": "\x1b#8",
    "charset": "\x1b(0",
    "save-cursor": "\x1b7",
    "reverse-index-c1": "\u008d",
    "next-line-c1": "\u0085",
    "index-c1": "\u0084",
    "bell": "\x07",
    "backspace": "\x08",
    "delete": "\x7f",
}


def _no_controls(text: str) -> bool:
    return not any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in text)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_every_sequence_is_removed_and_the_text_around_it_kept(name: str) -> None:
    line = f"before{SEQUENCES[name]}after"
    shown = safe_line(line)
    assert shown == "beforeafter", repr(shown)
    assert clean_lines(line) == ["beforeafter"]
    assert display_line(line + "\n") == "beforeafter"
    assert safe_for_terminal(f"{line}\nsecond {SEQUENCES[name]}line\n") == "beforeafter\nsecond line\n"


def test_an_unterminated_string_sequence_ends_at_the_line_end() -> None:
    assert safe_for_terminal("a\u009d0;title with no end\nnext line\n") == "a\nnext line\n"
    assert safe_for_terminal("a\x1b]0;title\nnext\n") == "a\nnext\n"


def test_tabs_newlines_and_printable_unicode_stay() -> None:
    text = "col1\tcol2\nünïcode ✔ — 61.24 t/s\n\u00a0nbsp and \u00a9\n"
    assert safe_for_terminal(text) == text
    assert safe_for_terminal("[ 10%]\r[100%] done\r\n") == "[100%] done\n"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=200))
def test_whatever_the_text_no_control_character_survives(text: str) -> None:
    assert _no_controls(safe_for_terminal(text))
    assert all(_no_controls(line) for line in clean_lines(text))


@pytest.mark.parametrize("cut", range(1, 12))
def test_utf8_encoded_c1_split_across_reads_is_still_removed(cut: int) -> None:
    data = "x\u009b2J\u009d0;t\u009cy\n".encode()
    assert b"\xc2\x9b" in data and b"\xc2\x9d" in data
    lines = DisplayLines()
    got = lines.feed(data[:cut]) + lines.feed(data[cut:]) + lines.finish()
    assert got == ["xy"]


HOSTILE_OUTPUT = (
    b"start\n"
    b"\xc2\x9b2J\xc2\x9bHcleared?\n"  # U+009B CSI, UTF-8 encoded: clear screen, cursor home
    b"\xc2\x9d0;pwned title\xc2\x9c after title\n"  # U+009D OSC: set the window title
    b"\xc2\x90+q\xc2\x9c dcs\n"  # U+0090 DCS ... U+009C ST
    b"\x1b[31mred\x1b[0m \x1b]0;t\x07 seven-bit\n"
    b"end\n"
)


def test_step_prints_tool_output_without_any_control_sequence_and_logs_it_byte_exact(tmp_path: Path) -> None:
    """The real ``amxwizard step`` on a shell step whose command prints C1 and 7-bit sequences."""
    payload = tmp_path / "payload.bin"
    payload.write_bytes(HOSTILE_OUTPUT)
    minimal = (ROOT / "tests" / "fixtures" / "bad-runbooks" / "_valid_minimal.yaml").read_text(encoding="utf-8")
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(
        minimal.replace("cd {{repo}}\n            make -j {{threads}} {{extra_flags}}\n", f"cat {payload}\n", 1),
        encoding="utf-8",
    )
    state = tmp_path / "state"
    accept_setup(state, {}, runbook=runbook, cwd=tmp_path)
    result = subprocess.run(
        [str(AMXWIZARD), "step", "1.1", "--runbook", str(runbook), "--state-dir", str(state), "--yes"],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "AMXWIZARD_NICE": "0"},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    out = result.stdout.decode("utf-8")
    assert _no_controls(out), repr(out)
    assert "\u009b" not in out and "\u009d" not in out and "\x1b" not in out
    shown = out.splitlines()
    assert shown[shown.index("start") : shown.index("end") + 1] == [
        "start",
        "cleared?",
        " after title",
        " dcs",
        "red  seven-bit",
        "end",
    ]
    (log,) = state.glob("sessions/*/runs/*/output.log")
    assert log.read_bytes() == HOSTILE_OUTPUT
