"""Population (Gaussian-input) losses of two-layer ReLU networks on non-overlapping patches.

The network f(Z) = sum_j a_j relu(Z_j^T u) reads k patches Z_1..Z_k in R^p with
independent N(0, I_p) entries through one filter u in R^p.  For z ~ N(0, I_p) and
any u, v with c = u^T v / (||u|| ||v||) (the arc-cosine kernel of degree 1):

    E[relu(z^T u) relu(z^T v)] = ||u|| ||v|| g(c),   g(c) = ((pi - arccos c) c + sqrt(1 - c^2)) / (2 pi),
    E[relu(z^T u)] = ||u|| / sqrt(2 pi),

so the squared loss against a teacher f*(Z) = sum_j b_j relu(Z_j^T v) is, patches
being independent,

    L = (1/2) E (f - f*)^2 = (1/2) [Q(u, a; u, a) - 2 Q(u, a; v, b) + Q(v, b; v, b)],
    Q(u, a; v, b) = ||u|| ||v|| [g(c) a^T b + ((1^T a)(1^T b) - a^T b) / (2 pi)].

d arccos c / dc is infinite at c = +-1 (at the global optimum u || v and at the
spurious point u || -v, and wherever a student starts aligned with its teacher), but
dg/dc = (pi - arccos c) / (2 pi) is finite everywhere:
``arc_cosine`` is g with that backward, so gradients stay finite at c = +-1.
Everything broadcasts over leading (batch) dimensions.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from resclaims.core.data import generator


class _ArcCosine(torch.autograd.Function):
    """g(c) with the finite derivative (pi - arccos c) / (2 pi)."""

    @staticmethod
    def forward(ctx, c: Tensor) -> Tensor:  # type: ignore[override]
        c = c.clamp(-1.0, 1.0)
        ctx.save_for_backward(c)
        return ((math.pi - torch.arccos(c)) * c + torch.sqrt((1 - c * c).clamp_min(0.0))) / (2 * math.pi)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (c,) = ctx.saved_tensors
        return grad * (math.pi - torch.arccos(c)) / (2 * math.pi)


def arc_cosine(c: Tensor) -> Tensor:
    """g(c) = E[relu(z^T u) relu(z^T v)] for unit u, v with u^T v = c (finite gradient)."""
    return _ArcCosine.apply(c)


def cross_moment(u: Tensor, a: Tensor, v: Tensor, b: Tensor) -> Tensor:
    """Q(u, a; v, b) = E[f_(u,a)(Z) f_(v,b)(Z)] over Gaussian patches; u, v (..., p),
    a, b (..., k); shape (...)."""
    nu, nv = u.norm(dim=-1), v.norm(dim=-1)
    c = (u * v).sum(-1) / (nu * nv)
    ab = (a * b).sum(-1)
    return nu * nv * (arc_cosine(c) * ab + (a.sum(-1) * b.sum(-1) - ab) / (2 * math.pi))


def population_loss(u: Tensor, a: Tensor, v: Tensor, b: Tensor) -> Tensor:
    """L = (1/2) E (f_(u,a) - f_(v,b))^2 (module docstring), shape of the broadcast
    leading dimensions."""
    return 0.5 * (cross_moment(u, a, u, a) - 2 * cross_moment(u, a, v, b) + cross_moment(v, b, v, b))


def population_gradients(u: Tensor, a: Tensor, v: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(L, dL/du, dL/da) of :func:`population_loss`, in closed form (no autograd graph):
    with n = ||u||, c = u^T v / (n ||v||), S = 1^T a,

        dL/da = (n^2/2) [(1 - 1/pi) a + S/pi 1] - n ||v|| [g(c) b + ((1^T b) 1 - b)/(2 pi)],
        dL/du = [a^T a / 2 + (S^2 - a^T a)/(2 pi)] u
                - ||v|| [g(c) a^T b + (S 1^T b - a^T b)/(2 pi)] u/n - g'(c) a^T b (v - c ||v|| u/n),

    g'(c) = (pi - arccos c)/(2 pi), finite at c = +-1."""
    nu, nv = u.norm(dim=-1, keepdim=True), v.norm(dim=-1, keepdim=True)
    c = ((u * v).sum(-1, keepdim=True) / (nu * nv)).clamp(-1.0, 1.0)
    g = ((math.pi - torch.arccos(c)) * c + torch.sqrt((1 - c * c).clamp_min(0.0))) / (2 * math.pi)
    dg = (math.pi - torch.arccos(c)) / (2 * math.pi)
    sa, sb = a.sum(-1, keepdim=True), b.sum(-1, keepdim=True)
    aa, ab, bb = (a * a).sum(-1, keepdim=True), (a * b).sum(-1, keepdim=True), (b * b).sum(-1, keepdim=True)
    self_a = 0.5 * aa + (sa * sa - aa) / (2 * math.pi)
    cross = g * ab + (sa * sb - ab) / (2 * math.pi)
    self_b = 0.5 * bb + (sb * sb - bb) / (2 * math.pi)
    loss = 0.5 * (nu * nu * self_a + nv * nv * self_b) - nu * nv * cross
    grad_a = 0.5 * nu * nu * ((1 - 1 / math.pi) * a + sa / math.pi) - nu * nv * (g * b + (sb - b) / (2 * math.pi))
    grad_u = self_a * u - nv * cross * u / nu - dg * ab * (v - c * nv * u / nu)
    return loss.squeeze(-1), grad_u, grad_a


def patches(n: int, k: int, p: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """n inputs of k non-overlapping Gaussian patches: shape (n, k, p), N(0, 1) entries."""
    return torch.randn(n, k, p, generator=generator(seed), dtype=dtype)


def two_layer(z: Tensor, u: Tensor, a: Tensor) -> Tensor:
    """f(Z) = sum_j a_j relu(Z_j^T u) for Z (n, k, p): shape (n,)."""
    return torch.relu(z @ u) @ a
