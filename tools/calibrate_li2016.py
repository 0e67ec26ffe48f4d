"""Measure the statistics behind the li2016 thresholds over the architectures each claim draws.

    python tools/calibrate_li2016.py [claim ...] > calibration.txt

For every claim (default: all) replays a grid of settings (width, depth, shortcut depth,
activation, whitened or correlated inputs) on the reference subject and prints each
per-seed statistic as min..max next to the verdict.  These are the figures the claims'
``thresholds`` fields quote; the two-sided Taylor test's (KINK_MAX, LEAD_MIN) come from
``tools/calibrate_li2016_kink.py``, which also measures smooth activations and kinks.
"""
from __future__ import annotations

import itertools
import math
import sys
import time
from typing import Any

from resclaims import registry
from resclaims.engine import run

GRID: dict[str, list[dict[str, Any]]] = {
    "li2016.depth2_hessian_at_zero": [
        {"width": d, "depth": L, "activation": a, "whiten": w, "samples": 64, "shortcut_depth": 2}
        for d, L, a, w in itertools.product((2, 4), (1, 8), ("identity", "tanh"), (True, False))],
    "li2016.depth1_curvature_grows": [
        {"width": d, "depth": 8, "activation": "identity", "whiten": w, "samples": 64, "shortcut_depth": 1}
        for d, w in itertools.product((2, 3), (True, False))],
    "li2016.deep_shortcut_flat": [
        {"width": d, "depth": L, "activation": a, "whiten": True, "samples": 64, "shortcut_depth": n}
        for d, L, a, n in itertools.product((2, 3), (1, 4), ("identity", "tanh"), (3, 4))],
    "li2016.small_init_limit": [
        {"width": d, "depth": L, "activation": a, "whiten": w, "samples": 64, "shortcut_depth": 2}
        for d, L, a, w in itertools.product((2, 4), (1, 8), ("identity", "tanh"), (True, False))],
    "li2016.large_init_conditioning": [
        {"width": d, "depth": 1, "activation": a, "whiten": w, "samples": 64, "shortcut_depth": 2, "init": i}
        for d, a, w, i in itertools.product((2, 3, 4), ("identity", "tanh"), (True, False), ("xavier", "orthogonal"))],
    "li2016.gd_depth2_depth_free": [
        {"width": d, "depth": 32, "activation": "identity", "whiten": w, "samples": 64, "shortcut_depth": 2,
         "noise": 0.0, "target": "near-identity"} for d, w in itertools.product((2, 3, 4), (True, False))],
    "li2016.gd_depth3_plateau": [
        {"width": d, "depth": L, "activation": "identity", "whiten": w, "samples": 64, "shortcut_depth": n,
         "noise": 0.0, "target": "near-identity"}
        for d, L, w, n in itertools.product((2, 4), (2, 8), (True, False), (3, 4))],
    "li2016.gd_depth1_unstable": [
        {"width": d, "depth": 32, "activation": "identity", "whiten": w, "samples": 64, "shortcut_depth": 1,
         "noise": 0.0, "target": "near-identity"} for d, w in itertools.product((2, 3, 4), (True, False))],
}
SHOW = {
    "li2016.depth2_hessian_at_zero": ["spectrum_error", "gradient_norm", "cross_unit_max", "kink"],
    "li2016.depth1_curvature_grows": ["slopes", "cond_decades_over_A", "unit_gradient_error"],
    "li2016.deep_shortcut_flat": ["kink", "leads", "max_abs_H"],
    "li2016.small_init_limit": ["worst_at_smallest"],
    "li2016.large_init_conditioning": ["log10_cond_growth"],
    "li2016.gd_depth2_depth_free": ["ratio", "steps"],
    "li2016.gd_depth3_plateau": ["final_over_initial"],
    "li2016.gd_depth1_unstable": ["final_over_initial"],
}


def _span(value: Any) -> str:
    flat = list(_numbers(value))
    if not flat:
        return str(value)
    if len(flat) == 1:
        return f"{flat[0]:.4g}"
    return f"{min(flat):.4g}..{max(flat):.4g}"


def _numbers(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield float(value)
    elif isinstance(value, str) and value in ("inf", "-inf", "nan"):
        yield float(value)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def main(claims: list[str]) -> None:
    for claim_id in claims or list(GRID):
        print(f"== {claim_id}: {registry.get(claim_id).thresholds}")
        for i, setting in enumerate(GRID[claim_id]):
            start = time.perf_counter()
            result = run(claim_id, setting={**setting, "seed": 100 + i})
            shown = ", ".join(f"{k} {_span(result.evidence.get(k))}" for k in SHOW[claim_id])
            print(f"  {setting}: {result.verdict} margin {result.margin if result.margin is not None else math.nan:.3g}"
                  f"; {shown} ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
