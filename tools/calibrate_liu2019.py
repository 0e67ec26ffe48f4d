"""Measure what the liu2019 schedule and prior were calibrated on.

    python tools/calibrate_liu2019.py [rho ...] > calibration.txt

For each step-size constant rho (eta_w = rho eta_a/(p k); default 1.0 and 0.5) and each
(p, k) in {4, 8, 16, 32}^2 (a subset: the corners and the diagonal), runs population GD
from w0 = 0 with the adversarial a0 = -r a*/||a*|| for 8 teachers at each angle 1.0 ..
1.55 rad, and prints how many runs fail and how many of those reach the spurious
point.  Then prints the Stage I / Stage II statistics two_stage asserts on.  These are
the figures the claims' ``thresholds`` fields quote (rho = 0.5: no failure up to
1.5 rad, the first at 1.55; so the prior 1.4 rad keeps a margin).
"""
from __future__ import annotations

import math
import sys
import time

import torch

from resclaims import registry
from resclaims.claims import liu2019
from resclaims.core.population_gd import population_gd
from resclaims.models.liu2019 import average_pooling
from resclaims.stats import r_squared
from resclaims.strategies.teachers import ball_radius, teacher

ANGLES = (1.0, 1.2, 1.4, 1.5, 1.55)
SIZES = ((4, 4), (4, 32), (8, 8), (16, 16), (32, 32), (8, 32), (32, 4), (32, 8))
PER_ANGLE = 8


def adversarial_runs(p: int, k: int, rho: float, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(failed, spurious) counts per angle, and the steps taken."""
    vs, bs = zip(*(teacher(p, k, a, seed + i) for a in ANGLES for i in range(PER_ANGLE)))
    v, b = torch.stack(vs), torch.stack(bs)
    a0 = torch.stack([-ball_radius(x) * x / x.norm() for x in b])
    s = average_pooling(p)

    def filt(w: torch.Tensor) -> torch.Tensor:
        return (w + s) / (w + s).norm(dim=-1, keepdim=True)
    runs = population_gd(filt, torch.zeros(len(a0), p, dtype=torch.float64), a0, v, b,
                         rho * liu2019.ETA_A / (p * k), liu2019.ETA_A, True, True, liu2019._max_steps(k))
    failed = (runs.relative_loss > liu2019.SUCCESS_RTOL).view(len(ANGLES), PER_ANGLE).sum(1)
    spurious = (runs.cosine < liu2019.SPURIOUS_COS).view(len(ANGLES), PER_ANGLE).sum(1)
    return failed, spurious, runs.steps


def stages(p: int, k: int, alpha: float) -> str:
    runs, _ = liu2019._run(registry.subjects()["liu2019.reference"], {"patches": k, "patch_size": p}, None, [alpha], 16, 3, "model")
    fits = []
    for j in range(runs.losses.shape[1]):
        column = runs.losses[:, j]
        end = int((column > liu2019.STOP_FLOOR).sum())
        ys = torch.log10(column[end // 2:end]).tolist()
        fits.append(r_squared(list(range(len(ys))), ys))
    w_rel = float(runs.w_norm_at_alignment.nan_to_num(0).max()) * math.sqrt(p)
    return (f"p={p} k={k} angle={alpha}: steps {runs.steps}, t_I <= {int(runs.aligned_at.max())}, "
            f"||w(t_I)|| <= {w_rel:.3g} ||s||, R^2 >= {min(fits):.4f}")


def main(rhos: list[float]) -> None:
    torch.set_num_threads(1)
    for rho in rhos:
        for p, k in SIZES:
            start = time.perf_counter()
            failed, spurious, steps = adversarial_runs(p, k, rho)
            print(f"rho={rho} p={p} k={k}: failed {failed.tolist()} spurious {spurious.tolist()} per angle "
                  f"{list(ANGLES)} ({steps} steps, {time.perf_counter() - start:.0f} s)", flush=True)
    for p, k in ((4, 4), (16, 16), (32, 32), (4, 32), (32, 4)):
        for alpha in (0.5, 1.4):
            print(stages(p, k, alpha), flush=True)


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0, 0.5])
