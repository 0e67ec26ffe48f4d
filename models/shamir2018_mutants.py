"""Realistic bugs in residual-unit code (mutants) and a harmless variant (control), from the
notes' table for arXiv:1804.06739.  ``killed_by``: the claims measured to falsify each
mutant (tests/test_kill_matrix.py checks every cell).

Not a mutant here: V used transposed.  With d = m it computes x + V^T F(x), another unit
of the same form (a reparametrisation the theorem covers), and with d != m (which the
strategies draw) it cannot run: a subject error, reported as such.
"""
from __future__ import annotations

import torch
from torch import Tensor

from resclaims.family import Adapter, Subject
from resclaims.models.shamir2018 import RESIDUAL_UNIT, ResidualUnit, residual_unit

P = "shamir2018."


class SkipRemoved(ResidualUnit):
    """Bug: the skip dropped, p = w^T V F(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return (self.features(x) @ self.mixing.T) @ self.head


class ActivationAfterSum(ResidualUnit):
    """Bug: a nonlinearity after the sum, p = w^T tanh(x + V F(x))."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(x + self.features(x) @ self.mixing.T) @ self.head


class SkipBypassesHead(ResidualUnit):
    """Bug: the skip added after the head, p = w^T V F(x) + 1^T x."""

    def forward(self, x: Tensor) -> Tensor:
        return (self.features(x) @ self.mixing.T) @ self.head + x.sum(1)


class DetachedBranch(ResidualUnit):
    """Bug: the branch computed without gradient (a stray ``.detach()``): V never learns."""

    def forward(self, x: Tensor) -> Tensor:
        return (x + (self.features(x) @ self.mixing.T).detach()) @ self.head


class ScaledSkip(ResidualUnit):
    """Control: the skip scaled, p = w^T (2 x + V F(x)): the linear predictors are still there, as (2 w)^T x."""

    def forward(self, x: Tensor) -> Tensor:
        return (2 * x + self.features(x) @ self.mixing.T) @ self.head


class HalvedSkip(ResidualUnit):
    """Control: the skip scaled down, p = w^T (x/2 + V F(x))."""

    def forward(self, x: Tensor) -> Tensor:
        return (0.5 * x + self.features(x) @ self.mixing.T) @ self.head


def _variant(name: str, cls: type[ResidualUnit], doc: str, role: str, killed_by: tuple[str, ...]) -> Subject:
    def build(in_dim: int, features: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
              depth: int = 2, activation: str = "tanh", scale: float = 1.0) -> ResidualUnit:
        unit = residual_unit(in_dim, features, generator=generator, dtype=dtype, depth=depth, activation=activation,
                             scale=scale)
        unit.__class__ = cls  # same parameters and init, another forward pass
        return unit
    return Subject(P + name, RESIDUAL_UNIT, Adapter(build, fixed={"skip": "identity"}), doc, role=role,  # type: ignore[arg-type]
                   mutant_of="shamir2018.reference", killed_by=tuple(P + c for c in killed_by))


SUBJECTS = [
    _variant("skip_removed", SkipRemoved, "p = w^T V F(x): the skip dropped", "mutant", ("local_minima",)),
    _variant("activation_after_sum", ActivationAfterSum, "p = w^T tanh(x + V F(x))", "mutant", ("local_minima",)),
    _variant("skip_bypasses_head", SkipBypassesHead, "p = w^T V F(x) + 1^T x", "mutant", ("local_minima",)),
    _variant("detached_branch", DetachedBranch, "the branch V F(x) detached from the graph", "mutant",
             ("bound_everywhere", "joint_minima")),
    _variant("scaled_skip", ScaledSkip, "control: p = w^T (2 x + V F(x))", "control", ()),
    _variant("halved_skip", HalvedSkip, "control: p = w^T (x/2 + V F(x))", "control", ()),
]
