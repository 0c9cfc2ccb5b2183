"""Updating a text widget without re-laying out the screen when its size cannot have changed.

``Static.update`` asks for a layout by default: for a widget whose height follows its text (the status line, the
selected row's whole name, a part of the detail pane) Textual then re-arranges the widget's container — for a child
of the screen, every widget on it. A step's start changes a handful of these lines while keys are being pressed, and
each layout landed in the frame of the next key. Most of these updates change a mark or a clock, not the shape of the
text: the same words, as wide as before, wrap to the same lines, and a repaint is enough.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

_BREAKS = re.compile(r"(\s)")


def shape(content: Text | str) -> tuple[object, ...]:
    """What decides how a text wraps at any width: its breaks, the width of each word and of each space between.

    Two texts of the same shape take the same lines (and the same width) wherever they are put: Rich wraps at
    whitespace and folds a word only by its cells."""
    options: tuple[object, ...] = ()
    if isinstance(content, Text):
        plain, options = content.plain, (content.no_wrap, content.overflow, content.justify, content.tab_size)
    else:
        plain = content
    # Each word and each whitespace character, by its cells (a line break as itself).
    return (*options, *(("\n" if token == "\n" else cell_len(token)) for token in _BREAKS.split(plain) if token))


def same_text(new: object, old: object) -> bool:
    """The two show the same: the same characters in the same styles (Rich's ``Text.__eq__`` leaves out the style
    of the whole text and how it wraps)."""
    if isinstance(new, str) or isinstance(old, str):
        return type(new) is type(old) and new == old
    if not isinstance(new, Text) or not isinstance(old, Text):
        return False
    return (new.plain, new.spans, new.style, new.justify, new.overflow, new.no_wrap, new.end) == (
        old.plain,
        old.spans,
        old.style,
        old.justify,
        old.overflow,
        old.no_wrap,
        old.end,
    )


def set_text(widget: Static, content: Text | str) -> bool:
    """Show ``content`` in ``widget``: nothing when it already shows it, a repaint when only the characters
    changed, a layout when its shape did. False when nothing changed."""
    old = widget.content
    if same_text(content, old):
        return False
    # (A str is Textual markup, whose tags take no cells: only Rich Text is measured.)
    same_shape = isinstance(old, Text) and isinstance(content, Text) and shape(old) == shape(content)
    widget.update(content, layout=not same_shape)
    return True
