"""Realistic bugs in residual-stack code (mutants) and harmless variants (controls), each
a subject of the shortcut-stack family over every architecture the family builds.

``killed_by`` is the kill matrix: for a mutant, the claims expected to falsify it; for
a control, none (no theorem claim may flag it).  tests/test_kill_matrix.py checks every
cell.  The notes for arXiv:1611.01186 list what the theory says should catch each bug;
the cells below were then measured.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from resclaims.family import Adapter, Subject
from resclaims.models.li2016 import ACTIVATIONS, SHORTCUT_STACK, ShortcutStack, Unit, linear, shortcut_stack

P = "li2016."


class PostActivationUnit(Unit):
    """Bug: the activation after the add, h -> tanh(h + F(h)): the identity path is no
    longer the identity, so R(0) and H(0) change with L."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.tanh(h + self.branch(h))


class BiasedUnit(Unit):
    """Bug: nn.Linear's default bias=True left on (zero-initialised, trained)."""

    def __init__(self, width: int, shortcut_depth: int, activation: str, dtype: torch.dtype) -> None:
        super().__init__(width, shortcut_depth, activation, dtype)
        self.layers = nn.ModuleList(linear(width, dtype, bias=True) for _ in range(shortcut_depth))


class ReluUnit(Unit):
    """Bug: ReLU between the branch's layers where the theorem needs a smooth activation
    (torch's relu'(0) = 0 makes autograd report H(0) = 0 for n = 2)."""

    def __init__(self, width: int, shortcut_depth: int, activation: str, dtype: torch.dtype) -> None:
        super().__init__(width, shortcut_depth, "identity", dtype)
        self.activation = torch.relu


class FusedUnit(Unit):
    """Control: a linear branch computed as one matrix (W^(n) ... W^(1)) h, the same
    function of the same parameters."""

    def branch(self, h: Tensor) -> Tensor:
        if self.activation is not ACTIVATIONS["identity"]:
            return super().branch(h)
        product = self.layers[0].weight
        for layer in self.layers[1:]:
            product = layer.weight @ product
        return h @ product.T


class ReversedStack(ShortcutStack):
    """Control: units registered last first (as some code builds them), applied first to
    last; the adapter lists them in the order they are applied."""

    def forward(self, x: Tensor) -> Tensor:
        for unit in reversed(self.units):
            x = unit(x)
        return x


def _with_unit(unit_class: type[Unit]) -> Callable[..., nn.Module]:
    def build(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *, generator: torch.Generator,
              dtype: torch.dtype = torch.float64, shortcut_depth: int = 2, activation: str = "identity") -> nn.Module:
        return shortcut_stack(depth, width, init, scale, generator=generator, dtype=dtype,
                              shortcut_depth=shortcut_depth, activation=activation, unit_class=unit_class)
    return build


def _plus_one(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *, generator: torch.Generator,
              dtype: torch.dtype = torch.float64, shortcut_depth: int = 2, activation: str = "identity") -> nn.Module:
    """Bug: one layer too many per branch (n + 1 where n is asked)."""
    return shortcut_stack(depth, width, init, scale, generator=generator, dtype=dtype,
                          shortcut_depth=shortcut_depth + 1, activation=activation)


def _default_init(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *,
                  dtype: torch.dtype = torch.float64, shortcut_depth: int = 2,
                  activation: str = "identity") -> nn.Module:
    """Bug: the requested init never applied; nn.Linear's default (Kaiming-uniform) stays."""
    units = [Unit(width, shortcut_depth, activation, dtype) for _ in range(depth)]
    for unit in units:
        for layer in unit.layers:
            nn.Linear.reset_parameters(layer)  # torch's default init, the one the bug leaves in place
    return ShortcutStack(units, width)


def _tied(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *, generator: torch.Generator,
          dtype: torch.dtype = torch.float64, shortcut_depth: int = 2, activation: str = "identity") -> nn.Module:
    """Bug: ``[unit] * L``: one module (one set of weights) reused at every depth."""
    unit = shortcut_stack(1, width, init, scale, generator=generator, dtype=dtype,
                          shortcut_depth=shortcut_depth, activation=activation).units[0]
    return ShortcutStack([unit] * depth, width)


class NoAddUnit(Unit):
    """Bug (in one unit): the residual add forgotten, h -> F(h)."""

    def forward(self, h: Tensor) -> Tensor:
        return self.branch(h)


def _missing_add(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64, shortcut_depth: int = 2, activation: str = "identity") -> nn.Module:
    """Bug: the middle unit (unit L//2 + 1) lacks its residual add."""
    model = shortcut_stack(depth, width, init, scale, generator=generator, dtype=dtype,
                           shortcut_depth=shortcut_depth, activation=activation)
    model.units[depth // 2].__class__ = NoAddUnit  # same weights, the add dropped
    return model


def _reversed(depth: int, width: int, init: str = "zero", scale: float = 1e-3, *, generator: torch.Generator,
              dtype: torch.dtype = torch.float64, shortcut_depth: int = 2, activation: str = "identity") -> nn.Module:
    model = shortcut_stack(depth, width, init, scale, generator=generator, dtype=dtype,
                           shortcut_depth=shortcut_depth, activation=activation)
    return ReversedStack(list(reversed(model.units)), width)


def summed_squares(output: Tensor, target: Tensor) -> Tensor:
    """Bug: (1/2) sum_i ||y_hat_i - y_i||^2, a sum where the theory (and the step size) mean a mean."""
    return 0.5 * (output - target).pow(2).sum()


def _subject(name: str, doc: str, role: str, killed_by: tuple[str, ...] = (), **adapter: Any) -> Subject:
    return Subject(P + name, SHORTCUT_STACK, Adapter(**adapter), doc=doc, role=role,  # type: ignore[arg-type]
                   mutant_of="li2016.reference", killed_by=tuple(P + k for k in killed_by))


SUBJECTS = [
    _subject("shortcut_depth_plus_one", "n + 1 weight layers per branch where n is asked", "mutant",
             ("depth2_hessian_at_zero", "depth1_curvature_grows", "deep_shortcut_flat", "small_init_limit",
              "gd_depth2_depth_free", "gd_depth1_unstable"), build=_plus_one),
    _subject("default_init", "the requested init never applied: nn.Linear's Kaiming-uniform left in place",
             "mutant", ("depth2_hessian_at_zero", "depth1_curvature_grows", "deep_shortcut_flat", "small_init_limit",
                        "gd_depth2_depth_free", "gd_depth3_plateau"), build=_default_init),
    _subject("tied_units", "[unit] * L: one set of weights reused by every unit", "mutant",
             ("depth2_hessian_at_zero", "depth1_curvature_grows", "small_init_limit", "gd_depth2_depth_free"),
             build=_tied),
    _subject("activation_after_add", "h_l = tanh(h_{l-1} + F(h_{l-1})): activation after the add", "mutant",
             ("depth2_hessian_at_zero", "depth1_curvature_grows", "small_init_limit", "gd_depth2_depth_free",
              "gd_depth1_unstable"), build=_with_unit(PostActivationUnit)),
    _subject("branch_biases", "nn.Linear bias=True left on in the branch (zero-initialised, trained)", "mutant",
             ("depth2_hessian_at_zero", "depth1_curvature_grows", "deep_shortcut_flat", "small_init_limit",
              "gd_depth2_depth_free", "gd_depth3_plateau"), build=_with_unit(BiasedUnit)),
    _subject("loss_sum", "the training loss sums over samples where the theory means a mean (the Hessian claims "
             "scale their expectation by the loss's constant N; at the theory's step size GD diverges)", "mutant",
             ("gd_depth2_depth_free", "gd_depth3_plateau"),
             build=shortcut_stack, loss=summed_squares),
    _subject("missing_residual_add", "one unit (the middle one) without its residual add", "mutant",
             ("depth2_hessian_at_zero", "depth1_curvature_grows", "small_init_limit"), build=_missing_add),
    _subject("relu_branch", "ReLU between the branch's layers where a smooth activation is needed", "mutant",
             ("depth2_hessian_at_zero", "deep_shortcut_flat", "small_init_limit"), build=_with_unit(ReluUnit)),
    _subject("fused_branch", "a linear branch evaluated as one matrix product (same function)", "control",
             build=_with_unit(FusedUnit)),
    _subject("units_registered_reversed", "units registered last first, applied first to last", "control",
             build=_reversed, blocks=lambda model: list(reversed(model.units))),
]

__all__ = ["SUBJECTS", "summed_squares"]
