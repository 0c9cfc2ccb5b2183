"""Benchmarks (not tests): ``python -m amxwizard.bench [--only NAME] [--quick]``.

Each section is a module with ``run(quick: bool) -> None`` that prints its own lines, listed in
:data:`amxwizard.bench.__main__.SECTIONS`. Sections print measurements and ratios, never pass/fail.
"""

from __future__ import annotations


def fmt_rate(count: float, seconds: float) -> str:
    """``1.23M/s``-style rate of ``count`` things in ``seconds``."""
    if seconds <= 0:
        return "inf/s"
    rate = count / seconds
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if rate >= size:
            return f"{rate / size:.2f}{unit}/s"
    return f"{rate:.0f}/s"


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
