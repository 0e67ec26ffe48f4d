"""Figures of the shamir2018 claims: from one result's JSON (``Result.to_json()``), what a
reader of Shamir (2018) would draw, with the claim's threshold on it.  The claim module
hands each figure its tolerances (``functools.partial``); this module only draws.

Symbols: F = mean_i l(p(x_i); y_i) the unit's objective, F_lin* = min_u mean_i l(u^T x_i;
y_i) the best linear predictor's, (w, V) the head and mixing, u the best linear predictor.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from resclaims import figures
from resclaims.figures import BAND, FAIL, INTERVAL, number, numbers

Result = dict[str, Any]
LINEAR = "$F_{lin}^*$ (best linear predictor)"


def _setting(result: Result) -> str:
    s = result.get("setting") or {}
    return (f"d = {s.get('in_dim', '?')}, m = {s.get('features', '?')}, {s.get('loss', '?')} loss, "
            f"{s.get('activation', '?')} features")


def _against_linear(ax: Axes, rows: Sequence[tuple[Any, ...]], f_lin: Any, tol: float) -> None:
    """Objective values against F_lin*: one point per row (label, F, below[, offset]), which
    must lie at or below F_lin* + offset (``below``) or at or above it, as the judge reads
    it (a margin of 0 holds); the offset is ``tol`` unless the row gives its own.  Black
    when it does, red otherwise."""
    base = number(f_lin)
    offsets = [number(r[3]) if len(r) > 3 else tol for r in rows]
    values = numbers([r[1] for r in rows])
    ax.axhline(base, color=INTERVAL, lw=1, label=LINEAR)
    for offset in dict.fromkeys(o for o in offsets if o):
        figures.threshold(ax, base + offset, label=f"$F_{{lin}}^*$ + {offset:.2g}")
    for i, ((label, _, below, *_), value, offset) in enumerate(zip(rows, values, offsets)):
        line = base + offset
        ok = value <= line if below else value >= line
        ax.scatter([i], [value], s=60, zorder=3, color=INTERVAL if ok else FAIL, marker="v" if below else "^")
        ax.annotate(f"F = {value:.5g}", (i, value), textcoords="offset points", xytext=(8, 0), fontsize=8,
                    va="center")
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.2)
    ax.margins(y=0.15)
    ax.set_ylabel("objective $F$")
    ax.legend(fontsize=7, loc="best")


def bound_everywhere(result: Result, fig: Figure) -> None:
    """B-C2: the left side F - F_lin* against the bound ||grad_w F|| (||u|| + ||w||) + ||u||
    ||V||_op ||grad_V F|| / ||w||, its two terms stacked (the bound is infinite at w = 0)."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "F", "F_lin", "rhs")
    if ev is None:
        return
    lhs, rhs = number(ev["F"]) - number(ev["F_lin"]), number(ev["rhs"])
    terms = [("$\\|\\nabla_w F\\|(\\|u\\| + \\|w\\|)$", ev.get("bound_w"), BAND),
             ("$\\|u\\|\\|V\\|_{op}\\|\\nabla_V F\\| / \\|w\\|$", ev.get("bound_V"), "#98df8a")]
    if any(value is None for _, value, _ in terms):
        terms = [("bound", rhs, BAND)]
    finite = math.isfinite(rhs)
    bottom = 0.0
    for label, value, color in terms:
        height = number(value)
        if math.isfinite(height):
            ax.bar([1], [height], bottom=bottom, color=color, label=label, width=0.5)
            bottom += height
    ax.bar([0], [lhs], color=INTERVAL if lhs <= rhs else FAIL, width=0.5, label="$F - F_{lin}^*$")
    if finite:
        figures.threshold(ax, rhs, label=f"bound = {rhs:.4g}")
    else:
        ax.annotate("bound = $\\infty$ ($w = 0$)", (1, max(abs(lhs), 1e-12)), ha="center", fontsize=8)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xticks([0, 1], ["left side $F - F_{lin}^*$", "right side (bound)"])
    ax.set_xlim(-0.8, 2.2)
    ax.set_ylabel("objective units")
    ax.set_title(f"B-C2 the bound at one point, $\\|w\\|$ = {number(ev.get('w_norm', math.nan)):.3g} "
                 f"({_setting(result)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def local_minima(result: Result, fig: Figure, *, tol: float) -> None:
    """B-C1 (Theorem 1): F at the local minimum Newton's method found against F_lin*, which
    it may exceed by at most ``tol`` (1 + |F_lin*|)."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "F", "F_lin")
    if ev is None:
        return
    _against_linear(ax, [("local minimum of $(w, V) \\mapsto F$\n(must be $\\leq F_{lin}^*$ + tol)", ev["F"], True)],
                    ev["F_lin"], tol * (1 + abs(number(ev["F_lin"]))))
    ax.set_title(f"B-C1 F at a local minimum, $\\|\\nabla F\\|$ = {number(ev.get('gradient_norm', math.nan)):.1g}, "
                 f"$\\lambda_{{min}}(H)$ = {number(ev.get('lambda_min', math.nan)):.2g}, $\\|w\\|$ = "
                 f"{number(ev.get('w_norm', math.nan)):.3g} ({_setting(result)})", fontsize=9)


def joint_minima(result: Result, fig: Figure, *, tol: float, gradient_tol: float, w_floor: float) -> None:
    """B-C1 jointly in (w, V, theta): F at the converged joint minimum against F_lin* +
    ``tol`` (1 + |F_lin*|), and what made it a judged point: ||grad F|| <= ``gradient_tol``,
    ||w|| >= ``w_floor``, and the slack B-C2 allows at that gradient below the tolerance."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence(left, result, "F", "F_lin")
    if ev is None:
        figures.unavailable(right, "")
        return
    allowed = tol * (1 + abs(number(ev["F_lin"])))
    _against_linear(left, [("joint local minimum of\n$(w, V, \\theta) \\mapsto F$ (must be $\\leq F_{lin}^*$ + tol)",
                            ev["F"], True)], ev["F_lin"], allowed)
    left.set_title(f"B-C1 jointly with $\\theta$: {ev.get('parameters', '?')} parameters, n = "
                   f"{ev.get('samples', '?')} ({_setting(result)})", fontsize=9)
    figures.tolerances(right, [("$\\|\\nabla F\\|$", ev.get("gradient_norm", math.nan), gradient_tol),
                               ("$\\|w\\|$ (away from 0)", ev.get("w_norm", math.nan), w_floor),
                               ("B-C2 slack at that gradient", ev.get("gradient_slack", math.nan), allowed)],
                       at_least=(False, True, False), xlabel="log scale")
    right.set_title(f"converged, $w \\neq 0$; $\\lambda_{{min}}(H)$ = {number(ev.get('lambda_min', math.nan)):.2g} "
                    f"after {ev.get('iterations', '?')} trust-region steps", fontsize=9)


def saddle_at_zero(result: Result, fig: Figure, *, tol: float, gradient_tol: float, roundoff_eig: float) -> None:
    """B-C3: the point (0, V0) lies above F_lin* and a push along the lowest Hessian mode
    escapes to F <= F_lin* + tol (1 + |F_lin*|); it is stationary (||grad F|| <=
    ``gradient_tol`` (1 + |F|)) with negative curvature (-lambda_min > ``roundoff_eig`` ||H||)."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "F", "F_lin", "escaped_to", "gradient_norm", "lambda_min",
                          "hessian_norm")
    if ev is None:
        return
    _against_linear(left, [("saddle $(0, V_0)$\n(must be above $F_{lin}^*$)", ev["F"], False, 0.0),   # as the judge
                           ("after a push along $-\\lambda_{min}$'s mode\n(must be $\\leq F_{lin}^*$ + tol)",
                            ev["escaped_to"], True)], ev["F_lin"], tol * (1 + abs(number(ev["F_lin"]))))
    left.set_title(f"B-C3 a strict saddle worse than linear ({_setting(result)})", fontsize=9)
    scale = 1 + abs(number(ev["F"]))
    figures.tolerances(right, [("$\\|\\nabla F(0, V_0)\\|$", ev["gradient_norm"], gradient_tol * scale),
                               ("$-\\lambda_{min}(H)$", -number(ev["lambda_min"]),
                                roundoff_eig * number(ev["hessian_norm"]))],
                       at_least=(False, True), xlabel="log scale")
    right.set_title("stationary, with negative curvature", fontsize=9)


def no_skip_flat(result: Result, fig: Figure, *, tol: float, gradient_tol: float) -> None:
    """B-C4: without the skip, the dead-ReLU point lies above F_lin* + tol (1 + |F|), and it
    is flat: gradients and loss changes around it at most ``gradient_tol`` (1 + |F|)."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence(left, result, "F", "F_lin", "max_gradient", "value_spread")
    if ev is None:
        figures.unavailable(right, "")
        return
    scale = 1 + abs(number(ev["F"]))
    _against_linear(left, [("dead-ReLU point, no skip\n(must be above)", ev["F"], False)], ev["F_lin"], tol * scale)
    left.set_title(f"B-C4 a flat local minimum worse than linear ({_setting(result)})", fontsize=9)
    figures.tolerances(right, [("max $\\|\\nabla F\\|$ at and near it", ev["max_gradient"], gradient_tol * scale),
                               ("max $|F(z + q) - F(z)|$, $\\|q\\| = 0.1\\sqrt{P}$", ev["value_spread"],
                                gradient_tol * scale)], xlabel="log scale")
    right.set_title("flat: no gradient, no change nearby", fontsize=9)


def tweaked_sgd(result: Result, fig: Figure) -> None:
    """B-C5: the gap between projected SGD's average online loss and the best linear
    predictor's on the same stream against the regret bound (B^2/(2 eta) + (eta/2)
    sum_t ||g_t||^2)/T, on log-log axes with the rate T^(-1/2) for reference."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "horizons", "gaps", "bounds")
    if ev is None:
        return
    horizons, gaps = numbers(ev["horizons"]), numbers(ev["gaps"])
    figures.under_bound(ax, horizons, gaps, ev["bounds"], "gap", "regret bound (claim: gap $\\leq$ it)")
    positive = [(h, g) for h, g in zip(horizons, gaps) if g > 0]
    if positive:
        figures.power_law(ax, *positive[0], -0.5, horizons, "$\\propto T^{-1/2}$", color="grey", ls=":")
    ax.set_xlabel("horizon $T$ (SGD steps)")
    ax.set_ylabel("mean online loss $-$ best linear's")
    ax.set_title(f"B-C5 tweaked unit $w^\\top x + v^\\top F_\\theta(x)$ by projected SGD ({_setting(result)}); "
                 f"fitted rate {number(ev.get('rate', math.nan)):.2f}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
