"""Realistic bugs in tau-scaled ResNet code, each a subject of the tau-resnet family.

``killed_by`` is the kill matrix: the claims expected to falsify each mutant, checked
cell by cell in tests/test_kill_matrix.py.  The notes for arXiv:1903.07120 list which
claim the theory says should catch each bug; the cells below were then measured.
"""
from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn

from resclaims.models.zhang2019 import TAU_RESNET, TauBlock, gaussian_, tau_resnet
from resclaims.family import Subject


class NoTauBlock(TauBlock):
    """Bug: the branch is never scaled: ReLU(h + W h)."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(h + self.linear(h))


class ShortcutTauBlock(TauBlock):
    """Bug: tau multiplies the whole sum, shortcut included: ReLU(tau (h + W h))."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.tau * (h + self.linear(h)))


class TwiceTauBlock(TauBlock):
    """Bug: tau applied twice (once in the branch, once at the add): ReLU(h + tau^2 W h)."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(h + self.tau * (self.tau * self.linear(h)))


class NormAfterTauBlock(TauBlock):
    """Bug: tau placed before a BatchNorm, which cancels it: ReLU(h + BN(tau W h))."""

    def __init__(self, width: int, tau: float, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__(width, tau, generator, dtype)
        self.norm = nn.BatchNorm1d(width, dtype=dtype)

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(h + self.norm(self.tau * self.linear(h)))


class LecunInitBlock(TauBlock):
    """Bug: W_l ~ N(0, 1/m) (LeCun/Xavier-style fan-in variance) instead of N(0, 2/m)."""

    def init_weight(self, generator: torch.Generator) -> None:
        gaussian_(self.linear.weight, 1.0 / self.linear.in_features, generator)


class TorchDefaultInitBlock(TauBlock):
    """Bug: W_l left at torch's nn.Linear default, U(+-1/sqrt(m)), variance 1/(3m)."""

    def init_weight(self, generator: torch.Generator) -> None:
        nn.init.kaiming_uniform_(self.linear.weight, a=math.sqrt(5), generator=generator)


def tau_one_over_depth(depth: int, width: int, tau: float, in_dim: int, out_dim: int,
                       generator: torch.Generator, dtype: torch.dtype = torch.float64) -> nn.Module:
    """Bug: the model hard-codes tau = 1/L (the older O(1/L) scaling) and ignores ``tau``."""
    return tau_resnet(depth, width, 1.0 / depth, in_dim, out_dim, generator, dtype)


def _mutant(name: str, factory, doc: str, killed_by: tuple[str, ...]) -> Subject:
    return Subject(f"zhang2019.{name}", TAU_RESNET, factory, doc=doc,
                   mutant_of="zhang2019.reference", killed_by=killed_by)


def _block_mutant(name: str, block: type[TauBlock], killed_by: tuple[str, ...]) -> Subject:
    return _mutant(name, partial(tau_resnet, block=block), block.__doc__ or "", killed_by)


SUBJECTS = [
    _block_mutant("no_tau", NoTauBlock, killed_by=(
        "zhang2019.forward_stable", "zhang2019.backward_stable", "zhang2019.forward_converse",
        "zhang2019.gradient_scale", "zhang2019.gd_depth_free", "zhang2019.trains_without_norm")),
    _mutant("tau_one_over_depth", tau_one_over_depth, tau_one_over_depth.__doc__ or "", killed_by=(
        "zhang2019.forward_converse", "zhang2019.gradient_scale", "zhang2019.gd_depth_free")),
    _block_mutant("tau_on_shortcut", ShortcutTauBlock, killed_by=(
        "zhang2019.forward_stable", "zhang2019.forward_converse")),
    _block_mutant("tau_twice", TwiceTauBlock, killed_by=(
        "zhang2019.forward_converse", "zhang2019.gradient_scale", "zhang2019.gd_depth_free")),
    _block_mutant("tau_before_norm", NormAfterTauBlock, killed_by=(
        "zhang2019.forward_stable",)),
    _block_mutant("init_lecun", LecunInitBlock, killed_by=("zhang2019.forward_constant",)),
    _block_mutant("init_torch_default", TorchDefaultInitBlock, killed_by=("zhang2019.forward_constant",)),
]
