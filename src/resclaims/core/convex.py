"""Convex losses of a prediction and exact minimisation of smooth functions of a small vector.

Each loss l(p; y) is convex and differentiable in the prediction p and returns the
per-sample values; ``mean_loss`` averages them.  ``newton`` minimises a smooth function
of a vector of a few dozen entries by Newton's method with a backtracking line search
(its Hessian by autograd), to a gradient norm of ``tol``: the best linear predictor
F_lin* = min_u mean l(u^T x; y) for any of these losses, and any inner problem that is
convex in a few parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

PredictionLoss = Callable[[Tensor, Tensor], Tensor]
HUBER_DELTA = 1.0


def squared(p: Tensor, y: Tensor) -> Tensor:
    """(1/2)(p - y)^2."""
    return 0.5 * (p - y) ** 2


def logistic(p: Tensor, y: Tensor) -> Tensor:
    """log(1 + exp(-y p)) for labels y in {-1, +1}."""
    return F.softplus(-y * p)


def huber(p: Tensor, y: Tensor) -> Tensor:
    """(1/2) r^2 for |r| <= delta, delta (|r| - delta/2) beyond, r = p - y."""
    return F.huber_loss(p, y, reduction="none", delta=HUBER_DELTA)


LOSSES: dict[str, PredictionLoss] = {"squared": squared, "logistic": logistic, "huber": huber}


@dataclass(frozen=True)
class Minimum:
    """``point`` with ``value`` and ``gradient_norm`` there, after ``steps`` Newton steps."""

    point: Tensor
    value: float
    gradient_norm: float
    steps: int


def newton(fn: Callable[[Tensor], Tensor], start: Tensor, tol: float = 1e-10, max_steps: int = 100) -> Minimum:
    """argmin fn by damped Newton steps: the Hessian shifted by the first of 0, s, 2s, 4s,
    ... (s = 1e-12 max|H|) that makes it positive definite, then Armijo backtracking.
    Stops at ||grad|| <= tol, after ``max_steps`` steps, or where no step decreases fn
    (a non-finite value or Hessian, or a line search that finds no decrease)."""
    x = start.detach().clone()
    steps = 0
    while steps < max_steps:
        g = torch.func.grad(fn)(x)
        if float(g.norm()) <= tol:
            break
        h = torch.func.hessian(fn)(x)
        top = float(h.abs().max())
        if not (math.isfinite(top) and top > 0):
            break
        shift, eye = 0.0, torch.eye(h.shape[0], dtype=h.dtype, device=h.device)
        while True:  # h + shift I positive definite; shift <= 2 (|lambda_min| + s) < infinity
            chol, info = torch.linalg.cholesky_ex(h + shift * eye)
            if int(info) == 0:
                break
            shift = max(2 * shift, 1e-12 * top)
        direction = -torch.cholesky_solve(g.unsqueeze(1), chol).squeeze(1)
        value, t, slope0 = float(fn(x)), 1.0, float(g @ direction)
        while not float(fn(x + t * direction)) <= value + 1e-4 * t * slope0:  # NaN counts as no decrease
            t /= 2
            if t < 1e-12:
                break
        if t < 1e-12:
            break
        x = x + t * direction
        steps += 1
    g = torch.func.grad(fn)(x)
    return Minimum(x, float(fn(x)), float(g.norm()), steps)
