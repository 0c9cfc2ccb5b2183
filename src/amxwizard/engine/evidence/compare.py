"""Is one set of benchmark figures faster, slower or the same as another? A verdict that knows the noise.

llama-bench reports each test as the mean and standard deviation of ``-r`` repetitions (5 by default). Two such
results are compared with Welch's t interval for the difference of their means: it takes both standard deviations
and both repetition counts, and does not assume the two runs are equally noisy. The verdict then reads the interval
against the tolerance a person cares about (5% by default):

- the whole interval lies within ±tolerance: **no significant difference** (the two are the same, as far as the
  tolerance is concerned, even when the difference is statistically real but small);
- otherwise, the whole interval lies above zero: **faster**; below zero: **slower**;
- otherwise (the interval holds zero and reaches beyond the tolerance): **inconclusive** — the noise is wider than
  the difference, and more repetitions are needed to tell.

No SciPy here: the t quantile comes from exact formulas for 1 and 2 degrees of freedom and the Cornish-Fisher
expansion around the normal quantile above that (within 0.2% of the exact value from 3 degrees of freedom up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

ComparisonVerdict = Literal["faster", "slower", "no significant difference", "inconclusive"]
DEFAULT_REPETITIONS = 5  # llama-bench's default -r, when a result does not say how many it made
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Sample:
    """A measured rate: mean and standard deviation over ``n`` repetitions (t/s, higher is better)."""

    mean: float
    stddev: float = 0.0
    n: int = DEFAULT_REPETITIONS

    @property
    def variance_of_mean(self) -> float:
        return (self.stddev * self.stddev) / max(self.n, 1)


@dataclass(frozen=True, slots=True)
class Comparison:
    """How ``after`` compares with ``before``: the difference in percent of ``before`` with its interval."""

    verdict: ComparisonVerdict
    delta_pct: float
    low_pct: float
    high_pct: float
    tolerance_pct: float
    confidence: float

    @property
    def significant(self) -> bool:
        """True for a difference the noise cannot explain (faster or slower)."""
        return self.verdict in ("faster", "slower")

    def describe(self) -> str:
        """One line: the verdict, the difference and its interval."""
        level = f"{self.confidence * 100:g}%"
        interval = f"{self.low_pct:+.1f}% to {self.high_pct:+.1f}% at {level}"
        if self.verdict == "no significant difference":
            return f"no significant difference: {self.delta_pct:+.1f}% ({interval}, within ±{self.tolerance_pct:g}%)"
        if self.verdict == "inconclusive":
            return (
                f"inconclusive: {self.delta_pct:+.1f}%, but the noise ({interval}) is wider than the "
                f"±{self.tolerance_pct:g}% that matters; run with more repetitions (-r) to tell"
            )
        return f"{self.verdict}, significant: {self.delta_pct:+.1f}% ({interval})"

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "delta_pct": round(self.delta_pct, 3),
            "low_pct": round(self.low_pct, 3),
            "high_pct": round(self.high_pct, 3),
            "tolerance_pct": self.tolerance_pct,
            "confidence": self.confidence,
        }


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (``0 < p < 1``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile needs 0 < p < 1, not {p}")
    if df <= 0 or math.isnan(df):
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    if abs(df - 1.0) < 1e-12:
        return math.tan(math.pi * (p - 0.5))
    if abs(df - 2.0) < 1e-12:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    z2 = z * z
    terms = (
        z,
        (z2 + 1) * z / 4,
        ((5 * z2 + 16) * z2 + 3) * z / 96,
        (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384,
        ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160,
    )
    return sum(term / df**power for power, term in enumerate(terms))


def welch_df(before: Sample, after: Sample) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two means (inf when neither has noise)."""
    a, b = before.variance_of_mean, after.variance_of_mean
    denominator = 0.0
    if a > 0 and before.n > 1:
        denominator += a * a / (before.n - 1)
    if b > 0 and after.n > 1:
        denominator += b * b / (after.n - 1)
    return math.inf if denominator == 0 else (a + b) ** 2 / denominator


def compare(
    before: Sample,
    after: Sample,
    *,
    tolerance_pct: float = 5.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison:
    """Compare two rates (higher is faster). ``before.mean`` must be positive."""
    if before.mean <= 0:
        raise ValueError(f"cannot compare against a rate of {before.mean}")
    diff = after.mean - before.mean
    se = math.sqrt(before.variance_of_mean + after.variance_of_mean)
    half = t_quantile(1 - (1 - confidence) / 2, welch_df(before, after)) * se if se > 0 else 0.0
    scale = 100.0 / before.mean
    delta, low, high = diff * scale, (diff - half) * scale, (diff + half) * scale
    verdict: ComparisonVerdict
    if -tolerance_pct <= low and high <= tolerance_pct:
        verdict = "no significant difference"
    elif low > 0:
        verdict = "faster"
    elif high < 0:
        verdict = "slower"
    else:
        verdict = "inconclusive"
    return Comparison(verdict, delta, low, high, tolerance_pct, confidence)
