"""S models of one residual architecture, evaluated batched over seeds.

A residual network is any module whose forward pass applies a list of residual blocks
in sequence, with whatever it likes before the first (the stem) and after the last
(the head): ``blocks(model)`` names them.  h_0 is the input of block 1 and h_l the
output of block l; shapes may change at stage transitions.  The ensemble builds one
model per seed and stacks all their parameters along a new leading axis s = 1..S, so
each block, and the whole forward pass, is one ``vmap``-ed ``functional_call`` on
tensors of shape (S, n, ...).  Modules that cannot be vmapped (BatchNorm updating
running statistics in place, say) fall back to a loop over seeds with identical results.

Construction costs what drawing the weights costs.  Models built by a factory are
stacked one seed at a time (never two copies of the weights).  A family that can draw
its parameters without building modules (:class:`Drawn`: a skeleton of the model on the
meta device and a ``draw`` per seed) skips the S model builds; its seeds are drawn in
parallel threads (one generator each, so the bits do not depend on the threads), and
with ``stream=True`` a forward-only sweep draws block l for all seeds when it reaches
it and frees it after: memory O(S x one block) instead of O(S x L blocks).

A block whose class defines ``forward_stacked(params, h)`` (the block's own forward for
S stacked parameter sets at once, e.g. batched matmuls) is applied with it rather than
with a vmapped module call, once it has agreed with the vmapped call on the probe input.
"""
from __future__ import annotations

import copy
import ctypes
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from resclaims.costs import phase

Builder = Callable[[int], nn.Module]
Blocks = Callable[[nn.Module], Sequence[nn.Module]]
Trained = Callable[[nn.Module], Sequence[Tensor]]
STREAM_BYTES = 64 * 2 ** 20  # a streamed ensemble draws blocks in chunks of about this size
Draws = Iterator[tuple[str, Tensor]]


@dataclass(frozen=True)
class Drawn:
    """Parameters without models: ``skeleton`` is the model built on the meta device
    (structure and shapes, no storage); ``draw(seed)`` yields the (name, tensor) pairs of
    its parameters that ``build(seed)`` would hold, named as in ``named_parameters()``, in
    the forward order (stem, blocks, head).  A skeleton with buffers cannot be drawn."""

    skeleton: nn.Module
    draw: Callable[[int], Draws]


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


ALONE_RTOL = 1e-6  # a block called alone against its output in the forward pass (64 eps in half precision)


class NotChained(RuntimeError):
    """The model's forward pass is not its blocks applied in sequence, each to the
    previous one's output alone; the message says where."""


def chained_output(model: nn.Module, blocks: Sequence[nn.Module], x: Tensor) -> Tensor:
    """``model(x)``, after checking that its forward pass applies ``blocks`` once each, in
    order, with nothing in between (block l+1 receives exactly block l's output), and that
    a block called with more than the hidden state (a skip taken from elsewhere) gives the
    same output without it: what ``stem`` then ``block(l, .)`` compute is then the model's
    own forward pass.  Raises NotChained saying which part fails."""
    position: dict[int, int] = {}
    for l, b in enumerate(blocks):  # a module listed twice (tied units) is one hook
        position.setdefault(id(b), l)
    seen: list[tuple[int, Tensor, Tensor, bool]] = []

    def record(module: nn.Module, args: tuple, kwargs: dict, out: Tensor) -> None:
        if not args:
            raise NotChained("a block was called without a positional input: blocks must take the hidden "
                             "state as their first argument")
        seen.append((id(module), args[0], out, len(args) > 1 or bool(kwargs)))
    hooks = [b.register_forward_hook(record, with_kwargs=True) for b in {id(b): b for b in blocks}.values()]
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
    if [i for i, _, _, _ in seen] != [id(b) for b in blocks]:
        raise NotChained(f"the forward pass called blocks {[position[i] + 1 for i, _, _, _ in seen]}, "
                         f"expected each of 1..{len(blocks)} once, in order")
    for l, ((_, _, out, _), (_, nxt, _, _)) in enumerate(zip(seen, seen[1:])):
        if not (out is nxt or (out.shape == nxt.shape and torch.allclose(out, nxt, rtol=0, atol=0, equal_nan=True))):
            raise NotChained(f"block {l + 2} does not receive block {l + 1}'s output: blocks(model) "
                             f"must list blocks applied in sequence, each a whole residual unit with its "
                             f"shortcut inside (h -> h + F(h)), not the branches F of a loop that adds h itself")
    for l, (_, h, out, extra) in enumerate(seen):
        if extra and not _same_alone(blocks[l], h, out):
            raise NotChained(f"block {l + 1} is called with more than the hidden state (another argument, "
                             f"such as a skip taken from elsewhere) and gives another output without it: the "
                             f"claims apply each block alone, h_l = block_l(h_(l-1)), so a block may depend "
                             f"on h_(l-1) only")
    return y


def _same_alone(block: nn.Module, h: Tensor, out: Tensor) -> bool:
    """Whether ``block(h)`` alone gives ``out``, what it gave in the forward pass with more
    arguments, to ALONE_RTOL of the largest finite output (the same kernels on the same
    input give the same bits on a CPU; a skip taken from elsewhere moves the output by
    its own size).  Overflow (inf, NaN) is compared as such."""
    with torch.no_grad():
        alone = block(h)
    if not isinstance(alone, Tensor) or alone.shape != out.shape:
        return False
    finite = out[torch.isfinite(out)]
    tol = max(ALONE_RTOL, 64 * torch.finfo(out.dtype).eps)
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    return torch.allclose(alone, out, rtol=tol, atol=tol * scale, equal_nan=True)


class Ensemble:
    """Models built by ``build(seed)`` for each seed, with batched stem/block/output calls.

    ``blocks(model)`` lists a model's residual blocks in order; ``trained(model)`` its
    trained parameters (default: those of the blocks).  ``batched`` tells which path is
    in use: stacked parameters (True) or a loop over the S models (False).
    ``transitions`` lists the blocks l (1-based) whose output shape differs from their
    input shape (stage transitions).  ``x``: the inputs, given or drawn by ``x(model)``
    from the first model; ``out_dim``: d, the width of the output.

    ``drawn``: draw the parameters instead of building S models (see the module
    docstring); ``stream``: with ``drawn``, draw each block when the forward pass reaches
    it.  A streamed ensemble is forward-only: ``stem`` then ``block(l, .)`` for
    l = 0, 1, ... in order, once each (as ``sweeps.log_norms`` calls them).
    ``stacked_blocks``: use blocks' ``forward_stacked`` (False: the generic vmapped call,
    for measuring it).

    Block-by-block calls (``block``) swap in each block's own parameters.  A parameter
    registered in several blocks (tied weights, a tau stored in every block) sends the
    ensemble to the loop path; one a block reads without registering it (a tau held by
    the network, read through a reference) is the first model's in block calls: exact at
    initialisation, where every seed has the same such tau and where the core calls
    blocks one by one.  ``outputs`` swaps every parameter.
    """

    def __init__(self, build: Builder, seeds: Sequence[int], x: Tensor | Callable[[nn.Module], Tensor],
                 blocks: Blocks = model_blocks, trained: Trained | None = None, batched: bool = True,
                 drawn: Drawn | None = None, stream: bool = False, stacked_blocks: bool = True) -> None:
        self.seeds = list(seeds)
        self._build = build
        self._use_stacked = stacked_blocks
        self._blocks_of = blocks
        self._trained_of = trained or (lambda m: [p for b in blocks(m) for p in b.parameters()])
        self._out_dim: int | None = None
        self._transitions: list[int] | None = None
        self._chain_checked = False
        self._skips: set[str] | None = None
        with phase("construction"):
            built = drawn is None or not batched or any(True for _ in drawn.skeleton.buffers())
            if not built:
                try:
                    self._construct_drawn(drawn, x, stream)
                except Exception:  # noqa: BLE001 - a skeleton the stacked path cannot use: build
                    built = True
            if built:
                self._construct_built(build, x, batched)
        self.requires_grad_(False)  # the core asks for the gradients it needs

    def _construct_built(self, build: Builder, x: Tensor | Callable[[nn.Module], Tensor], batched: bool) -> None:
        template = build(self.seeds[0])
        self.x = x(template) if callable(x) else x
        self.depth = len(self._blocks_of(template))
        self.streamed = False
        self.batched = batched and _vmappable(template)
        if self.batched:
            try:
                self.params, self.buffers = _stacked_state(template, self.seeds, build)
                self._index(template)
                with torch.no_grad():
                    self._out_dim = self.outputs(self.x[:2]).shape[-1]  # also the trial of vmap
            except Exception:  # noqa: BLE001 - any failure under vmap means: use the loop
                self.batched = False
                for p in template.parameters():  # unpin the stack: the loop holds its own models
                    p.data = p.data.clone()
                self.params, self.buffers = {}, {}
        if not self.batched:
            self.models = [template] + [build(s) for s in self.seeds[1:]]
            self._owned = [_ownership(self._blocks_of(m), self._trained_of(m)) for m in self.models]
        else:
            self.models = [template]  # stacked copies hold the weights now; keep one template
        self._probe_transitions()

    def _construct_drawn(self, drawn: Drawn, x: Tensor | Callable[[nn.Module], Tensor], stream: bool) -> None:
        skeleton = drawn.skeleton
        self.x = x(skeleton) if callable(x) else x
        self.depth = len(self._blocks_of(skeleton))
        self.batched, self.streamed, self.models = True, stream and _streamable(skeleton, self._blocks_of, self.x), [skeleton]
        self.buffers = {}
        shapes = {n: (p.shape, p.dtype) for n, p in skeleton.named_parameters()}
        device = self.x.device
        self._draws = [_Pushback(drawn.draw(s)) for s in self.seeds]
        if self.streamed:
            self.params, self._next_layer, self._drawn_to, self._transitions = {}, 0, -1, []
            self._stem_done = False
            self._sizes = {n: self.size * shape.numel() * dtype.itemsize for n, (shape, dtype) in shapes.items()}
        else:
            self.params = {n: torch.empty((self.size, *shape), dtype=dtype, device=device)
                           for n, (shape, dtype) in shapes.items()}
            _parallel(lambda s: _fill(self.params, s, self._draws[s], set(shapes)), self.size)
        self._index(skeleton)
        if not self.streamed:
            self._probe_transitions()

    def _index(self, template: nn.Module) -> None:
        """Which stacked parameters belong to which block, and how each block is called."""
        names = {id(m): n for n, m in template.named_modules()}
        self._block_modules = list(self._blocks_of(template))
        prefixes: dict[str, list[int]] = {}  # a module listed at several depths (tied units) has several
        for l, block in enumerate(self._block_modules):
            if id(block) not in names:
                raise RuntimeError("a residual block is not a submodule of the model")
            prefixes.setdefault(names[id(block)], []).append(l)
        param_names = {id(p): n for n, p in template.named_parameters()}
        self._block_names: list[set[str]] = [set() for _ in self._block_modules]
        self._buffer_names: list[set[str]] = [set() for _ in self._block_modules]
        for owned, all_names in ((self._block_names, param_names.values()), (self._buffer_names, self.buffers)):
            for name in all_names:
                for l in _owners(name, prefixes):
                    owned[l].add(name)
        for block, own in zip(self._block_modules, self._block_names):
            if len({id(p) for p in block.parameters()}) != len(own):
                raise RuntimeError("a block reads a parameter registered elsewhere (tied weights): use the loop")
        self._prefixes = [names[id(block)] + "." for block in self._block_modules]
        self._block_state = [self._state_of(l) for l in range(self.depth)] if not self.streamed else []
        groups, shared = _ownership(self._block_modules, self._trained_of(template))
        self._groups = [[param_names[id(p)] for p in group] for group in groups]
        self._shared = [param_names[id(p)] for p in shared]
        self._vmapped = [vmap(partial(_call, module)) for module in self._block_modules]
        self._checked: dict[tuple, bool] = {}
        self._stacked: dict[int, Callable[[dict[str, Tensor], Tensor], Tensor] | None] = {}
        self._template = template
        # functional_call unties shared tensors by walking every module on every call;
        # a model without any (the common case) is spared the walk
        self._tied = (len(list(template.named_parameters(remove_duplicate=False)))
                      + len(list(template.named_buffers(remove_duplicate=False)))
                      != len(dict(template.named_parameters())) + len(dict(template.named_buffers())))

    def _state_of(self, layer: int) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        prefix = self._prefixes[layer]
        return ({n[len(prefix):]: self.params[n] for n in self._block_names[layer]},
                {n[len(prefix):]: self.buffers[n] for n in self._buffer_names[layer]})

    def _probe_transitions(self) -> None:
        """``transitions`` from a forward pass on two inputs."""
        self._transitions = []
        with torch.no_grad():
            h = self._stem(self.x[:2])  # unchecked: a model that is not chained may still train (outputs)
            for layer in range(self.depth):
                out = self.block(layer, h)
                if out.shape != h.shape:
                    self._transitions.append(layer + 1)
                h = out

    @property
    def transitions(self) -> list[int]:
        """The blocks l (1-based) whose output shape differs from their input shape (stage
        transitions); a streamed ensemble knows them once its sweep has passed them all."""
        if self._transitions is None or (self.streamed and self._next_layer < self.depth):
            raise RuntimeError("a streamed ensemble knows its transitions after the sweep")
        return self._transitions

    @property
    def out_dim(self) -> int:
        """d, the width of the output (from a forward pass on two inputs)."""
        if self._out_dim is None:
            with torch.no_grad():
                self._out_dim = self.outputs(self.x[:2]).shape[-1]
        return self._out_dim

    @property
    def size(self) -> int:
        return len(self.seeds)

    def stem(self, x: Tensor) -> Tensor:
        """h_0 (the input of block 1) for every seed: (S, n, ...).  The first call checks
        that the chained sweep (``stem`` then ``block(l, .)``) is the model's own forward
        pass (:func:`chained_output` on the first seed's model; NotChained otherwise)."""
        self._check_chained()
        return self._stem(x)

    def _stem(self, x: Tensor) -> Tensor:
        """``stem`` without the chain check."""
        if not self.batched:
            return torch.stack([input_of(m, self._blocks_of(m)[0], x) for m in self.models])
        skip = self._stem_skips()
        if not self.streamed:
            params = {n: p for n, p in self.params.items() if n not in skip}
        else:  # the stem's parameters are those drawn before block 1's (checked: _streamable)
            if self._stem_done:
                raise RuntimeError("a streamed ensemble runs the stem once, first")
            self._stem_done = True
            with phase("construction"):
                before = dict(self.params)
                self._drawn_to = self._draw_before(0) - 1
                params = {n: p for n, p in self.params.items() if n not in before}
        first = self._block_modules[0]
        return torch.stack([
            input_of(self._template, first, x, lambda v: functional_call(
                self._template, ({k: p[s] for k, p in params.items()},
                                 {k: b[s] for k, b in self.buffers.items() if k not in skip}), (v,),
                tie_weights=self._tied))
            for s in range(self.size)])

    def _stem_skips(self) -> set[str]:
        """The blocks' tensors the stem does not read, which it then need not swap in (27
        of an 80 ms sweep at L = 256, m = 64, 16 seeds); none when a tensor is tied."""
        if self._skips is None and self._tied:
            self._skips = set()
        if self._skips is None:
            read = {id(t) for t in stem_tensors(self._template, self._block_modules[0], self.x)}
            names = {**dict(self._template.named_parameters()), **dict(self._template.named_buffers())}
            owned = set().union(*self._block_names, *self._buffer_names)
            self._skips = {n for n in owned if n in names and id(names[n]) not in read}
        return self._skips

    def _check_chained(self) -> None:
        """Once, on the first seed's model at the sizes the claim asked for (the contract's
        probe is small: a skip taken from a stage's input shows only from the third block
        of a stage).  A drawn ensemble, whose template is a skeleton without values,
        builds that model once for it, unless it streams and one seed's parameters exceed
        STREAM_BYTES: streaming keeps its O(S m^2) memory there, and the check has run on
        the same subject's smaller settings."""
        if self._chain_checked:
            return
        model = self.models[0]
        if any(p.is_meta for p in model.parameters()):
            if self.streamed and sum(self._sizes.values()) > STREAM_BYTES * self.size:
                self._chain_checked = True
                return
            with phase("construction"):
                model = self._build(self.seeds[0])
        chained_output(model, self._blocks_of(model), self.x[:2])
        self._chain_checked = True

    def block(self, layer: int, h: Tensor) -> Tensor:
        """h_l = block_l(h_{l-1}) for every seed: (S, n, ...) -> (S, n, ...)."""
        if not self.batched:
            return torch.stack([self._blocks_of(m)[layer](h[s]) for s, m in enumerate(self.models)])
        if self.streamed:
            if layer != self._next_layer:
                raise RuntimeError(f"a streamed ensemble runs its blocks once, in order: asked for block "
                                   f"{layer + 1} after block {self._next_layer}")
            if layer > self._drawn_to:
                with phase("construction"):
                    self._draw_ahead(layer)
            state = self._state_of(layer)
            self._next_layer += 1
            out = self._apply_block(layer, state, h)
            if out.shape != h.shape:
                self._transitions.append(layer + 1)
            for name in self._block_names[layer]:
                del self.params[name]
            return out
        return self._apply_block(layer, self._block_state[layer], h)

    def _apply_block(self, layer: int, state: tuple[dict[str, Tensor], dict[str, Tensor]], h: Tensor) -> Tensor:
        """Block ``layer`` on stacked ``state``: its ``forward_stacked`` where it has one that
        agrees with the vmapped module call (checked once per block signature), else vmap."""
        module, generic = self._block_modules[layer], self._vmapped[layer]
        if layer not in self._stacked:
            stacked = _stacked_forward(module) if self._use_stacked else None
            key = (type(module), tuple(sorted((n, t.shape) for n, t in state[0].items())), h.shape[2:], h.dtype)
            if stacked is not None and key not in self._checked:
                probe = h[:, :2]
                expected = generic(*state, probe)
                try:  # on a copy: a stacked forward working in place must not touch h
                    self._checked[key] = _agree(stacked(state[0], probe.clone()), expected)
                except Exception:  # noqa: BLE001 - a stacked forward that fails is not used
                    self._checked[key] = False
            self._stacked[layer] = stacked if stacked is not None and self._checked[key] else None
        stacked = self._stacked[layer]
        return stacked(state[0], h) if stacked is not None else generic(*state, h)

    def _draw_ahead(self, layer: int) -> None:
        """Draw blocks ``layer``.. (and whatever lies between them) for every seed, as many
        as fit in STREAM_BYTES (at least one): the stream's unit of work, large enough
        that the threads' start-up is paid rarely."""
        _trim_heap()
        size = lambda l: sum(self._sizes[n] for n in self._block_names[l])  # noqa: E731
        last, used = layer, size(layer)
        while last + 1 < self.depth and used + size(last + 1) <= STREAM_BYTES:
            last += 1
            used += size(last)
        self._drawn_to = self._draw_before(last + 1) - 1

    def _draw_before(self, layer: int) -> int:
        """Draw up to the parameters of the first block from ``layer`` on that has any;
        returns that block (``depth`` when the draw ran to the end)."""
        while layer < self.depth and not self._block_names[layer]:
            layer += 1
        self._draw_until(self._block_names[layer] if layer < self.depth else None)
        return layer

    def _draw_until(self, names: set[str] | None) -> None:
        """Draw, for every seed in parallel, the parameters that come before ``names`` (a
        block's; None: to the end) into the stacked dict."""
        drawn: dict[str, Tensor] = {}

        def one(s: int) -> None:
            draws = self._draws[s]
            for name, t in draws:
                if names is not None and name in names:
                    draws.push((name, t))
                    return
                if name not in drawn:
                    drawn[name] = torch.empty((self.size, *t.shape), dtype=t.dtype, device=self.x.device)
                drawn[name][s].copy_(t)
        one(0)  # the first seed fixes the names and allocates; the others fill in parallel
        _parallel(lambda s: one(s + 1), self.size - 1)
        self.params.update(drawn)

    def blocks(self, h: Tensor) -> Tensor:
        """h_L from h_0, through every block."""
        for layer in range(self.depth):
            h = self.block(layer, h)
        return h

    def outputs(self, x: Tensor) -> Tensor:
        """The whole forward pass for every seed: x (n, ...) -> (S, n, d)."""
        self._materialised("outputs")
        if self.batched:
            template, tied = self._template, self._tied
            return vmap(lambda p, b: functional_call(template, (p, b), (x,), tie_weights=tied))(
                self.params, self.buffers)
        return torch.stack([m(x) for m in self.models])

    def _materialised(self, what: str) -> None:
        if self.streamed:
            raise RuntimeError(f"{what} needs every block's parameters: build the ensemble without stream=True")

    def block_parameters(self, layer: int) -> list[Tensor]:
        """The trained tensors of block ``layer``: stacked (S, ...) leaves when batched,
        else each model's tensors, model by model."""
        self._materialised("block_parameters")
        if self.batched:
            return [self.params[n] for n in self._groups[layer]]
        return [p for groups, _ in self._owned for p in groups[layer]]

    def shared_parameters(self) -> list[Tensor]:
        """Trained tensors that belong to no single block (a tau shared by all blocks)."""
        self._materialised("shared_parameters")
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

    def chunks(self, count: int) -> list["Ensemble"]:
        """The seeds split into ``count`` contiguous chunks (sizes differing by at most one),
        each an ensemble over the same storage: the stacked tensors are sliced, not copied,
        so GD on a chunk moves the whole ensemble's parameters (chunks may run at once:
        their slices are disjoint).  Each batched chunk has its own copy of the template
        module (``functional_call`` swaps a module's tensors while it runs, so two threads
        must not share one); a loop-path chunk holds its own models.  A streamed ensemble
        cannot be split."""
        self._materialised("chunks")
        if not 1 <= count <= self.size:
            raise ValueError(f"chunks: {count} chunks of {self.size} seeds")
        bounds = [self.size * k // count for k in range(count + 1)]
        parts = []
        for start, stop in zip(bounds, bounds[1:]):
            part = copy.copy(self)
            part.seeds = self.seeds[start:stop]
            if self.batched:
                # ``.data``: the same storage under a version counter of the chunk's own, so an
                # in-place GD step on one chunk does not invalidate another chunk's saved graph
                part.params = {n: p.data[start:stop] for n, p in self.params.items()}
                part.buffers = {n: b.data[start:stop] for n, b in self.buffers.items()}
                template = copy.deepcopy(self._template)
                part.models = [template]
                part._index(template)
            else:
                part.models, part._owned = self.models[start:stop], self._owned[start:stop]
            parts.append(part)
        return parts

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


class _Pushback:
    """An iterator that can take back one item (the first of the next block)."""

    def __init__(self, items: Iterator[tuple[str, Tensor]]) -> None:
        self._items, self._back = items, []

    def __iter__(self) -> "_Pushback":
        return self

    def __next__(self) -> tuple[str, Tensor]:
        return self._back.pop() if self._back else next(self._items)

    def push(self, item: tuple[str, Tensor]) -> None:
        self._back.append(item)


def _streamable(skeleton: nn.Module, blocks: Blocks, x: Tensor) -> bool:
    """Whether the parameters come in forward order, as streaming assumes: each block
    once (no unit listed at two depths), blocks in order and each block's together, and
    every parameter the stem reads (those of the modules that run before block 1, found
    on the meta device, and the model's own) before block 1's."""
    modules = list(blocks(skeleton))
    if len({id(m) for m in modules}) != len(modules):
        return False
    names = {id(m): n for n, m in skeleton.named_modules()}
    prefixes = {names.get(id(m), ""): [l] for l, m in enumerate(modules)}
    order = [(_owners(n, prefixes) or [None])[0] for n, _ in skeleton.named_parameters()]
    seen = [l for l in order if l is not None]
    if not seen or seen != sorted(seen):
        return False
    first = order.index(seen[0])
    last = len(order) - order[::-1].index(seen[-1])
    if any(l is None for l in order[first:last]):
        return False
    stem = {id(t) for t in stem_tensors(skeleton, modules[0], x)}
    position = {id(p): i for i, (_, p) in enumerate(skeleton.named_parameters())}
    return all(position[q] < first for q in stem if q in position)


def stem_tensors(model: nn.Module, first: nn.Module, x: Tensor) -> list[Tensor]:
    """The parameters and buffers the stem may read: those of every module that runs
    before block ``first`` (the model's own, not its children's), found by running the
    stem on one input (on the meta device for a skeleton)."""
    called: list[nn.Module] = []
    meta = any(p.is_meta for p in model.parameters())
    hooks = [m.register_forward_pre_hook(lambda module, args: called.append(module)) for m in model.modules()]
    try:
        with torch.no_grad():
            input_of(model, first, x[:1].to("meta") if meta else x[:1])
    finally:
        for hook in hooks:
            hook.remove()
    return [t for m in called if m is not first
            for t in [*m.parameters(recurse=m is not model), *m.buffers(recurse=m is not model)]]


def _trim_heap() -> None:
    """Hand freed C-heap memory back to the OS (glibc's ``malloc_trim``; elsewhere a
    no-op).  Activations freed by torch's worker threads stay in per-thread arenas
    otherwise, and a streamed sweep's resident memory would grow with L (2.4 GB against
    0.4 GB at L = 1024, m = 256, 16 seeds, measured)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL("libc.so.6").malloc_trim)
        except (OSError, AttributeError):
            _LIBC.append(None)
    if _LIBC[0] is not None:
        _LIBC[0](0)


_LIBC: list = []


def _parallel(work: Callable[[int], None], count: int) -> None:
    """work(0..count-1), on up to torch.get_num_threads() threads (torch kernels release
    the GIL; each seed has its own generator, so the bits do not depend on the order).
    The threads end with the call: a thread that ran a parallel kernel (a large copy_)
    keeps an OpenMP team, and while such threads live, libgomp makes every team sleep
    between kernels instead of spinning (more threads than cores), which slowed this
    process's later small-width sweeps 2.3x (L = 256, m = 64, 16 seeds, 2 threads:
    0.055 s before building an m = 256 ensemble, 0.126 s after; 0.055 s with this)."""
    workers = min(count, torch.get_num_threads())
    if workers <= 1:
        for i in range(count):
            work(i)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="resclaims-draw") as pool:
        list(pool.map(work, range(count)))


def _fill(stacked: dict[str, Tensor], seed: int, draws: Iterator[tuple[str, Tensor]], names: set[str]) -> None:
    """Copy one seed's drawn parameters into its slot of the stacked tensors."""
    missing = set(names)
    for name, t in draws:
        stacked[name][seed].copy_(t)
        missing.discard(name)
    if missing:
        raise RuntimeError(f"draw yielded no value for {sorted(missing)[:3]}")


def _stacked_state(template: nn.Module, seeds: Sequence[int], build: Builder
                   ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Every parameter and buffer of the models built for ``seeds``, stacked along a new
    leading axis, one model at a time (the template is the first seed's): the weights are
    never held twice."""
    params = {n: torch.empty((len(seeds), *p.shape), dtype=p.dtype, device=p.device)
              for n, p in template.named_parameters()}
    buffers = {n: torch.empty((len(seeds), *b.shape), dtype=b.dtype, device=b.device)
               for n, b in template.named_buffers()}
    for s, seed in enumerate(seeds):
        model = template if s == 0 else build(seed)
        for stacked, own in ((params, dict(model.named_parameters())), (buffers, dict(model.named_buffers()))):
            if own.keys() != stacked.keys():
                raise RuntimeError("models of different seeds have different parameters")
            for n, t in own.items():
                stacked[n][s].copy_(t.detach())
    for n, p in template.named_parameters():  # the template's own tensors become views of the stack
        p.data = params[n][0]
    return params, buffers


def _owners(name: str, prefixes: dict[str, list[int]]) -> list[int]:
    """The blocks (indices) whose module path is the longest prefix of tensor ``name``."""
    parts = name.split(".")
    for k in range(len(parts) - 1, 0, -1):
        layers = prefixes.get(".".join(parts[:k]))
        if layers is not None:
            return layers
    return []


def _stacked_forward(module: nn.Module) -> Callable[[dict[str, Tensor], Tensor], Tensor] | None:
    """The block's ``forward_stacked``, if the class that defines it also defines the
    ``forward`` in use: a subclass that rewrites ``forward`` alone (a variant detaching
    its branch, say, which no forward value reveals) is applied by its own forward."""
    owner = lambda name: next((c for c in type(module).__mro__ if name in vars(c)), None)  # noqa: E731
    if owner("forward_stacked") is None or owner("forward_stacked") is not owner("forward"):
        return None
    return module.forward_stacked


def _agree(a: Tensor, b: Tensor) -> bool:
    """Two evaluations of one block equal to within a few units of roundoff."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    eps = torch.finfo(a.dtype).eps if a.is_floating_point() else 0.0
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=16 * eps, atol=16 * eps * scale))
