"""Losses, per-layer gradients and full-batch gradient descent, batched over seeds.

Squared loss per seed s: F_s(W) = sum_i (1/2) ||f_s(x_i; W) - y_i||^2.  The S models
share no parameters, so one backward pass of sum_s F_s gives every seed's own
gradient, and one GD step on the stacked tensors is S independent GD steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from resclaims.core.ensemble import Ensemble


def outputs(ens: Ensemble, x: Tensor) -> Tensor:
    """y_hat for every seed: (S, n, d)."""
    return ens.head(ens.blocks(ens.stem(x)))


def squared_loss(ens: Ensemble, x: Tensor, y: Tensor) -> Tensor:
    """F_s = sum_i (1/2) ||y_hat_{s,i} - y_i||^2 for every seed: shape (S,)."""
    return 0.5 * (outputs(ens, x) - y).pow(2).flatten(1).sum(1)


def cross_entropy(ens: Ensemble, x: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the logits y_hat_s against ``labels`` per seed: shape (S,)."""
    logits = outputs(ens, x)
    return torch.stack([torch.nn.functional.cross_entropy(z, labels) for z in logits])


def layer_gradients(ens: Ensemble, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(F, G): F the loss per seed (S,), G[s, l] = ||grad_{W_l} F_s||_F, shape (S, L)."""
    params = [ens.block_parameters(l) for l in range(ens.depth)]
    flat = [p for ps in params for p in ps]
    for p in flat:
        p.requires_grad_(True)
    loss = squared_loss(ens, x, y)
    grads = torch.autograd.grad(loss.sum(), flat)
    for p in flat:
        p.requires_grad_(False)
    out, k = [], 0
    for ps in params:
        out.append(ens.per_seed_sq_norm(len(out), grads[k:k + len(ps)]).sqrt())
        k += len(ps)
    return loss.detach(), torch.stack(out, dim=1).detach()


@dataclass(frozen=True)
class Trajectory:
    """losses[t, s] = F_s after t GD steps, t = 0..T (NaN/inf kept as measured)."""

    losses: Tensor


def gradient_descent(loss: Callable[[], Tensor], params: Sequence[Tensor], lr: float,
                     steps: int) -> Trajectory:
    """``steps`` steps of theta <- theta - lr grad_theta F_s for every seed at once, where
    ``loss()`` returns the per-seed losses (S,) and ``params`` are the trained tensors.
    Stops early once every seed's loss is non-finite (diverged)."""
    for p in params:
        p.requires_grad_(True)
    losses = []
    try:
        for step in range(steps + 1):
            value = loss()
            losses.append(value.detach())
            if step == steps or not bool(torch.isfinite(value).any()):
                break
            grads = torch.autograd.grad(value.sum(), params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(lr * g)
    finally:
        for p in params:
            p.requires_grad_(False)
    return Trajectory(torch.stack(losses))


def block_parameters(ens: Ensemble) -> list[Tensor]:
    """The parameters of every residual block (the W_l of the theory)."""
    return [p for layer in range(ens.depth) for p in ens.block_parameters(layer)]
