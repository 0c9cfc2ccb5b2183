"""Keys every screen shares, and how a key is written for a person ("esc", "^q", "?")."""

from __future__ import annotations

from textual.binding import Binding

# Quit and Help come first in each full screen's bindings: the footer lists a screen's keys in binding order and
# cuts what does not fit at 80 columns, and these two must never be the ones cut.
GLOBAL_KEYS = [
    Binding("ctrl+q", "app.quit", "Quit"),
    Binding("f1", "app.help", "Help"),
]

_NAMES = {
    "escape": "esc",
    "question_mark": "?",
    "slash": "/",
    "colon": ":",
    "greater_than_sign": ">",
    "less_than_sign": "<",
    "enter": "enter",
}


def key_label(keys: str) -> str:
    """A binding's first key as a person types it: ``escape`` is "esc", ``ctrl+q`` is "^q"."""
    key = keys.split(",")[0].strip()
    if key in _NAMES:
        return _NAMES[key]
    if key.startswith("ctrl+") and len(key) == 6:
        return "^" + key[-1]
    return key
