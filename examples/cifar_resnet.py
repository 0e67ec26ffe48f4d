"""A CIFAR ResNet written the way a user would write it, and the adapters resclaims needs.

The model is the shape of the official tau-ResNet code (Zhang et al., github
dayu11/tau-ResNet, ``cifar/models/resnet_cifar_nobn.py``): a 3x3 stem, three stages of
basic blocks with 16, 32 and 64 channels (times ``base_width / 16``), downsampling
with stride 2 at the start of stages 2 and 3 through a parameter-free shortcut
(subsample, then zero channels: "option A"), global average pooling and a linear head.
There is no BatchNorm; each block carries the four scalar Fixup biases and multiplies
its residual branch by tau, ONE learnable scalar shared by all blocks.  ``norm=True``
gives the BatchNorm variant of ``resnet_cifar.py`` instead (tau after the last BN).

Nothing here comes from resclaims' own reference models: it stands in for your code.
Check it from the repository root with

    resclaims check --subject examples.cifar_resnet:adapter

The adapter section at the end is all resclaims needs: how to build the model for a
claim's depth and tau, where the residual blocks are, what an input looks like and
which parameters training moves.  Two more subjects come with it:

* ``adapter_unscaled``: the same network with tau fixed at 1, the classic ResNet
  without the scaling; the claims that say tau = 1/sqrt(L) is needed should fail on it.
* ``adapter_bn``: the BatchNorm variant, tau as the claim asks.

Checks build models with 4 channels in the first stage and draw 8x8 images: they
build and run many models on a CPU (two cores, say), and what the claims measure, the
behaviour over depth of the blocks, does not depend on the resolution or the width.
The model itself takes any image size divisible by 4, e.g. 32x32 CIFAR images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resclaims import Adapter

__all__ = ["BasicBlock", "ResNetCifar", "residual_blocks", "split",
           "CHECK_WIDTH", "CHECK_IMAGE", "adapter", "adapter_unscaled", "adapter_bn"]


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def shortcut_a(x: Tensor, width: int) -> Tensor:
    """Option A: keep every other pixel, then append zero channels up to ``width``."""
    x = x[:, :, ::2, ::2]
    return F.pad(x, (0, 0, 0, 0, 0, width - x.shape[1]))


class BasicBlock(nn.Module):
    """relu(x + tau * branch(x)), branch = two 3x3 convolutions.

    ``owner`` is the network holding the shared ``tau``; the block reads ``owner.tau``
    at every call instead of keeping the Parameter itself, so the Parameter is
    registered once (in the network) and a ``functional_call`` that swaps the
    network's ``tau`` reaches every block.  The owner is kept in a tuple so that it is
    not registered as a submodule.
    """

    def __init__(self, c_in: int, c_out: int, owner: nn.Module, stride: int = 1, norm: bool = False) -> None:
        super().__init__()
        self._owner = (owner,)
        self.downsample = stride != 1 or c_in != c_out
        self.width = c_out
        self.norm = norm
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.conv2 = conv3x3(c_out, c_out)
        if norm:
            self.bn1 = nn.BatchNorm2d(c_out)
            self.bn2 = nn.BatchNorm2d(c_out)
        else:  # Fixup's scalar biases before and after each convolution
            self.bias1a = nn.Parameter(torch.zeros(()))
            self.bias1b = nn.Parameter(torch.zeros(()))
            self.bias2a = nn.Parameter(torch.zeros(()))
            self.bias2b = nn.Parameter(torch.zeros(()))

    @property
    def tau(self) -> Tensor:
        return self._owner[0].tau

    def forward(self, x: Tensor) -> Tensor:
        if self.norm:
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out)) * self.tau
        else:
            out = F.relu(self.conv1(x + self.bias1a) + self.bias1b)
            out = (self.conv2(out + self.bias2a) + self.bias2b) * self.tau
        identity = shortcut_a(x, self.width) if self.downsample else x
        return F.relu(out + identity)


class ResNetCifar(nn.Module):
    """CIFAR ResNet with ``blocks_per_stage`` basic blocks in its three stages
    (6n+2 layers for [n, n, n]) and a learnable tau shared by all blocks.
    (n, 3, H, W) images -> (n, num_classes) logits."""

    def __init__(self, blocks_per_stage: list[int], tau: float, base_width: int = 16,
                 num_classes: int = 10, norm: bool = False) -> None:
        super().__init__()
        self.tau = nn.Parameter(torch.tensor(float(tau)))
        self.conv1 = conv3x3(3, base_width)
        self.bn1 = nn.BatchNorm2d(base_width) if norm else nn.Identity()
        width = base_width
        stages = []
        for stage, count in enumerate(blocks_per_stage):
            blocks = []
            for i in range(count):
                c_out = base_width * 2 ** stage
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(width, c_out, self, stride, norm))
                width = c_out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He init as the official code: N(0, 2 / (k*k*C_out))
                k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / k))
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


def residual_blocks(model: ResNetCifar) -> list[nn.Module]:
    """The blocks in the order the forward pass applies them."""
    return [*model.layer1, *model.layer2, *model.layer3]


def split(depth: int, stages: int = 3) -> list[int]:
    """``depth`` blocks over ``stages`` stages as evenly as possible, earlier first:
    split(8) == [3, 3, 2]."""
    q, r = divmod(depth, stages)
    return [q + (i < r) for i in range(stages)]


# --- resclaims adapters ---------------------------------------------------------------

CHECK_WIDTH = 4   # channels of the first stage in checks
CHECK_IMAGE = 8   # checks draw 8x8 images: the blocks' depth behaviour does not depend on resolution


def _inputs(n: int, generator: torch.Generator) -> Tensor:
    return torch.randn(n, 3, CHECK_IMAGE, CHECK_IMAGE, generator=generator)


# The claims train the blocks' parameters (the default `branch_parameters`) and hold the
# shared tau at the value they ask for, as the theorems do: trained at the blocks' step
# size, one tau shared by L blocks moves L times faster (the official code divides its
# gradient by L).

adapter = Adapter(
    build=lambda depth, tau: ResNetCifar(split(depth), tau, base_width=CHECK_WIDTH),
    blocks=residual_blocks, inputs=_inputs)

adapter_unscaled = Adapter(  # the classic ResNet: tau = 1 whatever the claim asks
    build=lambda depth, tau: ResNetCifar(split(depth), 1.0, base_width=CHECK_WIDTH),
    blocks=residual_blocks, inputs=_inputs)

adapter_bn = Adapter(
    build=lambda depth, tau: ResNetCifar(split(depth), tau, base_width=CHECK_WIDTH, norm=True),
    blocks=residual_blocks, inputs=_inputs)
