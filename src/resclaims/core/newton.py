"""A trust-region Newton method for smooth nonconvex functions of a few dozen variables.

``trust_region(fn, start)`` minimises fn: R^P -> R with its exact Hessian (autograd, dense:
P up to a few hundred) and solves each trust-region subproblem

    min_s  g^T s + (1/2) s^T H s   subject to ||s|| <= Delta

exactly by the eigendecomposition of H (Moré and Sorensen's characterisation: s = -(H +
mu I)^+ g with mu >= max(0, -lambda_min) and mu (Delta - ||s||) = 0, the "hard case" (g
orthogonal to the lowest eigenvector) completed along that eigenvector).  Unlike Newton's
method with a shifted Hessian (``resclaims.core.convex.newton``), a step follows negative
curvature as far as the model is trusted, so the method leaves saddles and indefinite
regions in a few steps and converges quadratically near a nondegenerate minimum (Nocedal
and Wright, Numerical Optimization, 2nd ed., Ch. 4).  Written from the textbook; float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

EPS = torch.finfo(torch.float64).eps


@dataclass(frozen=True)
class Region:
    """Where ``trust_region`` stopped: ``point``, ``value`` and ``gradient_norm`` there, the
    Hessian's extreme eigenvalues ``lambda_min`` and ``hessian_norm`` (max |lambda|) at it,
    the ``steps`` accepted and ``iterations`` tried, and why it stopped (``reason``:
    "converged", "max steps", "radius collapsed" or "not finite")."""

    point: Tensor
    value: float
    gradient_norm: float
    lambda_min: float
    hessian_norm: float
    steps: int
    iterations: int
    reason: str


def subproblem(g: Tensor, eigenvalues: Tensor, vectors: Tensor, radius: float) -> Tensor:
    """argmin_{||s|| <= radius} g^T s + (1/2) s^T H s for H = vectors diag(eigenvalues)
    vectors^T (``torch.linalg.eigh``'s output, ascending), exactly up to a bisection on mu."""
    gh = vectors.T @ g
    low = float(eigenvalues[0])

    def step(mu: float) -> Tensor:
        shifted = eigenvalues + mu
        return -vectors @ torch.where(shifted > 0, gh / shifted.clamp_min(1e-300), torch.zeros_like(gh))

    if low > 0:
        s = step(0.0)
        if float(s.norm()) <= radius:
            return s  # the Newton step lies inside the region
    floor = max(0.0, -low)
    # ||s(mu)|| decreases in mu > floor; at mu -> floor+ it may stay below the radius (the hard case)
    tiny = floor + 1e-14 * max(1.0, abs(low), float(eigenvalues[-1].abs()))
    inner = step(tiny)
    if float(inner.norm()) <= radius:  # hard case: complete along the lowest eigenvector to the boundary
        lowest = vectors[:, 0]
        slack = radius ** 2 - float(inner @ inner)
        return inner + math.sqrt(max(slack, 0.0)) * lowest
    hi = floor + float(g.norm()) / radius + 1.0
    while float(step(hi).norm()) > radius:
        hi = floor + 2 * (hi - floor)
    lo = tiny
    for _ in range(200):  # bisection in mu; ||s|| to relative 1e-12 is ample for a trust region
        mid = 0.5 * (lo + hi)
        if float(step(mid).norm()) > radius:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return step(hi)


def trust_region(fn: Callable[[Tensor], Tensor], start: Tensor, tol: float = 1e-10, max_steps: int = 200,
                 radius: float = 1.0, max_radius: float = 1e3) -> Region:
    """argmin fn from ``start`` by trust-region Newton steps with the exact Hessian (see the
    module).  Stops at ||grad|| <= ``tol``, after ``max_steps`` iterations, when the radius
    falls below 1e-14 (1 + ||x||), or at a non-finite value.  A step is accepted when the
    actual decrease is at least 1e-4 of the model's; where the model's decrease is below
    float64 resolution of fn (100 eps (1 + |fn|)) the value cannot tell, and a step is
    accepted when it decreases the gradient norm instead."""
    x = start.detach().clone()
    grad = torch.func.grad(fn)
    hess = torch.func.hessian(fn)
    value, g = float(fn(x)), grad(x)
    steps = iterations = 0
    reason = "max steps"
    while iterations < max_steps:
        if not (math.isfinite(value) and bool(torch.isfinite(g).all())):
            reason = "not finite"
            break
        if float(g.norm()) <= tol:
            reason = "converged"
            break
        iterations += 1
        h = hess(x)
        h = 0.5 * (h + h.T)
        if not bool(torch.isfinite(h).all()):
            reason = "not finite"
            break
        eigenvalues, vectors = torch.linalg.eigh(h)
        s = subproblem(g, eigenvalues, vectors, radius)
        predicted = -float(g @ s + 0.5 * s @ (h @ s))
        trial = x + s
        new_value = float(fn(trial))
        new_g = grad(trial) if math.isfinite(new_value) else g
        if predicted <= 100 * EPS * (1 + abs(value)):  # below what the values resolve: judge by the gradient
            accept = math.isfinite(new_value) and float(new_g.norm()) < float(g.norm())
            ratio = 1.0 if accept else 0.0
        else:
            ratio = (value - new_value) / predicted if math.isfinite(new_value) else -math.inf
            accept = ratio >= 1e-4
        length = float(s.norm())
        if ratio < 0.25:
            radius = 0.25 * length
        elif ratio > 0.75 and length >= 0.99 * radius:
            radius = min(2 * radius, max_radius)
        if accept:
            x, value, g = trial, new_value, new_g
            steps += 1
        if radius < 1e-14 * (1 + float(x.norm())):
            reason = "radius collapsed"
            break
    else:
        if float(g.norm()) <= tol:
            reason = "converged"
    h = hess(x)
    eigenvalues = torch.linalg.eigvalsh(0.5 * (h + h.T)) if bool(torch.isfinite(h).all()) else h.new_full((1,), math.nan)
    return Region(x, value, float(g.norm()), float(eigenvalues[0]), float(eigenvalues.abs().max()), steps, iterations,
                  reason)
