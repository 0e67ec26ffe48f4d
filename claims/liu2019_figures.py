"""Figures of the liu2019 claims: from one result's JSON (``Result.to_json()``), what a
reader of Liu et al. (2019) would draw, with the claim's threshold on it.  The claim
module hands each figure its thresholds (``functools.partial``); this module only draws.

Symbols: L_t / E f*^2 the relative population loss after t GD steps, v_t = filter(w_t),
v* and a* the teacher, t_I the end of Stage I (first t with a_t^T a* > 0), s the shortcut.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from resclaims import figures
from resclaims.figures import BAND, FAIL, INTERVAL, number, numbers

Result = dict[str, Any]
FLOOR = 1e-16          # relative losses below float64 resolution are drawn here, on a log axis
FIRST = "tab:blue"     # the adversarial a0's run


def _setting(result: Result) -> str:
    s = result.get("setting") or {}
    angle = f", teacher angle {number(s['alpha']):.2f} rad" if "alpha" in s else ""
    return f"p = {s.get('patch_size', '?')}, k = {s.get('patches', '?')}{angle}"


def _floored(values: Sequence[Any]) -> list[float]:
    return [max(v, FLOOR) if not math.isnan(v) else math.nan for v in numbers(values)]


def _curves(ax: Axes, curves: dict[str, Any], runs: bool = True) -> None:
    """Relative loss L_t / E f*^2 against t: the range and median over the runs and the
    adversarial a0's run (``runs``), or the one run."""
    t = numbers(curves["steps"])
    if runs:
        ax.fill_between(t, _floored(curves["low"]), _floored(curves["high"]), color="grey", alpha=0.3,
                        label="range over runs")
        ax.plot(t, _floored(curves["median"]), color=INTERVAL, lw=1.2, label="median run")
    ax.plot(t, _floored(curves["first"]), color=FIRST, lw=1.2, label="adversarial $a_0$" if runs else "GD run")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("log")
    ax.set_xlabel("GD step $t$")


def closed_form(result: Result, fig: Figure) -> None:
    """A-C1: the Monte Carlo estimates of E (f - f*)^2 / 2 and E f minus their closed forms,
    in standard errors, inside the band |z| <= z_(alpha/4) the claim allows."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "monte_carlo", "standard_error", "closed_form", "mean_monte_carlo",
                          "mean_standard_error", "mean_closed_form")
    if ev is None:
        return
    stats = [("loss $\\mathbb{E}(f - f^*)^2/2$", "monte_carlo", "standard_error", "closed_form"),
             ("mean output $\\mathbb{E} f$", "mean_monte_carlo", "mean_standard_error", "mean_closed_form")]
    zs, labels = [], []
    for name, mc, se, cf in stats:
        diff, error = number(ev[mc]) - number(ev[cf]), number(ev[se])
        zs.append(diff / error if error > 0 else math.copysign(math.inf, diff) if diff else 0.0)
        labels.append(f"{name}\nMC {number(ev[mc]):.5g}, closed {number(ev[cf]):.5g}")
    if result.get("alpha") is None:   # an older result: no false-alarm rate, so no acceptance band
        figures.unavailable(ax, "no alpha in this result: the band |z| <= z_crit is unknown")
    else:
        figures.scores(ax, labels, zs, NormalDist().inv_cdf(1 - number(result["alpha"]) / 4),
                       ylabel="(Monte Carlo $-$ closed form) / SE")
    ax.set_title(f"A-C1 closed form at the subject's filter ({_setting(result)})", fontsize=9)


def normalization(result: Result, fig: Figure, *, filter_tol: float, invariance_tol: float,
                  orthogonal_tol: float) -> None:
    """A-C2: the filter at w = 0, scale invariance along v(w) and the orthogonality of
    grad_w L to v(w), each error against its float64 tolerance."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "finite_at_zero", "filter_at_zero_error", "filter_at_zero_norm",
                          "invariance_error", "orthogonality")
    if ev is None:
        return
    figures.tolerances(ax, [
        ("$\\|v(0) - \\mathbf{1}_p/\\sqrt{p}\\|$", ev["filter_at_zero_error"], filter_tol),
        ("$|\\,\\|v(0)\\| - 1\\,|$", abs(number(ev["filter_at_zero_norm"]) - 1), filter_tol),
        ("$\\max|f(w + t v) - f(w)| / \\max|f|$", ev["invariance_error"], invariance_tol),
        ("$|\\langle \\nabla_w L, v\\rangle| / \\|\\nabla_w L\\|\\|v\\|$", ev["orthogonality"], orthogonal_tol)],
        xlabel="error (float64, log scale)")
    finite = "" if ev["finite_at_zero"] else ": the forward pass at w = 0 is NOT finite"
    ax.set_title(f"A-C2 normalisation identities, $v(w) = (w + s)/\\|w + s\\|${finite}", fontsize=9)


def gd_from_zero(result: Result, fig: Figure, *, success: float) -> None:
    """A-C5: the loss curves of GD from w0 = 0 (adversarial a0, median and range of the
    runs), and where each run ended: angle(v_T, v*) against L_T / E f*^2, the optimum at
    angle 0 and L = 0, the spurious point v = -v* at angle pi; success is L_T <= ``success``."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "curves", "relative_loss", "cosine")
    if ev is None:
        return
    _curves(left, ev["curves"])
    figures.band(left, -math.inf, success, label=f"success $L \\leq$ {success:g} $\\mathbb{{E}} f^{{*2}}$")
    left.set_ylabel("$L_t / \\mathbb{E} f^{*2}$")
    left.set_title(f"A-C5 GD from $w_0 = 0$ ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7, loc="lower left")
    angles = [math.acos(max(-1.0, min(1.0, c))) if math.isfinite(c) else math.nan for c in numbers(ev["cosine"])]
    losses = _floored(ev["relative_loss"])
    colors = [INTERVAL if loss <= success else FAIL for loss in numbers(ev["relative_loss"])]   # red: NaN too
    right.scatter(angles[1:], losses[1:], s=18, c=colors[1:], label="$a_0$ from the ball (red: failed)", zorder=3)
    right.scatter(angles[:1], losses[:1], s=50, marker="D", c=colors[:1], edgecolors=FIRST, linewidths=2,
                  label="adversarial $a_0$", zorder=4)
    right.set_yscale("log")
    right.set_xlim(-0.1, math.pi + 0.1)
    right.axvline(math.pi, color=FAIL, ls=":", label="spurious point $v = -v^*$")
    figures.band(right, -math.inf, success, label="success")
    right.set_xlabel("$\\angle(v_T, v^*)$ (rad)")
    right.set_ylabel("$L_T / \\mathbb{E} f^{*2}$")
    right.set_title(f"where the runs ended (T = {ev.get('steps', '?')})", fontsize=9)
    right.legend(fontsize=7, loc="center")


def two_stage(result: Result, fig: Figure, *, stage_one_steps: int, stage_one_w: float, linear_r2: float) -> None:
    """A-C6: the loss curves with Stage I (t < t_I, a_t^T a* <= 0) shaded, and per run
    (t_I, ||w_(t_I)|| / ||s||) inside the region t_I <= ``stage_one_steps``, ||w|| <=
    ``stage_one_w`` ||s||; Stage II's linearity (R^2 of log L_t, second half) in the title."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "curves", "aligned_at", "w_norm_at_alignment", "shortcut_norm",
                          "r_squared")
    if ev is None:
        return
    t_one = numbers(ev["aligned_at"])
    aligned = [t for t in t_one if t >= 0]
    _curves(left, ev["curves"])
    if aligned:
        left.axvspan(0, max(max(aligned), 1), color="grey", alpha=0.12, label="Stage I (until the last $t_I$)")
    left.axvline(stage_one_steps, color=BAND, ls="--", label=f"$t_I$ bound {stage_one_steps}")
    r2 = [r for r in numbers(ev["r_squared"]) if not math.isnan(r)]
    left.set_ylabel("$L_t / \\mathbb{E} f^{*2}$")
    left.set_title(f"A-C6 two stages ({_setting(result)}); Stage II $R^2 \\geq$ "
                   f"{min(r2) if r2 else math.nan:.4f} (claim $\\geq$ {linear_r2})", fontsize=9)
    left.legend(fontsize=7, loc="lower left")
    shortcut = number(ev["shortcut_norm"])
    ratios = [w / shortcut if shortcut else math.nan for w in numbers(ev["w_norm_at_alignment"])]
    ok = [0 <= t <= stage_one_steps and r <= stage_one_w for t, r in zip(t_one, ratios)]
    shown_t = [t if t >= 0 else 2 * stage_one_steps for t in t_one]
    shown_r = [r if math.isfinite(r) else 2 * stage_one_w for r in ratios]
    right.fill_between([0, stage_one_steps], 0, stage_one_w, color=BAND, alpha=0.15, label="claim's region")
    right.scatter(shown_t, shown_r, s=24, c=[INTERVAL if o else FAIL for o in ok], zorder=3,
                  label="runs" + ("; never aligned: at the right" if len(aligned) < len(t_one) else ""))
    right.set_xscale("symlog", linthresh=10)
    right.set_xlim(-0.5, 3 * stage_one_steps)
    top = max(shown_r + [stage_one_w]) * 1.2
    right.set_ylim(-0.03 * top, top)
    right.set_xlabel("end of Stage I $t_I$ (first $a_t^\\top a^* > 0$)")
    right.set_ylabel("$\\|w_{t_I}\\| / \\|s\\|$")
    right.set_title("Stage I: alignment while $w$ stays small", fontsize=9)
    right.legend(fontsize=7, loc="upper left")


def success_by_angle(result: Result, fig: Figure, *, p0: float, tested_from: float,
                     prior: float | None = None) -> None:
    """A-C7 (the paper's Fig. 4): per teacher angle angle(v*, s), the fraction of runs that
    converged, are still on the optimum's side, ended on the spurious side, or at the
    spurious point v = -v*; the angles the binomial test pools (>= ``tested_from``) are
    shaded with the rate p0 the spurious side must exceed there."""
    ax = fig.subplots()
    ev = figures.evidence(ax, result, "figure", "trapped", "trials")
    if ev is None:
        return
    data = ev["figure"]
    angles = numbers(data["angles"])
    ax.axvspan(tested_from - 0.15, max(angles) + 0.15, color=FAIL, alpha=0.07, label="angles tested")
    if prior is not None:
        ax.axvspan(min(angles) - 0.15, prior, color=BAND, alpha=0.1, label="shortcut prior (Thm 2)")
    for key, label, style in (("converged", "converged", dict(color=BAND, marker="o")),
                              ("optimum_side", "still on the optimum's side", dict(color="grey", marker="s")),
                              ("spurious_side", "spurious side, not converged", dict(color=FAIL, marker="v")),
                              ("spurious", "at the spurious point", dict(color=FAIL, marker="x", ls=":"))):
        ax.plot(angles, numbers(data[key]), label=label, **style)
    ax.axhline(p0, color=FAIL, ls="--", lw=1, label=f"$p_0$ = {p0:g}: the spurious rate must exceed it")
    p_value = result.get("p_value")
    ax.text(0.02, 0.5, f"tested: {ev['trapped']}/{ev['trials']} on the spurious side\n"
                       f"p = {number(p_value) if p_value is not None else math.nan:.2g}, "
                       f"false-alarm rate {number(result.get('alpha') or math.nan):.2g}",
            transform=ax.transAxes, fontsize=8, va="center")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("teacher angle $\\angle(v^*, \\mathbf{1}_p)$ (rad)")
    ax.set_ylabel(f"fraction of runs after {data['steps']} steps")
    ax.set_title(f"A-C7 success against teacher angle ({_setting(result)}, {data['runs'][0]} runs an angle)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))


def finite_sample(result: Result, fig: Figure, *, loss_tol: float, teacher_tol: float) -> None:
    """A-C8: GD on the empirical loss of n samples, its curve L_t / (mean f*^2 / 2) against
    the tolerance, and the final distances to the teacher."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "curves", "relative_loss", "filter_error", "a_error")
    if ev is None:
        return
    _curves(left, ev["curves"], runs=False)
    figures.band(left, -math.inf, loss_tol, label=f"claim: $\\hat L_T \\leq$ {loss_tol:g}")
    left.set_ylabel("$\\hat L_t$ / (mean $f^{*2}$ / 2)")
    left.set_title(f"A-C8 GD on sampled inputs ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7, loc="lower left")
    figures.tolerances(right, [("$\\hat L_T$ / (mean $f^{*2}$/2)", ev["relative_loss"], loss_tol),
                               ("$\\|v_T - v^*\\|$", ev["filter_error"], teacher_tol),
                               ("$\\|a_T - a^*\\| / \\|a^*\\|$", ev["a_error"], teacher_tol)],
                       xlabel="at the end of GD (log scale)")
    right.set_title(f"distance to the teacher after {ev.get('steps', '?')} steps", fontsize=9)


def reference_trajectory(result: Result, fig: Figure, *, golden_angle: Sequence[float],
                         golden_a_error: Sequence[float], rtol: float) -> None:
    """Reference conformance: angle(v_t, v*) and ||a_t - a*|| / ||a*|| of the pinned run
    against their golden values, and the relative errors against ``rtol``."""
    left, right = fig.subplots(1, 2)
    ev = figures.evidence((left, right), result, "times", "angle", "a_error")
    if ev is None:
        return
    times = numbers(ev["times"])
    rows = []
    for key, golden, name, color in (("angle", golden_angle, "$\\angle(v_t, v^*)$", FIRST),
                                     ("a_error", golden_a_error, "$\\|a_t - a^*\\| / \\|a^*\\|$", "tab:orange")):
        got = numbers(ev[key])
        left.plot(times, got, marker="o", color=color, label=f"{name} measured")
        left.scatter(times, golden, s=110, facecolors="none", edgecolors=INTERVAL, zorder=3,
                     label="golden" if key == "angle" else None)
        rows += [(f"{name} at t = {t:g}", abs(g - w) / abs(w), rtol) for t, g, w in zip(times, got, golden)]
    left.set_xscale("log")
    left.set_xlabel("GD step $t$")
    left.set_ylabel("value")
    left.set_title(f"pinned run of the reference ({_setting(result)})", fontsize=9)
    left.legend(fontsize=7)
    figures.tolerances(right, rows, xlabel="relative error to golden (log scale)")
    right.set_title(f"relative errors, tolerance {rtol:g}", fontsize=9)
