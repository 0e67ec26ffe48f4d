"""Distribution-free statistics with declared false-alarm rates.

Two tests cover the claim kinds:

* exceedance (``high-probability`` claims): each of S seeds is one Bernoulli trial,
  "the property fails for this init".  H0: P(fail) <= p0.  Reject (falsify) when
  P(Bin(S, p0) >= k) <= alpha for the observed k failures: an exact one-sided
  binomial test, false-alarm rate <= alpha whatever the distribution.
* order-statistic interval for a median (``rate`` and ``converse`` claims): for S
  i.i.d. per-seed values, [v_(j), v_(S+1-j)] covers the true median with probability
  >= 1 - 2 P(Bin(S, 1/2) <= j - 1).  A claim that the median lies in a band is
  falsified only when this interval misses the band, so the false-alarm rate is
  <= alpha when the true median is inside.

Bonferroni: a profile that runs E examples of a claim gives each alpha = budget / E.
The binomial tails are scipy.stats' (``binom.sf``/``binom.cdf``, the regularised
incomplete beta function).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.stats import binom


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) = P(X > k - 1) for X ~ Bin(n, p): 1 for k <= 0, 0 for k > n."""
    return float(binom.sf(k - 1, n, p))


def exceedance_rejects(failures: int, trials: int, p0: float, alpha: float) -> tuple[bool, float]:
    """(reject, p_value) of the one-sided test H0: P(fail) <= p0, given ``failures``
    out of ``trials``.  p_value = P(Bin(trials, p0) >= failures)."""
    p_value = binomial_upper_tail(failures, trials, p0)
    return p_value <= alpha, p_value


def seeds_for_exceedance(p0: float, alpha: float) -> int:
    """Smallest S for which S failures out of S can reject at level alpha (p0^S <= alpha)."""
    return max(1, math.ceil(math.log(alpha) / math.log(p0)))


@dataclass(frozen=True)
class Interval:
    """A confidence interval [lo, hi] with its nominal coverage."""

    lo: float
    hi: float
    coverage: float

    def disjoint_from(self, lo: float, hi: float) -> bool:
        """True when the interval and the band [lo, hi] do not meet (NaN ends count as
        outside any band: an undefined statistic is evidence against the claim)."""
        if math.isnan(self.lo) or math.isnan(self.hi):
            return True
        return self.hi < lo or self.lo > hi

    def __str__(self) -> str:
        return f"[{self.lo:.3g}, {self.hi:.3g}] ({100 * self.coverage:.2f}%)"


def median_interval(values: Sequence[float], alpha: float) -> Interval:
    """Widest-needed order-statistic interval for the median with coverage >= 1 - alpha.
    NaNs sort above every number (a NaN per-seed value is an undefined statistic).
    Raises ValueError when len(values) is too small to reach 1 - alpha."""
    s = len(values)
    misses = 2 * binom.cdf(np.arange(s // 2), s, 0.5)  # misses[j - 1] = 2 P(Bin(s, 1/2) <= j - 1)
    j_best = int(np.count_nonzero(misses <= alpha))  # misses grow with j: the largest j that reaches 1 - alpha
    if j_best == 0:
        raise ValueError(f"{s} values cannot give a median interval at alpha = {alpha:.2g}; "
                         f"need at least {seeds_for_median(alpha)}")
    ordered = sorted(values, key=lambda v: (math.isnan(v), v))
    return Interval(ordered[j_best - 1], ordered[s - j_best], float(1 - misses[j_best - 1]))


def seeds_for_median(alpha: float) -> int:
    """Smallest S whose extreme order statistics cover the median at 1 - alpha
    (2 * 2^-S <= alpha)."""
    return max(2, math.ceil(1 + math.log2(1 / alpha)))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope S_xy / S_xx of ys on xs (NaN if any value is not finite).
    Written out rather than ``scipy.stats.linregress``: the same estimator, but linregress
    costs 16x more per call (it always computes a p-value), which the bootstraps pay a
    thousand times, and recorded slopes (tests/test_evidence_replay.py) keep their bits."""
    n = len(xs)
    if any(not math.isfinite(v) for v in (*xs, *ys)):
        return math.nan
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def r_squared(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot of the least-squares line of ys
    on xs (1 when every y is the same: the line fits exactly)."""
    n = len(xs)
    b = slope(xs, ys)
    if math.isnan(b):
        return math.nan
    mx, my = sum(xs) / n, sum(ys) / n
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - my - b * (x - mx)) ** 2 for x, y in zip(xs, ys))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0


@dataclass(frozen=True)
class Exceedance:
    """Outcome of the exceedance test on per-seed violations (v_s > 0: seed s fails)."""

    reject: bool
    margin: float
    failures: int
    needed: int
    p_value: float


def exceedance(violations: Sequence[float], p0: float, alpha: float) -> Exceedance:
    """Exact one-sided binomial test of H0: P(v > 0) <= p0 on S per-seed violations.
    ``needed`` is the fewest failures that reject at ``alpha``; ``margin`` is minus the
    ``needed``-th largest violation, so margin < 0 exactly when the test rejects and
    |margin| says by how much (in the violation's units).  NaN counts as a failure."""
    s = len(violations)
    tails = binom.sf(np.arange(s), s, p0)  # tails[k - 1] = P(Bin(s, p0) >= k), falling in k
    needed = s + 1 - int(np.count_nonzero(tails <= alpha))
    worst_first = sorted(violations, key=lambda v: (not math.isnan(v), -v if not math.isnan(v) else 0))
    failures = sum(1 for v in violations if math.isnan(v) or v > 0)
    margin = math.inf if needed > s else -worst_first[needed - 1]
    if math.isnan(margin):
        margin = -math.inf
    reject, p_value = exceedance_rejects(failures, s, p0, alpha)
    return Exceedance(reject, margin, failures, needed, p_value)


def band_margin(interval: Interval, lo: float, hi: float) -> float:
    """How far ``interval`` overlaps the band [lo, hi] (> 0) or misses it (< 0)."""
    if math.isnan(interval.lo) or math.isnan(interval.hi):
        return -math.inf
    return min(interval.hi - lo, hi - interval.lo)


Pairs = dict[tuple[int, int], float]


def _induced(levels: Sequence[Pairs], chosen: Sequence[Sequence[int]]) -> list[list[float]]:
    """Per level, the values of the pairs the chosen units induce (a unit drawn twice is
    not paired with itself; pairs missing from a level's dict were excluded)."""
    out = []
    for values, units in zip(levels, chosen):
        out.append([values[key] for a in range(len(units)) for b in range(a + 1, len(units))
                    if (key := (min(units[a], units[b]), max(units[a], units[b]))) in values])
    return out


def unit_bootstrap(levels: Sequence[Pairs], counts: Sequence[int], statistic: Callable[[list[list[float]]], float],
                   resamples: int, seed: int) -> tuple[float, list[float]]:
    """(statistic on all pairs, sorted bootstrap replicates) for values attached to pairs of
    units, ``levels[k][(i, j)]`` for units i < j of ``counts[k]`` at level k.  Pairs that
    share a unit are dependent, so each replicate resamples the *units* of every level
    with replacement and keeps the pairs they induce; a replicate whose statistic is
    undefined (NaN) is drawn again."""
    rng = random.Random(seed)
    full = statistic(_induced(levels, [list(range(c)) for c in counts]))
    boot: list[float] = []
    while len(boot) < resamples:
        value = statistic(_induced(levels, [[rng.randrange(c) for _ in range(c)] for c in counts]))
        if not math.isnan(value):
            boot.append(value)
    return full, sorted(boot)


def pairwise_slope_interval(xs: Sequence[float], levels: Sequence[Pairs], counts: Sequence[int], coverage: float,
                            resamples: int, seed: int) -> tuple[float, Interval]:
    """Least-squares slope of y on x pooled over pairwise values (``levels[k]`` at x =
    ``xs[k]``), with the percentile interval of :func:`unit_bootstrap`."""
    def pooled(rows: list[list[float]]) -> float:
        px = [x for x, row in zip(xs, rows) for _ in row]
        return slope(px, [v for row in rows for v in row]) if len(set(px)) > 1 else math.nan
    fitted, boot = unit_bootstrap(levels, counts, pooled, resamples, seed)
    tail = (1 - coverage) / 2
    return fitted, Interval(boot[int(tail * resamples)], boot[int((1 - tail) * resamples) - 1], coverage)
