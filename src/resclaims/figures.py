"""Drawing helpers every family's figures use (they know no paper).

A claim's ``figure(result, fig)`` draws from the result's JSON alone: ``result`` is
``Result.to_json()``, where non-finite floats are the strings 'inf', '-inf', 'nan'
(:func:`number` reads them back).  These helpers put a claim's band or threshold on an
axis in one visual language: the band the theory allows is a green shade, a threshold a
dashed line, a confidence interval a black bar, a falsifying value red.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from resclaims.stats import median_interval

BAND = "#2ca02c"        # what the claim allows
FAIL = "#d62728"        # a falsifying value
INTERVAL = "black"      # a confidence interval of a statistic


def number(value: Any) -> float:
    """A float from the JSON of a result ('inf', '-inf', 'nan' strings included)."""
    return float(value)


def numbers(values: Sequence[Any]) -> list[float]:
    """:func:`number` of each entry."""
    return [float(v) for v in values]


def positive(values: Sequence[Any]) -> list[float]:
    """The finite positive entries of ``values``: what a log axis can show (a panel with
    none says so with :func:`unavailable` rather than fail to draw its ticks)."""
    return [v for v in numbers(values) if 0 < v < math.inf]


def band(ax: Axes, lo: float, hi: float, axis: str = "y", label: str = "claim's band") -> None:
    """Shade the band [lo, hi] the claim allows, along ``axis`` ('y' or 'x'); an infinite
    end runs to the edge of the axis."""
    lo, hi = number(lo), number(hi)
    span = ax.axhspan if axis == "y" else ax.axvspan
    limits = ax.get_ylim() if axis == "y" else ax.get_xlim()
    a = lo if math.isfinite(lo) else min(limits[0], hi if math.isfinite(hi) else limits[0])
    b = hi if math.isfinite(hi) else max(limits[1], lo if math.isfinite(lo) else limits[1])
    span(a, b, color=BAND, alpha=0.15, label=label, zorder=0)
    (ax.set_ylim if axis == "y" else ax.set_xlim)(min(limits[0], a), max(limits[1], b))
    for end in (lo, hi):
        if math.isfinite(end):
            (ax.axhline if axis == "y" else ax.axvline)(end, color=BAND, lw=1, zorder=1)


def threshold(ax: Axes, value: float, axis: str = "y", label: str = "threshold") -> None:
    """A dashed line at the claim's threshold."""
    (ax.axhline if axis == "y" else ax.axvline)(number(value), color=BAND, ls="--", lw=1.2, label=label)


def interval(ax: Axes, x: float, lo: float, hi: float, label: str | None = None, inside: bool = True) -> None:
    """A confidence interval [lo, hi] at abscissa ``x`` (red when it misses the band); an
    infinite end runs to the edge of the axis."""
    bottom, top = ax.get_ylim()
    lo, hi = (bottom if number(lo) == -math.inf else number(lo)), (top if number(hi) == math.inf else number(hi))
    mid = (lo + hi) / 2 if math.isfinite(lo + hi) else (lo if math.isfinite(lo) else hi)
    color = INTERVAL if inside else FAIL
    ax.errorbar([x], [mid], yerr=[[mid - lo if math.isfinite(lo) else 0], [hi - mid if math.isfinite(hi) else 0]],
                fmt="none", ecolor=color, elinewidth=2, capsize=4, label=label, zorder=3)


def margins(ax: Axes, result: dict[str, Any]) -> None:
    """The margin of every setting the search judged, in order, against 0 (the claim's
    boundary): the picture of how close the search came to a counterexample.  Infinite
    margins (an identity met exactly) are drawn at the top edge."""
    values = numbers(result.get("margins") or ([result["margin"]] if result.get("margin") is not None else []))
    ax.set_xlabel("example (search order)")
    ax.set_ylabel("margin")
    ax.set_title("margin of each judged setting", fontsize=9)
    if not values:
        unavailable(ax, "no setting was judged")
        return
    finite = [v for v in values if math.isfinite(v)]
    top = (max((abs(v) for v in finite), default=0.0) or 1.0) * 1.1   # a near miss of 1e-3 stays visible
    xs = list(range(1, len(values) + 1))
    shown = [min(max(v, -top), top) if not math.isnan(v) else -top for v in values]
    colors = [FAIL if (math.isnan(v) or v < 0) else INTERVAL for v in values]
    ax.scatter(xs, shown, c=colors, s=14, zorder=3)
    ax.axhline(0, color=FAIL, lw=1, ls="--", label="boundary (margin 0)")
    ax.set_ylim(min(min(shown), 0) - 0.05 * top, max(max(shown), 0) + 0.05 * top)
    ax.set_xlim(0.5, len(values) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.legend(fontsize=7, loc="best")


def unavailable(ax: Axes, why: str) -> None:
    """An empty panel that says why there is nothing to draw."""
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def evidence(axes: Axes | Sequence[Axes], result: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    """The result's evidence when it holds every key in ``keys``; else None, after saying on
    ``axes`` (one axis, or the first of a sequence, the others left blank) what is missing
    (an error or a skipped result carries no evidence; an older result may lack a figure's
    keys)."""
    panels = [axes] if isinstance(axes, Axes) else list(axes)
    ev = result.get("evidence") or {}
    missing = [key for key in keys if key not in ev]
    if not missing:
        return ev
    why = (f"no evidence ({result.get('verdict', 'no')} result)" if not ev else
           f"the evidence lacks {', '.join(missing)}")
    unavailable(panels[0], f"nothing to draw: {why}")
    for other in panels[1:]:
        unavailable(other, "")
    return None


def tolerances(ax: Axes, rows: Sequence[tuple[str, Any, Any]], at_least: Sequence[bool] = (),
               xlabel: str = "error (log scale)") -> None:
    """Errors e_i against their tolerances tol_i, one row (label, e_i, tol_i) each: a bar
    out to |e_i| on a log axis, black when e_i <= tol_i (e_i >= tol_i for a row flagged in
    ``at_least``) and red otherwise, the tolerance a dashed tick across the row.  An error
    of 0 (or below) sits at the left edge marked '0', a non-finite one at the right edge."""
    values, limits = numbers([r[1] for r in rows]), numbers([r[2] for r in rows])
    finite = [abs(v) for v in values + limits if math.isfinite(v) and v != 0]
    lo, hi = min(finite or [1.0]) / 30, max(finite or [1.0]) * 30
    flags = list(at_least) + [False] * (len(rows) - len(at_least))
    labelled: set[bool] = set()
    for i, (value, limit, least) in enumerate(zip(values, limits, flags)):
        ok = (value >= limit) if least else (value <= limit)   # False for NaN
        shown = hi if not math.isfinite(value) else (lo if value <= 0 else value)
        ax.barh(i, shown - lo, left=lo, height=0.5, color=INTERVAL if ok else FAIL, alpha=0.8, zorder=2,
                label=None if ok in labelled else ("meets its tolerance" if ok else "misses its tolerance"))
        labelled.add(ok)
        ax.plot([limit, limit], [i - 0.4, i + 0.4], color=BAND, ls=":" if least else "--", lw=1.6, zorder=3,
                label=("tolerance (at least)" if least else "tolerance") if i == flags.index(least) else None)
        text = "0" if value == 0 else ("<= 0" if value < 0 else f"{value:.2g}")
        ax.text(shown, i + 0.32, f" {text}", va="center", fontsize=7, color=INTERVAL if ok else FAIL)
    ax.set_xscale("log")
    ax.set_xlim(lo / 2, hi * 2)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7, loc="best")


def scores(ax: Axes, labels: Sequence[str], values: Sequence[Any], critical: float,
           ylabel: str = "(estimate - expected) / SE") -> None:
    """Standardised differences z_i, one point per label, against the two-sided acceptance
    band |z| <= z_crit (red when outside)."""
    zs = numbers(values)
    shown = [z if math.isfinite(z) else math.copysign(2 * critical, z) if not math.isnan(z) else 2 * critical
             for z in zs]
    top = max([abs(z) for z in shown] + [critical]) * 1.3
    ax.set_ylim(-top, top)
    band(ax, -critical, critical, label=f"|z| <= z_crit = {critical:.2f}")
    ax.axhline(0, color="grey", lw=0.6)
    ax.scatter(range(len(zs)), shown, s=36, zorder=3, label="z",
               c=[INTERVAL if abs(z) <= critical else FAIL for z in zs])
    ax.set_xticks(range(len(zs)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(zs) - 0.4)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")


def per_seed(ax: Axes, values: Sequence[Any], x: float = 0.0, ok: Any = None, label: str | None = "per seed",
             spread: float = 0.25) -> None:
    """One point per seed v_s at abscissa ``x`` (spread over x +- ``spread`` in seed order, so
    a figure redraws the same), black where ``ok(v_s)`` holds (default: v_s finite), red
    elsewhere; a non-finite v_s sits at the top edge (+inf, NaN) or bottom edge (-inf) of the
    finite values as a triangle.  Set the axis scale first: the edges follow it."""
    vs = numbers(values)
    good = ok or math.isfinite
    log = ax.get_yscale() == "log"
    finite = [v for v in vs if math.isfinite(v) and (v > 0 or not log)]
    lo, hi = (min(finite), max(finite)) if finite else (1.0, 1.0)
    pad = 0.15 * ((hi - lo) or abs(hi) or 1.0)
    top, bottom = (hi * 3, lo / 3) if log else (hi + pad, lo - pad)
    groups: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    for i, v in enumerate(vs):
        marker, y = ("o", v) if math.isfinite(v) else ("v", bottom) if v == -math.inf else ("^", top)
        groups.setdefault((marker, bool(good(v))), []).append((x + spread * (2 * i / max(len(vs) - 1, 1) - 1), y))
    names = {"o": label, "^": "inf or NaN", "v": "-inf"}
    for (marker, fine), points in groups.items():
        name = None if label is None else names[marker] + ("" if fine else " (violates)")
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=14, marker=marker, zorder=3,
                   color=INTERVAL if fine else FAIL, label=name)


def median_test(ax: Axes, values: Sequence[Any], lo: Any, hi: Any, interval_: Sequence[Any] | None = None,
                alpha: Any = None, x: float = 0.0, label: str | None = "per seed") -> None:
    """A band verdict drawn: the per-seed values v_s (:func:`per_seed`), the order-statistic
    interval [v_(j), v_(S+1-j)] of their median at coverage 1 - alpha (``interval_`` when the
    result carries it, else recomputed at ``alpha``), and the band [lo, hi] the claim allows;
    the claim holds when the interval meets the band (the bar is red when it misses)."""
    lo, hi = number(lo), number(hi)
    per_seed(ax, values, x=x, ok=lambda v: lo <= v <= hi, label=label)
    ci = numbers(interval_) if interval_ is not None else _median_interval(values, alpha)
    band(ax, lo, hi)
    if ci is not None:
        interval(ax, x, ci[0], ci[1], label="median's interval", inside=not (ci[1] < lo or ci[0] > hi))


def result_median_test(ax: Axes, values: Sequence[Any], lo: Any, hi: Any, result: dict[str, Any],
                       **kwargs: Any) -> None:
    """:func:`median_test` at the result's own ``interval`` and ``alpha`` (either may be
    absent from an older result: then the interval is recomputed, or left out)."""
    median_test(ax, values, lo, hi, interval_=result.get("interval"), alpha=result.get("alpha"), **kwargs)


def _median_interval(values: Sequence[Any], alpha: Any) -> list[float] | None:
    """[lo, hi] of :func:`resclaims.stats.median_interval` at ``alpha``; None without an
    alpha or with too few values to reach its coverage."""
    if alpha is None:
        return None
    try:
        found = median_interval(numbers(values), number(alpha))
    except ValueError:
        return None
    return [found.lo, found.hi]


def power_law(ax: Axes, x0: float, y0: float, exponent: float, xs: Sequence[float], label: str,
              **style: Any) -> None:
    """The line y = y0 (x / x0)^exponent over the range of ``xs`` (straight on log-log axes):
    a rate the theory predicts, anchored at a measured point (x0, y0).  Only the finite
    positive ``xs`` count; nothing is drawn without one, or unless x0, y0 are finite and
    positive (a diverged or empty measurement anchors no line)."""
    xs = [x for x in numbers(xs) if math.isfinite(x) and x > 0]
    x0, y0, exponent = number(x0), number(y0), number(exponent)
    if not xs or not (math.isfinite(x0) and x0 > 0 and math.isfinite(y0) and y0 > 0 and math.isfinite(exponent)):
        return
    a, b = min(xs), max(xs)
    grid = [a * (b / a) ** (i / 20) for i in range(21)]
    ax.plot(grid, [y0 * (g / x0) ** exponent for g in grid], **{"color": BAND, "ls": "--", "lw": 1.2, **style},
            label=label)


def log_scale(ax: Axes, axis: str = "y") -> None:
    """A log scale on ``axis`` with ticks as plain numbers (0.2, 30, 1e-08): the minor ticks
    at 2, 3 and 5 times a power of ten are labelled too when the axis spans under 1.5 decades."""
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis

    def minor(value: float, _: int) -> str:
        lo, hi = target.get_view_interval()
        narrow = 0 < lo < hi and math.log10(hi / lo) < 1.5
        return f"{value:g}" if narrow and round(value / 10 ** math.floor(math.log10(value))) in (2, 3, 5) else ""
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(FuncFormatter(minor))


def loss_curves(ax: Axes, curves: Sequence[tuple[str, Sequence[Any]]], ylabel: str = "$F_t / F_0$") -> None:
    """Loss curves c_t against the GD step t on a log axis, one per (label, values); a
    non-finite or non-positive c_t (a diverged run) leaves a gap."""
    for label, values in curves:
        ys = [v if math.isfinite(v) and v > 0 else math.nan for v in numbers(values)]
        ax.plot(range(len(ys)), ys, lw=1.4, label=label)
    log_scale(ax)
    ax.set_xlabel("GD step $t$")
    ax.set_ylabel(ylabel)


def under_bound(ax: Axes, xs: Sequence[Any], values: Sequence[Any], bounds: Sequence[Any], label: str,
                bound_label: str) -> None:
    """Values v_i against upper bounds b_i at x_i on log-log axes: the bound a dashed line
    over the shaded region it allows, each v_i a point, filled when positive and hollow at
    |v_i| when negative (a log axis has no room for it), red where v_i > b_i; a zero or
    NaN v_i sits at the bottom edge.  A point whose x_i is not finite and positive is left
    out (a log axis has no place for it), and so is the bound's line where b_i is not; with
    nothing left the panel says so."""
    kept = [(x, v, b) for x, v, b in zip(numbers(xs), numbers(values), numbers(bounds)) if math.isfinite(x) and x > 0]
    if not kept:
        unavailable(ax, "nothing to draw on log axes: no finite positive abscissa")
        return
    xs, values, judged = [x for x, _, _ in kept], [v for _, v, _ in kept], [b for _, _, b in kept]
    bounds = [b if math.isfinite(b) and b > 0 else math.nan for b in judged]   # the line: log-drawable ends only
    sizes = [abs(v) for v in values + bounds if math.isfinite(v) and v != 0]
    floor = min(sizes or [1.0]) / 3
    ax.plot(xs, bounds, color=BAND, ls="--", marker="_", label=bound_label)
    for negative, text in ((False, label), (True, f"{label} < 0 (its absolute value)")):
        mine = [(x, v, b) for x, v, b in zip(xs, values, judged) if (v < 0) == negative]
        colors = [INTERVAL if v <= b else FAIL for _, v, b in mine]
        if mine:
            ax.scatter([x for x, _, _ in mine], [max(abs(v), floor) if math.isfinite(v) else floor for _, v, _ in mine],
                       s=50, zorder=3, label=text, edgecolors=colors, facecolors="white" if negative else colors)
    ax.set_xscale("log")
    ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.fill_between(xs, bottom, bounds, color=BAND, alpha=0.15, label="allowed: under the bound")
    ax.set_ylim(bottom, top)


def title(fig: Any, what: str, detail: str) -> None:
    """The figure's title: what it shows, and on a second line the setting it was drawn for."""
    fig.suptitle(f"{what}\n({detail})", fontsize=9)


def shared_alpha(result: dict[str, Any], tests: int) -> float | None:
    """The false-alarm rate of each of ``tests`` tests that share the example's alpha
    (Bonferroni: alpha / tests), None when the result has no alpha."""
    alpha = result.get("alpha")
    return None if alpha is None else number(alpha) / tests


def one_column(ax: Axes, label: str, ylabel: str) -> None:
    """Finish a panel of one column of per-seed values at x = 0: its tick ``label``, the
    y label and the legend."""
    ax.set_xticks([0], [label])
    ax.set_xlim(-1, 1)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
