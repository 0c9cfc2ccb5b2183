"""The noise-aware comparison of two benchmark results."""

from __future__ import annotations

import math

import pytest

from amxwizard.engine.evidence.compare import Sample, compare, t_quantile, welch_df

# Two-sided 95% critical values of Student's t, from the published tables.
T_975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 8: 2.3060, 10: 2.2281, 30: 2.0423}


@pytest.mark.parametrize(("df", "expected"), sorted(T_975.items()))
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, rel=2e-3)
    assert t_quantile(0.025, df) == pytest.approx(-expected, rel=2e-3)


def test_t_quantile_without_freedom_limits_is_the_normal() -> None:
    assert t_quantile(0.975, math.inf) == pytest.approx(1.95996, rel=1e-5)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.5, 0)


def test_welch_df_of_equal_samples_is_their_pooled_freedom() -> None:
    assert welch_df(Sample(10, 1, 5), Sample(11, 1, 5)) == pytest.approx(8.0)
    assert welch_df(Sample(10, 0, 5), Sample(11, 0, 5)) == math.inf


def test_the_same_build_twice_is_no_significant_difference() -> None:
    result = compare(Sample(61.2, 0.4, 5), Sample(61.0, 0.5, 5))
    assert result.verdict == "no significant difference"
    assert not result.significant
    assert "within ±5%" in result.describe()


def test_twenty_percent_slower_is_slower_and_significant() -> None:
    result = compare(Sample(61.2, 0.4, 5), Sample(49.0, 0.5, 5))
    assert result.verdict == "slower"
    assert result.significant
    assert result.delta_pct == pytest.approx(-19.93, abs=0.01)
    assert result.high_pct < 0


def test_faster_is_faster() -> None:
    assert compare(Sample(50, 0.5, 5), Sample(60, 0.5, 5)).verdict == "faster"


def test_noise_wider_than_the_difference_is_inconclusive() -> None:
    result = compare(Sample(61.2, 6.0, 3), Sample(58.0, 6.0, 3))
    assert result.verdict == "inconclusive"
    assert result.low_pct < 0 < result.high_pct
    assert "more repetitions" in result.describe()


def test_more_repetitions_turn_inconclusive_into_an_answer() -> None:
    few = compare(Sample(100, 8, 3), Sample(92, 8, 3))
    many = compare(Sample(100, 8, 200), Sample(92, 8, 200))
    assert few.verdict == "inconclusive"
    assert many.verdict == "slower"


def test_a_small_real_difference_inside_the_tolerance_is_no_significant_difference() -> None:
    result = compare(Sample(100, 0.1, 10), Sample(99, 0.1, 10), tolerance_pct=5)
    assert result.verdict == "no significant difference"
    assert compare(Sample(100, 0.1, 10), Sample(99, 0.1, 10), tolerance_pct=0.5).verdict == "slower"


def test_a_zero_reference_is_refused() -> None:
    with pytest.raises(ValueError):
        compare(Sample(0, 0, 5), Sample(1, 0, 5))
