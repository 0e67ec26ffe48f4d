"""Figures of the wang2020 claims: from one result's JSON (``Result.to_json()``), what a
reader of Wang et al. (2020) and Freeman & Bruna (2017) would draw, with the claim's band
or threshold on it.  The claim module hands each figure its tolerances
(``functools.partial``); this module only draws.

Symbols: m units w_j read by the readout a, F the square loss, Z_j the features the
readout reads, [u, v]_Z = E[Z_u Z_v], S = E[x x^T]; B the barrier max_t F(gamma(t)) -
max(F_A, F_B) of a path gamma between minima A and B.
"""
from __future__ import annotations

import math
import statistics
from statistics import NormalDist
from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from resclaims import figures
from resclaims.figures import BAND, FAIL, INTERVAL, number, numbers
from resclaims.stats import slope

Result = dict[str, Any]
WIDTHS = ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink")   # one colour a width
ESTIMATORS = {"linear": ("tab:red", "raw straight"), "bezier": ("tab:blue", "Bezier"),   # a barrier estimator's
              "neb": ("tab:cyan", "NEB")}                                                  # colour and name


def _widths(ax: Axes, widths: Sequence[float]) -> None:
    """A log axis of widths m, labelled at the widths themselves."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(widths, [f"{m:g}" for m in widths])


def _setting(result: Result) -> str:
    s = result.get("setting") or {}
    return f"{s.get('form', '?')} form, n = {s.get('in_dim', '?')}, {s.get('inputs', '?')} inputs"


def _relu_kernel(alpha: float) -> float:
    """k(alpha) = (sin a + (pi - a) cos a) / pi, the degree-1 arc-cosine kernel."""
    return (math.sin(alpha) + (math.pi - alpha) * math.cos(alpha)) / math.pi


def kernel_sandwich(result: Result, fig: Figure, *, roundoff: float) -> None:
    """E-P1 (F&B Prop. 2.3): [w1, w2]_Z inside the sandwich [lower, upper], all measured from
    the upper bound ((1 + cos a)/2) ||w_m||_Z^2 in units of ||S|| + ||w_m||_Z^2 (the
    claim's scale, whose ``roundoff`` it allows)."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "inner", "upper", "lower", "sigma", "mid_sq")
    if ev is None:
        return
    scale = number(ev["sigma"]) + number(ev["mid_sq"])
    scale = scale if scale else math.nan   # a zero scale measures nothing
    upper = number(ev["upper"])
    lower, inner = (number(ev["lower"]) - upper) / scale, (number(ev["inner"]) - upper) / scale
    if not (math.isfinite(lower) and math.isfinite(inner)):
        figures.unavailable(ax, f"nothing to place: lower {number(ev['lower']):.6g}, $[w_1, w_2]_Z$ "
                                f"{number(ev['inner']):.6g}, upper {upper:.6g}, scale {scale:.3g}")
        return
    ax.scatter([0], [inner], s=60, zorder=3, label="$[w_1, w_2]_Z$",
               color=INTERVAL if lower - roundoff <= inner <= roundoff else FAIL)
    ax.set_ylim(min(lower, inner) - 0.2 * abs(lower) - roundoff, max(inner, 0) + 0.2 * abs(lower) + roundoff)
    figures.band(ax, lower - roundoff, roundoff, label="the sandwich (and its roundoff)")
    ax.axhline(0, color=BAND, lw=1.5, label="upper $((1 + \\cos\\alpha)/2)\\,\\|w_m\\|_Z^2$")
    ax.axhline(lower, color=BAND, lw=1.5, ls="-.",
               label="lower: upper $- 2\\|S\\|((1 - \\cos\\alpha)/2 + \\sin^2\\alpha)$")
    ax.set_xticks([0], [f"$[w_1, w_2]_Z$ = {number(ev['inner']):.6g}\nupper {upper:.6g}, lower "
                        f"{number(ev['lower']):.6g}"], fontsize=8)
    ax.set_xlim(-1, 1.6)
    ax.set_ylabel("(value $-$ upper) / ($\\|S\\| + \\|w_m\\|_Z^2$)")
    alpha = number((result.get("setting") or {}).get("alpha", math.nan))
    ax.set_title(f"E-P1 kernel sandwich at $\\alpha$ = {alpha:.3g} rad ({_setting(result)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def arccos_oracle(result: Result, fig: Figure) -> None:
    """E-P1, Gaussian case: the measured E[Z1 Z2] / E Z^2 at the drawn angle on the curve
    k(alpha) (its error bar z_crit SE / E Z^2), and the z-score of the mean of Z1 Z2 -
    k (Z1^2 + Z2^2)/2 inside |z| <= z_(alpha/2)."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "mean", "se", "energy", "kernel")
    if ev is None:
        return
    alpha_ = result.get("alpha")   # an older result may have none: no z_crit, no acceptance band
    critical = NormalDist().inv_cdf(1 - number(alpha_) / 2) if alpha_ is not None else None
    alpha = number((result.get("setting") or {}).get("alpha", math.nan))
    grid = [i * math.pi / 200 for i in range(101)]
    left.plot(grid, [_relu_kernel(a) for a in grid], color=BAND, label="$k(\\alpha) = (\\sin\\alpha + "
                                                                       "(\\pi - \\alpha)\\cos\\alpha)/\\pi$")
    energy, se = number(ev["energy"]), number(ev["se"])
    ratio = number(ev["kernel"]) / energy if energy > 0 else math.nan
    z = number(ev["mean"]) / se if se > 0 else (0.0 if number(ev["mean"]) == 0 else math.inf)
    arm = critical * se / energy if critical is not None and energy > 0 else 0.0
    left.errorbar([alpha], [ratio], yerr=[arm if math.isfinite(arm) and arm > 0 else 0.0], fmt="o", capsize=4,
                  color=INTERVAL if critical is None or abs(z) <= critical else FAIL,
                  label="measured $\\mathbb{E}[Z_1 Z_2] / \\mathbb{E} Z^2$" +
                        (" ($\\pm z_{crit}$ SE)" if critical is not None else ""))
    left.set_xlabel("angle $\\alpha$ between $w_1, w_2$ (rad)")
    left.set_ylabel("$\\mathbb{E}[Z_1 Z_2] / \\mathbb{E} Z^2$")
    left.set_title(f"E-P1 the ReLU kernel on Gaussian x ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7, loc="best")
    if critical is None:
        figures.unavailable(right, "no alpha in this result: the band |z| <= z_crit is unknown")
        return
    figures.scores(right, [f"$Z_1 Z_2 - k(\\alpha)(Z_1^2 + Z_2^2)/2$\n{ev.get('samples', '?')} samples"], [z],
                   critical, ylabel="mean / SE")
    right.set_title(f"two-sided z-test, false-alarm rate {number(alpha_):.2g}", fontsize=9)


def merge_inequality(result: Result, fig: Figure) -> None:
    """E-P2 (F&B Cor. 2.5): the loss change on merging unit k into unit j at angle alpha
    against the bound 2 |a_k| sqrt(F ||S||) d + a_k^2 ||S|| d^2, d = ||w_j - w_k||, on
    log-log axes (a decrease shown hollow, as |Delta F|)."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "merges")
    if ev is None:
        return
    rows = sorted(ev["merges"], key=lambda r: number(r["alpha"]))
    figures.under_bound(ax, [r["alpha"] for r in rows], [r["increase"] for r in rows], [r["bound"] for r in rows],
                        "$\\Delta F$ on merging", "bound $2|a_k|\\sqrt{F\\|S\\|}d + a_k^2\\|S\\|d^2$")
    ax.set_xlabel("angle $\\alpha$ between $w_j$ and $w_k$ (rad)")
    ax.set_ylabel("loss change on merging $k$ into $j$")
    ax.set_title(f"E-P2 merge inequality, width {(result.get('setting') or {}).get('width', '?')} "
                 f"({_setting(result)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")


def exact_legs(result: Result, fig: Figure, *, roundoff: float, gradient_tol: float) -> None:
    """E-P3 (F&B Thm 2.4 legs 1, 3, 6): F along a line of readouts, which must stay at or
    below the higher end and be the quadratic through t = 0, 1/2, 1; and the exact
    invariances' errors against ``roundoff`` (the gradient's against ``gradient_tol``)."""
    left, right = fig.subplots(1, 2)
    keys = ("unused", "homogeneity", "permutation", "per_sample", "quadratic_error", "line_scale", "line_excess",
            "curvature", "gradient_error")
    ev = figures.evidence((right, left), result, *keys)
    if ev is None:
        return
    _readout_line(left, ev)
    left.set_title(f"E-P3 leg 1: F along a line of readouts ({_setting(result)})", fontsize=9)
    scale = number(ev["line_scale"]) or math.nan   # NaN errors, not a ZeroDivisionError, at a zero scale
    figures.tolerances(right, [
        ("unit with $a_j = 0$ moved", ev["unused"], roundoff),
        ("$(c w_j, c u_j, a_j / c)$", ev["homogeneity"], roundoff),
        ("units relabelled", ev["permutation"], roundoff),
        ("per sample (batch of 7)", ev["per_sample"], roundoff),
        ("not quadratic in $t$", number(ev["quadratic_error"]) / scale, roundoff),
        ("rise above the ends", number(ev["line_excess"]) / scale, roundoff),
        ("concavity $-c$", -number(ev["curvature"]) / scale, roundoff),
        ("autograd vs central differences", ev["gradient_error"], gradient_tol)],
        xlabel="relative error (log scale)")
    right.set_title("exact identities of the unit layer", fontsize=9)


def _readout_line(ax: Axes, ev: dict[str, Any]) -> None:
    """F((1 - t) a_A + t a_B) at the recorded t grid, the quadratic through t = 0, 1/2, 1
    and the level max(F(a_A), F(a_B)) it must stay under."""
    if "line" not in ev:
        figures.unavailable(ax, "the evidence lacks line")
        return
    line = numbers(ev["line"])
    ts = [i / (len(line) - 1) for i in range(len(line))]
    c = number(ev["curvature"])
    ax.plot(ts, [line[0] + (line[-1] - line[0] - c) * t + c * t * t for t in ts], color="grey", lw=3, alpha=0.5,
            label=f"quadratic through $t = 0, \\frac{{1}}{{2}}, 1$ ($c$ = {c:.3g})")
    ax.scatter(ts[::4], line[::4], s=10, color=INTERVAL, zorder=3, label="$F((1 - t) a_A + t a_B)$")
    figures.threshold(ax, max(line[0], line[-1]), label="$\\max(F(a_A), F(a_B))$: F must stay under")
    ax.set_xlabel("$t$")
    ax.set_ylabel("loss $F$")
    ax.legend(fontsize=7, loc="best")


def relabelled_copy(result: Result, fig: Figure, *, roundoff: float) -> None:
    """E-P6 iii: F along the straight path from theta to its relabelled copy, raw and after
    aligning the units (which must be flat), and the errors against ``roundoff`` (1 + |F|)."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((right, left), result, "losses", "raw", "aligned")
    if ev is None:
        return
    losses = numbers(ev["losses"])
    scale = abs(losses[0]) + 1.0
    if "raw_path" in ev and "aligned_path" in ev:
        for key, label, color in (("raw_path", f"raw (barrier {number(ev['raw']):.3g})", FAIL),
                                  ("aligned_path", f"aligned (barrier {number(ev['aligned']):.2g})", INTERVAL)):
            path = numbers(ev[key])
            left.plot([i / (len(path) - 1) for i in range(len(path))], path, color=color, label=label)
        figures.band(left, -math.inf, max(losses) + roundoff * scale, label="claim: aligned path flat")
        left.set_xlabel("$t$ along $(1 - t)\\theta + t\\,\\theta'$")
        left.set_ylabel("loss $F$")
        left.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(left, "the evidence lacks raw_path, aligned_path")
    left.set_title(f"E-P6 straight path to a relabelled copy ({_setting(result)})", fontsize=9)
    figures.tolerances(right, [("$|F(\\theta') - F(\\theta)|$", abs(losses[1] - losses[0]), roundoff * scale),
                               ("aligned barrier", max(number(ev["aligned"]), 0.0), roundoff * scale)],
                       xlabel="log scale")
    right.set_title(f"exact, to {roundoff:g} (1 + |F|)", fontsize=9)


def _jitter(i: int, count: int) -> float:
    return 1 + 0.12 * ((i + 0.5) / count - 0.5)


def barrier_width(result: Result, fig: Figure, *, eta: float, coverage: float) -> None:
    """E-P5: the aligned straight-path barriers B of the pairs of minima kept at each width m
    (clamped at the floor), their medians, the pooled least-squares line of log B on log m
    and the theory's exponent -(1 - eta)/n through the same centre; beside it the slope's
    bootstrap interval against the claim's band (-inf, 0)."""
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    ev = figures.evidence((left, right), result, "widths", "floor", "n")
    if ev is None:
        return
    widths = [number(row["width"]) for row in ev["widths"]]
    floor = number(ev["floor"])
    recorded = "accepted" in ev   # the pairs whose ends are minima; an older result has every pair
    shown = [b for row in ev["widths"] for key in ("aligned", *ESTIMATORS) for b in row.get(key) or []]
    shown += [b for row in ev["accepted"] for b in row] if recorded else []
    if not figures.positive(widths) or not figures.positive(shown + [floor]):
        figures.unavailable(left, "no finite positive width and barrier to draw on log axes")
        _slope_interval(right, result, -(1 - eta) / number(ev["n"]), coverage)
        return
    kept = ev["accepted"] if recorded else [[max(number(b), floor) for b in row["aligned"]] for row in ev["widths"]]
    for m, values in zip(widths, kept):
        values = numbers(values)
        left.scatter([m * _jitter(i, len(values)) for i in range(len(values))], values, s=6, color="grey", alpha=0.5,
                     label=("aligned barrier of a kept pair" if recorded else "aligned barrier of a pair (kept ones "
                            "not recorded)") if m == widths[0] else None)
    left.plot(widths, [statistics.median(numbers(values)) if values else math.nan for values in kept], color=INTERVAL,
              marker="o", lw=1.5, label="median, aligned straight (fitted)")
    for (key, (color, name)), marker in zip(ESTIMATORS.items(), "^sD"):
        medians = [statistics.median(numbers(row[key])) if row.get(key) else math.nan for row in ev["widths"]]
        if any(math.isfinite(v) for v in medians):
            left.plot(widths, [max(v, floor) for v in medians], label=f"median, {name}", ls=":", color=color,
                      marker=marker)
    left.axhline(floor, color="grey", ls="--", lw=1, label=f"floor $\\tau$ = {floor:.2g}")
    logs = [(math.log(m), math.log(number(b))) for m, values in zip(widths, kept) for b in values
            if 0 < m < math.inf and 0 < number(b) < math.inf]   # a log has no place for b <= 0
    if len({x for x, _ in logs}) > 1:
        fitted = slope([x for x, _ in logs], [y for _, y in logs])
        cx, cy = statistics.fmean(x for x, _ in logs), statistics.fmean(y for _, y in logs)
        n = number(ev["n"])
        theory = -(1 - eta) / n
        figures.power_law(left, math.exp(cx), math.exp(cy), fitted, widths, f"least squares, slope {fitted:.2f}",
                          color=INTERVAL, ls="-", lw=2)
        figures.power_law(left, math.exp(cx), math.exp(cy), theory, widths,
                          f"theory $-(1 - \\eta)/n$ = {theory:.2f} ($\\eta$ = {eta:g}, n = {n:g} with the bias)",
                          ls="-.")
    _widths(left, widths)
    left.set_yscale("log")
    left.set_xlabel("width $m$ (units the skip feeds)")
    left.set_ylabel("barrier $B$ between minima")
    left.set_title(f"E-P5 barriers fall with width ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    _slope_interval(right, result, -(1 - eta) / number(ev["n"]), coverage)


def _slope_interval(ax: Axes, result: Result, theory: float, coverage: float) -> None:
    """The slope's ``coverage`` bootstrap interval (result ``interval``) against the claim's band."""
    if not result.get("interval") or not result.get("band"):
        figures.unavailable(ax, "no slope interval: every pair at the floor (nothing to fall), or an older result")
        return
    lo, hi = numbers(result["interval"])
    band = numbers(result["band"])
    ax.scatter([0], [theory], marker="*", s=80, color=BAND, zorder=4, label="theory $-(1 - \\eta)/n$")
    ax.set_ylim(min(lo, theory, -0.1) - 0.2, max(hi, 0.1) + 0.2)
    ax.set_xlim(-1, 1)
    figures.band(ax, band[0], band[1], label="claim: upper end < 0")
    figures.interval(ax, 0, lo, hi, label=f"{coverage:.0%} bootstrap CI", inside=hi < band[1])
    ax.set_xticks([])
    ax.set_ylabel("slope of $\\log B$ on $\\log m$")
    ax.set_title("the slope's interval", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")


def components(result: Result, fig: Figure) -> None:
    """E-P7: connected components per minimum inside {F <= lambda}, N / R_in, against m at
    each level lambda; at the largest width it may not exceed its value at the smallest
    (of the widths with two minima inside), the dashed line."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "widths", "levels", "counts")
    if ev is None:
        return
    widths = numbers(ev["widths"])
    for k, (level, counts) in enumerate(zip(numbers(ev["levels"]), ev["counts"])):
        usable = [(m, n / inside, f"{n}/{inside}") for m, (n, inside) in zip(widths, counts) if inside >= 2]
        color = WIDTHS[k % len(WIDTHS)]
        ax.plot([m for m, _, _ in usable], [r for _, r, _ in usable], marker="o", color=color,
                label=f"$\\lambda$ = {level:.3g}")
        for m, r, text in usable:
            ax.annotate(text, (m, r), textcoords="offset points", xytext=(4, 4), fontsize=7, color=color)
        if usable:
            ok = usable[-1][1] <= usable[0][1]
            ax.hlines(usable[0][1], usable[0][0], usable[-1][0], color=color if ok else FAIL, ls="--", lw=1,
                      label=f"claim: at m = {usable[-1][0]:g} at most its value at m = {usable[0][0]:g}")
    _widths(ax, widths)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("width $m$")
    ax.set_ylabel("components per minimum inside, $N(\\lambda) / R_{in}$")
    ax.set_title(f"E-P7 sub-level sets connect as m grows ({_setting(result)})", fontsize=9)
    ax.legend(fontsize=7, loc="best")


def estimators(result: Result, fig: Figure, *, swap_high: float, swap_low: float) -> None:
    """E-P6 i, ii: NEB barriers between minima of a linear net against the floor (there is
    none), and the barriers between a teacher and its swapped copy / E[y^2] at m = 2 (the
    best of Bezier and NEB at least ``swap_high``) and m = 8 (at most ``swap_low``)."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "linear_nets", "swap")
    if ev is None:
        return
    lin, swap = ev["linear_nets"], ev["swap"]
    figures.tolerances(left, [(f"NEB barrier, pair {i + 1}", b, lin["floor"]) for i, b in enumerate(lin["barriers"])],
                       xlabel="barrier (log scale); tolerance: the floor $10^{-4}$ Var(Y)")
    left.set_title("E-P6 i linear net (Prop. 2.2: no barrier)", fontsize=9)
    _swapped(right, swap, swap_high, swap_low)


def _swapped(ax: Axes, swap: dict[str, Any], swap_high: float, swap_low: float) -> None:
    """Grouped bars: barrier / E[y^2] of each estimator at m = 2 and m = 8, with the
    threshold the best of Bezier and NEB must meet at each."""
    energy = number(swap["mean_square"]) or math.nan   # NaN ratios, not a ZeroDivisionError, at zero
    for j, (estimator, (color, name)) in enumerate(ESTIMATORS.items()):
        heights = [max(number(swap[m][estimator]) / energy, 1e-6) for m in ("2", "8")]
        ax.bar([g + 0.25 * (j - 1) for g in (0, 1)], heights, width=0.25, label=name, color=color)
    for g, (m, limit, sense) in enumerate((("2", swap_high, ">="), ("8", swap_low, "<="))):
        best = min(number(swap[m]["bezier"]), number(swap[m]["neb"])) / energy
        ok = best >= limit if sense == ">=" else best <= limit
        ax.hlines(limit, g - 0.45, g + 0.45, color=BAND if ok else FAIL, ls="--", lw=2, zorder=3,
                  label="best of Bezier, NEB: $\\geq$ / $\\leq$ this" if g == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks([0, 1], ["m = 2 (must be $\\geq$)", "m = 8 (must be $\\leq$)"])
    ax.set_ylabel("barrier / $\\mathbb{E}[y^2]$")
    ax.set_title("E-P6 ii teacher vs its swapped copy (two clusters)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4)


def skip_vs_plain(result: Result, fig: Figure) -> None:
    """E-P5, skip against no skip: per pair of minima, B_skip against B_plain (floored),
    the diagonal B_skip = B_plain and the line B_skip = e^u B_plain at the one-sided upper
    bound u of the mean log ratio (the claim: u < 0, the line below the diagonal); beside
    it the medians per width."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "widths", "floor")
    if ev is None:
        return
    floor = number(ev["floor"])
    everything = []
    for k, row in enumerate(ev["widths"]):
        skip, plain = ([max(number(b), floor) for b in row[key]] for key in ("skip", "plain"))
        pairs = [(p, q) for p, q in zip(plain, skip) if 0 < p < math.inf and 0 < q < math.inf]   # log axes
        everything += [v for pair in pairs for v in pair]
        left.scatter([p for p, _ in pairs], [q for _, q in pairs], s=8, alpha=0.6, color=WIDTHS[k % len(WIDTHS)],
                     label=f"m = {row['width']}")
    if not everything:
        figures.unavailable(left, "no pair with finite positive barriers to draw on log axes")
        _medians_by_width(right, ev["widths"], floor)
        return
    ends = [min(everything), max(everything)]
    left.plot(ends, ends, color="grey", ls="--", lw=1, label="$B_{skip} = B_{plain}$")
    interval = result.get("interval")
    if interval:
        bound = number(interval[1])
        left.plot(ends, [e * math.exp(bound) for e in ends], color=BAND if bound < 0 else FAIL, lw=1.5,
                  label=f"$B_{{skip}} = e^{{u}} B_{{plain}}$, upper bound u = {bound:.2f} (claim: u < 0)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("$B_{plain}$ (no skip)")
    left.set_ylabel("$B_{skip}$")
    left.set_title(f"E-P5 barriers with and without the skip ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7, loc="upper left")
    _medians_by_width(right, ev["widths"], floor)


def _medians_by_width(ax: Axes, rows: Sequence[dict[str, Any]], floor: float) -> None:
    widths = [number(row["width"]) for row in rows]
    medians = [max(statistics.median(numbers(row[key])), floor) for row in rows for key in ("skip", "plain")
               if row[key]]
    if not figures.positive(widths) or not figures.positive(medians + [floor]):
        figures.unavailable(ax, "no finite positive median to draw on log axes")
        return
    for key, color in (("skip", INTERVAL), ("plain", FAIL)):
        ax.plot(widths, [max(statistics.median(numbers(row[key])), floor) for row in rows], marker="o", color=color,
                label=f"median $B_{{{key}}}$")
    ax.axhline(floor, color="grey", ls="--", lw=1, label=f"floor {floor:.2g}")
    _widths(ax, widths)
    ax.set_yscale("log")
    ax.set_xlabel("width $m$")
    ax.set_ylabel("median aligned barrier")
    ax.set_title("medians per width", fontsize=9)
    ax.legend(fontsize=7, loc="best")
