"""The history of theory conformance: each claim's margin on its family's reference
subject, commit by commit, as ``asv run`` recorded it from ``benchmarks/bench_conformance.py``,
read back (:func:`load`) and drawn (:func:`draw`).

A margin m > 0 says the claim held with m to spare, m < 0 that it was falsified by |m|,
in the claim's own units (``unit`` in ``resclaims check --json``).  asv keeps floats in
JSON that its web pages parse strictly, so ``track_margin_*`` stores an infinite margin
(an identity met exactly, log10(tolerance / 0); an undefined statistic, -inf) as
+-:data:`SENTINEL` (:func:`stored`), read back here as +-inf; a run that gave no margin
(an error) is stored as null and has no point.

asv 0.6 writes one file per machine, commit and environment,
``<results_dir>/<machine>/<commit[:8]>-<environment>.json``: ``commit_hash``, ``date`` (the
commit's date, ms since the epoch), ``result_columns`` (the names of a row's columns, the
first ``result``) and ``results`` (benchmark name -> row; ``result`` lists one value per
parameter combination, one for an unparametrised track).  ``<results_dir>/benchmarks.json``
holds each benchmark's ``unit``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from matplotlib.figure import Figure

from resclaims.figures import FAIL, INTERVAL, unavailable

MODULE = "bench_conformance"  # benchmarks/bench_conformance.py
PREFIX = "track_margin_"
SENTINEL = 1e300  # |stored margin| >= SENTINEL: an infinite margin
UNIT = "margin (claim units; see the JSON's unit)"
SHORT = 8  # hex digits of a commit, as asv names its result files


def benchmark_name(claim_id: str) -> str:
    """The ``track_*`` function of a claim, ``track_margin_<paper>__<name>`` (a Python name
    has no '.'); ValueError for a paper name that would make it ambiguous."""
    paper, name = claim_id.split(".")
    if "__" in paper or paper.endswith("_"):
        raise ValueError(f"claim {claim_id}: a paper name with '__' or a trailing '_' has no asv benchmark name")
    return f"{PREFIX}{paper}__{name}"


def claim_of(benchmark: str) -> str | None:
    """The claim id of asv benchmark ``bench_conformance.track_margin_<paper>__<name>``,
    None for any other benchmark."""
    module, _, function = benchmark.partition(".")
    paper, separator, name = function.removeprefix(PREFIX).partition("__")
    if module != MODULE or not function.startswith(PREFIX) or not separator:
        return None
    return f"{paper}.{name}"


def stored(margin: float) -> float:
    """``margin`` as asv stores it: clipped to [-SENTINEL, SENTINEL] (NaN stays NaN)."""
    return margin if math.isnan(margin) else max(-SENTINEL, min(SENTINEL, margin))


def _margin(value: float) -> float:
    """A stored margin read back: +-inf at +-SENTINEL."""
    return math.copysign(math.inf, value) if abs(value) >= SENTINEL else float(value)


def _results(results_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(machine, content) of every asv result file under ``results_dir``."""
    files = [(path.parent.name, json.loads(path.read_text())) for path in sorted(results_dir.glob("*/*.json"))]
    return [(machine, data) for machine, data in files if "result_columns" in data and "results" in data]


def load(results_dir: Path) -> dict[str, list[dict]]:
    """Per claim id, the recorded margins ``{"commit": short hash, "date": ms, "margin":
    float (+-inf for an infinite margin), "unit": str, "machine": str}``, sorted by date;
    benchmarks other than ``track_margin_*`` and runs without a value are left out.
    ValueError when ``results_dir`` holds no asv results."""
    results = _results(Path(results_dir))
    if not results:
        raise ValueError(f"{results_dir} holds no asv results (<machine>/<commit>-<env>.json); record them with "
                         f"`asv run --python=same --set-commit-hash $(git rev-parse HEAD)`")
    index = Path(results_dir) / "benchmarks.json"
    units = {name: entry.get("unit", UNIT) for name, entry in json.loads(index.read_text()).items()
             if isinstance(entry, dict)} if index.is_file() else {}
    history: dict[str, list[dict]] = {}
    for machine, data in results:
        column = data["result_columns"].index("result")
        for name, row in data["results"].items():
            claim = claim_of(name)
            values = row[column] if claim is not None and len(row) > column else None
            if not values or values[0] is None or math.isnan(values[0]):
                continue
            history.setdefault(claim, []).append({"commit": data["commit_hash"][:SHORT], "date": int(data["date"]),
                                                  "margin": _margin(values[0]), "unit": units.get(name, UNIT),
                                                  "machine": machine})
    for points in history.values():
        points.sort(key=lambda p: (p["date"], p["commit"]))
    return history


def draw(claim_id: str, points: Sequence[dict], fig: Figure) -> None:
    """The margin of ``claim_id`` against commit (ordered by date, ticks = short hashes):
    a step line per machine (a colour each when several) that moves at the commit whose
    margin changed, the claim's boundary (margin 0) dashed, falsified commits in red and
    infinite margins as triangles at the top or bottom edge.  ``points`` are as :func:`load`
    returns them; ``machine`` is optional (points without it are one machine's)."""
    ax = fig.add_subplot()
    ax.set_title(f"{claim_id}: margin over commits", fontsize=9)
    ax.set_xlabel("commit (by date)")
    ax.set_ylabel(points[0]["unit"] if points else UNIT, fontsize=8)
    if not points:
        unavailable(ax, "no recorded margin")
        return
    ordered = sorted(points, key=lambda p: (p["date"], p["commit"]))
    commits = list(dict.fromkeys(p["commit"] for p in ordered))
    finite = [p["margin"] for p in points if math.isfinite(p["margin"])]
    low, high = min(finite + [0.0]), max(finite + [0.0])
    pad = 0.08 * (high - low) or 1.0
    edge = {math.inf: high + pad, -math.inf: low - pad}
    machines = list(dict.fromkeys(p.get("machine", "") for p in points))
    one = len(machines) == 1
    for machine in machines:
        series = [p for p in ordered if p.get("machine", "") == machine]
        xs = [commits.index(p["commit"]) for p in series]
        ys = [edge.get(p["margin"], p["margin"]) for p in series]
        (line,) = ax.step(xs, ys, where="post", color=INTERVAL if one else None, lw=1.2,
                          label="margin" if one else f"margin on {machine}", zorder=2)
        for x, y, p in zip(xs, ys, series):
            marker = {math.inf: "^", -math.inf: "v"}.get(p["margin"], "o")
            ax.plot([x], [y], marker=marker, ls="none", ms=5, color=FAIL if p["margin"] < 0 else line.get_color(),
                    zorder=3)
            if marker != "o":
                ax.annotate(f"{p['margin']:+}", (x, y), xytext=(5, -3), textcoords="offset points", fontsize=7)
    ax.axhline(0, color=FAIL, lw=1, ls="--", label="boundary (margin 0)")
    ax.set_ylim(low - 1.5 * pad, high + 1.5 * pad)
    ax.set_xticks(range(len(commits)), commits, rotation=45 if len(commits) > 6 else 0, fontsize=7,
                  family="monospace")
    ax.legend(fontsize=7, loc="best")
