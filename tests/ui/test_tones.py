"""The colours of meaning come from wizard.tcss and the theme, not from colour names in Python."""

from __future__ import annotations

import re
from pathlib import Path

from amxwizard.ui import tones
from amxwizard.ui.host import WizardHost

UI = Path(__file__).resolve().parents[2] / "src" / "amxwizard" / "ui"


class Bare(WizardHost):
    """The app base every wizard screen runs in, with the wizard's stylesheet and nothing else."""

    CSS_PATH = UI / "wizard.tcss"


def _hex(style: object) -> str:
    color = getattr(style, "color", None)
    assert color is not None, "the tone has no colour"
    return str(color.get_truecolor().hex).lower()


async def test_tones_are_the_themes_colours_and_follow_a_theme_change() -> None:
    app = Bare()
    async with app.run_test() as pilot:
        assert _hex(tones.tone("error")) == app.theme_variables["error"].lower()
        assert _hex(tones.tone("good")) == app.theme_variables["success"].lower()
        assert _hex(tones.tone("warn")) == app.theme_variables["warning"].lower()
        assert tones.tone("warn", bold=True).bold
        before = _hex(tones.tone("error"))
        app.theme = "gruvbox"
        await pilot.pause(0.2)
        assert _hex(tones.tone("error")) == app.theme_variables["error"].lower() != before


_COLOUR_NAME = re.compile(
    r"""["'](?:bold |dim |italic )*(?:red|green|yellow|cyan|magenta|blue)["']"""
    r"|\[/?(?:bold )?(?:red|green|yellow|cyan|magenta|blue)\]"
)


def test_no_colour_name_is_written_in_the_ui_code() -> None:
    found = [
        f"{path.relative_to(UI)}:{number}: {line.strip()}"
        for path in sorted(UI.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _COLOUR_NAME.search(line)
    ]
    assert found == []


def test_the_colour_finder_finds_a_colour_name() -> None:
    assert _COLOUR_NAME.search('Text("x", style="bold red")')
    assert _COLOUR_NAME.search('"[green]ok[/green]"')
    assert not _COLOUR_NAME.search('Text("x", style=tone("error"))')
