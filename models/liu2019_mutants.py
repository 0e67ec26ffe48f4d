"""Realistic bugs in two-layer conv ResNet code (mutants) and harmless variants (controls),
from the notes' table for arXiv:1909.04653.  ``killed_by`` lists the claims measured to
falsify each mutant (tests/test_kill_matrix.py checks every cell); controls are flagged
by no theorem claim.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resclaims.family import Adapter, Subject
from resclaims.models.liu2019 import TWO_LAYER_CONV, ConvResNet, ResidualFilter, average_pooling, both_layers

P = "liu2019."


class Unnormalised(ResidualFilter):
    """Bug: the normalisation dropped, v(w) = w + s."""

    def filter(self, w: Tensor) -> Tensor:
        return w + self.s


class BranchNormalised(ResidualFilter):
    """Bug: the normalisation on the w-branch only, v(w) = w/||w|| + s (0/0 at w = 0)."""

    def filter(self, w: Tensor) -> Tensor:
        return w / w.norm(dim=-1, keepdim=True) + self.s


class EpsilonNormalised(ResidualFilter):
    """Bug: a large epsilon in the norm, (w + s)/(||w + s|| + 1e-2), against ||s|| = 1/sqrt(p)."""

    def filter(self, w: Tensor) -> Tensor:
        u = w + self.s
        return u / (u.norm(dim=-1, keepdim=True) + 1e-2)


class GeluNet(ConvResNet):
    """Bug: GELU where the theory has ReLU."""

    def forward(self, z: Tensor) -> Tensor:
        return F.gelu(self.layer(z)) @ self.a


class Conv1dNet(nn.Module):
    """Control: the same network written as a strided 1-d convolution over the flat signal
    (n, 1, k p) with an average-pooling shortcut, normalised by the norm of the combined
    filter, and a second layer applied with F.linear."""

    def __init__(self, k: int, p: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.k, self.p = k, p
        self.w = nn.Parameter(torch.zeros(p, dtype=dtype))
        self.a = nn.Parameter(torch.zeros(k, dtype=dtype))
        self.input_shape = (k, p)

    def filter(self, w: Tensor) -> Tensor:
        combined = w + torch.full_like(w, 1.0 / self.p)
        return combined * torch.rsqrt((combined * combined).sum(-1, keepdim=True))

    def forward(self, z: Tensor) -> Tensor:
        signal = z.reshape(z.shape[0], 1, self.k * self.p)
        scale = torch.rsqrt(((self.w + 1.0 / self.p) ** 2).sum())  # 1/||w + s||
        conv = F.conv1d(signal, self.w.view(1, 1, self.p), stride=self.p)
        shortcut = F.avg_pool1d(signal, self.p)
        hidden = torch.relu(scale * (conv + shortcut)).squeeze(1)
        return F.linear(hidden, self.a.view(1, self.k)).squeeze(1)


def _conv1d(patches: int, patch_size: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64
            ) -> Conv1dNet:
    return Conv1dNet(patches, patch_size, dtype)


def _variant(name: str, doc: str, role: str, killed_by: tuple[str, ...], *, layer: type[ResidualFilter] = ResidualFilter,
             net: type[ConvResNet] = ConvResNet, shortcut: Callable[[int], Tensor] = average_pooling,
             init: str = "zero", trained: Callable[[nn.Module], list[Tensor]] = both_layers,
             loss: Callable[[Tensor, Tensor], Tensor] | None = None, **fixed: Any) -> Subject:
    def build(patches: int, patch_size: int, *, generator: torch.Generator,
              dtype: torch.dtype = torch.float64) -> ConvResNet:
        return net(layer(patch_size, shortcut(patch_size), init, generator, dtype), patches, dtype)
    adapter = Adapter(build, fixed={"shortcut": "average", **fixed}, branch_parameters=trained, loss=loss)
    return Subject(P + name, TWO_LAYER_CONV, adapter, doc, role=role,  # type: ignore[arg-type]
                   mutant_of="liu2019.reference", killed_by=tuple(P + c for c in killed_by))


def _sum_loss(output: Tensor, target: Tensor) -> Tensor:
    return 0.5 * (output - target).pow(2).sum()


SUBJECTS = [
    _variant("no_shortcut", "s = 0 with w0 = 0: the filter is 0/0 at init", "mutant",
             ("normalization", "gd_from_zero"), shortcut=lambda p: torch.zeros(p, dtype=torch.float64)),
    _variant("no_normalization", "v(w) = w + s: the normalisation dropped", "mutant", ("normalization",),
             layer=Unnormalised),
    _variant("branch_normalization", "v(w) = w/||w|| + s: normalised on the w-branch only", "mutant",
             ("normalization", "gd_from_zero"), layer=BranchNormalised),
    _variant("large_epsilon", "(w + s)/(||w + s|| + 1e-2): an epsilon of the order of ||s||", "mutant",
             ("normalization",), layer=EpsilonNormalised),
    _variant("shortcut_sign", "s = -1_p/p: the shortcut's sign flipped", "mutant", ("normalization", "gd_from_zero"),
             shortcut=lambda p: -average_pooling(p)),
    _variant("shortcut_scale", "s = 1_p/sqrt(p) instead of 1_p/p: same direction, another scale", "mutant",
             ("reference_trajectory",), shortcut=lambda p: torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64)),
    _variant("random_w0", "w0 uniform on the unit sphere instead of 0", "mutant", ("two_stage",), init="sphere"),
    _variant("equal_steps", "eta_w = eta_a: the training code uses one step size", "mutant",
             ("gd_from_zero", "two_stage"),
             step_ratio=1.0),
    _variant("frozen_second_layer", "the second layer left out of the optimizer", "mutant",
             ("gd_from_zero", "two_stage", "finite_sample"), trained=lambda m: [m.first_layer]),
    _variant("gelu", "GELU in place of ReLU", "mutant", ("closed_form",), net=GeluNet),
    _variant("loss_sum", "the empirical loss summed over samples where the theory has a mean", "mutant",
             ("finite_sample",), loss=_sum_loss),
    Subject(P + "conv1d", TWO_LAYER_CONV,
            Adapter(_conv1d, fixed={"shortcut": "average"}, branch_parameters=lambda m: [m.w, m.a],
                    parts={"first_layer": lambda m: m.w, "second_layer": lambda m: m.a}),
            "control: written as a strided conv1d with an avg-pool shortcut and rsqrt normalisation",
            role="control", mutant_of="liu2019.reference"),
]
