"""Minimization of many independent problems at once, on stacked flat points.

A *batched objective* F maps points Theta in R^(P x D) (one point per row) to their
losses F(Theta) in R^P, each row's loss depending on that row alone (a vmapped
``functional_call``, say).  Then the gradient of sum_p F_p is every row's own
gradient, and one Adam step on Theta is P independent Adam steps (Adam's update is
per coordinate), so P minima cost one optimizer loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

Batched = Callable[[Tensor], Tensor]


def gradient(F: Batched, theta: Tensor) -> tuple[Tensor, Tensor]:
    """(F(theta), grad F(theta)) row by row, for points ``theta`` (P, D); a gradient of 0
    where F does not depend on theta."""
    with torch.enable_grad():
        point = theta.detach().requires_grad_(True)
        values = F(point)
        if not values.requires_grad:
            return values.detach(), torch.zeros_like(point)
        grad, = torch.autograd.grad(values.sum(), point, allow_unused=True, materialize_grads=True)
    return values.detach(), grad


@dataclass(frozen=True)
class Descent:
    """Where ``adam`` stopped: ``points`` (P, D), their ``losses`` (P,) and gradient
    norms ||grad F|| (P,), and the steps taken."""

    points: Tensor
    losses: Tensor
    gradient_norms: Tensor
    steps: int


def adam(F: Batched, start: Tensor, steps: int, lr: float = 1e-2, lr_end: float = 1e-4,
         until: Tensor | None = None, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-12) -> Descent:
    """Adam from ``start`` (P, D) on every row at once, the step size decaying
    geometrically from ``lr`` to ``lr_end`` over ``steps``.  ``until`` (P,): a row
    whose loss is at most its entry stops moving (the string method asks for a level,
    not a minimum); the loop ends when every row has stopped."""
    theta = start.detach().clone()
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    decay = (lr_end / lr) ** (1 / max(steps - 1, 1))
    moving = torch.ones(theta.shape[0], dtype=torch.bool, device=theta.device)
    taken = 0
    for step in range(steps):
        values, grad = gradient(F, theta)
        if until is not None:
            moving &= ~(values <= until)
            if not bool(moving.any()):
                break
        grad = torch.where(moving[:, None], grad, 0.0)
        m.mul_(betas[0]).add_(grad, alpha=1 - betas[0])
        v.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
        rate = lr * decay ** step * math.sqrt(1 - betas[1] ** (step + 1)) / (1 - betas[0] ** (step + 1))
        theta = theta - rate * torch.where(moving[:, None], m / (v.sqrt() + eps), 0.0)
        taken = step + 1
    values, grad = gradient(F, theta)
    return Descent(theta, values, grad.norm(dim=1), taken)


def polish(F: Batched, start: Tensor, iterations: int = 300) -> Descent:
    """L-BFGS (strong Wolfe line search) from ``start`` (P, D) on sum_p F_p, to drive
    points Adam left near minima further down.  The rows share one line search and one
    curvature history (over the concatenated vector), not one problem each: cheaper than
    P runs, and the sum's minima are the rows' minima.  ``steps``: iterations taken."""
    point = start.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([point], lr=1, max_iter=iterations, tolerance_grad=1e-14, tolerance_change=1e-20,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        value = F(point).sum()
        if value.requires_grad:
            value.backward()
        else:  # F does not depend on theta: gradient 0, nothing to do
            point.grad = torch.zeros_like(point)
        return value
    with torch.enable_grad():
        opt.step(closure)
    theta = point.detach()
    values, grad = gradient(F, theta)
    return Descent(theta, values, grad.norm(dim=1), int(opt.state[point].get("n_iter", 0)))
