"""S models of one residual architecture, evaluated batched over seeds.

A residual network is any module whose forward pass applies a list of residual blocks
in sequence, with whatever it likes before the first (the stem) and after the last
(the head): ``blocks(model)`` names them.  h_0 is the input of block 1 and h_l the
output of block l; shapes may change at stage transitions.  The ensemble builds one
model per seed and stacks all their parameters along a new leading axis s = 1..S, so
each block, and the whole forward pass, is one ``vmap``-ed ``functional_call`` on
tensors of shape (S, n, ...).  Modules that cannot be vmapped (BatchNorm updating
running statistics in place, say) fall back to a loop over seeds with identical results.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

Builder = Callable[[int], nn.Module]
Blocks = Callable[[nn.Module], Sequence[nn.Module]]
Trained = Callable[[nn.Module], Sequence[Tensor]]


def model_blocks(model: nn.Module) -> Sequence[nn.Module]:
    """``model.blocks``: where the reference models keep their residual blocks."""
    return list(model.blocks)


class _Reached(Exception):
    def __init__(self, h: Tensor) -> None:
        super().__init__()
        self.h = h


def input_of(model: nn.Module, block: nn.Module, x: Tensor, call: Callable[[Tensor], Tensor] | None = None,
             ) -> Tensor:
    """The tensor ``block`` receives when ``model`` (or ``call``) runs on ``x``: the forward
    pass is stopped there, so only the stem is computed."""
    def stop(module: nn.Module, args: tuple) -> None:
        raise _Reached(args[0])
    handle = block.register_forward_pre_hook(stop)
    try:
        (call or model)(x)
    except _Reached as reached:
        return reached.h
    finally:
        handle.remove()
    raise RuntimeError("the forward pass never called the first residual block")


class Ensemble:
    """Models built by ``build(seed)`` for each seed, with batched stem/block/output calls.

    ``blocks(model)`` lists a model's residual blocks in order; ``trained(model)`` its
    trained parameters (default: those of the blocks).  ``batched`` tells which path is
    in use: stacked parameters under ``vmap`` (True) or a loop over the S models (False).
    ``transitions`` lists the blocks l (1-based) whose output shape differs from their
    input shape (stage transitions).  ``x``: the inputs, given or drawn by ``x(model)``
    from the first model; ``out_dim``: d, the width of the output.

    Block-by-block calls (``block``) swap in each block's own parameters.  A parameter
    registered in several blocks (tied weights, a tau stored in every block) sends the
    ensemble to the loop path; one a block reads without registering it (a tau held by
    the network, read through a reference) is the first model's in block calls: exact at
    initialisation, where every seed has the same such tau and where the core calls
    blocks one by one.  ``outputs`` swaps every parameter.
    """

    def __init__(self, build: Builder, seeds: Sequence[int], x: Tensor | Callable[[nn.Module], Tensor],
                 blocks: Blocks = model_blocks, trained: Trained | None = None, batched: bool = True) -> None:
        self.seeds = list(seeds)
        self.models = [build(s) for s in self.seeds]
        x = x(self.models[0]) if callable(x) else x
        self.x = x
        self._blocks_of = blocks
        self._trained_of = trained or (lambda m: [p for b in blocks(m) for p in b.parameters()])
        template = self.models[0]
        self.depth = len(blocks(template))
        self.batched = batched and _vmappable(template)
        if self.batched:
            try:
                self._stack(template)
                with torch.no_grad():
                    self.out_dim = self.outputs(x[:2]).shape[-1]
            except Exception:  # noqa: BLE001 - any failure under vmap means: use the loop
                self.batched = False
        with torch.no_grad():
            if not self.batched:
                self.out_dim = self.outputs(x[:2]).shape[-1]
            h = self.stem(x[:2])
            self.transitions = []
            for layer in range(self.depth):
                out = self.block(layer, h)
                if out.shape != h.shape:
                    self.transitions.append(layer + 1)
                h = out
        if self.batched:
            self.models = [template]  # stacked copies hold the weights now; keep one template
        else:
            self._owned = [_ownership(self._blocks_of(m), self._trained_of(m)) for m in self.models]
        self.requires_grad_(False)  # the core asks for the gradients it needs

    def _stack(self, template: nn.Module) -> None:
        self.params, self.buffers = stack_module_state(self.models)
        names = {id(m): n for n, m in template.named_modules()}
        self._block_modules = list(self._blocks_of(template))
        self._block_state = []
        for block in self._block_modules:
            if id(block) not in names:
                raise RuntimeError("a residual block is not a submodule of the model")
            prefix = names[id(block)] + "."
            self._block_state.append((
                {k[len(prefix):]: v for k, v in self.params.items() if k.startswith(prefix)},
                {k[len(prefix):]: v for k, v in self.buffers.items() if k.startswith(prefix)}))
        param_names = {id(p): n for n, p in template.named_parameters()}
        for block, (params, _) in zip(self._block_modules, self._block_state):
            if len({id(p) for p in block.parameters()}) != len(params):
                raise RuntimeError("a block reads a parameter registered elsewhere (tied weights): use the loop")
        groups, shared = _ownership(self._block_modules, self._trained_of(template))
        self._groups = [[param_names[id(p)] for p in group] for group in groups]
        self._shared = [param_names[id(p)] for p in shared]
        self._calls = [vmap(partial(_call, module)) for module in self._block_modules]
        self._template = template

    @property
    def size(self) -> int:
        return len(self.seeds)

    def stem(self, x: Tensor) -> Tensor:
        """h_0 (the input of block 1) for every seed: (S, n, ...)."""
        if not self.batched:
            return torch.stack([input_of(m, self._blocks_of(m)[0], x) for m in self.models])
        first = self._block_modules[0]
        return torch.stack([
            input_of(self._template, first, x, lambda v: functional_call(
                self._template, ({k: p[s] for k, p in self.params.items()},
                                 {k: b[s] for k, b in self.buffers.items()}), (v,)))
            for s in range(self.size)])

    def block(self, layer: int, h: Tensor) -> Tensor:
        """h_l = block_l(h_{l-1}) for every seed: (S, n, ...) -> (S, n, ...)."""
        if self.batched:
            return self._calls[layer](*self._block_state[layer], h)
        return torch.stack([self._blocks_of(m)[layer](h[s]) for s, m in enumerate(self.models)])

    def blocks(self, h: Tensor) -> Tensor:
        """h_L from h_0, through every block."""
        for layer in range(self.depth):
            h = self.block(layer, h)
        return h

    def outputs(self, x: Tensor) -> Tensor:
        """The whole forward pass for every seed: x (n, ...) -> (S, n, d)."""
        if self.batched:
            template = self._template
            return vmap(lambda p, b: functional_call(template, (p, b), (x,)))(self.params, self.buffers)
        return torch.stack([m(x) for m in self.models])

    def block_parameters(self, layer: int) -> list[Tensor]:
        """The trained tensors of block ``layer``: stacked (S, ...) leaves when batched,
        else each model's tensors, model by model."""
        if self.batched:
            return [self.params[n] for n in self._groups[layer]]
        return [p for groups, _ in self._owned for p in groups[layer]]

    def shared_parameters(self) -> list[Tensor]:
        """Trained tensors that belong to no single block (a tau shared by all blocks)."""
        if self.batched:
            return [self.params[n] for n in self._shared]
        return [p for _, shared in self._owned for p in shared]

    def trained_parameters(self) -> list[Tensor]:
        """Every trained tensor: the blocks' and the shared ones."""
        return [p for l in range(self.depth) for p in self.block_parameters(l)] + self.shared_parameters()

    def per_seed_sq_norm(self, grads: Sequence[Tensor]) -> Tensor:
        """Sum of squares of ``grads`` (as returned for ``block_parameters(layer)``) per
        seed: shape (S,)."""
        if not grads:
            return torch.zeros(self.size, dtype=torch.float64, device=self.x.device)
        if self.batched:
            return sum(g.double().pow(2).reshape(self.size, -1).sum(1) for g in grads)
        per_model = len(grads) // self.size
        return torch.stack([sum(g.double().pow(2).sum() for g in grads[s * per_model:(s + 1) * per_model])
                            for s in range(self.size)])

    def requires_grad_(self, flag: bool) -> None:
        """Mark every parameter (stacked or per model) as trainable or not."""
        for t in self._all_parameters():
            t.requires_grad_(flag)

    def _all_parameters(self) -> Iterator[Tensor]:
        if self.batched:
            yield from self.params.values()
        else:
            for m in self.models:
                yield from m.parameters()


def _call(module: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], h: Tensor) -> Tensor:
    return functional_call(module, (params, buffers), (h,))


def _ownership(blocks: Sequence[nn.Module], trained: Sequence[Tensor]) -> tuple[list[list[Tensor]], list[Tensor]]:
    """Split the trained tensors into those of each block (owned by exactly that block)
    and the shared rest (in several blocks, or in none)."""
    owners: dict[int, list[int]] = {}
    for l, block in enumerate(blocks):
        for q in block.parameters():
            owners.setdefault(id(q), []).append(l)
    groups: list[list[Tensor]] = [[] for _ in blocks]
    shared: list[Tensor] = []
    for p in {id(p): p for p in trained}.values():  # each tensor once, however often listed
        where = sorted(set(owners.get(id(p), [])))
        (groups[where[0]] if len(where) == 1 else shared).append(p)
    return groups, shared


def _vmappable(module: nn.Module) -> bool:
    """False for modules known to mutate state under vmap (BatchNorm in training mode
    updating running statistics in place); other failures are caught by a trial call."""
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.training and sub.track_running_stats:
            return False
    return True
