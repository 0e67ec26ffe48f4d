"""Zhang, Yu, Yi, Chen, Liu: tau-scaled ResNets (arXiv:1903.07120), as a family of architectures.

The paper's theory model (Sect. 2) is one member:

    h_0 = ReLU(A x),  h_l = ReLU(h_{l-1} + tau W_l h_{l-1})  (l = 1..L),  y = B h_L,

with A, W_l ~ N(0, 2/m) and B ~ N(0, 1/d) entrywise [paper eq. 1; init RECON].  The
theorem's hypotheses (tau on the output of the parametric branch, ReLU after the add,
He initialisation, no normalisation) admit more; ``tau_resnet`` builds them all:

* ``block``: ``"mlp"`` (W_l matrices) or ``"conv"`` (3x3 convolutions, as the paper's
  CIFAR code);
* ``branch_depth``: k = 1 or 2 weight layers in the branch, F(h) = W_k ... ReLU(W_1 h);
* ``stages``: 1 to 3; the first block of each later stage is a transition that doubles
  the width (and, for conv blocks, halves the resolution with stride 2) and has its own
  shortcut, the parameter-free option A of the official code (subsample, append zero
  channels);
* ``input``: ``"vector"`` x in R^in_dim, or ``"image"`` x in R^{3 x image x image};
  inputs have ||x|| = 1.

Every branch weight is N(0, 2/fan_in) (He); the head is B ~ N(0, 1/d) after global
average pooling for conv blocks.
"""
from __future__ import annotations

import math
import weakref
from functools import partial
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor, nn

from resclaims.core.modules import UndrawnConv2d, UndrawnLinear
from resclaims.family import Adapter, Family, Subject, SubjectError, sequential_output

__all__ = ["TAU_RESNET", "TauBlock", "TauResNet", "tau_resnet", "stage_sizes", "gaussian_", "SUBJECTS"]

IMAGE_CHANNELS = 3


def gaussian_(weight: Tensor, variance: float, generator: torch.Generator) -> Tensor:
    """Fill ``weight`` in place with i.i.d. N(0, variance) entries drawn from ``generator``
    (nothing to draw for a weight on the meta device, a skeleton's)."""
    if weight.is_meta:
        return weight
    with torch.no_grad():
        return weight.normal_(0.0, math.sqrt(variance), generator=generator)


def layer(kind: str, c_in: int, c_out: int, dtype: torch.dtype, stride: int = 1, bias: bool = False) -> nn.Module:
    """A weight layer whose weight is left undrawn (no torch default init, which would
    draw from the global RNG): ``nn.Linear`` for ``mlp``, a 3x3 ``nn.Conv2d`` (padding 1)
    for ``conv``.  A bias, if asked for, starts at zero."""
    if kind == "mlp":
        return UndrawnLinear(c_in, c_out, bias=bias, dtype=dtype)
    return UndrawnConv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias, dtype=dtype)


class OptionA(nn.Module):
    """The parameter-free transition shortcut of the official code: keep every
    ``stride``-th position, append ``extra`` zero channels (dimension 1)."""

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, h: Tensor) -> Tensor:
        if self.stride > 1:
            h = h[..., ::self.stride, ::self.stride]
        return torch.cat([h, h.new_zeros((h.shape[0], self.extra, *h.shape[2:]))], dim=1)


class TauBlock(nn.Module):
    """One residual block h -> ReLU(P h + tau F(h)): F has ``branch_depth`` weight layers
    with ReLU between them, each N(0, 2/fan_in); P is the identity, or OptionA at a
    stage transition (c_in != c_out or stride 2)."""

    bias = False  # controls switch on zero-initialised layer biases

    def __init__(self, kind: str, c_in: int, c_out: int, tau: float, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64, branch_depth: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.kind, self.tau = kind, tau
        layers = [layer(kind, c_in, c_out, dtype, stride, self.bias)]
        for _ in range(branch_depth - 1):
            layers += [nn.ReLU(), layer(kind, c_out, c_out, dtype, bias=self.bias)]
        self.branch = nn.Sequential(*layers)
        self.shortcut = nn.Identity() if (c_in, stride) == (c_out, 1) else OptionA(stride, c_out - c_in)
        self.init_weights(generator)

    def weights(self) -> list[Tensor]:
        """The branch's weight matrices or kernels W_1..W_k."""
        return [m.weight for m in self.branch if isinstance(m, (nn.Linear, nn.Conv2d))]

    def init_weights(self, generator: torch.Generator) -> None:
        """W ~ N(0, 2/fan_in): He initialisation, so ReLU(W h) keeps E||.||^2."""
        for w in self.weights():
            gaussian_(w, 2.0 / w[0].numel(), generator)

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(self.shortcut(h) + self.tau * self.branch(h))

    def forward_stacked(self, params: dict[str, Tensor], h: Tensor) -> Tensor:
        """``forward`` for S parameter sets at once (``params[name]`` of shape (S, ...),
        h of shape (S, n, m)): MLP blocks as batched matmuls, the same operations in the
        same order as ``forward``, so the bits agree; conv blocks as vmapped convolutions."""
        if self.kind != "mlp":
            return torch.vmap(lambda p, v: torch.func.functional_call(self, p, (v,)))(params, h)
        z = h
        for i, module in enumerate(self.branch):
            if isinstance(module, nn.Linear):
                z = torch.bmm(z, params[f"branch.{i}.weight"].transpose(1, 2))
                if module.bias is not None:
                    z = z + params[f"branch.{i}.bias"].unsqueeze(1)
            else:
                z = module(z)
        shortcut = h if isinstance(self.shortcut, nn.Identity) else torch.vmap(self.shortcut)(h)
        if torch.is_grad_enabled():
            return torch.relu(shortcut + self.tau * z)
        return z.mul_(self.tau).add_(shortcut).relu_()  # in place: same bits (a + b = b + a), no allocations


class TauResNet(nn.Module):
    """stem (h_0), blocks (the L residual blocks), head (y = B h_L); ``input_shape`` is the
    shape of one input."""

    def __init__(self, stem: nn.Module, blocks: Sequence[nn.Module], head: nn.Module,
                 input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.input_shape = input_shape

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def stage_sizes(depth: int, stages: int) -> list[int]:
    """``depth`` blocks split over ``stages`` as evenly as possible, earlier stages first."""
    if not 1 <= stages <= depth:
        raise ValueError(f"cannot split {depth} blocks into {stages} stages")
    return [depth // stages + (i < depth % stages) for i in range(stages)]


def tau_resnet(depth: int, tau: float, width: int = 64, *, generator: torch.Generator,
               dtype: torch.dtype = torch.float64, block: str = "mlp", branch_depth: int = 1,
               stages: int = 1, input: str = "vector", image: int = 8, in_dim: int = 16,
               out_dim: int = 1, block_class: type[TauBlock] = TauBlock,
               reverse_draws: bool = False) -> TauResNet:
    """A tau-ResNet of the family (see the module docstring): ``depth`` = L residual
    blocks over ``stages`` stages, first-stage width ``width`` (channels for conv),
    branch scale ``tau``.  ``block_class`` lets mutants and controls swap the block and
    ``reverse_draws`` draws the blocks' weights last block first; the reference uses
    neither."""
    if block not in ("mlp", "conv") or input not in ("vector", "image"):
        raise ValueError(f"unknown architecture block={block!r}, input={input!r}")
    if block == "conv" and input != "image":
        raise ValueError("conv blocks need image inputs")
    input_shape = (in_dim,) if input == "vector" else (IMAGE_CHANNELS, image, image)
    if block == "conv":
        first = layer("conv", IMAGE_CHANNELS, width, dtype)
        stem: nn.Module = nn.Sequential(first, nn.ReLU())
    else:
        first = layer("mlp", math.prod(input_shape), width, dtype)
        stem = nn.Sequential(nn.Flatten(), first, nn.ReLU())
    gaussian_(first.weight, 2.0 / first.weight[0].numel(), generator)
    specs = []  # (c_in, c_out, stride) per block
    c = width
    for s, size in enumerate(stage_sizes(depth, stages)):
        for i in range(size):
            transition = s > 0 and i == 0
            specs.append((c, 2 * c if transition else c, 2 if transition and block == "conv" else 1))
            c = specs[-1][1]
    order = range(len(specs) - 1, -1, -1) if reverse_draws else range(len(specs))
    made = {i: block_class(block, *specs[i][:2], tau, generator, dtype, branch_depth, specs[i][2]) for i in order}
    head_linear = UndrawnLinear(c, out_dim, bias=False, dtype=dtype)
    gaussian_(head_linear.weight, 1.0 / out_dim, generator)
    head = head_linear if block == "mlp" else nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), head_linear)
    return TauResNet(stem, [made[i] for i in range(len(specs))], head, input_shape)


def _validate(model: nn.Module, blocks: Sequence[nn.Module], x: Tensor) -> None:
    """The contract of a residual network: ``blocks`` has ``depth`` entries (probe depth),
    applied in sequence (:func:`sequential_output`), and the model maps x to a finite
    (n, d) output."""
    y = sequential_output(model, blocks, x, TAU_RESNET.probe["depth"])
    if y.dim() != 2 or y.shape[0] != x.shape[0]:
        raise SubjectError(f"output has shape {tuple(y.shape)}, expected (n, d) = ({x.shape[0]}, d)")
    if not torch.isfinite(y).all():
        raise SubjectError("output is not finite (NaN or inf) on the probe input")


TAU_RESNET = Family(
    name="tau-resnet",
    keywords=("depth", "tau"),
    probe={"depth": 3, "tau": 0.5, "width": 8, "in_dim": 5, "out_dim": 2},
    validate=_validate,
    responds_to={"tau": 1.0},
    doc="Adapter(build(depth, tau[, width, generator, dtype, ...]) -> model with `depth` residual "
        "blocks whose branch output tau multiplies; blocks(model) in order; inputs(n, generator); "
        "branch_parameters(model)).  A bare factory is an Adapter whose model has `.blocks`.",
)



def draw_tau_resnet(skeleton: nn.Module, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
    """The parameters ``tau_resnet`` draws, in its order, without building the model:
    every weight N(0, 2/fan_in) but the head's N(0, 1/d), biases zero (variance None in
    the plan).  One buffer per shape is drawn into again and again (the caller copies
    each value before taking the next).  A skeleton it cannot draw is refused here, at
    the call, not at the first draw (a streamed ensemble draws late)."""
    plan = _draw_plan(skeleton)

    def draws() -> Iterator[tuple[str, Tensor]]:
        buffers: dict[torch.Size, Tensor] = {}
        for name, shape, dtype, variance in plan:
            value = buffers.get(shape)
            if value is None:
                value = buffers[shape] = torch.empty(shape, dtype=dtype)
            if variance is None:
                value.zero_()
            else:
                gaussian_(value, variance, generator)
            yield name, value
    return draws()


_FORWARD_ONLY = {"forward", "bias"} | set(vars(type("_Bare", (nn.Module,), {})))  # + what every class body holds


def draws_as_tau_block(block_class: type[nn.Module]) -> bool:
    """Whether ``block_class`` creates and draws its parameters as :class:`TauBlock` does:
    a subclass that defines nothing but ``forward`` and the ``bias`` switch (a new
    ``__init__``, ``init_weights``, ``weights`` or helper could change what is drawn).
    Then :func:`draw_tau_resnet` gives its values."""
    if not issubclass(block_class, TauBlock):
        return False
    return all(set(vars(cls)) <= _FORWARD_ONLY for cls in block_class.__mro__[:block_class.__mro__.index(TauBlock)])


_PLANS: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()


def _draw_plan(skeleton: nn.Module) -> list[tuple[str, torch.Size, torch.dtype, float | None]]:
    """(name, shape, dtype, variance) of each parameter in order, worked out once per
    skeleton rather than once per seed (a walk over every module of a deep model)."""
    plan = _PLANS.get(skeleton)
    if plan is None:
        strangers = {type(b).__name__ for b in skeleton.blocks if not draws_as_tau_block(type(b))}
        if strangers:
            raise ValueError(f"draw_tau_resnet cannot draw {', '.join(sorted(strangers))}: its blocks "
                             "draw their parameters otherwise; build that variant per seed")
        head = {id(p) for p in skeleton.head.parameters()}
        plan = _PLANS[skeleton] = [  # the head's weight is (d, width): variance 1/d
            (name, p.shape, p.dtype, None if name.endswith("bias") else
             1.0 / p.shape[0] if id(p) in head else 2.0 / p[0].numel())
            for name, p in skeleton.named_parameters()]
    return plan


REFERENCE = Adapter(build=tau_resnet, draw=draw_tau_resnet)


def variant(name: str, build: Any, doc: str, role: str, killed_by: tuple[str, ...] = (),
            reference_draws: bool = False) -> Subject:
    """A mutant or control of the reference: same family, its own builder.
    ``reference_draws``: ``build`` draws the reference's parameters in the reference's
    order (it changes a forward pass, tau or zero biases), so ensembles draw them with
    :func:`draw_tau_resnet` instead of building S models, as for the reference."""
    adapter = Adapter(build=build, draw=draw_tau_resnet if reference_draws else None)
    return Subject(f"zhang2019.{name}", TAU_RESNET, adapter, doc=doc, role=role,  # type: ignore[arg-type]
                   mutant_of="zhang2019.reference", killed_by=killed_by)


def with_block(block_class: type[TauBlock]) -> Any:
    """The reference builder with its block swapped (every architecture of the family)."""
    return partial(tau_resnet, block_class=block_class)


SUBJECTS = [
    Subject("zhang2019.reference", TAU_RESNET, REFERENCE,
            doc="h_l = ReLU(P h_{l-1} + tau F_l(h_{l-1})), He init; MLP or conv blocks, branch "
                "depth 1-2, 1-3 stages [1903.07120 Sect. 2 and official code]"),
]
