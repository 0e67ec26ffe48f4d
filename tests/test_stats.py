"""The statistics behind every verdict, against exact values."""
from __future__ import annotations

import math

import pytest

from resclaims.stats import (binomial_upper_tail, exceedance, median_interval, seeds_for_exceedance,
                             seeds_for_median, slope)


def test_binomial_tail_exact() -> None:
    assert binomial_upper_tail(0, 5, 0.3) == 1.0
    assert binomial_upper_tail(5, 5, 0.5) == pytest.approx(1 / 32)
    assert binomial_upper_tail(1, 10, 0.1) == pytest.approx(1 - 0.9 ** 10)


def test_exceedance_rejects_only_past_the_needed_count() -> None:
    alpha = 1e-3
    needed = exceedance([-1.0] * 10, 0.1, alpha).needed
    assert binomial_upper_tail(needed, 10, 0.1) <= alpha < binomial_upper_tail(needed - 1, 10, 0.1)
    held = exceedance([1.0] * (needed - 1) + [-1.0] * (11 - needed), 0.1, alpha)
    failed = exceedance([1.0] * needed + [-1.0] * (10 - needed), 0.1, alpha)
    assert not held.reject and held.margin > 0
    assert failed.reject and failed.margin < 0


def test_exceedance_counts_nan_as_failure() -> None:
    result = exceedance([math.nan] * 10, 0.1, 1e-3)
    assert result.reject and result.failures == 10 and result.margin == -math.inf


def test_median_interval_coverage_and_size() -> None:
    values = list(range(20))
    ci = median_interval(values, 1e-3)
    assert ci.coverage >= 1 - 1e-3
    assert ci.lo <= 9.5 <= ci.hi
    with pytest.raises(ValueError, match="need at least"):
        median_interval([1.0, 2.0, 3.0], 1e-3)
    assert seeds_for_median(1e-3) == 11
    assert seeds_for_exceedance(0.1, 1e-3) == 3


def test_median_interval_nan_is_outside_every_band() -> None:
    ci = median_interval([math.nan] * 12, 1e-3)
    assert ci.disjoint_from(-1e9, 1e9)


def test_slope() -> None:
    assert slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert math.isnan(slope([0, 1], [0, math.inf]))
