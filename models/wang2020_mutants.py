"""Realistic bugs in skip-network code (mutants) and harmless variants (controls), from
the notes' table for arXiv:2006.05939 / 1611.01540.  ``killed_by``: the claims measured
to falsify each mutant (tests/test_kill_matrix.py checks every cell).

The notes' path-code bugs (flatten and unflatten in different orders, a permutation
that moves w but not a in the alignment) live in the core here, not in a subject: they
are tested against ``resclaims.core.flat`` in tests/test_wang2020.py.  The row-norm
projection on the wrong axis needs a training loop with a constraint, which the
claims do not run (kappa = 0, no projection: the notes' E-P5 with kappa = 0).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from resclaims.family import Adapter, Subject
from resclaims.models.wang2020 import SKIP_NET, SkipNet, skip_net

P = "wang2020."


class SkipRemoved(SkipNet):
    """Bug: the unit term dropped (an early ``return`` of the deep branch): f = c . h_L(x)."""

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        return h @ self.branch_out if self.form == "additive" else torch.zeros(x.shape[0], dtype=x.dtype) + 0 * h.sum()


class OutputReLU(SkipNet):
    """Bug: a ReLU after the sum, f = relu(a . relu(W x) + c . h_L(x)) (a classifier head's activation kept)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(super().forward(x))


class GELUUnits(SkipNet):
    """Bug: the units use GELU (a library default) instead of ReLU."""

    def activation(self, pre: Tensor) -> Tensor:
        return nn.functional.gelu(pre)


class InplaceReLUOnInput(SkipNet):
    """Bug: a pre-activation deep branch whose first ReLU is in place (``nn.ReLU(inplace=True)``) on the input
    tensor the skip also reads: the units then see relu(x), and so does the caller's batch."""

    def features(self, x: Tensor) -> Tensor:
        h = torch.relu_(x)
        for v in self.deep:
            h = torch.relu(h @ v.T)
        return h


class BatchCoupled(SkipNet):
    """Bug: the deep branch's output reduced over the batch axis ([N, 1] summed to [1], broadcast back): every
    prediction gets the batch mean of c . h_L."""

    def combine(self, out: Tensor, h: Tensor) -> Tensor:
        return out + (h @ self.branch_out).mean(0) if self.form == "additive" else out


class ReadoutMisaligned(SkipNet):
    """Bug: the unit activations reordered (a leftover pruning permutation) but not the readout: a_j multiplies
    unit pi(j)."""

    def read(self, z: Tensor) -> Tensor:
        return z[:, torch.arange(z.shape[1]).roll(1)] @ self.readout


class DetachedUnits(SkipNet):
    """Bug: the unit weights used through ``.detach()`` (a copy kept for logging used in the forward pass): W
    never gets a gradient."""

    def unit_weights(self) -> Tensor:
        return self.units.detach()


class SumReadout(SkipNet):
    """Control: the readout as an elementwise product and a sum (another summation order, same function)."""

    def read(self, z: Tensor) -> Tensor:
        return (z * self.readout).sum(1)


class LinearLayers(nn.Module):
    """Control: the additive skip network written with ``nn.Linear`` modules (units: a Linear(n, m) without bias;
    readout: a Linear(m, 1) whose weight is (1, m)), as a user would."""

    def __init__(self, net: SkipNet) -> None:
        super().__init__()
        m, n = net.units.shape
        self.input_shape = net.input_shape
        self.hidden_layer = nn.Linear(n, m, bias=False, dtype=net.units.dtype)
        self.head = nn.Linear(m, 1, bias=False, dtype=net.units.dtype)
        self.deep = nn.Sequential(*[layer for v in net.deep for layer in (nn.Linear(v.shape[1], v.shape[0],
                                                                                     bias=False, dtype=v.dtype),
                                                                           nn.ReLU())])
        self.branch = nn.Linear(net.branch_out.numel(), 1, bias=False, dtype=net.units.dtype)
        with torch.no_grad():
            self.hidden_layer.weight.copy_(net.units)
            self.head.weight.copy_(net.readout[None])
            for layer, v in zip(self.deep[::2], net.deep):
                layer.weight.copy_(v)
            self.branch.weight.copy_(net.branch_out[None])

    def forward(self, x: Tensor) -> Tensor:
        return (self.head(torch.relu(self.hidden_layer(x))) + self.branch(self.deep(x)))[:, 0]


def _variant(name: str, cls: type[SkipNet], doc: str, role: str, killed_by: tuple[str, ...]) -> Subject:
    def build(in_dim: int, width: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
              form: str = "additive", depth: int = 2, hidden: int = 16) -> SkipNet:
        net = skip_net(in_dim, width, generator=generator, dtype=dtype, form=form, depth=depth, hidden=hidden)
        net.__class__ = cls  # same parameters and init, another forward pass
        return net
    return Subject(P + name, SKIP_NET, Adapter(build), doc, role=role,  # type: ignore[arg-type]
                   mutant_of="wang2020.reference", killed_by=tuple(P + c for c in killed_by))


def _linear_layers(in_dim: int, width: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                   depth: int = 2, hidden: int = 16) -> LinearLayers:
    return LinearLayers(skip_net(in_dim, width, generator=generator, dtype=dtype, form="additive", depth=depth,
                                 hidden=hidden))


SUBJECTS = [
    _variant("skip_removed", SkipRemoved, "f = c . h_L(x): the units fed by x dropped", "mutant",
             ("arccos_oracle",)),
    _variant("output_relu", OutputReLU, "f = relu(a . relu(W x) + c . h_L(x))", "mutant",
             ("arccos_oracle", "exact_legs")),
    _variant("gelu_units", GELUUnits, "GELU units instead of ReLU", "mutant", ("arccos_oracle", "exact_legs")),
    _variant("inplace_relu_input", InplaceReLUOnInput, "in-place ReLU on the input the skip reads", "mutant",
             ("arccos_oracle",)),
    _variant("batch_coupled", BatchCoupled, "the deep branch averaged over the batch", "mutant", ("exact_legs",)),
    _variant("readout_misaligned", ReadoutMisaligned, "a_j multiplies unit j+1", "mutant",
             ("kernel_sandwich", "exact_legs", "merge_inequality", "relabelled_copy")),
    _variant("detached_units", DetachedUnits, "W used through .detach()", "mutant", ("exact_legs",)),
    _variant("sum_readout", SumReadout, "control: the readout as a product and a sum", "control", ()),
    Subject(P + "linear_layers", SKIP_NET,
            Adapter(_linear_layers, fixed={"form": "additive"},
                    parts={"units": lambda model: model.hidden_layer.weight,
                           "readout": lambda model: model.head.weight}),
            "control: the additive skip network written with nn.Linear layers", role="control",
            mutant_of="wang2020.reference"),
]
