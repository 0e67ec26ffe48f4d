"""Wang et al., "Is the Skip Connection Provable to Reform the Neural Network Loss
Landscape?" (IJCAI 2020, arXiv:2006.05939), with Freeman & Bruna (ICLR 2017,
arXiv:1611.01540): the skip network, as a family.

A skip network feeds its input x in R^n straight into a layer of m ReLU units read by
a linear readout a in R^m, beside a deep ReLU branch h_L (L layers of width ``hidden``,
h_0 = x, h_l = relu(V_l h_(l-1))).  Two forms [RECON], and the base net [PAPER, F&B]:

    additive      f(x) = sum_i a_i relu(w_i . x) + c . h_L(x)
    last_hidden   f(x) = sum_i a_i relu(w_i . x + u_i . h_L(x))
    two_layer     f(x) = sum_i a_i relu(w_i . x)          (F&B's two-layer ReLU net)

and the net without the skip: ``plain``, f(x) = sum_i a_i relu(w_i . h_L(x)), a deep
ReLU net whose last layer has the same m units; the claims about the skip do not apply
to it, those about the unit layer alone (exact legs, relabelling) do.
Biases enter through the data (x = (x', 1), F&B's x-bar), so the units have none.

A subject names the unit layer through parts (``Adapter.parts``; defaults: attributes):
``units`` (W, one row w_i per unit, m x n, the effective weight the units apply to x),
``readout`` (a, m entries, any shape) and, where the units read more than x,
``lateral`` (U, one row u_i per unit, the last-hidden form) and ``unit_bias`` (b, one
per unit).  Claims permute, rescale and merge units through these.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from resclaims.family import Adapter, Family, Subject, scalar_output

__all__ = ["SKIP_NET", "FORMS", "SKIP_FORMS", "SkipNet", "LinearNet", "skip_net", "SUBJECTS"]

SKIP_FORMS = ("additive", "last_hidden", "two_layer")
FORMS = SKIP_FORMS + ("plain",)


class SkipNet(nn.Module):
    """The four forms above; see the module docstring."""

    def __init__(self, in_dim: int, width: int, form: str, depth: int, hidden: int, generator: torch.Generator,
                 dtype: torch.dtype) -> None:
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; choose one of {FORMS}")
        self.form, self.input_shape = form, (in_dim,)
        sizes = [in_dim] + [hidden] * depth if form != "two_layer" else [in_dim]
        self.deep = nn.ParameterList(
            nn.Parameter(torch.randn(b, a, generator=generator, dtype=dtype) * math.sqrt(2.0 / a))
            for a, b in zip(sizes, sizes[1:]))
        fan_in = hidden if form == "plain" else in_dim
        self.units = nn.Parameter(torch.randn(width, fan_in, generator=generator, dtype=dtype) / math.sqrt(fan_in))
        self.readout = nn.Parameter(torch.randn(width, generator=generator, dtype=dtype) / math.sqrt(width))
        if form == "additive":
            self.branch_out = nn.Parameter(torch.randn(hidden, generator=generator, dtype=dtype) / math.sqrt(hidden))
        if form == "last_hidden":
            self.lateral = nn.Parameter(torch.randn(width, hidden, generator=generator, dtype=dtype)
                                        / math.sqrt(hidden))

    def features(self, x: Tensor) -> Tensor:
        """h_L(x), (N, hidden) (x itself for the two-layer form)."""
        h = x
        for v in self.deep:
            h = torch.relu(h @ v.T)
        return h

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        return self.combine(self.read(self.activation(self.preactivation(x, h))), h)

    def unit_weights(self) -> Tensor:
        """W as the units apply it."""
        return self.units

    def preactivation(self, x: Tensor, h: Tensor) -> Tensor:
        """W x (+ U h_L(x)); W h_L(x) in the plain form.  (N, m)."""
        if self.form == "plain":
            return h @ self.unit_weights().T
        pre = x @ self.unit_weights().T
        return pre + h @ self.lateral.T if self.form == "last_hidden" else pre

    def activation(self, pre: Tensor) -> Tensor:
        return torch.relu(pre)

    def read(self, z: Tensor) -> Tensor:
        """a . z per sample."""
        return z @ self.readout

    def combine(self, out: Tensor, h: Tensor) -> Tensor:
        """The unit term plus the deep branch's c . h_L(x) in the additive form."""
        return out + h @ self.branch_out if self.form == "additive" else out


def skip_net(in_dim: int, width: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
             form: str = "additive", depth: int = 2, hidden: int = 16) -> SkipNet:
    """A skip network (``form``) with m = ``width`` units on x in R^``in_dim``."""
    return SkipNet(in_dim, width, form, depth, hidden, generator, dtype)


class LinearNet(nn.Module):
    """The calibration model of F&B Prop. 2.2: f(x) = a . (W x), m linear units (no subject: a
    fixed problem whose sub-level sets are connected, so its true barriers are 0)."""

    def __init__(self, in_dim: int, width: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.units = nn.Parameter(torch.randn(width, in_dim, generator=generator, dtype=dtype) / math.sqrt(in_dim))
        self.readout = nn.Parameter(torch.randn(width, generator=generator, dtype=dtype) / math.sqrt(width))

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.units.T) @ self.readout


SKIP_NET = Family(
    name="skip-net",
    keywords=("in_dim", "width"),
    probe={"in_dim": 3, "width": 4},
    validate=scalar_output,
    doc="f(x) = a . relu(W x [+ U h_L(x)]) [+ c . h_L(x)]: m ReLU units fed by x (the skip) and read by a, "
        "beside a deep ReLU branch; build(in_dim, width) names units (W), readout (a), optionally lateral (U)",
    blocks=False,
    vocabulary={"form": FORMS},
)


def _reference(name: str, doc: str, forms: tuple[str, ...]) -> Subject:
    def build(in_dim: int, width: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float64,
              form: str = forms[0], depth: int = 2, hidden: int = 16) -> SkipNet:
        if form not in forms:
            raise ValueError(f"{name} builds forms {forms}, not {form!r}")
        return skip_net(in_dim, width, generator=generator, dtype=dtype, form=form, depth=depth, hidden=hidden)
    fixed = {"form": forms[0]} if len(forms) == 1 else {}
    return Subject(name, SKIP_NET, Adapter(build, fixed=fixed), doc)


SUBJECTS = [
    _reference("wang2020.reference", "skip networks: additive, input-to-last-hidden [RECON] and F&B's two-layer net "
               "(and, asked for form='plain', their counterpart without the skip)", FORMS),
    _reference("wang2020.plain", "the control without skip: a deep ReLU net whose last layer has the m units",
               ("plain",)),
]
