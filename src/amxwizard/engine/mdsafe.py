"""Text a person typed (or a tool printed) made inert for a Markdown document it is put into.

A value lands in the middle of a line the runbook wrote. Whatever it holds, it must not change the document's
structure: a newline followed by ``# x`` makes no heading, backticks open no code span or fence, ``<!--`` opens no
comment (so no wizard marker can be forged), a blank line ends no list. Line breaks a person typed are kept as
Markdown hard breaks (a backslash at the end of the line), and a line that would start a block starts with an escape.
"""

from __future__ import annotations

import re

_INLINE = re.compile(r"([\\`*_\[\]|#~])")
_BLOCK_START = re.compile(r"^([-+=>])")
_ORDERED_START = re.compile(r"^([0-9]+)([.)])")


def inline(value: str) -> str:
    """``value`` as inert Markdown text for the middle of a line (see the module docstring)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]  # a blank line would end the paragraph (or the list item) it is in
    if not lines:
        return ""
    # Only the first line follows the template's own text; the others start a line, where a block could begin.
    rest = [_ORDERED_START.sub(r"\1\\\2", _BLOCK_START.sub(r"\\\1", line)) for line in lines[1:]]
    return " \\\n".join([lines[0], *rest]) if rest else lines[0]


def open_fence(text: str) -> str | None:
    """The fence (a run of backticks or tildes) still open at the end of ``text``, or ``None``."""
    fence: str | None = None
    for line in text.splitlines():
        match = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if not match:
            continue
        marker = match.group(1)
        if fence is None:
            if marker[0] == "`" and "`" in line[match.end() :]:
                continue  # an info string may not hold a backtick: this line opens nothing
            fence = marker
        elif marker[0] == fence[0] and len(marker) >= len(fence) and not line[match.end() :].strip():
            fence = None
    return fence


def close_fences(text: str) -> str:
    """``text`` with a closing fence added if a code block in it is left open (it would swallow what follows)."""
    fence = open_fence(text)
    if fence is None:
        return text
    return text.rstrip("\n") + "\n" + fence + "\n"
