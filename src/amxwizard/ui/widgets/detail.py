"""The detail pane: prose wrapped to the pane, code and commands exactly as they are, scrolling sideways.

A command or a line of C++ cut in the middle of a word reads wrong, and at 80 columns most of them would be: each
code block is its own sideways-scrolling box, as wide as its longest line, and ``left``/``right`` scroll them all.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from rich.console import RenderableType
from rich.text import Text
from textual.containers import ScrollableContainer, VerticalScroll
from textual.widgets import Static

from .quiet import same_text, set_text

if TYPE_CHECKING:
    from rich.syntax import Syntax  # imported when code is first shown: pygments is not needed before the first frame


class CodeBlock(ScrollableContainer, can_focus=False):
    """One block of code at its own width; scrolls sideways when it is wider than the pane."""

    DEFAULT_CSS = """
    CodeBlock {
        height: auto;
        overflow-x: auto;
        overflow-y: hidden;
        scrollbar-size-horizontal: 1;
        margin-bottom: 1;
    }
    CodeBlock > Static {
        width: auto;
    }
    """

    def __init__(self, code: Syntax) -> None:
        super().__init__(Static(code))
        self.code = code

    @property
    def wider_than_pane(self) -> bool:
        return self.max_scroll_x > 0


class DetailPane(VerticalScroll):
    """What the selected item is, in parts (see :func:`amxwizard.ui.render.step_detail`)."""

    DEFAULT_CSS = """
    DetailPane > .detail-part {
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.parts: list[RenderableType] = []
        self._shown: list[Static | CodeBlock] = []  # a widget per part, in order (children being removed are not)

    def show(self, parts: Sequence[RenderableType]) -> None:
        """Replace what the pane shows (on the UI thread).

        The widgets of the parts shown are kept as far as the new parts are of the same kinds (prose or code),
        updated in place, and an unchanged one is left alone; only the rest is removed or mounted. Remounting every
        part re-lays the whole screen out, and the pane changes with each step the cursor lands on and a few times
        as a step starts, while keys are being pressed."""
        old, self.parts = self.parts, list(parts)
        # Not imported yet (or still being imported by a worker thread, without its class so far): no part can be
        # code. The pane never imports it itself: pygments comes with it.
        code: type[Syntax] | None = getattr(sys.modules.get("rich.syntax"), "Syntax", None)

        def is_code(part: RenderableType) -> bool:
            return code is not None and isinstance(part, code)

        kept = 0
        for part, widget in zip(parts, self._shown, strict=False):
            if is_code(part) != isinstance(widget, CodeBlock):
                break
            kept += 1
        with self.app.batch_update():
            for part, before, widget in zip(parts[:kept], old, self._shown, strict=False):
                if _same(part, before):
                    continue
                if isinstance(widget, CodeBlock):
                    widget.code = cast("Syntax", part)
                    widget.query_one(Static).update(part)
                    widget.scroll_to(x=0, animate=False)  # other code starts at its left edge, as a new block
                elif isinstance(part, Text | str):
                    set_text(widget, part)
                else:
                    widget.update(part)
            gone, self._shown = self._shown[kept:], self._shown[:kept]
            if gone:
                self.remove_children(gone)
            added = [
                CodeBlock(cast("Syntax", part)) if is_code(part) else Static(part, classes="detail-part")
                for part in parts[kept:]
            ]
            if added:
                self._shown += added
                self.mount_all(added)

    def sideways(self, columns: int) -> bool:
        """Scroll every code block ``columns`` to the right (left when negative); False if none is wider."""
        moved = False
        for block in self.query(CodeBlock):
            if block.wider_than_pane:
                block.scroll_to(x=block.scroll_x + columns, animate=False)
                moved = True
        return moved

    @property
    def text(self) -> str:
        """What the pane says, as plain text (tests)."""
        from ..render import detail_text

        return detail_text(self.parts)


def _same(new: RenderableType, old: RenderableType) -> bool:
    """The two parts show the same thing (Rich's Text compares its text and styles; code, its code and options)."""
    if new is old:
        return True
    if type(new) is not type(old):
        return False
    if isinstance(new, Text | str):
        return same_text(new, old)
    syntax = sys.modules.get("rich.syntax")
    if syntax is not None and isinstance(new, syntax.Syntax):
        # The lexer as given (a name; the ``lexer`` property makes a new object each time); the theme is the module's
        # constant (render.THEME).
        keys = ("code", "_lexer", "line_numbers", "start_line", "line_range", "highlight_lines", "word_wrap", "dedent")
        return all(getattr(new, k, None) == getattr(old, k, None) for k in keys)
    return False
