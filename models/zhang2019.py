"""Zhang, Yu, Yi, Chen, Liu: the tau-scaled ResNet of arXiv:1903.07120, Sect. 2.

    h_0 = ReLU(A x),  h_l = ReLU(h_{l-1} + tau W_l h_{l-1})  (l = 1..L),  y = B h_L,

with A in R^{m x p}, W_l in R^{m x m}, B in R^{d x m} and, at initialisation,
A, W_l ~ N(0, 2/m) and B ~ N(0, 1/d) entrywise [paper eq. 1; init RECON].  tau scales
the output of the parametric branch; the ReLU comes after the addition.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from resclaims.family import Family, Subject, SubjectError

__all__ = ["TAU_RESNET", "TauBlock", "TauResNet", "tau_resnet", "gaussian_", "linear", "SUBJECTS"]


def gaussian_(weight: Tensor, variance: float, generator: torch.Generator) -> Tensor:
    """Fill ``weight`` in place with i.i.d. N(0, variance) entries drawn from ``generator``."""
    with torch.no_grad():
        return weight.normal_(0.0, math.sqrt(variance), generator=generator)


def linear(in_dim: int, out_dim: int, dtype: torch.dtype) -> nn.Linear:
    """A bias-free ``nn.Linear`` whose weight is left uninitialised (skipping torch's
    default init, which would draw from the global RNG and cost as much as ours)."""
    return skip_init(nn.Linear, in_dim, out_dim, bias=False, dtype=dtype)


class TauBlock(nn.Module):
    """One residual block h -> ReLU(h + tau W h), W ~ N(0, 2/m)."""

    def __init__(self, width: int, tau: float, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.tau = tau
        self.linear = linear(width, width, dtype)
        self.init_weight(generator)

    def init_weight(self, generator: torch.Generator) -> None:
        """W_l ~ N(0, 2/m): He initialisation, so ReLU(W h) keeps E||.||^2."""
        gaussian_(self.linear.weight, 2.0 / self.linear.in_features, generator)

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(h + self.tau * self.linear(h))


class TauResNet(nn.Module):
    """stem (h_0 = ReLU(A x)), blocks (the L residual blocks), head (y = B h_L)."""

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def tau_resnet(depth: int, width: int, tau: float, in_dim: int, out_dim: int,
               generator: torch.Generator, dtype: torch.dtype = torch.float64,
               block: type[TauBlock] = TauBlock) -> TauResNet:
    """The reference subject: depth L = ``depth`` residual blocks of width m = ``width``,
    branch scale ``tau``, A ~ N(0, 2/m), B ~ N(0, 1/d).  ``block`` lets mutants swap
    the block; the reference always uses ``TauBlock``."""
    a = linear(in_dim, width, dtype)
    gaussian_(a.weight, 2.0 / width, generator)
    blocks = [block(width, tau, generator, dtype) for _ in range(depth)]
    b = linear(width, out_dim, dtype)
    gaussian_(b.weight, 1.0 / out_dim, generator)
    return TauResNet(nn.Sequential(a, nn.ReLU()), blocks, b)


def _validate(model: nn.Module, probe: dict[str, Any], x: Tensor) -> None:
    """The contract of a residual stack: ``blocks`` has ``depth`` entries, each keeps the
    shape (n, width), and the whole model maps (n, in_dim) to finite (n, out_dim)."""
    depth, width, out_dim = probe["depth"], probe["width"], probe["out_dim"]
    if len(model.blocks) != depth:
        raise SubjectError(f"model has {len(model.blocks)} blocks for depth={depth}")
    with torch.no_grad():
        h = model.stem(x)
        if tuple(h.shape) != (x.shape[0], width):
            raise SubjectError(f"stem maps {tuple(x.shape)} to {tuple(h.shape)}, expected {(x.shape[0], width)}")
        for block in model.blocks:
            h = block(h)
        if tuple(h.shape) != (x.shape[0], width):
            raise SubjectError(f"blocks return shape {tuple(h.shape)}, expected {(x.shape[0], width)}")
        y = model.head(h)
    if tuple(y.shape) != (x.shape[0], out_dim):
        raise SubjectError(f"output has shape {tuple(y.shape)}, expected {(x.shape[0], out_dim)}")
    if not torch.isfinite(y).all():
        raise SubjectError("output is not finite (NaN or inf) on the probe input")


TAU_RESNET = Family(
    name="tau-resnet",
    keywords=("depth", "width", "tau", "in_dim", "out_dim"),
    attributes=("stem", "blocks", "head"),
    probe={"depth": 3, "width": 8, "tau": 0.5, "in_dim": 5, "out_dim": 2},
    validate=_validate,
    doc="factory(depth, width, tau, in_dim, out_dim[, generator, dtype]) -> module with "
        "stem: (n, in_dim) -> (n, width), blocks: `depth` modules (n, width) -> (n, width), "
        "head: (n, width) -> (n, out_dim); tau multiplies each residual branch.",
)

SUBJECTS = [
    Subject("zhang2019.reference", TAU_RESNET, tau_resnet,
            doc="h_l = ReLU(h_{l-1} + tau W_l h_{l-1}), W_l ~ N(0, 2/m) [1903.07120 Sect. 2]"),
]
