"""Verdict helpers every family uses: per-seed evidence in, a Judgement with its margin out.

* :func:`exceedance_verdict` (``high-probability`` claims): the exact binomial test of
  H0: P(violation) <= p0 over S seeds, at the per-example alpha.
* :func:`band_verdict` (``rate`` and ``converse`` claims): the order-statistic interval
  of the per-seed median must meet the band [lo, hi].
* :func:`rate_above_verdict` (``converse`` claims that a failure happens at a positive
  rate): holds when the exact binomial test rejects H0: P(event) <= p0.
* :func:`gradient_verdict`: parameters that get no gradient at all are evidence
  against any claim about gradients or training, named block by block.
"""
from __future__ import annotations

import math
from typing import Sequence

from resclaims.claim import Context, Judgement
from resclaims.stats import (band_margin, exceedance, exceedance_rejects, median_interval, seeds_for_exceedance,
                             seeds_for_median)


def exceedance_verdict(violations: Sequence[float], p0: float, ctx: Context, what: str) -> Judgement:
    """Falsified when significantly more than a fraction p0 of seeds violate (v > 0, or
    NaN); the summary reads "k/S seeds <what> (falsified at >= K, p=...)"."""
    test = exceedance(violations, p0, ctx.alpha)
    return Judgement(not test.reject, test.margin,
                     f"{test.failures}/{len(violations)} seeds {what} (falsified at >= {test.needed}, "
                     f"p={test.p_value:.2g})", p_value=test.p_value, unit="violation (the claim's units)")


def band_verdict(values: Sequence[float], lo: float, hi: float, ctx: Context, name: str) -> Judgement:
    """Falsified when the (1 - alpha) interval of the median of ``values`` misses [lo, hi];
    the summary counts the values that are NaN (undefined: a log of a non-positive
    quantity, a run that produced no number)."""
    ci = median_interval(values, ctx.alpha)
    margin = band_margin(ci, lo, hi)
    inside = not ci.disjoint_from(lo, hi)
    undefined = sum(1 for v in values if math.isnan(v))
    note = f", {undefined}/{len(values)} undefined (NaN)," if undefined else ""
    return Judgement(inside, margin, f"median {name} in {ci}{note} {'meets' if inside else 'misses'} "
                                     f"[{lo:.3g}, {hi:.3g}]", band=(lo, hi), interval=(ci.lo, ci.hi), unit=name)


def rate_above_verdict(events: int, trials: int, p0: float, ctx: Context, what: str) -> Judgement:
    """Holds when ``events`` out of ``trials`` reject H0: P(event) <= p0 at the example's
    alpha (exact one-sided binomial test); margin log10(alpha / p-value).  alpha bounds
    the chance of passing a converse whose event rate is really <= p0; the chance of
    falsifying a true one is 1 - power, which the claim's thresholds must state at the
    rates it measured (a smaller alpha, more examples, lowers the power)."""
    reject, p_value = exceedance_rejects(events, trials, p0, ctx.alpha)
    margin = math.log10(ctx.alpha / p_value) if p_value > 0 else math.inf
    return Judgement(reject, margin, f"{events}/{trials} runs {what} ({'rejects' if reject else 'does not reject'} "
                                     f"rate <= {p0:g}, p={p_value:.2g})", p_value=p_value, unit="log10(alpha / p)")


def decades(error: float, tolerance: float) -> float:
    """Margin of an identity check in decades, log10(tolerance / error): > 0 within
    tolerance, inf for an error of 0, -inf for a NaN or infinite error."""
    if math.isnan(error) or math.isinf(error):
        return -math.inf
    return math.inf if error <= 0 else math.log10(tolerance / error)


def worst_of(parts: Sequence[tuple[float, str]], holds: str, prefix: str = "", suffix: str = "") -> Judgement:
    """One verdict from several checks of an example, each (margin, what failed): falsified
    by the smallest margin when it is negative (summary ``prefix`` + its text +
    ``suffix``), else holding with that margin and the summary ``holds``."""
    margin, why = min(parts, key=lambda part: part[0])
    if margin < 0:
        return Judgement(False, margin, prefix + why + suffix)
    return Judgement(True, margin, holds)


def exceedance_seeds(ctx: Context, p0: float, minimum: int = 10) -> int:
    """Seeds S for an exceedance test at the example's alpha: enough that S failures out
    of S reject H0: P(violation) <= p0, and at least ``minimum``."""
    return max(minimum, seeds_for_exceedance(p0, ctx.alpha))


def median_seeds(ctx: Context, tests: int = 1, minimum: int = 10) -> int:
    """Seeds S for ``tests`` median intervals sharing the example's alpha (Bonferroni)."""
    return max(minimum, seeds_for_median(ctx.alpha / tests))


def spans(indices: Sequence[int]) -> str:
    """1-based indices as compact ranges: [1, 2, 3, 7] -> "1-3, 7"."""
    out: list[str] = []
    for i in sorted(indices):
        if out and i == int(out[-1].split("-")[-1]) + 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ", ".join(out)


def gradient_verdict(dead: Sequence[bool]) -> Judgement | None:
    """A falsification naming the blocks whose trained parameters all got an exactly zero
    gradient (``dead[l]`` for block l + 1), or None when every block gets one."""
    blocks = [l + 1 for l, d in enumerate(dead) if d]
    if not blocks:
        return None
    return Judgement(False, -math.inf,
                     f"no gradient reaches block(s) {spans(blocks)} of {len(dead)}: their trained "
                     f"parameters get exactly 0 (a detached or constant branch)")
