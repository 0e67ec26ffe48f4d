"""Shamir, "Are ResNets Provably Better than Linear Predictors?" (NeurIPS 2018,
arXiv:1804.06739): the residual unit, as a family.

A residual unit reads x in R^d through any feature network F_theta: R^d -> R^m,

    p(x) = w^T (x + V F_theta(x)),   w in R^d, V in R^(d x m),

trained on F(w, V, theta) = mean_i l(p(x_i); y_i) with l convex in the prediction.  The
linear predictors u^T x are the units with V F_theta = 0, and F_lin* = min_u F_lin(u) is
the baseline.  No bias anywhere: the unit and the baseline share that convention.

A subject names three parts (``Adapter.parts``; defaults: attributes of these names):
``head`` (w), ``mixing`` (V) and ``features`` (F_theta, a module or function x -> (n, m)).
The references: ``shamir2018.reference`` (random MLP features of depth 1 to 4 with ReLU,
tanh or sin, drawn by the strategies), ``shamir2018.no_skip`` (p = w^T V F_theta(x), the
converse's model) and ``shamir2018.tweaked`` (p = w^T x + v^T F_theta(x), the Sect. 5
architecture for SGD [RECON]).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from resclaims.family import Adapter, Family, Subject, scalar_output

__all__ = ["RESIDUAL_UNIT", "ACTIVATIONS", "FeatureMLP", "ResidualUnit", "residual_unit", "SUBJECTS"]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu, "tanh": torch.tanh, "sin": torch.sin}


class FeatureMLP(nn.Module):
    """F_theta: ``depth`` layers of width ``hidden`` with ``activation``, ending in m
    features (an activation after the last layer too, so F_theta is no linear map)."""

    def __init__(self, d: int, m: int, depth: int, activation: str, hidden: int, generator: torch.Generator,
                 dtype: torch.dtype) -> None:
        super().__init__()
        sizes = [d] + [hidden] * (depth - 1) + [m]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes, sizes[1:]))
        with torch.no_grad():
            for layer in self.layers:
                layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features), generator=generator)
                layer.bias.normal_(0.0, 0.5, generator=generator)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = self.activation(layer(x))
        return x


class ResidualUnit(nn.Module):
    """p(x) = w^T (x + V F(x)) (``skip`` "identity"), w^T V F(x) ("none") or
    w^T x + v^T F(x) ("tweaked", V a single row v)."""

    def __init__(self, features: nn.Module, d: int, m: int, skip: str, scale: float, generator: torch.Generator,
                 dtype: torch.dtype) -> None:
        super().__init__()
        self.features = features
        rows = 1 if skip == "tweaked" else d
        self.head = nn.Parameter(scale * torch.randn(d, generator=generator, dtype=dtype) / math.sqrt(d))
        self.mixing = nn.Parameter(scale * torch.randn(rows, m, generator=generator, dtype=dtype) / math.sqrt(m))
        self.skip = skip
        self.input_shape = (d,)

    def forward(self, x: Tensor) -> Tensor:
        branch = self.features(x) @ self.mixing.T
        if self.skip == "identity":
            return (x + branch) @ self.head
        if self.skip == "none":
            return branch @ self.head
        return x @ self.head + branch[:, 0]


def residual_unit(in_dim: int, features: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                  depth: int = 2, activation: str = "tanh", hidden: int = 16, scale: float = 1.0,
                  skip: str = "identity") -> ResidualUnit:
    """The reference unit with random MLP features (``depth`` layers, ``activation``)."""
    if skip not in ("identity", "none", "tweaked"):
        raise ValueError(f"unknown skip {skip!r}")
    net = FeatureMLP(in_dim, features, depth, activation, hidden, generator, dtype)
    return ResidualUnit(net, in_dim, features, skip, scale, generator, dtype)


RESIDUAL_UNIT = Family(
    name="residual-unit",
    keywords=("in_dim", "features"),
    probe={"in_dim": 3, "features": 2},
    validate=scalar_output,
    doc="p(x) = w^T (x + V F_theta(x)) for any feature network F_theta; build(in_dim, features) names head (w), "
        "mixing (V) and features (F_theta)",
    blocks=False,
    vocabulary={"skip": ("identity", "none", "tweaked")},
)


def _reference(name: str, doc: str, skip: str) -> Subject:
    def build(in_dim: int, features: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
              depth: int = 2, activation: str = "tanh", scale: float = 1.0) -> ResidualUnit:
        return residual_unit(in_dim, features, generator=generator, dtype=dtype, depth=depth, activation=activation,
                             scale=scale, skip=skip)
    return Subject(name, RESIDUAL_UNIT, Adapter(build, fixed={"skip": skip}), doc)


SUBJECTS = [
    _reference("shamir2018.reference", "p(x) = w^T (x + V F(x)), F a random MLP", "identity"),
    _reference("shamir2018.no_skip", "p(x) = w^T V F(x): the unit without its skip", "none"),
    _reference("shamir2018.tweaked", "p(x) = w^T x + v^T F(x): the Sect. 5 architecture [RECON]", "tweaked"),
]
