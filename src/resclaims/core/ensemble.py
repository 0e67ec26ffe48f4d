"""S models of one residual-stack architecture, evaluated batched over seeds.

A residual stack is ``y = head(block_L(... block_1(stem(x))))``: the module exposes
``stem``, ``blocks`` (a sequence of modules, one per residual block) and ``head``.
The ensemble builds one model per seed and stacks their parameters along a new
leading axis s = 1..S, so each block is one ``vmap``-ed call on tensors of shape
(S, n, m).  Modules that cannot be vmapped (BatchNorm updating running statistics
in place, say) fall back to a loop over seeds with identical results.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

Builder = Callable[[int], nn.Module]


class Ensemble:
    """Models built by ``build(seed)`` for each seed, with batched stem/block/head calls.

    ``batched`` tells which path is in use: stacked parameters under ``vmap`` (True)
    or a Python loop over the S models (False).
    """

    def __init__(self, build: Builder, seeds: Sequence[int], x: Tensor, batched: bool = True) -> None:
        self.seeds = list(seeds)
        self.models = [build(s) for s in self.seeds]
        self.depth = len(self.models[0].blocks)
        self.batched = batched and all(_vmappable(m) for m in self.models[:1])
        if self.batched:
            try:
                self._stem = _Stacked([m.stem for m in self.models])
                self._head = _Stacked([m.head for m in self.models])
                self._blocks = [_Stacked([m.blocks[l] for m in self.models]) for l in range(self.depth)]
                with torch.no_grad():
                    self.head(self.block(0, self.stem(x))) if self.depth else self.head(self.stem(x))
            except Exception:  # noqa: BLE001 - any failure under vmap means: use the loop
                self.batched = False
        if self.batched:
            self.models = []  # stacked copies hold the weights now; free the originals
        self.requires_grad_(False)  # the core asks for the gradients it needs

    @property
    def size(self) -> int:
        return len(self.seeds)

    def stem(self, x: Tensor) -> Tensor:
        """h_0 for every seed: x (n, p) -> (S, n, m)."""
        if self.batched:
            return self._stem(x.expand(self.size, *x.shape))
        return torch.stack([m.stem(x) for m in self.models])

    def block(self, layer: int, h: Tensor) -> Tensor:
        """h_l = block_l(h_{l-1}) for every seed: (S, n, m) -> (S, n, m)."""
        if self.batched:
            return self._blocks[layer](h)
        return torch.stack([m.blocks[layer](h[s]) for s, m in enumerate(self.models)])

    def head(self, h: Tensor) -> Tensor:
        """y = head(h_L) for every seed: (S, n, m) -> (S, n, d)."""
        if self.batched:
            return self._head(h)
        return torch.stack([m.head(h[s]) for s, m in enumerate(self.models)])

    def blocks(self, h: Tensor) -> Tensor:
        """h_L from h_0, through every block."""
        for layer in range(self.depth):
            h = self.block(layer, h)
        return h

    def block_parameters(self, layer: int) -> list[Tensor]:
        """Tensors holding block ``layer``'s parameters: stacked (S, ...) leaves when
        batched, else one tensor per model and parameter."""
        if self.batched:
            return list(self._blocks[layer].params.values())
        return [p for m in self.models for p in m.blocks[layer].parameters()]

    def per_seed_sq_norm(self, layer: int, grads: Sequence[Tensor]) -> Tensor:
        """sum of squares of ``grads`` (as returned for ``block_parameters(layer)``)
        per seed: shape (S,)."""
        if self.batched:
            return sum(g.pow(2).flatten(1).sum(1) for g in grads)
        per_model = len(grads) // self.size
        return torch.stack([sum(g.pow(2).sum() for g in grads[s * per_model:(s + 1) * per_model])
                            for s in range(self.size)])

    def requires_grad_(self, flag: bool) -> None:
        """Mark every parameter (stacked or per model) as trainable or not."""
        for t in self._all_parameters():
            t.requires_grad_(flag)

    def _all_parameters(self) -> Iterator[Tensor]:
        if self.batched:
            for part in [self._stem, self._head, *self._blocks]:
                yield from part.params.values()
        else:
            for m in self.models:
                yield from m.parameters()


class _Stacked:
    """One sub-module per seed, called as a single vmap over stacked parameters."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.params, self.buffers = stack_module_state(modules)
        for p in self.params.values():
            p.requires_grad_(False)
        template = modules[0]
        self._call = vmap(lambda p, b, h: functional_call(template, (p, b), (h,)))

    def __call__(self, h: Tensor) -> Tensor:
        return self._call(self.params, self.buffers, h)


def _vmappable(module: nn.Module) -> bool:
    """False for modules known to mutate state under vmap (BatchNorm in training mode
    updating running statistics in place); other failures are caught by a trial call."""
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.training and sub.track_running_stats:
            return False
    return True
