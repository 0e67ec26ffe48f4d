"""Liu, Chen, Zhou, Du, Zhou, Zhao, "Towards Understanding the Importance of Shortcut
Connections in Residual Networks" (NeurIPS 2019, arXiv:1909.04653): the two-layer
non-overlapping convolutional ResNet, as a family.

An input Z = [Z_1, ..., Z_k] holds k non-overlapping patches of size p (given as a
(k, p) tensor).  The network is one residual layer and a linear head:

    f(Z; w, a) = sum_j a_j relu(Z_j^T v(w)),   v(w) = (w + s) / ||w + s||,

w in R^p the shared conv filter (first layer), s = 1_p / p the average-pooling
shortcut [PAPER: "average pooling shortcut"; scale RECON], the division by ||w + s||
the normalisation (population batch norm without centering, RECON), a in R^k the
second layer.  The baseline CNN of Du et al. (2018) has no shortcut (s = 0) and starts
from a random filter; the ResNet starts from w = 0 [PAPER].

A subject of the family names three parts (``Adapter.parts``; defaults: attributes of
these names): ``first_layer`` (the tensor w), ``second_layer`` (the tensor a) and
``filter`` (w -> the filter its forward pass applies to every patch, v(w) for the
reference; claims call it on batches of w, shape (..., p)).  The population-loss form
of a subject is the Gaussian closed form of ``resclaims.core.gaussian`` at
(filter(w), a); ``liu2019.closed_form`` checks it is the subject's forward pass in
expectation, so the population claims speak about the subject's own code.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from resclaims.family import Adapter, Family, Subject, scalar_output

__all__ = ["TWO_LAYER_CONV", "ResidualFilter", "ConvResNet", "conv_resnet", "average_pooling",
           "SUBJECTS"]

def average_pooling(p: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """s = 1_p / p: the shortcut that averages a patch."""
    return torch.full((p,), 1.0 / p, dtype=dtype)


class ResidualFilter(nn.Module):
    """The residual layer: patch Z_j -> Z_j^T v(w), v(w) = (w + s) / ||w + s||."""

    def __init__(self, p: int, shortcut: Tensor, init: str, generator: torch.Generator,
                 dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("s", shortcut.to(dtype))
        w = torch.zeros(p, dtype=dtype)
        if init == "sphere":  # a random unit filter, as the CNN baseline starts
            w = torch.randn(p, generator=generator, dtype=dtype)
            w = w / w.norm()
        elif init != "zero":
            raise ValueError(f"unknown init {init!r}; choose zero or sphere")
        self.w = nn.Parameter(w)

    def filter(self, w: Tensor) -> Tensor:
        """v(w) for w of shape (..., p)."""
        u = w + self.s
        return u / u.norm(dim=-1, keepdim=True)

    def forward(self, z: Tensor) -> Tensor:
        return z @ self.filter(self.w)


class ConvResNet(nn.Module):
    """f(Z) = sum_j a_j relu(Z_j^T v(w)) on inputs Z of shape (n, k, p)."""

    def __init__(self, layer: ResidualFilter, k: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.layer = layer
        self.a = nn.Parameter(torch.zeros(k, dtype=dtype))
        self.input_shape = (k, layer.w.numel())

    @property
    def first_layer(self) -> Tensor:
        return self.layer.w

    @property
    def second_layer(self) -> Tensor:
        return self.a

    def filter(self, w: Tensor) -> Tensor:
        return self.layer.filter(w)

    def forward(self, z: Tensor) -> Tensor:
        return torch.relu(self.layer(z)) @ self.a


def conv_resnet(patches: int, patch_size: int, *, generator: torch.Generator,
                dtype: torch.dtype = torch.float64, shortcut: str = "average", init: str | None = None,
                layer_class: type[ResidualFilter] = ResidualFilter) -> ConvResNet:
    """The reference: k = ``patches`` patches of size p = ``patch_size``; ``shortcut``
    "average" (s = 1/p, w0 = 0) or "none" (the CNN baseline: s = 0, w0 uniform on the
    sphere); ``init`` overrides w0 ("zero" or "sphere").  The second layer starts at 0:
    claims set a0."""
    if shortcut not in ("average", "none"):
        raise ValueError(f"unknown shortcut {shortcut!r}; choose average or none")
    s = average_pooling(patch_size, dtype) if shortcut == "average" else torch.zeros(patch_size, dtype=dtype)
    layer = layer_class(patch_size, s, init or ("zero" if shortcut == "average" else "sphere"), generator, dtype)
    return ConvResNet(layer, patches, dtype)


TWO_LAYER_CONV = Family(
    name="two-layer-conv",
    keywords=("patches", "patch_size"),
    probe={"patches": 3, "patch_size": 4},
    validate=scalar_output,
    doc="f(Z) = sum_j a_j relu(Z_j^T v(w)) on k non-overlapping patches of size p; build(patches, patch_size) "
        "returns a module on inputs (n, k, p) naming first_layer (w), second_layer (a) and filter (w -> v(w))",
    blocks=False,
    vocabulary={"shortcut": ("average", "none")},
)


def _reference(name: str, doc: str, **fixed: Any) -> Subject:
    def build(patches: int, patch_size: int, *, generator: torch.Generator,
              dtype: torch.dtype = torch.float64) -> ConvResNet:
        return conv_resnet(patches, patch_size, generator=generator, dtype=dtype, **fixed)
    return Subject(name, TWO_LAYER_CONV, Adapter(build, fixed=fixed, branch_parameters=both_layers), doc)


def both_layers(model: nn.Module) -> list[Tensor]:
    """The trained tensors of the theorem: the filter w and the second layer a."""
    return [model.first_layer, model.second_layer]


SUBJECTS = [
    _reference("liu2019.reference", "the ResNet: average-pooling shortcut s = 1/p, normalised filter, w0 = 0",
               shortcut="average"),
    _reference("liu2019.cnn", "the CNN baseline of Du et al. (2018): no shortcut, filter w/||w||, w0 uniform "
                              "on the sphere", shortcut="none"),
]
