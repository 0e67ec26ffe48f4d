"""asv benchmarks: speed of the numerical core, and theory-conformance numbers.

The speed baseline is the same sweep done naively (a Python loop over seeds, one
model at a time), measured in the same run: compare time_sweep_batched with
time_sweep_loop.  track_* values are the figures the claims judge; their
``version`` pins their history across edits of this file.
"""
from __future__ import annotations

import math

import torch

from resclaims.core import data, sweeps, train
from resclaims.core.ensemble import Ensemble
from resclaims.models.zhang2019 import SUBJECTS
from resclaims.stats import slope

REFERENCE = SUBJECTS[0]
IN_DIM = 16


ARCHITECTURES = {  # the reference family's two block kinds at comparable cost per block
    "mlp": {"width": 64},
    "conv": {"block": "conv", "input": "image", "width": 8, "image": 8},
}


def _ensemble(depth: int, width: int, tau: float, seeds: int, batched: bool = True,
              samples: int = 8, out_dim: int = 1, **arch: object) -> tuple[Ensemble, torch.Tensor]:
    build = lambda s: REFERENCE.build(s, depth=depth, width=width, tau=tau,  # noqa: E731
                                      in_dim=IN_DIM, out_dim=out_dim, **arch)
    ens = Ensemble(build, data.spawn(0, seeds), lambda m: REFERENCE.inputs(m, samples, 0, in_dim=IN_DIM),
                   batched=batched)
    return ens, ens.x


class ForwardSweep:
    """Forward log-norm sweep at tau = 1/sqrt(L), 4 seeds, batched vs looped."""

    params = ([64, 256, 1024], [64, 256])
    param_names = ["depth", "width"]
    timeout = 600

    def setup(self, depth: int, width: int) -> None:
        torch.set_num_threads(1)
        self.batched, self.x = _ensemble(depth, width, 1 / math.sqrt(depth), 4)
        self.loop, _ = _ensemble(depth, width, 1 / math.sqrt(depth), 4, batched=False)

    def time_sweep_batched(self, depth: int, width: int) -> None:
        sweeps.log_norms(self.batched, self.x)

    def time_sweep_loop(self, depth: int, width: int) -> None:
        sweeps.log_norms(self.loop, self.x)


class ForwardSweepMemory:
    """Peak memory of ForwardSweep's batched sweep.  asv's peakmem is the process's peak,
    setup included, so this setup builds the batched ensemble alone."""

    params = ForwardSweep.params
    param_names = ForwardSweep.param_names
    timeout = 600

    def setup(self, depth: int, width: int) -> None:
        torch.set_num_threads(1)
        self.batched, self.x = _ensemble(depth, width, 1 / math.sqrt(depth), 4)

    def peakmem_sweep_batched(self, depth: int, width: int) -> None:
        sweeps.log_norms(self.batched, self.x)


class ArchitectureSweep:
    """Forward sweep at tau = 1/sqrt(L), 4 seeds, per block kind (conv: 8 channels, 8x8
    images, about 2.3x the multiply-adds of the MLP's 64x64 blocks), batched vs looped."""

    params = ([64, 256], list(ARCHITECTURES))
    param_names = ["depth", "block"]
    timeout = 600

    def setup(self, depth: int, block: str) -> None:
        torch.set_num_threads(1)
        arch = dict(ARCHITECTURES[block])
        width = int(arch.pop("width"))
        self.batched, self.x = _ensemble(depth, width, 1 / math.sqrt(depth), 4, **arch)
        self.loop, _ = _ensemble(depth, width, 1 / math.sqrt(depth), 4, batched=False, **arch)

    def time_sweep_batched(self, depth: int, block: str) -> None:
        sweeps.log_norms(self.batched, self.x)

    def time_sweep_loop(self, depth: int, block: str) -> None:
        sweeps.log_norms(self.loop, self.x)


class GradientDescent:
    """GD on the blocks to F <= 1e-3 F0 at L = 64 (the notes' asv baseline), 4 seeds."""

    timeout = 600

    def setup(self) -> None:
        torch.set_num_threads(1)
        self.ens, self.x = _ensemble(64, 64, 1 / 8, 4)
        self.y = data.gaussian_targets(8, 1, 1)

    def time_gd_150_steps(self) -> None:
        train.gradient_descent(lambda: train.squared_loss(self.ens, self.x, self.y),
                               self.ens.trained_parameters(), 0.2 / (64 * 8), 150)


class SeedChunks:
    """20 GD steps of 16 seeds of a narrow conv ResNet (L = 64, branch depth 2, 4
    channels, 4x4 images, fp64; gd_depth_free's conv draw at ci), on 2 torch threads:
    one run over all seeds against the seeds in chunks side by side
    (``train.ensemble_descent``), measured in the same run; 1 thread is the baseline the
    chunks replace."""

    params = ["one run, 1 thread", "one run, 2 threads", "chunks, 2 threads"]
    param_names = ["mode"]
    timeout = 600

    def setup(self, mode: str) -> None:
        torch.set_num_threads(1 if mode.endswith("1 thread") else 2)
        arch = {"block": "conv", "branch_depth": 2, "input": "image", "stages": 2, "image": 4}
        self.ens, self.x = _ensemble(64, 4, 1 / 8, 16, **arch)
        self.y = data.gaussian_targets(8, 1, 1)

    def time_gd_20_steps(self, mode: str) -> None:
        loss = lambda e: train.squared_loss(e, e.x, self.y)  # noqa: E731
        if mode.startswith("chunks"):
            train.ensemble_descent(self.ens, loss, 1e-3, 20)
        else:
            train.gradient_descent(lambda: loss(self.ens), self.ens.trained_parameters(), 1e-3, 20)


class Conformance:
    """Theory-conformance figures at fixed seeds (deterministic, so one sample each)."""

    timeout = 600
    number = 1
    repeat = 1

    def track_forward_ratio_L1024(self) -> float:
        """median r_L at tau = 1/sqrt(L), L = 1024, m = 64 (theory: -> e = 2.72)."""
        ens, x = _ensemble(1024, 64, 1 / 32, 4)
        logs = sweeps.log_norms(ens, x)
        return float((logs[..., -1] - logs[..., 0]).median().exp())
    track_forward_ratio_L1024.unit = "ratio"
    track_forward_ratio_L1024.version = 1

    def track_converse_exponent(self) -> float:
        """slope of log(median log r_L) on log L, tau = L^(-1/2+c), c = 0.25, m = 64
        (theory: 2c = 0.5; the notes measured 0.561)."""
        depths = (64, 256, 1024)
        medians = []
        for depth in depths:
            ens, x = _ensemble(depth, 64, depth ** -0.25, 4)
            logs = sweeps.log_norms(ens, x)
            medians.append(float((logs[..., -1] - logs[..., 0]).median()))
        return slope([math.log(d) for d in depths], [math.log(v) for v in medians])
    track_converse_exponent.unit = "exponent"
    track_converse_exponent.version = 1

    def track_gradient_saturation_conv(self) -> float:
        """median G(256)/G(64) of the NTK gradient scale G = sqrt(tr K / (n d)) at
        tau = 1/sqrt(L), conv blocks (theory: saturates, 1; tau = 1/L would give 0.5)."""
        scales = []
        for depth in (64, 256):
            ens, x = _ensemble(depth, 8, depth ** -0.5, 4, out_dim=16, **{k: v for k, v in
                               ARCHITECTURES["conv"].items() if k != "width"})
            trace = train.block_ntk_traces(ens, x, probes=4).trace.sum(dim=1)
            scales.append(trace.sqrt())
        return float((scales[1] / scales[0]).median())
    track_gradient_saturation_conv.unit = "ratio"
    track_gradient_saturation_conv.version = 1
