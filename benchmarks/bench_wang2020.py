"""asv benchmarks of the wang2020 claims' computations: finding minima of the unit layer,
the barrier estimators on pairs of them (batched over pairs), and, for the dashboard,
the conformance figures of barrier_width on one fixed setting of the reference: the
fitted slope of the aligned barrier on width, its CI's upper end, and the median
barrier per width and estimator (a commit that erodes the claim shows as a step)."""
from __future__ import annotations

import itertools
import statistics

import torch

from resclaims import registry
from resclaims.claim import Context, Scale
from resclaims.claims import wang2020
from resclaims.core import paths
from resclaims.family import Subject
from resclaims.strategies.sublevel import teacher_data

SETTING = {"bias": True, "teacher": 2, "hidden": 16, "depth": 2, "samples": 256, "inputs": "sphere", "in_dim": 2,
           "seed": 5, "form": "additive", "widths": wang2020.CI_LADDER, "minima": 8,
           "estimators": ("linear", "bezier"), "curved_pairs": 6}
CTX = Context("cpu", 1e-3, Scale(1024, 2 ** 20))


def _reference() -> Subject:
    return registry.subjects()["wang2020.reference"]


class Minima:
    """Adam then L-BFGS on 8 minima of the unit layer at once (additive form, N = 256)."""

    params = [8, 32, 128]
    param_names = ["width"]
    timeout = 300

    def setup(self, width: int) -> None:
        torch.set_num_threads(1)
        self.x, self.y = teacher_data(SETTING)

    def time_minima(self, width: int) -> None:
        wang2020._minima(_reference(), SETTING, width, self.x, self.y)


class Estimators:
    """Each estimator on 6 pairs of minima at once (aligned endpoints), m = 8, 32, 128."""

    params = ([8, 32, 128], ["linear", "bezier", "neb"])
    param_names = ["width", "estimator"]
    timeout = 600

    def setup(self, width: int, estimator: str) -> None:
        torch.set_num_threads(1)
        x, y = teacher_data(SETTING)
        net, found = wang2020._minima(_reference(), {**SETTING, "minima": 4}, width, x, y)
        points = torch.stack([net.flat.normalize(p, net.units) for p in found.points])
        pairs = list(itertools.combinations(range(4), 2))
        self.a = points[[i for i, _ in pairs]]
        self.b = torch.stack([net.flat.align(points[i], points[j], net.units) for i, j in pairs])
        self.loss = net.flat.loss

    def time_estimator(self, width: int, estimator: str) -> None:
        if estimator == "linear":
            paths.linear(self.loss, self.a, self.b)
        elif estimator == "bezier":
            paths.bezier(self.loss, self.a, self.b, steps=wang2020.BEZIER_STEPS, lr=wang2020.BEZIER_LR)
        else:
            paths.neb(self.loss, self.a, self.b, pivots=wang2020.NEB_PIVOTS)


class BarrierConformance:
    """barrier_width's evidence on the reference at SETTING (the ci ladder), computed once."""

    timeout = 600
    version = 1

    def setup_cache(self) -> dict:
        torch.set_num_threads(1)
        ev = wang2020._landscape_uncached(_reference(), SETTING)
        verdict = wang2020._barrier_judge(SETTING, ev, CTX)
        medians = {f"{row['width']}-{name}": statistics.median(row[name]) for row in ev["widths"]
                   for name in ("linear", "aligned", "bezier")}
        slope, _ = wang2020.barrier_slope(SETTING, ev)
        return {"margin": verdict.margin, "slope": slope, "medians": medians}

    def track_slope(self, cache: dict) -> float:
        return cache["slope"]
    track_slope.unit = "d log B / d log m"  # type: ignore[attr-defined]

    def track_ci_upper_end(self, cache: dict) -> float:
        """The claim's margin is -(upper end); the upper end itself, which must stay < 0."""
        return -cache["margin"]
    track_ci_upper_end.unit = "d log B / d log m"  # type: ignore[attr-defined]


class MedianBarrier:
    """Median barrier per width and estimator on the same evidence (units of the loss;
    asv runs each class's setup_cache in its own process, so this one recomputes it)."""

    params = (list(wang2020.CI_LADDER), ["linear", "aligned", "bezier"])
    param_names = ["width", "estimator"]
    timeout = 600
    version = 1

    def setup_cache(self) -> dict:
        return BarrierConformance().setup_cache()

    def track_median(self, cache: dict, width: int, estimator: str) -> float:
        return cache["medians"][f"{width}-{estimator}"]
    track_median.unit = "loss"  # type: ignore[attr-defined]
