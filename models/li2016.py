"""Li, Jiao, Han, Weissman, "Demystifying ResNet" (arXiv:1611.01186): residual stacks
with shortcut depth n, as a family of architectures.

A stack of L residual units of width d, each skipping n weight layers:

    h_0 = x in R^d,   h_l = h_{l-1} + W_l^(n) s(... s(W_l^(1) h_{l-1})),   y_hat = h_L,

every W_l^(k) a d x d matrix with no bias, s a smooth activation with s(0) = 0 and
s'(0) = 1 (identity, the paper's linear case, or tanh) applied between the branch's
layers [model class PAPER; exact placement of s RECON].  The loss is
R(W) = (1/2N) sum_i ||y_hat(x_i) - y_i||^2.  ``shortcut_stack`` builds the reference
for every n (n = 1, 2, 3, 4 are the shortcut depths the claims use) and every
initialisation the paper compares (``initialise_``); ``plain_linear`` is the network
without shortcuts, h_l = V_l h_{l-1}, parametrised so that its zero point is V_l = I:
the 1-shortcut stack reparametrised (V_l = I + W_l), which the paper calls
"essentially no shortcut".
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from resclaims.core.ensemble import input_of
from resclaims.core.modules import UndrawnLinear
from resclaims.family import Adapter, Family, Subject, SubjectError, sequential_output

__all__ = ["SHORTCUT_STACK", "ACTIVATIONS", "INITS", "Unit", "ShortcutStack", "shortcut_stack",
           "plain_linear", "initialise_", "SUBJECTS"]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"identity": lambda z: z, "tanh": torch.tanh}
INITS = ("zero", "gaussian", "xavier", "orthogonal")


def initialise_(weight: Tensor, init: str, scale: float, generator: torch.Generator) -> Tensor:
    """Fill a (d_out, d_in) ``weight`` in place: ``zero``; ``gaussian`` N(0, scale^2)
    entries (the paper's "small weights"); ``xavier`` N(0, 1/d_in); ``orthogonal`` a
    Haar-random matrix with orthonormal columns (rows, if wide): QR of a Gaussian, signs
    fixed by diag R > 0."""
    with torch.no_grad():
        if init == "zero":
            return weight.zero_()
        if init == "gaussian":
            return weight.normal_(0.0, scale, generator=generator)
        if init == "xavier":
            return weight.normal_(0.0, 1.0 / math.sqrt(weight.shape[1]), generator=generator)
        if init == "orthogonal":  # orthonormal columns, or rows for a wide matrix
            tall = weight.shape[0] >= weight.shape[1]
            g = torch.randn(weight.shape if tall else weight.shape[::-1], generator=generator, dtype=torch.float64)
            q, r = torch.linalg.qr(g)
            q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
            return weight.copy_(q if tall else q.T)
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")


def linear(width: int, dtype: torch.dtype, bias: bool = False) -> nn.Linear:
    """A d x d layer whose weight is left for ``initialise_`` (no default init drawn)."""
    return UndrawnLinear(width, width, bias=bias, dtype=dtype)


class Unit(nn.Module):
    """h -> h + W^(n) s(... s(W^(1) h)): one residual unit of shortcut depth n."""

    def __init__(self, width: int, shortcut_depth: int, activation: str, dtype: torch.dtype) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.layers = nn.ModuleList(linear(width, dtype) for _ in range(shortcut_depth))
        self.activation = ACTIVATIONS[activation]

    def branch(self, h: Tensor) -> Tensor:
        for k, layer in enumerate(self.layers):
            h = layer(h) if k == 0 else layer(self.activation(h))
        return h

    def forward(self, h: Tensor) -> Tensor:
        return h + self.branch(h)


class ShortcutStack(nn.Module):
    """The units, applied in order; ``blocks`` names them for resclaims."""

    def __init__(self, units: Sequence[nn.Module], width: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(units)
        self.input_shape = (width,)

    @property
    def blocks(self) -> list[nn.Module]:
        return list(self.units)

    def forward(self, x: Tensor) -> Tensor:
        for unit in self.units:
            x = unit(x)
        return x


def shortcut_stack(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *,
                   generator: torch.Generator, dtype: torch.dtype = torch.float64,
                   shortcut_depth: int = 2, activation: str = "identity",
                   unit_class: type[Unit] = Unit) -> ShortcutStack:
    """L = ``depth`` units of width d = ``width`` and shortcut depth n =
    ``shortcut_depth``, every weight initialised by ``initialise_(init, scale)`` in unit
    then layer order from ``generator``.  ``unit_class`` lets mutants swap the unit."""
    if shortcut_depth < 1:
        raise ValueError(f"shortcut_depth must be >= 1, got {shortcut_depth}")
    units = [unit_class(width, shortcut_depth, activation, dtype) for _ in range(depth)]
    for unit in units:
        for layer in unit.layers:
            initialise_(layer.weight, init, scale, generator)
    return ShortcutStack(units, width)


class PlainLayer(nn.Module):
    """h -> V h with V = I + W: a plain linear layer, stored so that W = 0 is V = I."""

    def __init__(self, width: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.layers = nn.ModuleList([linear(width, dtype)])
        self.register_buffer("identity", torch.eye(width, dtype=dtype))

    def forward(self, h: Tensor) -> Tensor:
        return h @ (self.identity + self.layers[0].weight).T


def plain_linear(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *,
                 generator: torch.Generator, dtype: torch.dtype = torch.float64) -> ShortcutStack:
    """The deep linear network y_hat = V_L ... V_1 x with no shortcut, V_l = I + W_l and
    W_l from ``initialise_`` (so ``init="zero"`` is the identity init)."""
    layers = [PlainLayer(width, dtype) for _ in range(depth)]
    for layer in layers:
        initialise_(layer.layers[0].weight, init, scale, generator)
    return ShortcutStack(layers, width)


def _validate(model: nn.Module, blocks: Sequence[nn.Module], x: Tensor) -> None:
    """The contract of the theorem's stack: ``depth`` units applied in sequence, h_0 = x
    (no stem) and y_hat = h_L (no head), finite."""
    last: list[Tensor] = []
    hook = blocks[-1].register_forward_hook(lambda m, a, out: last.append(out))
    try:
        y = sequential_output(model, blocks, x, SHORTCUT_STACK.probe["depth"])
    finally:
        hook.remove()
    with torch.no_grad():
        if not torch.equal(input_of(model, blocks[0], x), x):
            raise SubjectError("the first unit does not receive the input x itself: the theorem's stack has "
                               "no stem (h_0 = x)")
    if y.shape != x.shape or not torch.equal(y, last[-1]):
        raise SubjectError("the output is not the last unit's output: the theorem's stack has no head "
                           "(y_hat = h_L in R^d)")
    if not torch.isfinite(y).all():
        raise SubjectError("output is not finite (NaN or inf) on the probe input")


SHORTCUT_STACK = Family(
    name="shortcut-stack",
    keywords=("depth", "width", "init"),
    probe={"depth": 3, "width": 3, "in_dim": 3, "init": "gaussian", "scale": 0.1, "shortcut_depth": 2},
    validate=_validate,
    doc="Adapter(build(depth, width, init[, scale, shortcut_depth, activation, generator, dtype]) "
        "-> a stack of `depth` residual units R^width -> R^width, initialised as `init` asks "
        "(resclaims.models.li2016.initialise_ does it); blocks(model) the units in order; "
        "fixed={'shortcut_depth': n} when the model's n is not a keyword; loss if not the mean "
        "squared error).",
)


def _reference(name: str, build: Callable[..., nn.Module], doc: str, **fixed: Any) -> Subject:
    return Subject(name, SHORTCUT_STACK, Adapter(build=build, fixed=fixed), doc=doc)


SUBJECTS = [
    _reference("li2016.reference", shortcut_stack,
               "h_l = h_{l-1} + W^(n) s(... W^(1) h_{l-1}), any shortcut depth n (1-4 in the claims), "
               "s identity or tanh, zero/small/Xavier/orthogonal init [1611.01186]"),
    *(_reference(f"li2016.shortcut{n}", partial(shortcut_stack, shortcut_depth=n),
                 f"the reference with shortcut depth fixed at {n}", shortcut_depth=n) for n in (1, 2, 3, 4)),
    _reference("li2016.plain", plain_linear,
               "the plain deep linear net V_L ... V_1 x, zero point V_l = I: the 1-shortcut stack "
               "reparametrised", shortcut_depth=1, activation="identity"),
]
