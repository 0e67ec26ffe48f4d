"""asv benchmarks of batched population GD (liu2019), beside one-run-at-a-time in the same run.

256 runs of GD on the two-layer conv ResNet's population loss (p = k = 16, one teacher
at angle 1.0 rad, a0 from the ball, w0 = 0) advance as one tensor program
(``resclaims.core.population_gd``) or one after another; ``track_*`` record the rates
the converse claims test (li2019 A-C7), for the dashboard.
"""
from __future__ import annotations

import torch

from resclaims import registry
from resclaims.claim import Context, Scale
from resclaims.claims import liu2019
from resclaims.core.population_gd import population_gd
from resclaims.models.liu2019 import average_pooling
from resclaims.strategies.teachers import second_layer_inits, teacher

RUNS = 256
STEPS = 100
P = K = 16


def problem(runs: int = RUNS, p: int = P, k: int = K) -> tuple:
    """(filter, w0, a0, v*, a*, eta_w, eta_a) for ``runs`` runs from w0 = 0."""
    v, b = teacher(p, k, 1.0, 0)
    s = average_pooling(p)

    def filt(w: torch.Tensor) -> torch.Tensor:
        return (w + s) / (w + s).norm(dim=-1, keepdim=True)
    return (filt, torch.zeros(runs, p, dtype=torch.float64), second_layer_inits(b, runs, 1),
            v.expand(runs, p), b.expand(runs, k), liu2019.RHO * liu2019.ETA_A / (p * k), liu2019.ETA_A)


def batched(prob: tuple, steps: int = STEPS) -> None:
    filt, w0, a0, v, b, eta_w, eta_a = prob
    population_gd(filt, w0, a0, v, b, eta_w, eta_a, True, True, steps)


def sequential(prob: tuple, steps: int = STEPS) -> None:
    filt, w0, a0, v, b, eta_w, eta_a = prob
    for i in range(w0.shape[0]):
        population_gd(filt, w0[i:i + 1], a0[i:i + 1], v[i:i + 1], b[i:i + 1], eta_w, eta_a, True, True, steps)


class BatchedTrajectories:
    """100 GD steps of 256 runs: batched against sequential (p = k = 16)."""

    timeout = 600

    def setup(self) -> None:
        torch.set_num_threads(1)
        self.problem = problem()

    def time_batched_256_runs(self) -> None:
        batched(self.problem)

    def time_sequential_256_runs(self) -> None:
        sequential(self.problem)


class ConverseRates:
    """The rates the converse claims test, on their references (p = k = 8, seed 0)."""

    version = 1
    timeout = 600

    def _rate(self, claim_id: str) -> float:
        claim = registry.get(claim_id)
        subject = registry.reference(claim.family, claim)
        ev = claim.check({"patches": 8, "patch_size": 8, "alpha": 0.0, "seed": 0}, subject,
                         Context("cpu", 1e-3, Scale(1024, 2 ** 20)))
        return ev["trapped"] / ev["trials"]

    def track_prior_violated_trapped_rate(self) -> float:
        return self._rate("liu2019.prior_violated")

    def track_cnn_trapped_rate(self) -> float:
        return self._rate("liu2019.cnn_spurious")
