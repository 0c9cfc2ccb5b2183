"""Text made safe to show on a terminal: no sequence in it can move the cursor, retitle, clear or recolour.

Tool output and file contents reach the screen (the log pane, ``amxwizard step``, diffs). A terminal acts on
control sequences in two spellings: 7-bit (``ESC [`` CSI, ``ESC ]`` OSC, ``ESC P`` DCS, ...) and the C1 controls
U+0080-U+009F, which a UTF-8 terminal reads as the same introducers when they arrive UTF-8 encoded (U+009B is CSI,
U+009D OSC, U+0090 DCS, U+009E PM, U+009F APC, U+0098 SOS). Whole sequences are removed first, so their
parameters do not linger as text; then every C0 and C1 control that is left is dropped, except newline and tab.
Whatever the regular expression misses, no control character survives the second pass.

Only what is shown is changed: run logs on disk stay byte-exact.
"""

from __future__ import annotations

import re

# CSI (colours, cursor moves, clearing), the string sequences OSC/DCS/SOS/PM/APC (titles, hyperlinks, device
# controls; ended by BEL or ST, else by the end of the line), the nF escapes (ESC ( B, ESC # 8) and the two-byte
# escapes (ESC 7, ESC c, ESC M), each in its 7-bit and its C1 spelling. None of them may span lines here.
ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]+[0-~]?"
    r"|\x1b[0-~]?"
)
# What may introduce a sequence: the cheap test before the substitution above.
INTRODUCER_RE = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f]")
# Every C0 control but tab and newline, DEL, and every C1 control.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_sequences(text: str) -> str:
    """``text`` without escape sequences (7-bit or C1); other control characters are left for the caller."""
    return ANSI_RE.sub("", text) if INTRODUCER_RE.search(text) else text


def safe_line(line: str) -> str:
    """One line (no ``\\n``) as a terminal should show it: sequences removed, a ``\\r`` redraw (progress bars,
    CRLF endings) reduced to its last drawing, every remaining control character except tab dropped."""
    line = strip_sequences(line)
    if "\r" in line:
        line = line.rstrip("\r").rpartition("\r")[2]
    return CONTROL_RE.sub("", line)


def safe_for_terminal(text: str) -> str:
    """Any text (several lines, a diff, a summary, a log excerpt) made safe to print to a terminal.

    Lines and a final newline are kept; each line goes through :func:`safe_line`. This is the one function
    everything printed from tool output or file contents should pass through.
    """
    if INTRODUCER_RE.search(text) is None and CONTROL_RE.search(text) is None:
        return text
    return "\n".join(safe_line(line) for line in text.split("\n"))
