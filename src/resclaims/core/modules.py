"""Weight layers for model builders that draw their own weights.

``torch.nn.Linear(...)`` draws a default initialisation from the global RNG that a
builder then overwrites; ``torch.nn.utils.skip_init`` avoids the draw but builds every
layer on the meta device first, about a millisecond per layer.  The classes here are
``nn.Linear`` and ``nn.Conv2d`` whose ``reset_parameters`` leaves the weight as allocated
(uninitialised) and any bias at zero: construction costs an allocation, and the weights
are whatever the builder then draws.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["UndrawnLinear", "UndrawnConv2d"]


class UndrawnLinear(nn.Linear):
    """``nn.Linear`` with an undrawn weight (the builder draws it) and a zero bias."""

    def reset_parameters(self) -> None:
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()


class UndrawnConv2d(nn.Conv2d):
    """``nn.Conv2d`` with an undrawn weight (the builder draws it) and a zero bias."""

    def reset_parameters(self) -> None:
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
