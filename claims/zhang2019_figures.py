"""Figures of the zhang2019 claims: from one result's JSON (``Result.to_json()``), what a
reader of Zhang et al. (2019/2022) would draw, with the claim's band or threshold on it.
The claim module hands a figure the constants its judge uses (``functools.partial``);
this module only draws.

Symbols: h_l the output of block l, r_l = ||h_l|| / ||h_0|| (over the shape-preserving
blocks), tau the branch scale, L the number of blocks, c the tau exponent or constant,
G = sqrt(tr K / (n d)) the NTK gradient scale, F_t the loss after t GD steps.
"""
from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from resclaims import figures
from resclaims.figures import INTERVAL, number, numbers

Result = dict[str, Any]


def _setting(result: Result) -> str:
    """The architecture of the judged setting, in a few words."""
    s = result.get("setting") or {}
    stages = s.get("stages", 1)
    parts = [f"{s.get('block', '?')} blocks", f"branch depth {s.get('branch_depth', '?')}",
             f"{stages} stage{'s' if stages != 1 else ''}", f"{s.get('input', '?')} input", f"width {s.get('width', '?')}"]
    return ", ".join(parts)



def _arm(length: float) -> float:
    """An error bar's arm: never negative (matplotlib refuses one), 0 where not finite (an
    infinite median or quantile)."""
    return max(0.0, length) if math.isfinite(length) else 0.0


def forward_stable(result: Result, fig: Figure) -> None:
    """D-T1: r_l against the block l, the median over seeds and the range over seeds and
    inputs, inside the band [0.5, 2 e^{c^2}] the claim allows."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "r_median_by_layer", "lower", "upper")
    if ev is None:
        return
    median = numbers(ev["r_median_by_layer"])
    low, high = numbers(ev.get("r_min_by_layer", median)), numbers(ev.get("r_max_by_layer", median))
    blocks = range(len(median))
    seen = figures.positive(low + high + median)
    if not seen:   # nothing a log axis can show (a NaN or infinite measurement)
        figures.unavailable(ax, "no finite positive $r_l$ to draw on a log axis")
        return
    ax.fill_between(blocks, low, high, color="grey", alpha=0.35, label="range over seeds and inputs")
    ax.plot(blocks, median, color=INTERVAL, lw=1.4, label="median $r_l$")
    figures.log_scale(ax)
    lower, upper = number(ev["lower"]), number(ev["upper"])
    ax.set_ylim(min(seen + figures.positive([lower])) / 1.5, max(seen + figures.positive([upper])) * 1.5)
    figures.band(ax, lower, upper, label=f"claim's band [{lower:g}, $2e^{{c^2}}$ = {upper:.3g}]")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("block $l$")
    ax.set_ylabel("$r_l = \\|h_l\\| / \\|h_0\\|$")
    ax.legend(fontsize=7, loc="best")
    s = result.get("setting") or {}
    figures.title(fig, f"forward stability at $\\tau = c/\\sqrt{{L}}$ = {number(ev.get('tau', 'nan')):.3g} "
                        f"(c = {s.get('c', '?')}, L = {s.get('depth', '?')}, {ev.get('seeds', '?')} seeds)", _setting(result))


def backward_stable(result: Result, fig: Figure) -> None:
    """D-T2: the spectral norm ||d h_L / d h_0||_2 of each seed against the bound 10."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "jacobian_norm", "bound")
    if ev is None:
        return
    bound = number(ev["bound"])
    figures.log_scale(ax)
    figures.per_seed(ax, ev["jacobian_norm"], ok=lambda v: v <= bound)
    figures.threshold(ax, bound, label=f"bound {bound:g}")
    s = result.get("setting") or {}
    figures.one_column(ax, f"L = {s.get('depth', '?')}, c = {s.get('c', '?')}", "$\\|\\partial h_L / \\partial h_0\\|_2$")
    figures.title(fig, "backward stability: input-output Jacobian at $\\tau = c/\\sqrt{{L}}$", _setting(result))


def forward_converse(result: Result, fig: Figure) -> None:
    """D-T3: log r_L against L on log-log axes (median and 10-90% range over seeds) with the
    predicted growth L^{2c}; the per-seed slopes d log log r_L / d log L with their median's
    interval against the band [2c - 0.2, 2c + 0.15]."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "depths", "median_log_r", "slopes", "band", "predicted")
    if ev is None:
        return
    depths, median = numbers(ev["depths"]), numbers(ev["median_log_r"])
    if figures.positive(median) and figures.positive(depths):
        _growth(left, ev, depths, median)
    else:   # nothing log-log axes can show (a NaN or infinite measurement)
        figures.unavailable(left, "no finite positive $\\log r_L$ to draw on log axes")
    figures.result_median_test(right, ev["slopes"], *ev["band"], result)
    right.set_xticks([])
    right.set_ylabel("$d \\log \\log r_L / d \\log L$")
    right.set_title("per-seed exponent", fontsize=9)
    right.legend(fontsize=7, loc="best")
    figures.title(fig, f"converse: $\\tau = L^{{-1/2 + c}}$, c = {(result.get('setting') or {}).get('c', '?')}, "
                        f"makes $r_L$ unbounded", _setting(result))


def _growth(left: Any, ev: dict[str, Any], depths: list[float], median: list[float]) -> None:
    """forward_converse's left panel: the median log r_L against L with the predicted L^{2c}."""
    if "q10_log_r" in ev and "q90_log_r" in ev:
        low, high = numbers(ev["q10_log_r"]), numbers(ev["q90_log_r"])
        left.errorbar(depths, median, yerr=[[_arm(m - lo) for m, lo in zip(median, low)],
                                            [_arm(hi - m) for m, hi in zip(median, high)]],
                      fmt="o-", color=INTERVAL, capsize=3, label="median, 10-90% over seeds")
    else:
        left.plot(depths, median, "o-", color=INTERVAL, label="median over seeds")
    figures.log_scale(left, "x")
    figures.log_scale(left)
    mid = len(depths) // 2
    figures.power_law(left, depths[mid], median[mid], number(ev["predicted"]), depths,
                      label=f"predicted $\\propto L^{{2c}}$ = $L^{{{number(ev['predicted']):.2g}}}$")
    left.set_xlabel("depth $L$")
    left.set_ylabel("$\\log r_L$")
    left.set_title("growth of the forward pass", fontsize=9)
    left.legend(fontsize=7, loc="upper left")


def forward_constant(result: Result, fig: Figure) -> None:
    """kappa = log r_L / (tau^2 L) of each seed, its median's interval, and the band
    [0.6, 1.4] of the Sect. 2 model."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "kappa", "band")
    if ev is None:
        return
    figures.result_median_test(ax, ev["kappa"], *ev["band"], result)
    s = result.get("setting") or {}
    figures.one_column(ax, f"L = {s.get('depth', '?')}, c = {s.get('c', '?')}", "$\\kappa = \\log r_L / (\\tau^2 L)$")
    figures.title(fig, "reference conformance: the constant $\\kappa$ of $\\log r_L = \\kappa \\tau^2 L$", _setting(result))


def gradient_scale(result: Result, fig: Figure) -> None:
    """D-T4: the per-block gradient scale G_l = sqrt(tr K_l / (n d)) times sqrt(L) (G^2 sums
    L blocks' G_l^2, so sqrt(L) G_l is comparable across L) against the relative depth l / L
    (median over seeds, one line per L); the per-seed saturation G(4L)/G(L) against
    its band; the per-seed depth profile (max / min over quarters) against its bound."""
    curve, sat, spread = fig.subplots(1, 3, width_ratios=[2, 1, 1])
    ev = figures.evidence((curve, sat, spread), result, "depths", "saturation", "band", "depth_profile",
                          "profile_bound")
    if ev is None:
        return
    if "block_scale_median" in ev:
        for depth, scales in zip(ev["depths"], ev["block_scale_median"]):
            ys = [math.sqrt(depth) * g for g in numbers(scales)]
            curve.plot([(i + 1) / len(ys) for i in range(len(ys))], ys, lw=1.2, label=f"L = {depth}")
        figures.log_scale(curve)
        curve.set_xlabel("relative depth $l / L$")
        curve.set_ylabel("$\\sqrt{L}\\, G_l$, $G_l = \\sqrt{\\mathrm{tr}\\, K_l / (n d)}$ (median)")
        curve.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curve, "no per-block scales in this result")
    curve.set_title("gradient scale of each block", fontsize=9)
    figures.median_test(sat, ev["saturation"], *ev["band"], alpha=figures.shared_alpha(result, 2))
    sat.set_xticks([])
    sat.set_ylabel(f"$G(L = {ev['depths'][1]}) / G(L = {ev['depths'][0]})$")
    sat.set_title("saturation in depth", fontsize=9)
    sat.legend(fontsize=7, loc="best")
    bound = number(ev["profile_bound"])
    figures.log_scale(spread)
    figures.per_seed(spread, ev["depth_profile"], ok=lambda v: v <= bound)
    figures.threshold(spread, bound, label=f"bound {bound:g}")
    spread.set_xticks([])
    spread.set_ylabel("max / min RMS scale over quarters")
    spread.set_title("spread over depth", fontsize=9)
    spread.legend(fontsize=7, loc="best")
    figures.title(fig, "gradient scale at $\\tau = 1/\\sqrt{L}$: saturates in L, even over depth", _setting(result))



def gd_depth_free(result: Result, fig: Figure) -> None:
    """D-T5: median training curves F_t / F_0 of full-batch GD at each depth, and the
    per-seed ratio of the log-loss rates rate(L_max) / rate(L_min) against its band."""
    curves, ratio = fig.subplots(1, 2, width_ratios=[3, 2])
    ev = figures.evidence((curves, ratio), result, "depths", "rate_ratio", "band")
    if ev is None:
        return
    depths = ev["depths"]
    if "median_loss_curve" in ev:
        rates = numbers(ev.get("median_rate") or [math.nan] * len(depths))
        figures.loss_curves(curves, [(f"L = {d} (rate {r:.3g} per step)", c)
                                     for d, c, r in zip(depths, ev["median_loss_curve"], rates)],
                            ylabel="$F_t / F_0$ (median over seeds)")
        curves.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curves, "no loss curves in this result")
    curves.set_title(f"GD at one step size $\\eta$ = {number(ev.get('lr', 'nan')):.3g} for every L", fontsize=9)
    figures.log_scale(ratio)
    figures.result_median_test(ratio, ev["rate_ratio"], *ev["band"], result)
    ratio.set_xticks([])
    ratio.set_ylabel(f"rate(L = {depths[-1]}) / rate(L = {depths[0]})")
    ratio.set_title("depth-free rate", fontsize=9)
    ratio.legend(fontsize=7, loc="best")
    figures.title(fig, "GD converges linearly at a depth-independent rate ($\\tau = 1/\\sqrt{L}$)", _setting(result))


def trains_without_norm(result: Result, fig: Figure) -> None:
    """D-T6: median training curves F_t / F_0 at depth L and at L = 4, and the per-seed
    log(F_0/F_T) at L over the L = 4 median against the band [0.5, inf)."""
    curves, ratio = fig.subplots(1, 2, width_ratios=[3, 2])
    ev = figures.evidence((curves, ratio), result, "depth", "shallow_depth", "relative", "band")
    if ev is None:
        return
    if "median_loss_curve" in ev:
        figures.loss_curves(curves, list(zip((f"L = {ev['depth']}", f"L = {ev['shallow_depth']}"),
                                             ev["median_loss_curve"])),
                            ylabel="$F_t / F_0$ (cross-entropy, median over seeds)")
        curves.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curves, "no loss curves in this result")
    curves.set_title("full-batch GD, no normalization", fontsize=9)
    figures.result_median_test(ratio, ev["relative"], *ev["band"], result)
    ratio.set_xticks([])
    ratio.set_ylabel(f"$\\log(F_0/F_T)$ at L = {ev['depth']} / median at L = {ev['shallow_depth']}")
    ratio.set_title("deep against shallow", fontsize=9)
    ratio.legend(fontsize=7, loc="best")
    figures.title(fig, "a deep net at $\\tau = 1/\\sqrt{L}$ trains as well as a shallow one", _setting(result))
