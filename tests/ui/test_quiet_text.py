"""A text widget is re-laid out only when its text's shape changes: the same words, as wide, wrap the same way."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from amxwizard.ui.widgets.quiet import same_text, set_text, shape

LONG = "▶ work running · 0:01 · pid 4242  c cancel · l full log · z zoom the output of the step"


class _Recording(Static):
    """A Static that keeps each refresh it is asked for (whether it asked for a layout)."""

    def __init__(self) -> None:
        super().__init__(id="line")
        self.layouts: list[bool] = []

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Static:
        self.layouts.append(layout)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)


class _Lines(App[None]):
    CSS = "#line { height: auto; width: 30; } #fresh { height: auto; width: 30; }"

    def compose(self) -> ComposeResult:
        yield _Recording()
        yield Static(id="fresh")


def test_the_shape_is_the_breaks_and_the_widths_of_words_and_spaces() -> None:
    assert shape("0:01 running") == shape("0:02 stopped")
    assert shape("0:01 running") != shape("0:01  running")  # two spaces
    assert shape("0:01 running") != shape("0:01 runnin")
    assert shape("ab cd") != shape("a字 cd")  # a wide character is two cells
    assert shape("ab\ncd") != shape("ab cd")
    assert shape(Text("ab cd")) != shape(Text("ab cd", no_wrap=True))
    assert shape(Text("▶ running")) == shape(Text("· running", style="bold"))


def test_same_text_compares_the_whole_style_too() -> None:
    assert same_text(Text("x", style="bold"), Text("x", style="bold"))
    assert not same_text(Text("x", style="bold"), Text("x"))  # Rich's Text == says these are equal
    assert not same_text(Text("x"), "x")
    assert same_text("x", "x") and not same_text("x", "y")


async def test_a_text_of_the_same_shape_is_repainted_without_a_layout_and_takes_the_same_lines() -> None:
    app = _Lines()
    async with app.run_test(size=(40, 12)) as pilot:
        line, fresh = app.query_one(_Recording), app.query_one("#fresh", Static)
        assert set_text(line, Text(LONG))
        await pilot.pause()
        tall = line.size.height
        assert tall > 1  # wrapped at 30 columns
        line.layouts.clear()
        # The clock and a mark changed: a repaint; no layout asked for.
        later = LONG.replace("0:01", "0:02").replace("▶", "■")
        assert set_text(line, Text(later))
        assert line.layouts == [False]
        await pilot.pause()
        # ...and the widget is just as a widget laid out afresh with that text would be.
        fresh.update(Text(later))
        await pilot.pause()
        assert line.size == fresh.size and line.size.height == tall
        assert str(line.render()) == later
        # The same text again: nothing at all.
        assert not set_text(line, Text(later))
        assert line.layouts == [False]
        # Another shape (one word longer): a layout, and the widget grows as it should.
        longer = later + " and more words to wrap onto another line"
        assert set_text(line, Text(longer))
        assert line.layouts == [False, True]
        await pilot.pause()
        assert line.size.height > tall
        # A str is markup (its tags take no cells): always laid out.
        line.layouts.clear()
        assert set_text(line, "[b]" + longer[3:] + "[/b]")
        assert line.layouts == [True]
