"""asv benchmarks of the shamir2018 claims' computations: converging B-C1's Newton
minimisation at a fixed size, the joint (w, V, theta) minimisation, projected SGD steps of
the tweaked unit (B-C5), and the fitted T^-1/2 rate for the dashboard."""
from __future__ import annotations

import torch

from resclaims import registry
from resclaims.claim import Context, Scale
from resclaims.claims import shamir2018
from resclaims.core import convex
from resclaims.strategies.units import unit_data

SETTING = {"in_dim": 5, "features": 4, "depth": 2, "activation": "tanh", "loss": "squared", "samples": 200,
           "inputs": "gaussian", "seed": 0, "scale": 1.0}
CTX = Context("cpu", 1e-3, Scale(1024, 2 ** 20))


class LocalMinimum:
    """Newton's method on (w, V) to ||grad|| <= 1e-9 (d = 5, m = 4, n = 200: the notes' size)."""

    timeout = 300

    def setup(self) -> None:
        torch.set_num_threads(1)
        subject = registry.subjects()["shamir2018.reference"]
        x, y = unit_data(SETTING)
        self.unit = shamir2018.Unit(subject, shamir2018._model(subject, SETTING, CTX), x, y, "squared")

    def time_converge(self) -> None:
        convex.newton(self.unit.flat, self.unit.join(self.unit.w0, self.unit.v0), tol=1e-9, max_steps=300)


class JointMinimum:
    """B-C1 jointly with theta: Adam then trust-region Newton over all 7 parameters (d = 2,
    m = 1, one sin layer, logistic loss, n = 512), a setting that converges."""

    timeout = 300

    def setup(self) -> None:
        torch.set_num_threads(1)
        self.subject = registry.subjects()["shamir2018.reference"]
        self.setting = {"in_dim": 2, "features": 1, "loss": "logistic", "samples": 512, "inputs": "gaussian",
                        "seed": 1, "activation": "sin", "depth": 1}

    def time_joint_minimum(self) -> None:
        shamir2018._joint_check(self.setting, self.subject, CTX)

    def track_trust_region_steps(self) -> int:
        return shamir2018._joint_check(self.setting, self.subject, CTX)["iterations"]


class TweakedSGD:
    """B-C5's projected SGD, 4200 single-sample steps over T = 200, 800, 3200 (d = 3, m = 2)."""

    timeout = 300
    version = 1

    def setup(self) -> None:
        torch.set_num_threads(1)
        self.subject = registry.subjects()["shamir2018.tweaked"]
        self.setting = {**SETTING, "in_dim": 3, "features": 2, "samples": 64}

    def time_sgd(self) -> None:
        shamir2018._sgd_check(self.setting, self.subject, CTX)

    def track_fitted_rate(self) -> float:
        return shamir2018._sgd_check(self.setting, self.subject, CTX)["rate"]
