"""Realistic bugs in tau-scaled ResNet code (mutants) and harmless variants (controls),
each a subject of the tau-resnet family over every architecture the family builds.

``killed_by`` is the kill matrix: for a mutant, the claims expected to falsify it; for
a control, the reference-conformance claims that pin the constant it changes (no
theorem claim may flag a control).  tests/test_kill_matrix.py checks every cell.  The
notes for arXiv:1903.07120 list which claim the theory says should catch each bug;
the cells below were then measured.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from resclaims.models.zhang2019 import TauBlock, gaussian_, tau_resnet, variant, with_block

P = "zhang2019."


class NoTauBlock(TauBlock):
    """Bug: the branch is never scaled: ReLU(P h + F(h))."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.shortcut(h) + self.branch(h))


class ShortcutTauBlock(TauBlock):
    """Bug: tau multiplies the whole sum, shortcut included: ReLU(tau (P h + F(h)))."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.tau * (self.shortcut(h) + self.branch(h)))


class TwiceTauBlock(TauBlock):
    """Bug: tau applied twice (once in the branch, once at the add): ReLU(P h + tau^2 F(h))."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.shortcut(h) + self.tau * (self.tau * self.branch(h)))


class NormAfterTauBlock(TauBlock):
    """Bug: tau placed before a BatchNorm, which cancels it: ReLU(P h + BN(tau F(h)))."""

    def __init__(self, kind: str, c_in: int, c_out: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(kind, c_in, c_out, *args, **kwargs)
        dtype = self.weights()[0].dtype
        self.norm = (nn.BatchNorm1d if kind == "mlp" else nn.BatchNorm2d)(c_out, dtype=dtype)

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.shortcut(h) + self.norm(self.tau * self.branch(h)))


class DetachedBranchBlock(TauBlock):
    """Bug: the branch output is detached (a stray ``.detach()``/``no_grad``): the forward
    pass is the reference's, but no gradient reaches W_l."""

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.shortcut(h) + self.tau * self.branch(h).detach())


class LecunInitBlock(TauBlock):
    """Bug: W ~ N(0, 1/fan_in) (LeCun/Xavier-style variance) instead of N(0, 2/fan_in)."""

    def init_weights(self, generator: torch.Generator) -> None:
        for w in self.weights():
            gaussian_(w, 1.0 / w[0].numel(), generator)


class TorchDefaultInitBlock(TauBlock):
    """Bug: W left at torch's default, U(+-1/sqrt(fan_in)), variance 1/(3 fan_in)."""

    def init_weights(self, generator: torch.Generator) -> None:
        for w in self.weights():
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)


class ZeroBiasBlock(TauBlock):
    """Control: every branch layer has a bias, initialised to zero (and trained)."""

    bias = True


class KaimingNormalBlock(TauBlock):
    """Control: W drawn by ``nn.init.kaiming_normal_`` (fan_in, ReLU gain): the same
    N(0, 2/fan_in), another sampling routine."""

    def init_weights(self, generator: torch.Generator) -> None:
        for w in self.weights():
            nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)


def tau_one_over_depth(depth: int, tau: float, **arch: Any) -> nn.Module:
    """Bug: the model hard-codes tau = 1/L (the older O(1/L) scaling) and ignores ``tau``."""
    return tau_resnet(depth, 1.0 / depth, **arch)


def tau_over_sqrt2(depth: int, tau: float, **arch: Any) -> nn.Module:
    """Control: tau / sqrt(2) (c/sqrt(2L) is still O(1/sqrt(L))): inside the theorem,
    off the reference constant kappa."""
    return tau_resnet(depth, tau / math.sqrt(2), **arch)


def reversed_draws(depth: int, tau: float, **arch: Any) -> nn.Module:
    """Control: the blocks' weights are drawn last block first."""
    return tau_resnet(depth, tau, reverse_draws=True, **arch)


def _doc(obj: Any) -> str:
    return " ".join((obj.__doc__ or "").split("\n\n")[0].split())


SUBJECTS = [
    variant("no_tau", with_block(NoTauBlock), _doc(NoTauBlock), "mutant", killed_by=(
        P + "forward_stable", P + "backward_stable", P + "forward_converse", P + "gradient_scale",
        P + "gd_depth_free", P + "trains_without_norm"), reference_draws=True),
    variant("tau_one_over_depth", tau_one_over_depth, _doc(tau_one_over_depth), "mutant", killed_by=(
        P + "forward_converse", P + "gradient_scale", P + "gd_depth_free"), reference_draws=True),
    variant("tau_on_shortcut", with_block(ShortcutTauBlock), _doc(ShortcutTauBlock), "mutant", killed_by=(
        P + "forward_stable", P + "forward_converse"), reference_draws=True),
    variant("tau_twice", with_block(TwiceTauBlock), _doc(TwiceTauBlock), "mutant", killed_by=(
        P + "forward_converse", P + "gradient_scale", P + "gd_depth_free"), reference_draws=True),
    variant("tau_before_norm", with_block(NormAfterTauBlock), _doc(NormAfterTauBlock), "mutant", killed_by=(
        P + "forward_stable",)),
    variant("detached_branch", with_block(DetachedBranchBlock), _doc(DetachedBranchBlock), "mutant", killed_by=(
        P + "gradient_scale", P + "gd_depth_free", P + "trains_without_norm"), reference_draws=True),
    variant("init_lecun", with_block(LecunInitBlock), _doc(LecunInitBlock), "mutant",
            killed_by=(P + "forward_constant",)),
    variant("init_torch_default", with_block(TorchDefaultInitBlock), _doc(TorchDefaultInitBlock), "mutant",
            killed_by=(P + "forward_constant",)),
    variant("zero_biases", with_block(ZeroBiasBlock), _doc(ZeroBiasBlock), "control", reference_draws=True),
    variant("kaiming_normal", with_block(KaimingNormalBlock), _doc(KaimingNormalBlock), "control"),
    variant("reversed_draws", reversed_draws, _doc(reversed_draws), "control"),
    variant("tau_over_sqrt2", tau_over_sqrt2, _doc(tau_over_sqrt2), "control",
            killed_by=(P + "forward_constant",), reference_draws=True),
]
