"""asv benchmarks of what a ``resclaims check`` gate pays besides the math: building
the ensembles, their memory, and how close the small-width sweep comes to the machine's
matmul peak.  Every speed figure has its baseline in the same run:

* construction: ``time_draw`` (the reference's ``Adapter.draw``: no model per seed)
  against ``time_build_per_seed`` (a factory called once per seed, stacked one model at
  a time, the path of a user's model) and ``time_sweep`` (the forward sweep itself);
* memory: ``peakmem_sweep_streamed`` (blocks drawn as the sweep reaches them) against
  ``peakmem_sweep_materialised`` (every block of every seed held);
* small widths: ``track_peak_fraction`` = sweep FLOP/s over the fp64 matmul FLOP/s
  measured in the same process (n = 1024 square matmul), for the stacked-matmul blocks
  (``forward_stacked``) and, as ``track_peak_fraction_vmap``, the generic vmapped path.

``device`` is a parameter; CUDA cells are skipped where there is no GPU.
"""
from __future__ import annotations

import math
import time

import torch

from resclaims.core import data, sweeps
from resclaims.core.ensemble import Ensemble
from resclaims.models.zhang2019 import SUBJECTS

REFERENCE = SUBJECTS[0]
IN_DIM = 16
SAMPLES = 64  # n, inputs per sweep (the measurements)
DEVICES = ["cpu", "cuda"]


def _device(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")  # asv: skipped


def keywords(depth: int, width: int) -> dict:
    return dict(depth=depth, width=width, tau=1 / math.sqrt(depth), in_dim=IN_DIM, out_dim=1)


def inputs(device: str):
    return lambda model: REFERENCE.inputs(model, SAMPLES, 0, in_dim=IN_DIM).to(device)


def ensemble(depth: int, width: int, seeds: int, device: str = "cpu", how: str = "drawn") -> Ensemble:
    """The reference's ensemble built ``how``: ``drawn`` (Adapter.draw), ``streamed``
    (drawn block by block during the sweep), ``per_seed`` (build once per seed) or
    ``vmap`` (drawn, blocks applied by the generic vmapped call)."""
    kw = keywords(depth, width)
    build = lambda s: REFERENCE.build(s, device=device, **kw)  # noqa: E731
    drawn = None if how == "per_seed" else REFERENCE.drawn(device=device, **kw)
    return Ensemble(build, data.spawn(0, seeds), inputs(device), blocks=REFERENCE.blocks, drawn=drawn,
                    stream=how == "streamed", stacked_blocks=how != "vmap")


def matmul_peak(device: str = "cpu", n: int = 1024, repeat: int = 5) -> float:
    """FLOP/s of an n x n fp64 matmul on ``device``, best of ``repeat``."""
    a = torch.randn(n, n, dtype=torch.float64, device=device)
    best = math.inf
    for _ in range(repeat + 1):
        _sync(device)
        start = time.perf_counter()
        a @ a
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def sweep_flops(ens: Ensemble) -> float:
    """Multiply-adds x 2 of the blocks' weight layers in one forward sweep."""
    per_seed = sum(p.shape[-1] * p.shape[-2] for l in range(ens.depth) for p in ens.block_parameters(l))
    return 2.0 * ens.size * SAMPLES * per_seed


def timed_sweep(ens: Ensemble, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    sweeps.log_norms(ens, ens.x)
    _sync(device)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class Construction:
    """Building 16 seeds of the reference against sweeping them, fp64."""

    params = ([64, 256], [64, 256], DEVICES)
    param_names = ["depth", "width", "device"]
    timeout = 900

    def setup(self, depth: int, width: int, device: str) -> None:
        _device(device)
        self.ens = ensemble(depth, width, 16, device)

    def time_draw(self, depth: int, width: int, device: str) -> None:
        ensemble(depth, width, 16, device)

    def time_build_per_seed(self, depth: int, width: int, device: str) -> None:
        ensemble(depth, width, 16, device, how="per_seed")

    def time_sweep(self, depth: int, width: int, device: str) -> None:
        sweeps.log_norms(self.ens, self.ens.x)


class Memory:
    """Peak memory of one forward sweep at L = 1024, 16 seeds, fp64 (m = 256: 8.6 GB of
    weights if every block of every seed were held at once)."""

    params = ([64, 256],)
    param_names = ["width"]
    timeout = 900

    def peakmem_sweep_streamed(self, width: int) -> None:
        ens = ensemble(1024, width, 16, how="streamed")
        sweeps.log_norms(ens, ens.x)

    def peakmem_sweep_materialised(self, width: int) -> None:
        if width > 64:
            raise NotImplementedError("8.6 GB of weights: more than the CI machine should hold")
        ens = ensemble(1024, width, 16)
        sweeps.log_norms(ens, ens.x)


class PeakFraction:
    """Forward-sweep FLOP/s as a fraction of the same run's fp64 matmul peak, L = 256,
    16 seeds, n = 64 inputs."""

    params = ([64, 128, 256], DEVICES)
    param_names = ["width", "device"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, width: int, device: str) -> None:
        _device(device)

    def _fraction(self, width: int, device: str, how: str) -> float:
        ens = ensemble(256, width, 16, device, how=how)
        timed_sweep(ens, device)  # warm-up: the agreement check and allocator
        best = min(timed_sweep(ens, device) for _ in range(3))
        return sweep_flops(ens) / best / matmul_peak(device)

    def track_peak_fraction(self, width: int, device: str) -> float:
        return self._fraction(width, device, "drawn")
    track_peak_fraction.unit = "fraction of matmul peak"

    def track_peak_fraction_vmap(self, width: int, device: str) -> float:
        return self._fraction(width, device, "vmap")
    track_peak_fraction_vmap.unit = "fraction of matmul peak"
