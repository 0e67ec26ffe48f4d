"""A user's residual MLP, written without resclaims in mind, and its adapters for the
shortcut-depth claims (li2016).  The model keeps its own names (``body``, ``fc``,
``ResidualBlock``); each adapter says how to build it for the sizes a claim asks, how to
initialise it (``initialise_`` draws the init a claim asks for), and where its blocks are.

    resclaims check --subject examples.residual_mlp:adapter
"""
from __future__ import annotations

import torch
from torch import nn

from resclaims import Adapter
from resclaims.models.li2016 import initialise_


class ResidualBlock(nn.Module):
    """x + fc_k(act(... fc_1(x))): ``layers`` linear maps between the skip's ends."""

    def __init__(self, dim: int, layers: int = 2, act: type[nn.Module] = nn.Tanh) -> None:
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(layers))
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for i, fc in enumerate(self.fc):
            out = fc(self.act(out) if i else out)
        return x + out


class ResMLP(nn.Module):
    def __init__(self, dim: int, num_blocks: int, layers: int = 2, act: type[nn.Module] = nn.Tanh) -> None:
        super().__init__()
        self.body = nn.Sequential(*(ResidualBlock(dim, layers, act) for _ in range(num_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _build(depth: int, width: int, init: str, scale: float = 1e-3, shortcut_depth: int = 2,
           act: type[nn.Module] = nn.Tanh, generator: torch.Generator | None = None) -> ResMLP:
    model = ResMLP(width, depth, shortcut_depth, act).double()
    for block in model.body:
        for fc in block.fc:
            initialise_(fc.weight, init, scale, generator)
    return model


def _blocks(model: ResMLP) -> list[nn.Module]:
    return list(model.body)


# any shortcut depth: the claims for n = 1, 2 and 3-4 all apply, except those about linear
# branches (the model's tanh is fixed, and declared)
adapter = Adapter(build=_build, blocks=_blocks, fixed={"activation": "tanh"})

# the user's model has two layers per block, fixed: claims about other depths are skipped
adapter_basic = Adapter(build=lambda depth, width, init, scale=1e-3, generator=None:
                        _build(depth, width, init, scale, 2, generator=generator),
                        blocks=_blocks, fixed={"shortcut_depth": 2, "activation": "tanh"})

# the same with ReLU between the layers: the Hessian at zero is not what autograd reports
adapter_relu = Adapter(build=lambda depth, width, init, scale=1e-3, generator=None:
                       _build(depth, width, init, scale, 2, nn.ReLU, generator=generator),
                       blocks=_blocks, fixed={"shortcut_depth": 2, "activation": "relu"})
