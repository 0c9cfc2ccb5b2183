"""Benchmarks (not tests): ``python -m amxwizard.bench [--only NAME] [--quick]``.

Each section is a module with ``run(quick: bool) -> list[Figure] | None`` that prints its own lines, listed in
:data:`amxwizard.bench.__main__.SECTIONS`; the figures it returns end up in one table with their goals and ratios.
"""

from __future__ import annotations

from dataclasses import dataclass

# The project's speed goals (issue: speed as a person feels it), each a Figure's goal; the README quotes them.
GOAL_START_RATIO = 1.15  # process start to the first frame, as a multiple of a bare Textual app's
GOAL_FLOOD_P99_MS = 50.0  # key latency p99 while a step prints 1M lines
GOAL_BUSY_MAX_MS = 75.0  # key latency max while a step runs 2x cores of busy processes
GOAL_PEAK_RSS_MIB = 90.0  # peak memory over a 3M-line flood
GOAL_END_NOTICED_MS = 5.0  # a run's end noticed after its wrapper exits


@dataclass(frozen=True)
class Figure:
    """One line of the closing table: a measured value and, where the project has one, its goal (lower is better)."""

    name: str
    value: float
    unit: str
    goal: float | None

    def row(self) -> str:
        value = f"{self.value:.2f}" if self.unit == "x" else f"{self.value:.1f}"
        if self.goal is None:
            return f"   {self.name:<46} {value:>8} {self.unit:<3} {'':>10} {'':>7}"
        goal = f"≤ {self.goal:g}"
        ratio = self.value / self.goal if self.goal else float("nan")
        verdict = "met" if self.value <= self.goal else "MISSED"
        return f"   {self.name:<46} {value:>8} {self.unit:<3} {goal:>10} {ratio:>6.2f}x {verdict}"


def table(figures: list[Figure]) -> str:
    """The figures with their goals and each value's ratio to its goal."""
    head = f"   {'figure':<46} {'value':>8} {'':<3} {'goal':>10} {'/goal':>7}"
    return "\n".join([head, *(f.row() for f in figures)])


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
