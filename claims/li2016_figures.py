"""Figures of the li2016 claims: from one result's JSON (``Result.to_json()``), what a
reader of Li et al. (2016) would draw, with the claim's band, threshold or tolerances on
it.  The claim module hands a figure the constants its judge uses (``functools.partial``);
this module only draws.

Symbols: n the shortcut depth (layers per residual unit), L the number of units, d the
width, A = Sxx - Sxy with singular values sigma_i(A), H(W) the Hessian of the loss R at the
weights W, s the init scale, F_t the loss after t GD steps.
"""
from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure

from resclaims import figures
from resclaims.figures import BAND, FAIL, INTERVAL, number, numbers

Result = dict[str, Any]
DIVERGED = 1e6        # F_t / F_0 above this is off the top of a loss curve's axis


def log_ratio(ratio: float) -> float:
    """log10 F_T / F_0 as the judge of gd_depth1_unstable reads it: a diverged run (F_T / F_0
    +inf or NaN) is +inf, not trained; 0 (trained perfectly) is -inf."""
    if math.isnan(ratio) or ratio == math.inf:
        return math.inf
    return math.log10(ratio) if ratio > 0 else -math.inf


def _setting(result: Result) -> str:
    """The stack of the judged setting, in a few words."""
    s = result.get("setting") or {}
    depth = f"L = {s['depth']}, " if "depth" in s else ""
    return (f"n = {s.get('shortcut_depth', '?')}, {depth}d = {s.get('width', '?')}, "
            f"{s.get('activation', 'identity')} branch, {'whitened' if s.get('whiten') else 'correlated'} inputs")




def depth2_hessian_at_zero(result: Result, fig: Figure, *, spectrum_rtol: float, gradient_rtol: float,
                           kink_max: float) -> None:
    """C-T1: the eigenvalues of H(0) in increasing order on the levels +-sigma_i(A), and each
    identity's error against its float64 tolerance."""
    spectrum, errors = fig.subplots(1, 2)
    ev = figures.evidence((spectrum, errors), result, "sigma_A", "eigenvalues", "gradient_norm", "spectrum_error",
                          "cross_unit_max", "kink")
    if ev is None:
        return
    c = number(ev.get("loss_scale", 1.0))  # a loss c times R: levels c sigma_i(A)
    sigma, eig = [c * number(v) for v in numbers(ev["sigma_A"])], numbers(ev["eigenvalues"])
    for i, level in enumerate(sigma):
        for sign in (1, -1):
            spectrum.axhline(sign * level, color=BAND, ls="--", lw=1,
                             label=("$\\pm\\sigma_i(A)$" if c == 1 else f"$\\pm {c:.4g}\\,\\sigma_i(A)$")
                             if i == 0 and sign == 1 else None)
    spectrum.scatter(range(1, len(eig) + 1), eig, s=10, color=INTERVAL, zorder=3,
                     label="eigenvalues of $H(0)$" + ("" if ev.get("dense", True) else " (distinct, Lanczos)"))
    spectrum.set_xlabel("index $k$ (increasing)")
    spectrum.set_ylabel("$\\lambda_k(H(0))$")
    spectrum.set_title(f"cond $H(0)$ = {number(ev.get('cond_H', 'nan')):.4g}, cond $A$ = "
                       f"{number(ev.get('cond_A', 'nan')):.4g}", fontsize=9)
    spectrum.legend(fontsize=7, loc="upper left")
    scale = (number(sigma[0]) if sigma else 1.0) or math.nan   # sigma_max = 0: NaN, not a ZeroDivisionError
    figures.tolerances(errors, [
        ("$\\|\\nabla R(0)\\| / \\sigma_{max}$", number(ev["gradient_norm"]) / scale, gradient_rtol),
        ("spectrum error / $\\sigma_{max}$", ev["spectrum_error"], spectrum_rtol),
        ("$\\max|H_{l l'}|$ / $\\sigma_{max}$", ev["cross_unit_max"], spectrum_rtol),
        ("two-sided Taylor misfit", ev["kink"], kink_max)])
    errors.set_title("identities against their tolerances", fontsize=9)
    figures.title(fig, "2-shortcut Hessian at zero: spec $H(0) = \\{\\pm\\sigma_i(A)\\}$, each $d L$ times", _setting(result))


def depth1_curvature_grows(result: Result, fig: Figure, *, slope_band: tuple[float, float],
                           cond_decades: float) -> None:
    """C-T2: the median lambda_max(H(0)) and cond H(0) against L on log-log axes, with the
    slope-1 line lambda_max ~ L and cond A; the per-seed slopes d log lambda_max / d log L
    against [0.9, 1.1] and log10 cond H(0) / cond A at L = 32 against >= 1."""
    growth, slopes, cond = fig.subplots(1, 3, width_ratios=[2, 1, 1])
    ev = figures.evidence((growth, slopes, cond), result, "depths", "slopes", "cond_decades_over_A")
    if ev is None:
        return
    depths = numbers(ev["depths"])
    if "median_lambda_max" in ev and not figures.positive(numbers(ev["median_lambda_max"]) +
                                                          numbers(ev["median_cond_H"])):
        figures.unavailable(growth, "no finite positive curvature to draw on log axes")
    elif "median_lambda_max" in ev:
        tops, conds = numbers(ev["median_lambda_max"]), numbers(ev["median_cond_H"])
        growth.plot(depths, tops, "o-", color=INTERVAL, label="$\\lambda_{max}(H(0))$")
        growth.plot(depths, conds, "s-", color="tab:blue", label="cond $H(0)$")
        growth.axhline(number(ev["median_cond_A"]), color="tab:blue", ls=":", label="cond $A$")
        figures.log_scale(growth, "x")
        figures.log_scale(growth)
        figures.power_law(growth, depths[0], tops[0], 1.0, depths, label="$\\propto L$ (slope 1)")
        growth.set_xlabel("number of units $L$")
        growth.set_ylabel("median over datasets")
        growth.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(growth, "no per-depth curvature in this result")
    growth.set_title("curvature at zero against depth", fontsize=9)
    figures.median_test(slopes, ev["slopes"], *slope_band, alpha=figures.shared_alpha(result, 2))
    slopes.set_xticks([])
    slopes.set_ylabel("$d \\log \\lambda_{max} / d \\log L$")
    slopes.set_title("growth exponent", fontsize=9)
    slopes.legend(fontsize=7, loc="best")
    figures.median_test(cond, ev["cond_decades_over_A"], cond_decades, math.inf, alpha=figures.shared_alpha(result, 2))
    cond.set_xticks([])
    cond.set_ylabel("$\\log_{10}$ cond $H(0)$ / cond $A$ at L = 32")
    cond.set_title("conditioning", fontsize=9)
    cond.legend(fontsize=7, loc="best")
    figures.title(fig, "1-shortcut: the curvature at zero grows linearly in depth", _setting(result))


def deep_shortcut_flat(result: Result, fig: Figure, *, zero_rtol: float, lead_min: float, kink_max: float) -> None:
    """C-T3: |R(tV) - R(0)| against t on log-log axes along each direction, both signs, with
    the line ~ t^n; the exact zeros, the share of the t^n term and the two-sided misfit
    against their tolerances."""
    law, errors = fig.subplots(1, 2)
    ev = figures.evidence((law, errors), result, "gradient_norm", "max_abs_H", "leads", "kink")
    if ev is None:
        return
    n = (result.get("setting") or {}).get("shortcut_depth", 3)
    increments = [v for row in ev.get("increment_plus", []) + ev.get("increment_minus", []) for v in row]
    if "taylor_t" in ev and not (figures.positive(ev["taylor_t"]) and figures.positive(increments)):
        figures.unavailable(law, "no finite positive increment to draw on log axes")
    elif "taylor_t" in ev:
        ts = numbers(ev["taylor_t"])
        for rows, marker, sign in ((ev["increment_plus"], "o", "+"), (ev["increment_minus"], "x", "-")):
            for i, row in enumerate(rows):
                law.plot(ts, numbers(row), marker=marker, lw=0.8, color=f"C{i}",
                         label=f"along ${sign}V$" if i == 0 else None)
        figures.log_scale(law, "x")
        figures.log_scale(law)
        first = sorted(number(row[0]) for row in ev["increment_plus"])[len(ev["increment_plus"]) // 2]
        figures.power_law(law, ts[0], first, float(n), ts, label=f"$\\propto t^{n}$", lw=2)
        law.set_xlabel("$t$")
        law.set_ylabel("$|R(tV) - R(0)|$")
        law.legend(fontsize=7, loc="upper left")
    else:
        figures.unavailable(law, "no increments in this result")
    law.set_title("the loss along random directions $V$", fontsize=9)
    leads = [v for v in numbers(ev["leads"]) if not math.isnan(v)]
    figures.tolerances(errors, [
        ("$\\|\\nabla R(0)\\| / \\sigma_{max}$", ev["gradient_norm"], zero_rtol),
        ("$\\max|H(0)| / \\sigma_{max}$", ev["max_abs_H"], zero_rtol),
        (f"share of the $t^{n}$ term", max(leads, default=0.0), lead_min),
        ("two-sided Taylor misfit", ev["kink"], kink_max)], at_least=(False, False, True, False))
    errors.set_title("identities against their tolerances", fontsize=9)
    figures.title(fig, f"shortcut depth {n}: a flat saddle of order {n} at zero", _setting(result))


def small_init_limit(result: Result, fig: Figure, *, rate_factor: float, roundoff: float) -> None:
    """C-T4: the relative error |cond H(s W0) - cond A| / cond A against the init scale s on
    log-log axes (each init, and the median), with the slowest fall the claim allows
    (``rate_factor`` per decade) and the O(s^2) the expansion predicts."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "scales", "relative_error", "cond_A")
    if ev is None:
        return
    scales = numbers(ev["scales"])
    rows = [numbers(row) for row in ev["relative_error"]]
    for i, row in enumerate(rows):
        ax.plot(scales, row, color="grey", lw=0.6, alpha=0.6, label="one init" if i == 0 else None)
    median = [sorted(col)[len(col) // 2] for col in zip(*rows)]
    ax.plot(scales, median, "o-", color=INTERVAL, lw=1.6, label="median over inits")
    figures.log_scale(ax, "x")
    figures.log_scale(ax)
    exponent = math.log10(rate_factor)
    figures.power_law(ax, scales[-2], median[-2], exponent, scales[-2:],
                      label=f"slowest allowed: {rate_factor:g}x per decade")
    figures.power_law(ax, scales[0], median[0], 2.0, scales, label="$O(s^2)$ (derived)", color="tab:blue", ls=":")
    ax.axhline(roundoff, color="grey", ls="-.", lw=1, label=f"roundoff {roundoff:g}")
    ax.set_xlabel("init scale $s$")
    ax.set_ylabel("|cond $H(sW_0)$ - cond $A$| / cond $A$")
    ax.invert_xaxis()
    ax.legend(fontsize=7, loc="best")
    figures.title(fig, f"small init: cond $H(sW_0) \\to$ cond $A$ = {number(ev['cond_A']):.4g} as $s \\to 0$", _setting(result))


def large_init_conditioning(result: Result, fig: Figure) -> None:
    """C-T4 converse: per init, log10 cond H(L = 8) / cond H(L = 1) under Xavier or orthogonal
    init, its median's interval, and the band [1, inf) (at least tenfold growth)."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "log10_cond_growth", "depths", "init")
    if ev is None:
        return
    lo, hi = result.get("band") or (1.0, math.inf)
    figures.result_median_test(ax, ev["log10_cond_growth"], lo, hi, result, label="per init")
    shallow, deep = ev["depths"]
    figures.one_column(ax, f"{ev['init']} init", f"$\\log_{{10}}$ cond $H(L = {deep})$ / cond $H(L = {shallow})$")
    figures.title(fig, "large init: the Hessian's conditioning grows with depth", _setting(result))


def gd_depth2_depth_free(result: Result, fig: Figure, *, target: float, step_ratio: float) -> None:
    """C-T5: median GD curves F_t / F_0 at each L down to the target, the steps each init
    needs against L, and the per-init ratio max / min over L of those steps against 2."""
    curves, steps, ratio = fig.subplots(1, 3, width_ratios=[2, 1.3, 1])
    ev = figures.evidence((curves, steps, ratio), result, "depths", "steps", "ratio")
    if ev is None:
        return
    depths = ev["depths"]
    if "median_loss_curve" in ev:
        figures.loss_curves(curves, [(f"L = {d}", c) for d, c in zip(depths, ev["median_loss_curve"])],
                            ylabel="$F_t / F_0$ (median over inits)")
        figures.threshold(curves, target, label=f"target {target:g}")
        curves.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curves, "no loss curves in this result")
    curves.set_title("GD from a small init", fontsize=9)
    for i, row in enumerate(ev["steps"]):
        figures.per_seed(steps, row, x=i, label="per init" if i == 0 else None)
    steps.set_xticks(range(len(depths)), [f"L = {d}" for d in depths])
    steps.set_ylabel(f"steps to $F_t \\leq$ {target:g} $F_0$")
    steps.set_title("steps against depth", fontsize=9)
    figures.per_seed(ratio, ev["ratio"], ok=lambda v: v <= step_ratio)
    figures.threshold(ratio, step_ratio, label=f"bound {step_ratio:g}")
    ratio.set_xticks([])
    ratio.set_ylabel("max / min over L of the steps")
    ratio.set_title("depth-free", fontsize=9)
    ratio.legend(fontsize=7, loc="best")
    figures.title(fig, "2-shortcut: GD needs the same number of steps at every depth", _setting(result))


def gd_depth3_plateau(result: Result, fig: Figure, *, plateau: float) -> None:
    """C-T5 converse: how far the median GD curve has come down, 1 - F_t / F_0, against t,
    with the plateau's edge 1 - 0.99; and the per-init F_T / F_0 against 0.99."""
    curve, final = fig.subplots(1, 2, width_ratios=[3, 2])
    ev = figures.evidence((curve, final), result, "steps", "final_over_initial")
    if ev is None:
        return
    if "median_loss_curve" in ev:
        figures.loss_curves(curve, [("median over inits", [1 - v for v in numbers(ev["median_loss_curve"])])],
                            ylabel="$1 - F_t / F_0$")
        figures.threshold(curve, 1 - plateau, label=f"leaves the plateau ($F/F_0$ < {plateau:g})")
        curve.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curve, "no loss curve in this result")
    curve.set_title("GD from a small init", fontsize=9)
    figures.per_seed(final, ev["final_over_initial"], ok=lambda v: v > plateau, label="per init")
    figures.threshold(final, plateau, label=f"plateau edge {plateau:g}")
    final.set_xticks([])
    final.set_ylabel(f"$F_T / F_0$ after T = {ev['steps']} steps")
    final.set_title("still on the plateau", fontsize=9)
    final.legend(fontsize=7, loc="best")
    figures.title(fig, "deeper shortcuts: GD stays on the plateau at the zero saddle", _setting(result))


def gd_depth1_unstable(result: Result, fig: Figure) -> None:
    """C-T5 converse: the median GD curve F_t / F_0 over datasets at L = 32 (a gap where the
    median run diverged), and per dataset log10 F_T / F_0 with its median's interval
    against the band [0, inf) (GD does not train)."""
    curve, final = fig.subplots(1, 2, width_ratios=[3, 2])
    ev = figures.evidence((curve, final), result, "depth", "steps", "final_over_initial")
    if ev is None:
        return
    if "median_loss_curve" in ev:
        values = numbers(ev["median_loss_curve"])
        figures.loss_curves(curve, [("median over datasets", values)], ylabel="$F_t / F_0$")
        curve.axhline(1.0, color=BAND, ls="--", lw=1.2, label="$F_t = F_0$")
        diverged = next((t for t, v in enumerate(values) if not math.isfinite(v)), None)
        if diverged is not None:
            curve.axvline(diverged, color=FAIL, ls=":", lw=1.2, label=f"median run diverged (t = {diverged})")
        curve.set_xlim(0, len(values) - 1)
        curve.set_ylim(top=min(curve.get_ylim()[1], DIVERGED))
        curve.legend(fontsize=7, loc="best")
    else:
        figures.unavailable(curve, "no loss curve in this result")
    curve.set_title(f"GD at L = {ev['depth']} from a small init", fontsize=9)
    logs = [log_ratio(r) for r in numbers(ev["final_over_initial"])]
    lo, hi = result.get("band") or (0.0, math.inf)
    figures.result_median_test(final, logs, lo, hi, result, label="per dataset")
    final.set_xticks([])
    final.set_ylabel(f"$\\log_{{10}} F_T / F_0$ after T = {ev['steps']} steps")
    final.set_title("does not train", fontsize=9)
    final.legend(fontsize=7, loc="best")
    figures.title(fig, "1-shortcut: the step size that trains 2-shortcuts fails at depth 32", _setting(result))
