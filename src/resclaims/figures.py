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

BAND = "#2ca02c"        # what the claim allows
FAIL = "#d62728"        # a falsifying value
INTERVAL = "black"      # a confidence interval of a statistic


def number(value: Any) -> float:
    """A float from the JSON of a result ('inf', '-inf', 'nan' strings included)."""
    return float(value)


def numbers(values: Sequence[Any]) -> list[float]:
    """:func:`number` of each entry."""
    return [float(v) for v in values]


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
    """A confidence interval [lo, hi] at abscissa ``x`` (red when it misses the band)."""
    lo, hi = number(lo), number(hi)
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
    top = max([abs(v) for v in finite] + [1.0]) * 1.1
    xs = list(range(1, len(values) + 1))
    shown = [min(max(v, -top), top) if not math.isnan(v) else -top for v in values]
    colors = [FAIL if (math.isnan(v) or v < 0) else INTERVAL for v in values]
    ax.scatter(xs, shown, c=colors, s=14, zorder=3)
    ax.axhline(0, color=FAIL, lw=1, ls="--", label="boundary (margin 0)")
    ax.set_ylim(min(min(shown), 0) - 0.05 * top, max(max(shown), 0) + 0.05 * top)
    ax.legend(fontsize=7, loc="best")


def unavailable(ax: Axes, why: str) -> None:
    """An empty panel that says why there is nothing to draw."""
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
