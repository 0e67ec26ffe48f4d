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
