"""Synthetic data drawn from a seed: everything through an explicit ``torch.Generator``."""
from __future__ import annotations

import torch
from torch import Tensor


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (CPU so draws match on every device)."""
    return torch.Generator(device="cpu").manual_seed(seed)


def unit_sphere(n: int, shape: int | tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """n points x_i of the given shape (a dimension, or e.g. (3, 32, 32)) uniform on the
    unit sphere, ||x_i|| = 1 over all entries (as the theory assumes)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    x = torch.randn(n, *shape, generator=generator(seed), dtype=torch.float64)
    return (x / x.flatten(1).norm(dim=1).view(n, *[1] * len(shape))).to(dtype)


def gaussian_targets(n: int, dim: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Regression targets y_i ~ N(0, I_dim), independent of the inputs."""
    return torch.randn(n, dim, generator=generator(seed), dtype=torch.float64).to(dtype)


def spawn(seed: int, count: int) -> list[int]:
    """``count`` independent 63-bit seeds derived from ``seed`` (numpy SeedSequence),
    one per model of a setting."""
    import numpy as np

    state = np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64)
    return [int(v >> np.uint64(1)) for v in state]


def linear_regression(n: int, dim: int, seed: int, whiten: bool = True, noise: float = 0.1,
                      near_identity: bool = False, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Inputs X (n, dim) and targets Y = X M^T + noise E, with M ~ N(0, 1/dim) entrywise
    (``near_identity``: M = I + Q/2, Q Haar orthogonal, so every singular value of M - I
    is 1/2 and M is reachable from I through near-identity factors) and E ~ N(0, 1).  ``whiten``: X
    is rescaled so that its sample second moment is exactly the identity,
    Sxx = X^T X / n = I; otherwise x ~ N(0, C) with a random covariance
    C = B B^T / dim + I/2 (B Gaussian), so Sxx is not I."""
    g = generator(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    if whiten:
        evals, evecs = torch.linalg.eigh(x.T @ x / n)
        x = x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    else:
        b = torch.randn(dim, dim, generator=g, dtype=torch.float64)
        x = x @ torch.linalg.cholesky(b @ b.T / dim + 0.5 * torch.eye(dim, dtype=torch.float64)).T
    m = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim ** 0.5
    if near_identity:
        q, r = torch.linalg.qr(m)
        m = torch.eye(dim, dtype=torch.float64) + 0.5 * q * torch.sign(torch.diagonal(r))
    y = x @ m.T + noise * torch.randn(n, dim, generator=g, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)
