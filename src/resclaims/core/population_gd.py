"""Batched gradient descent on the population loss of a two-layer conv ResNet subject.

B runs (second-layer inits a0_b, first-layer inits w0_b, teachers (v*_b, a*_b)) advance
together as one tensor program: W (B, p) and A (B, k) are stacked, the subject's own
filter maps W to the filters U (B, p), and the Gaussian closed form
(``resclaims.core.gaussian.population_gradients``) gives the B losses and their
gradients in closed form, chained through the filter by one small backward pass per step
(``resclaims.core.train.gradient_descent`` with layer-wise step sizes eta_w, eta_a).
Runs stop in chunks of CHUNK steps once each has converged (L_T <= STOP_RTOL E f*^2) or
stalled (its loss moved by less than STALL_RTOL of itself over a chunk: the spurious
point, or a frozen layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from resclaims.core import gaussian, train

CHUNK = 500
STOP_RTOL = 1e-12   # converged: two decades below the claims' success threshold
STALL_RTOL = 1e-9   # stalled: relative loss change over a chunk


@dataclass(frozen=True)
class Runs:
    """Per run (B,): ``relative_loss`` L_T / E f*^2, ``cosine`` v_T^T v* of the final
    filter direction, ``a_error`` ||a_T - a*|| / ||a*||; ``steps`` taken (the longest
    run); ``losses`` (T + 1, B) relative losses; ``aligned_at`` the first step t with
    a_t^T a* > 0 (-1 if never) and ``w_norm_at_alignment`` ||w_t|| there; ``w``, ``a``
    the final layers."""

    relative_loss: Tensor
    cosine: Tensor
    a_error: Tensor
    steps: int
    losses: Tensor
    aligned_at: Tensor
    w_norm_at_alignment: Tensor
    w: Tensor
    a: Tensor


def population_gd(filt: Callable[[Tensor], Tensor], w0: Tensor, a0: Tensor, v: Tensor, b: Tensor,
                  eta_w: float, eta_a: float, train_w: bool, train_a: bool, max_steps: int) -> Runs:
    """GD on L(filt(w), a; v*, a*) from (w0, a0), B runs at once (see module docstring).
    ``train_w``/``train_a``: whether the subject trains that layer."""
    w, a = w0.clone(), a0.clone()
    energy = gaussian.cross_moment(v, b, v, b)
    aligned_at = torch.full(energy.shape, -1, dtype=torch.long)
    w_at = torch.full(energy.shape, math.nan, dtype=w.dtype)
    clock = {"done": 0, "calls": 0}  # the state seen by a call is after done + calls steps

    def loss() -> tuple[Tensor, list[Tensor]]:
        nonlocal aligned_at, w_at
        with torch.no_grad():
            first = ((a * b).sum(-1) > 0) & (aligned_at < 0)
            aligned_at = torch.where(first, clock["done"] + clock["calls"], aligned_at)
            w_at = torch.where(first, w.norm(dim=-1), w_at)
        clock["calls"] += 1
        with torch.set_grad_enabled(train_w):
            u = filt(w)
        value, grad_u, grad_a = gaussian.population_gradients(u.detach(), a.detach(), v, b)
        scale = energy.unsqueeze(-1)
        grads = [torch.autograd.grad(u, w, grad_u / scale)[0]] if train_w else []
        return value / energy, grads + ([grad_a / scale] if train_a else [])

    params = [t for t, trained in ((w, train_w), (a, train_a)) if trained]
    rates = [r for r, trained in ((eta_w, train_w), (eta_a, train_a)) if trained]
    chunks: list[Tensor] = []
    while True:
        clock["calls"] = 0
        traj = train.gradient_descent(loss, params, rates, min(CHUNK, max_steps - clock["done"]),
                                      stop_below=torch.full_like(energy, STOP_RTOL))
        clock["done"] += traj.losses.shape[0] - 1
        chunks.append(traj.losses if not chunks else traj.losses[1:])
        first, last = traj.losses[0], traj.losses[-1]
        moving = (first - last).abs() > STALL_RTOL * last.abs()
        active = torch.isfinite(last) & (last > STOP_RTOL) & moving
        if clock["done"] >= max_steps or not bool(active.any()):
            break
    with torch.no_grad():
        u = filt(w)
        cosine = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))
    losses = torch.cat(chunks)
    return Runs(losses[-1], cosine, (a - b).norm(dim=-1) / b.norm(dim=-1), clock["done"], losses, aligned_at, w_at,
                w.detach(), a.detach())


def batched_filter(filt: Callable[[Tensor], Tensor], p: int) -> Callable[[Tensor], Tensor]:
    """``filt`` on a batch W (B, p): itself when it broadcasts over rows (checked on two
    rows), else under ``torch.func.vmap``."""
    probe = torch.stack([torch.linspace(-0.3, 0.5, p, dtype=torch.float64),
                         torch.linspace(0.4, -0.2, p, dtype=torch.float64)])
    try:
        together = filt(probe)
        rows = torch.stack([filt(probe[0]), filt(probe[1])])
        if together.shape == probe.shape and torch.allclose(together, rows, rtol=1e-12, atol=0.0, equal_nan=True):
            return filt
    except RuntimeError:
        pass
    return torch.func.vmap(filt)


def angle(cosine: float) -> float:
    """arccos, clamped to [-1, 1]."""
    return math.acos(max(-1.0, min(1.0, cosine)))
