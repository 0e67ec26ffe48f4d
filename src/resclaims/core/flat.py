"""A model as a function of one flat parameter vector, and the hidden-unit symmetries
that act on it.

``Flat`` lays a model's parameters end to end, theta in R^D, so that landscape
estimators see points and paths, not modules: ``outputs(Theta)`` evaluates the model
at every row of Theta (P, D) at once (``vmap`` over ``functional_call``), ``loss``
gives F(theta) = (1/N) sum_i (f(x_i; theta) - y_i)^2 per row.

A layer of m hidden units is described by ``Units``: the parameters indexed by the
unit (each viewed as m rows: incoming weights, outgoing readout, ...).  Relabelling the
units by a permutation pi moves every one of these rows together and leaves f unchanged;
``align`` finds the pi that best matches one point's units to another's (Hungarian
assignment on the cosine of the concatenated unit rows, as in Entezari et al. 2022),
and ``normalize`` uses positive homogeneity, relu(c z) = c relu(z) for c > 0, to put
every unit's incoming row at unit norm with the readout compensating (F&B's WLOG).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn
from torch.func import functional_call, vmap


CHUNK = 256  # rows of theta per batched model call


@dataclass(frozen=True)
class Units:
    """Names of the parameters of one hidden layer of ``count`` = m units: ``incoming``
    rows (the unit's input weights, rescaled by c under homogeneity) and ``outgoing``
    rows (its readout, rescaled by 1/c).  Every tensor is viewed as (m, -1): a (1, m)
    readout as m rows of one entry."""

    incoming: tuple[str, ...]
    outgoing: tuple[str, ...]
    count: int

    @property
    def names(self) -> tuple[str, ...]:
        return self.incoming + self.outgoing


class Flat:
    """``model`` as theta -> f(x; theta) on fixed data (x, y).  Parameters not named
    are fixed at their current values only if ``frozen`` lists them; by default every
    parameter is part of theta."""

    def __init__(self, model: nn.Module, x: Tensor, y: Tensor, frozen: tuple[str, ...] = ()) -> None:
        self.model, self.x, self.y = model, x, y
        named = dict(model.named_parameters())
        self.names = [n for n in named if n not in frozen]
        self.shapes = [named[n].shape for n in self.names]
        self.sizes = [named[n].numel() for n in self.names]
        self.fixed = {n: named[n].detach() for n in frozen}
        self.dim = sum(self.sizes)
        self.chunk = CHUNK

    def point(self) -> Tensor:
        """The model's current theta (D,)."""
        named = dict(self.model.named_parameters())
        return torch.cat([named[n].detach().reshape(-1) for n in self.names])

    def unflatten(self, theta: Tensor) -> dict[str, Tensor]:
        """theta (D,) as the model's named tensors."""
        parts = torch.split(theta, self.sizes)
        return {**self.fixed, **{n: p.view(s) for n, p, s in zip(self.names, parts, self.shapes)}}

    def output(self, theta: Tensor, x: Tensor | None = None) -> Tensor:
        """f(x; theta) for one point theta (D,), on ``x`` (default: the data)."""
        return functional_call(self.model, self.unflatten(theta), (self.x if x is None else x,))

    def outputs(self, thetas: Tensor) -> Tensor:
        """f(x_i; theta_p) for every row theta_p of ``thetas`` (P, D): (P, N)."""
        return vmap(self.output)(thetas)

    def loss(self, thetas: Tensor) -> Tensor:
        """F(theta_p) = (1/N) sum_i (f(x_i; theta_p) - y_i)^2 per row: (P,), evaluated
        ``chunk`` rows at a time so that a dense path profile (hundreds of points) holds
        the activations of at most ``chunk`` models at once."""
        return torch.cat([(self.outputs(part) - self.y).pow(2).mean(-1) for part in thetas.split(self.chunk)])

    def rows(self, theta: Tensor, name: str, m: int) -> Tensor:
        """Parameter ``name`` of theta viewed as (m, -1)."""
        i = self.names.index(name)
        start = sum(self.sizes[:i])
        return theta[..., start:start + self.sizes[i]].reshape(*theta.shape[:-1], m, -1)

    def with_rows(self, theta: Tensor, name: str, rows: Tensor) -> Tensor:
        """theta with parameter ``name`` replaced by ``rows`` (m, -1)."""
        i = self.names.index(name)
        start = sum(self.sizes[:i])
        out = theta.clone()
        out[..., start:start + self.sizes[i]] = rows.reshape(*theta.shape[:-1], -1)
        return out

    def permute(self, theta: Tensor, units: Units, perm: Tensor) -> Tensor:
        """theta with the units relabelled: row j of every unit tensor becomes row perm[j]."""
        for name in units.names:
            theta = self.with_rows(theta, name, self.rows(theta, name, units.count)[..., perm, :])
        return theta

    def scale(self, theta: Tensor, units: Units, factors: Tensor) -> Tensor:
        """theta with unit j's incoming rows times factors[j] and outgoing rows divided by it."""
        for name in units.incoming:
            theta = self.with_rows(theta, name, self.rows(theta, name, units.count) * factors[:, None])
        for name in units.outgoing:
            theta = self.with_rows(theta, name, self.rows(theta, name, units.count) / factors[:, None])
        return theta

    def incoming_norms(self, theta: Tensor, units: Units) -> Tensor:
        """||(w_j, u_j, ...)|| per unit: the norm of its concatenated incoming rows (m,)."""
        return torch.cat([self.rows(theta, n, units.count) for n in units.incoming], -1).norm(dim=-1)

    def normalize(self, theta: Tensor, units: Units) -> Tensor:
        """theta rescaled so every unit with a non-zero incoming row has norm 1 (f unchanged
        when the units are positively homogeneous)."""
        norms = self.incoming_norms(theta, units)
        return self.scale(theta, units, torch.where(norms > 0, 1 / norms, torch.ones_like(norms)))

    def align(self, reference: Tensor, theta: Tensor, units: Units) -> Tensor:
        """theta with its units relabelled to match ``reference``'s: the permutation
        maximizing sum_j cos(z_j(reference), z_pi(j)(theta)), z_j = unit j's rows concatenated."""
        def unit_vectors(t: Tensor) -> Tensor:
            z = torch.cat([self.rows(t, n, units.count) for n in units.names], -1)
            return z / z.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)
        cosine = unit_vectors(reference) @ unit_vectors(theta).T
        _, perm = linear_sum_assignment(cosine.cpu().numpy(), maximize=True)
        return self.permute(theta, units, torch.as_tensor(perm, device=theta.device))
