"""The statistics behind every verdict, against exact values, and against the pure-Python
formulas they had before scipy.stats computed them (``_ref_*``, copied from that
version): same p-values (rtol 1e-12), same intervals and coverage (1e-12), same
decisions."""
from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction
from typing import Sequence

import pytest

from resclaims import verdicts
from resclaims.claim import Context, Scale
from resclaims.stats import (Exceedance, Interval, binomial_upper_tail, exceedance, exceedance_rejects,
                             median_interval, r_squared, seeds_for_exceedance, seeds_for_median, slope)


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


# --- the pre-scipy formulas, the reference -------------------------------------------

def _ref_upper_tail(k: int, n: int, p: float) -> float:
    if k <= 0:
        return 1.0
    return float(sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def _ref_exceedance_rejects(failures: int, trials: int, p0: float, alpha: float) -> tuple[bool, float]:
    p_value = _ref_upper_tail(failures, trials, p0)
    return p_value <= alpha, p_value


def _ref_median_interval(values: Sequence[float], alpha: float) -> Interval:
    s = len(values)
    j_best = 0
    for j in range(1, s // 2 + 1):
        if 2 * (1 - _ref_upper_tail(j, s, 0.5)) <= alpha:
            j_best = j
        else:
            break
    if j_best == 0:
        raise ValueError("too few values")
    ordered = sorted(values, key=lambda v: (math.isnan(v), v))
    return Interval(ordered[j_best - 1], ordered[s - j_best], 1 - 2 * (1 - _ref_upper_tail(j_best, s, 0.5)))


def _ref_exceedance(violations: Sequence[float], p0: float, alpha: float) -> Exceedance:
    s = len(violations)
    needed = next((k for k in range(1, s + 1) if _ref_upper_tail(k, s, p0) <= alpha), s + 1)
    worst_first = sorted(violations, key=lambda v: (not math.isnan(v), -v if not math.isnan(v) else 0))
    failures = sum(1 for v in violations if math.isnan(v) or v > 0)
    margin = math.inf if needed > s else -worst_first[needed - 1]
    if math.isnan(margin):
        margin = -math.inf
    reject, p_value = _ref_exceedance_rejects(failures, s, p0, alpha)
    return Exceedance(reject, margin, failures, needed, p_value)


# Sizes where every term of the reference's sum is a normal float (no underflow), so the
# reference is exact to rounding and rtol 1e-12 is a fair test.
NS = (0, 1, 2, 3, 5, 10, 11, 20, 37, 60)
PS = (0.0, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0)
ALPHAS = (1e-6, 1e-4, 1e-3, 2 ** -10, 0.01, 0.05, 0.5)


def _same(a: float, b: float, rtol: float = 1e-12, atol: float = 0.0) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= atol + rtol * abs(b)


def _values(rng: random.Random, s: int) -> list[float]:
    """Per-seed values with ties, NaNs and infinities mixed in."""
    pool = [rng.gauss(0, 1) for _ in range(3)] + [math.nan, math.inf, -math.inf, 0.0]
    return [rng.choice(pool) if rng.random() < 0.3 else rng.gauss(0, 1) for _ in range(s)]


def test_binomial_tail_matches_the_pure_python_sum() -> None:
    for n, p in itertools.product(NS, PS):
        for k in range(-2, n + 3):
            assert _same(binomial_upper_tail(k, n, p), _ref_upper_tail(k, n, p)), (k, n, p)


def test_binomial_tail_past_the_sum_s_float_range() -> None:
    """n = 2000, where comb(n, i) overflows a float: P(Bin(2000, 1/2) >= 1001) =
    (1 - P(X = 1000)) / 2, exactly."""
    pmf = Fraction(math.comb(2000, 1000), 2 ** 2000)
    assert binomial_upper_tail(1001, 2000, 0.5) == pytest.approx(float((1 - pmf) / 2), rel=1e-12)


def test_exceedance_test_matches_the_reference() -> None:
    for n, p, alpha in itertools.product(NS, PS, ALPHAS):
        for k in range(n + 1):
            reject, p_value = exceedance_rejects(k, n, p, alpha)
            ref_reject, ref_p = _ref_exceedance_rejects(k, n, p, alpha)
            assert reject == ref_reject and _same(p_value, ref_p), (k, n, p, alpha)


def test_exceedance_needed_failures_and_margin_match_the_reference() -> None:
    rng = random.Random(0)
    for s, p0, alpha in itertools.product((1, 3, 10, 24, 60), (0.01, 0.1, 0.5), ALPHAS):
        violations = _values(rng, s)
        test, ref = exceedance(violations, p0, alpha), _ref_exceedance(violations, p0, alpha)
        assert (test.reject, test.margin, test.failures, test.needed) == \
            (ref.reject, ref.margin, ref.failures, ref.needed), (s, p0, alpha)
        assert _same(test.p_value, ref.p_value) and test.reject == (test.failures >= test.needed)


def test_median_interval_matches_the_order_statistics_of_the_reference() -> None:
    rng = random.Random(1)
    for s, alpha in itertools.product(range(1, 81), ALPHAS):
        values = _values(rng, s)
        try:
            ref = _ref_median_interval(values, alpha)
        except ValueError:
            with pytest.raises(ValueError, match="need at least"):
                median_interval(values, alpha)
            continue
        ci = median_interval(values, alpha)
        assert _same(ci.lo, ref.lo, 0) and _same(ci.hi, ref.hi, 0), (s, alpha)
        assert _same(ci.coverage, ref.coverage, 0, 1e-12) and ci.coverage >= 1 - alpha, (s, alpha)


def test_slope_and_r_squared_match_scipy_linregress() -> None:
    """Our least-squares formulas against scipy's (kept by hand for speed; see ``slope``)."""
    from scipy.stats import linregress

    rng = random.Random(2)
    for n in (2, 3, 4, 7, 20):
        for _ in range(40):
            xs = [math.log(rng.uniform(1, 1e3)) for _ in range(n)]
            ys = [rng.uniform(-3, 3) * x + rng.gauss(0, 1) for x in xs]
            fit = linregress(xs, ys)
            assert slope(xs, ys) == pytest.approx(fit.slope, rel=1e-9, abs=1e-12)
            if n > 2:
                assert r_squared(xs, ys) == pytest.approx(fit.rvalue ** 2, rel=1e-9, abs=1e-12)
    for bad in (math.nan, math.inf):
        assert math.isnan(slope([0, 1, 2], [0, bad, 1])) and math.isnan(r_squared([0, bad, 2], [0, 1, 1]))
    assert r_squared([0, 1, 2], [2.0, 2.0, 2.0]) == 1.0  # a constant is fitted exactly


def test_verdicts_match_the_reference_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict helpers on the same evidence, with scipy's statistics and with the
    reference ones: same verdicts, margins, p-values and intervals."""
    rng = random.Random(3)
    cases = []
    for s, alpha in itertools.product((16, 20, 33), (1e-4, 1e-3, 0.05)):
        values, events, ctx = _values(rng, s), rng.randrange(s + 1), Context("cpu", alpha, Scale(8, 64))
        cases.append(lambda v=values, c=ctx: verdicts.band_verdict(v, -0.5, 0.5, c, "x"))
        cases.append(lambda v=values, c=ctx: verdicts.exceedance_verdict([x - 1.0 for x in v], 0.1, c, "fail"))
        cases.append(lambda k=events, n=s, c=ctx: verdicts.rate_above_verdict(k, n, 0.2, c, "fail"))
    now = [case() for case in cases]
    for name, ref in (("median_interval", _ref_median_interval), ("exceedance", _ref_exceedance),
                      ("exceedance_rejects", _ref_exceedance_rejects)):
        monkeypatch.setattr(verdicts, name, ref)
    for got, case in zip(now, cases):
        want = case()
        assert got.holds == want.holds and got.interval == want.interval, want.summary
        assert _same(got.margin, want.margin, 1e-12, 1e-12) and got.band == want.band
        assert (got.p_value is None) == (want.p_value is None)
        assert got.p_value is None or _same(got.p_value, want.p_value)


def test_band_verdict_counts_undefined_values() -> None:
    """A median interval of [nan, nan] says how many values were NaN."""
    ctx = Context(device="cpu", alpha=1e-3, scale=None)
    j = verdicts.band_verdict([math.nan] * 12 + [0.5], 0.3, 0.65, ctx, "slope")
    assert not j.holds and "12/13 undefined (NaN)" in j.summary
    assert "undefined" not in verdicts.band_verdict([0.5] * 13, 0.3, 0.65, ctx, "slope").summary
