"""Measure the per-seed statistics behind the zhang2019 thresholds on each architecture kind.

    python tools/calibrate_zhang2019.py [claim ...] > calibration.txt

For every claim (default: all theorem claims) and every architecture kind of the
family's theorem space, replays one setting on the reference subject and prints the
per-seed statistic's range next to the claim's threshold.  These are the figures the
claims' ``thresholds`` fields quote.
"""
from __future__ import annotations

import sys
import time

import resclaims
from resclaims import registry

KINDS = {  # name: architecture keys and sizes (ci-sized)
    "mlp-1": {"block": "mlp", "branch_depth": 1, "stages": 1, "input": "vector", "width": 64},
    "mlp-2": {"block": "mlp", "branch_depth": 2, "stages": 1, "input": "vector", "width": 64},
    "mlp-1-3st": {"block": "mlp", "branch_depth": 1, "stages": 3, "input": "vector", "width": 64},
    "mlp-2-2st-img": {"block": "mlp", "branch_depth": 2, "stages": 2, "input": "image", "width": 64, "image": 4},
    "conv-1": {"block": "conv", "branch_depth": 1, "stages": 1, "input": "image", "width": 8, "image": 8},
    "conv-2": {"block": "conv", "branch_depth": 2, "stages": 1, "input": "image", "width": 8, "image": 8},
    "conv-2-3st": {"block": "conv", "branch_depth": 2, "stages": 3, "input": "image", "width": 4, "image": 8},
    "conv-1-2st": {"block": "conv", "branch_depth": 1, "stages": 2, "input": "image", "width": 4, "image": 4},
}
EXTRA = {  # claim: the non-architecture keys of the replayed settings
    "zhang2019.forward_stable": [{"depth": 256, "c": 1.0}, {"depth": 16, "c": 1.0}],
    "zhang2019.backward_stable": [{"depth": 64, "c": 1.0}],
    "zhang2019.forward_converse": [{"c": 0.2}, {"c": 0.35}],
    "zhang2019.gradient_scale": [{}],
    "zhang2019.gd_depth_free": [{}],
    "zhang2019.trains_without_norm": [{"depth": 32}],
}
SHOW = {  # claim: evidence keys worth printing (per-seed lists are shown as min..max)
    "zhang2019.forward_stable": ["max_r", "min_r", "upper"],
    "zhang2019.backward_stable": ["jacobian_norm"],
    "zhang2019.forward_converse": ["slopes", "band", "median_log_r"],
    "zhang2019.gradient_scale": ["saturation", "depth_profile", "gradient_scale_median"],
    "zhang2019.gd_depth_free": ["rate_ratio", "median_rate", "lr", "ntk_top"],
    "zhang2019.trains_without_norm": ["relative", "shallow_log_reduction", "lr"],
}


def _fmt(value: object) -> str:
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        if len(value) > 4:
            return f"{min(value):.3g}..{max(value):.3g}"
        return "[" + ", ".join(f"{v:.3g}" for v in value) + "]"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(ids: list[str]) -> None:
    for claim_id in ids or list(EXTRA):
        for kind, arch in KINDS.items():
            if claim_id.endswith("gd_depth_free") and arch["block"] == "conv" and arch["stages"] == 1:
                continue  # outside the claim's class (see its thresholds)
            for extra in EXTRA[claim_id]:
                start = time.perf_counter()
                result = resclaims.run(claim_id, setting={**arch, **extra, "seed": 1})
                shown = "; ".join(f"{k}={_fmt(result.evidence.get(k))}" for k in SHOW[claim_id])
                print(f"{claim_id.split('.')[1]:20} {kind:14} {extra} {result.verdict:9} {shown} "
                      f"({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
