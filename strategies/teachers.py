"""Settings for the two-layer conv ResNet of liu2019: patch count k, patch size p, the
teacher (v*, a*) and the second-layer initialisations a0, drawn within a claim's
hypotheses.  Strategies draw seeds and numbers; the tensors are made from them here,
deterministically (``teacher``, ``second_layer_inits``).

The teacher's filter v* = cos(alpha) s_hat + sin(alpha) xi (s_hat = 1_p / sqrt(p), the
shortcut's direction; xi a random unit vector orthogonal to it) makes the angle alpha
to the shortcut explicit, so a claim states its prior as a range of alpha.  a* ~ N(0, I_k)
is kept only when |1^T a*| >= 0.2 ||a*|| [notes]; a0 lies in the ball of radius
r = |1^T a*| / sqrt(k) [RECON, as Du et al. 2018], and the first a0 of every batch is
the adversarial boundary point a0 = -r a* / ||a*|| (anti-aligned with the teacher).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from hypothesis import strategies as st
from torch import Tensor

from resclaims.claim import Setting
from resclaims.core.data import generator

SEEDS = st.integers(0, 2 ** 31 - 1)
ONES_SHARE = 0.2  # |1^T a*| >= 0.2 ||a*||: the teacher's second layer is not orthogonal to 1


def teacher(p: int, k: int, alpha: float, seed: int) -> tuple[Tensor, Tensor]:
    """(v*, a*) with angle ``alpha`` between v* and the shortcut direction (float64)."""
    g = generator(seed)
    s_hat = torch.full((p,), 1.0 / math.sqrt(p), dtype=torch.float64)
    if p == 1:
        xi = torch.zeros(1, dtype=torch.float64)
        alpha = 0.0 if alpha < math.pi / 2 else math.pi
    else:
        xi = torch.randn(p, generator=g, dtype=torch.float64)
        xi = xi - (xi @ s_hat) * s_hat
        xi = xi / xi.norm()
    v = math.cos(alpha) * s_hat + math.sin(alpha) * xi
    while True:
        b = torch.randn(k, generator=g, dtype=torch.float64)
        if abs(float(b.sum())) >= ONES_SHARE * float(b.norm()):
            return v / v.norm(), b


def ball_radius(b: Tensor) -> float:
    """r = |1^T a*| / sqrt(k)."""
    return abs(float(b.sum())) / math.sqrt(b.numel())


def second_layer_inits(b: Tensor, count: int, seed: int) -> Tensor:
    """``count`` initial second layers in the ball of radius r (count, k): the
    adversarial point -r a*/||a*|| first, then uniform draws from the ball."""
    k, r = b.numel(), ball_radius(b)
    g = generator(seed)
    d = torch.randn(count, k, generator=g, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    radius = r * torch.rand(count, 1, generator=g, dtype=torch.float64) ** (1.0 / k)
    a0 = d * radius
    a0[0] = -r * b / b.norm()
    return a0


def conv_settings(sizes: Sequence[int], alpha: st.SearchStrategy[float] | None = None,
                  patch_sizes: Sequence[int] | None = None, **extra: st.SearchStrategy) -> st.SearchStrategy[Setting]:
    """Settings {"patches" k, "patch_size" p, "seed", "alpha" (when drawn), ...extra}; k
    from ``sizes``, p from ``patch_sizes`` (default ``sizes``), shrinking to the smallest."""
    fields = {"patches": st.sampled_from(list(sizes)), "patch_size": st.sampled_from(list(patch_sizes or sizes)),
              "seed": SEEDS, **extra}
    return st.fixed_dictionaries({**fields, **({"alpha": alpha} if alpha is not None else {})})
