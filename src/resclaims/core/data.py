"""Synthetic data drawn from a seed: everything through an explicit ``torch.Generator``."""
from __future__ import annotations

import torch
from torch import Tensor


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (CPU so draws match on every device)."""
    return torch.Generator(device="cpu").manual_seed(seed)


def unit_sphere(n: int, dim: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """n points x_i uniform on the unit sphere S^{dim-1} (||x_i|| = 1, as the theory assumes)."""
    x = torch.randn(n, dim, generator=generator(seed), dtype=torch.float64)
    return (x / x.norm(dim=1, keepdim=True)).to(dtype)


def gaussian_targets(n: int, dim: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Regression targets y_i ~ N(0, I_dim), independent of the inputs."""
    return torch.randn(n, dim, generator=generator(seed), dtype=torch.float64).to(dtype)


def teacher_classes(x: Tensor, classes: int, seed: int) -> Tensor:
    """Labels argmax_k (T x)_k of a random linear teacher T ~ N(0, 1): a separable task."""
    t = torch.randn(classes, x.shape[1], generator=generator(seed), dtype=torch.float64).to(x.dtype)
    return (x @ t.T).argmax(dim=1)


def spawn(seed: int, count: int) -> list[int]:
    """``count`` independent 63-bit seeds derived from ``seed`` (numpy SeedSequence),
    one per model of a setting."""
    import numpy as np

    state = np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64)
    return [int(v >> np.uint64(1)) for v in state]
