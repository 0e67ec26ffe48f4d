"""asv benchmarks of the Hessian core, each beside the naive baseline measured in the same run.

The baseline is what a careful user writes first (the li2016 notes' check): the model as a
Python loop over one flat parameter vector indexed with ``p.view(L, n, d, d)[l, k]``,
``torch.func.hessian`` of its loss, then ``eigvalsh``.  Ours is ``dense_hessian`` on the
model itself (the chain sweep of ``core/chain.py``; ``hvp_hessian`` is the same matrix
from P batched HVPs) and Lanczos on HVPs.  track_* record cond H(0)
against depth: constant for shortcut depth 2, growing for depth 1 (li2016 C-T1/C-T2).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from resclaims.core import hessian
from resclaims.core.data import generator, linear_regression
from resclaims.models.li2016 import shortcut_stack

WIDTH = 4         # d: P = 2 d^2 L for the dense sizes
SAMPLES = 256     # N


def stack_objective(depth: int, width: int = WIDTH, n: int = 2, init: str = "zero", scale: float = 0.0,
                    samples: int = SAMPLES, seed: int = 0) -> hessian.Objective:
    """R of the reference stack (width d, L units, shortcut depth n) on linear-regression data."""
    x, y = linear_regression(samples, width, seed)
    model = shortcut_stack(depth, width, init, scale, generator=generator(seed), shortcut_depth=n)
    return hessian.model_objective(model, [list(u.parameters()) for u in model.units], x, y,
                                   blocks=list(model.units))


def naive_loss(depth: int, width: int = WIDTH, n: int = 2, samples: int = SAMPLES,
               seed: int = 0) -> Callable[[Tensor], Tensor]:
    """The baseline's loss of one flat vector p (the li2016 notes' snippet)."""
    x, y = linear_regression(samples, width, seed)

    def loss(p: Tensor) -> Tensor:
        w = p.view(depth, n, width, width)
        h = x
        for l in range(depth):
            b = h
            for k in range(n):
                b = b @ w[l, k].T
            h = h + b
        return 0.5 * ((h - y) ** 2).sum(1).mean()
    return loss


def naive_hessian(depth: int, width: int = WIDTH, n: int = 2, point: Tensor | None = None) -> Tensor:
    """The baseline: ``torch.func.hessian`` of the flat-vector loop model at ``point``
    (unit, then layer order, as ``stack_objective``'s; default 0)."""
    p = torch.zeros(depth * n * width * width, dtype=torch.float64) if point is None else point
    return torch.func.hessian(naive_loss(depth, width, n))(p)


def dense_spectrum(obj: hessian.Objective) -> Tensor:
    return torch.linalg.eigvalsh(hessian.dense_hessian(obj))


class DenseHessian:
    """The dense Hessian at P = 2 d^2 L parameters (d = 4, N = 256), at the zero point
    (H(0): every E_k = 0 and A_k = I, products the sweep skips) and at a small Gaussian
    point (s = 0.1: nothing skipped): ours (the chain sweep), the same matrix from P HVPs,
    and the naive baseline at the same point; then all its eigenvalues."""

    params = ([1024, 1536, 4096], ["zero", "gaussian"])
    param_names = ["parameters", "point"]
    timeout = 900

    def setup(self, parameters: int, point: str) -> None:
        torch.set_num_threads(1)
        self.depth = parameters // (2 * WIDTH * WIDTH)
        self.obj = stack_objective(self.depth, init=point, scale=0.1)
        self.matrix = hessian.dense_hessian(self.obj)

    def time_dense_hessian(self, parameters: int, point: str) -> None:
        hessian.dense_hessian(self.obj)

    def time_hvp_hessian(self, parameters: int, point: str) -> None:
        hessian.hvp_hessian(self.obj)

    def time_naive_hessian(self, parameters: int, point: str) -> None:
        if parameters > 2048:  # its backward holds ~P^2 x 2L doubles: 34 GB at P = 4096
            raise NotImplementedError("the naive baseline does not fit in memory at this size")
        naive_hessian(self.depth, point=self.obj.point)

    def time_eigvalsh(self, parameters: int, point: str) -> None:
        torch.linalg.eigvalsh(self.matrix)


class DenseHessianMemory:
    """Peak memory of DenseHessian's dense H(0).  asv's peakmem is the process's peak,
    setup included, so this setup builds the objective alone (not H for eigvalsh)."""

    params = [1024, 1536, 4096]
    param_names = ["parameters"]
    timeout = 900

    def setup(self, parameters: int) -> None:
        torch.set_num_threads(1)
        self.obj = stack_objective(parameters // (2 * WIDTH * WIDTH))

    def peakmem_dense_hessian(self, parameters: int) -> None:
        hessian.dense_hessian(self.obj)


class LanczosExtremes:
    """Extreme eigenvalues of H at a small Gaussian init by 64 Lanczos steps on HVPs
    (d = 16: P = 10,240; d = 32: P = 100,352; N = 64); no dense baseline fits."""

    params = [10_240, 100_352]
    param_names = ["parameters"]
    timeout = 900

    def setup(self, parameters: int) -> None:
        torch.set_num_threads(1)
        width = 16 if parameters < 50_000 else 32
        self.obj = stack_objective(parameters // (2 * width * width), width, init="gaussian", scale=0.1,
                                   samples=64)

    def time_lanczos_64_steps(self, parameters: int) -> None:
        hessian.hessian_spectrum(self.obj, steps=64)


class HessianConformance:
    """cond H(0) against depth L (d = 3, N = 256): shortcut depth 2 stays at cond A for
    every L; shortcut depth 1 grows."""

    params = ([1, 2], [1, 8, 64])
    param_names = ["shortcut_depth", "depth"]
    version = 1

    def track_cond_h0(self, shortcut_depth: int, depth: int) -> float:
        obj = stack_objective(depth, width=3, n=shortcut_depth)
        return hessian.conditioning(dense_spectrum(obj)).cond
