"""The colours of meaning (error, warning, good, accent, note), defined in ``wizard.tcss``, not in Python.

Renderables built outside a widget (the detail pane is rendered in a worker thread, status lines are assembled as
Rich text) need Rich styles. Each tone is a component class of the app (``WizardHost > .tone--error`` and so on in
``wizard.tcss``, coloured with the theme's variables such as ``$error``); :func:`load` reads them from the running
app's stylesheet when it mounts and whenever the theme changes, and :func:`tone` hands them out. Before an app has
loaded them (a renderer called from a test) a tone is plain text: the glyphs (✔ ✘ ▶ ! ↷) carry the meaning on
their own, as they do under ``NO_COLOR``.
"""

from __future__ import annotations

from typing import Literal, Protocol

from rich.style import Style

Tone = Literal["error", "warn", "good", "accent", "note"]
TONES: tuple[Tone, ...] = ("error", "warn", "good", "accent", "note")
COMPONENT_CLASSES = frozenset(f"tone--{name}" for name in TONES)

_PLAIN = Style()
_styles: dict[str, Style] = {}


class _Styled(Protocol):
    def get_component_styles(self, *names: str) -> object: ...


def load(app: _Styled) -> None:
    """Read every tone from the app's stylesheet (foreground and text style only: the widget keeps its background)."""
    loaded: dict[str, Style] = {}
    for name in TONES:
        rich = getattr(app.get_component_styles(f"tone--{name}"), "rich_style", _PLAIN)
        loaded[name] = Style(color=rich.color, bold=rich.bold, italic=rich.italic, underline=rich.underline)
    global _styles
    _styles = loaded  # one assignment: a worker thread reading tones sees the old set or the new, never half


def tone(name: Tone, *, bold: bool = False) -> Style:
    """The Rich style of a tone (``bold`` adds weight to it)."""
    style = _styles.get(name, _PLAIN)
    return style + Style(bold=True) if bold else style


def styled(spec: str) -> Style | str:
    """A style written in a table as words: a tone, optionally with ``bold`` (``"error bold"``), else a Rich style
    without colour (``"dim"``). Resolved when used, so a table built at import follows the theme."""
    name, _, rest = spec.partition(" ")
    for known in TONES:
        if name == known:
            return tone(known, bold=rest == "bold")
    return spec
