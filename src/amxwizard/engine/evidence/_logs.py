"""Reading the logs of a step's latest attempt through the caller's ``read_log(run_id) -> text``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..state import SessionState

ReadLog = Callable[[str], str]
T = TypeVar("T")

# Criteria and template values read the same finished logs again and again (every preview of a document); a log
# runs to megabytes with debug output, so its parse is kept, keyed by the text's length and hash.
_CACHE: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def cached(kind: str, text: str, parse: Callable[[str], T]) -> T:
    """``parse(text)``, remembered for the same ``kind`` and text. Only for parsers returning immutable values."""
    key = (kind, len(text), hash(text))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]  # type: ignore[no-any-return]
    value = parse(text)
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def read(read_log: ReadLog, run_id: str) -> str:
    """A run's log text; empty when it cannot be read."""
    try:
        return read_log(run_id) or ""
    except OSError:
        return ""


def step_text(state: SessionState, step_id: str, read_log: ReadLog) -> str:
    """The logs of the step's latest attempt, one after the other."""
    return "".join(read(read_log, run.run_id) for run in state.attempt_runs(step_id))
