"""Settings for residual networks: the architecture, its sizes, scale constants and seeds.

Everything drawn is a small, readable value; weights come later from the seed.  The
architecture is drawn first, from the simplest choice up (MLP before conv, branch depth
1 before 2, one stage before three, vector before image inputs), so Hypothesis shrinks a
counterexample to the simplest architecture that still fails.  Depths are powers of
two (log-uniform), so a shrunk setting reads ``depth=16`` rather than ``depth=13``;
widths and image sizes come from short lists; scale constants are multiples of 0.05.

What is drawn depends on the subject: a subject whose ``build`` takes architecture
keywords (the reference family, its mutants and controls) gets the whole
architecture; a user's model, whose architecture is its own, gets only depth (and
width, if its ``build`` takes one: channels from the conv list when its blocks
convolve, else units from the MLP list).  Sizes are capped by the profile's ``Scale``:
``max_params`` bounds the multiply-adds one sample costs through all blocks, computed
from the architecture keys, or measured on a user's probe model and scaled to the
width drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from hypothesis import strategies as st

from resclaims.claim import Scale, Setting
from resclaims.family import Subject
from resclaims.models.zhang2019 import stage_sizes

ARCH_KEYS = ("block", "branch_depth", "stages", "input")
MLP_WIDTHS = (64, 128, 256)
CONV_WIDTHS = (4, 8, 16)
IMAGES = (4, 8)


def seeds() -> st.SearchStrategy[int]:
    """A base seed; the models of one setting use seeds derived from it."""
    return st.integers(min_value=0, max_value=2 ** 31 - 1)


def constants(lo: float, hi: float, step: float = 0.05) -> st.SearchStrategy[float]:
    """Multiples of ``step`` in [lo, hi], shrinking towards ``lo``."""
    k_lo, k_hi = round(lo / step), round(hi / step)
    if k_lo > k_hi:
        raise ValueError(f"empty range [{lo}, {hi}] for step {step}")
    return st.integers(k_lo, k_hi).map(lambda k: round(k * step, 10))


@dataclass(frozen=True)
class Space:
    """The architectures a claim covers: each key's allowed values, simplest first.
    ``THEOREM`` is every architecture meeting the tau theorem's hypotheses;
    ``REFERENCE`` the paper's exact Sect. 2 model."""

    block: tuple[str, ...] = ("mlp", "conv")
    branch_depth: tuple[int, ...] = (1, 2)
    stages: tuple[int, ...] = (1, 2, 3)
    input: tuple[str, ...] = ("vector", "image")
    conv_stages: tuple[int, ...] = (1, 2, 3)

    def describe(self) -> str:
        conv = "" if self.conv_stages == self.stages else \
            f" ({'/'.join(map(str, self.conv_stages))} for conv)"
        return (f"blocks {'/'.join(self.block)}, branch depth {'/'.join(map(str, self.branch_depth))}, "
                f"{'/'.join(map(str, self.stages))} stage(s){conv}, {'/'.join(self.input)} inputs")


THEOREM = Space()
REFERENCE = Space(block=("mlp",), branch_depth=(1,), stages=(1,), input=("vector",))


@dataclass(frozen=True)
class Measured:
    """A user subject's own cost: ``per_block`` multiply-adds per sample per block of its
    probe model, built at ``width`` (None: its ``build`` takes no width); ``conv``: its
    blocks hold convolutions."""

    per_block: float
    width: int | None
    conv: bool

    def at(self, width: int | None) -> float:
        """Per-block multiply-adds at ``width``: a layer's weights, and so its
        multiply-adds (linear and convolutional alike, at the positions the subject's
        own inputs give), grow as width^2."""
        if self.width is None or width is None:
            return self.per_block
        return self.per_block * (width / self.width) ** 2


def cost(setting: Setting, depth: int, measured: Measured | None = None) -> float:
    """Multiply-adds of one sample through ``depth`` blocks: from the architecture keys
    (stage s has width w 2^s and, for conv, resolution image / 2^s), or from a subject's
    ``measured`` cost per block at the setting's width."""
    if measured is not None:
        return depth * measured.at(setting.get("width"))
    width, k = setting["width"], setting.get("branch_depth", 1)
    total = 0.0
    for s, size in enumerate(stage_sizes(depth, min(setting.get("stages", 1), depth))):
        w = width * 2 ** s
        if setting.get("block", "mlp") == "conv":
            total += size * k * w * w * 9 * (setting["image"] / 2 ** s) ** 2
        else:
            total += size * k * w * w
    return total


def measure(subject: Subject) -> Measured:
    """Multiply-adds per sample per block of the subject's probe model (the family's
    probe sizes): each Linear/Conv2d inside a block costs its weight count times its
    output positions, and a block at least its parameter count (every weight is used
    at least once per sample: a floor for layers the hooks do not see, such as Conv1d,
    attention or an einsum on a bare Parameter)."""
    probe = subject.family.probe
    model = subject.build(0, **probe)
    blocks = subject.blocks(model)
    x = subject.inputs(model, 2, 0, in_dim=probe.get("in_dim"))
    total, conv = [0.0], [False]

    def count(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        positions = math.prod(out.shape[2:]) if isinstance(module, torch.nn.Conv2d) else 1
        total[0] += module.weight.numel() * positions
        conv[0] = conv[0] or isinstance(module, torch.nn.Conv2d)
    hooks = [m.register_forward_hook(count) for b in blocks for m in b.modules()
             if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    width = probe.get("width") if subject.adapter.accepts("width") else None
    weights = sum(p.numel() for b in blocks for p in b.parameters())
    return Measured(max(total[0], weights) / len(blocks), width, conv[0])


def _depths(depths: tuple[int, int]) -> list[int]:
    lo, hi = depths
    return [2 ** k for k in range(lo.bit_length() - 1, hi.bit_length()) if lo <= 2 ** k <= hi]


def _sizes(arch: dict[str, Any], subject: Subject, measured: Measured | None) -> list[dict[str, Any]]:
    """The sizes one may draw for ``arch`` (smallest first); for a user's subject that
    takes a width, channels as for conv blocks when its blocks convolve."""
    if arch.get("block") == "conv":
        return [{"width": w, "image": i} for i in IMAGES for w in CONV_WIDTHS]
    if arch.get("input") == "image":
        return [{"width": w, "image": min(IMAGES)} for w in MLP_WIDTHS]
    if not subject.adapter.accepts("width"):
        return [{}]
    return [{"width": w} for w in (CONV_WIDTHS if measured is not None and measured.conv else MLP_WIDTHS)]


@st.composite
def _sized(draw: Any, scale: Scale, subject: Subject, space: Space, depths: Sequence[int],
           ladder: bool, measured: Measured | None) -> Setting:
    """An architecture (if the subject takes one) with sizes, and a depth: drawn from
    ``depths`` when not a ``ladder``, else the claim's fixed ladder.  The number of stages
    and the sizes are drawn among those whose cost at the smallest depth drawn (the
    ladder's top) fits the profile; when none does, the smallest runs."""
    need = max(depths) if ladder else min(depths)

    def fitting(arch: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in _sizes(arch, subject, measured) if cost({**arch, **s}, need, measured) <= scale.max_params]

    arch: dict[str, Any] = {}
    if subject.adapter.accepts("block"):
        block = draw(st.sampled_from(space.block))
        arch = {"block": block, "branch_depth": draw(st.sampled_from(space.branch_depth))}
        drawn_input = draw(st.sampled_from(space.input))  # drawn for conv too: equal-length draws
        arch["input"] = "image" if block == "conv" else drawn_input  # shrink to MLP, not to conv
        options = space.conv_stages if block == "conv" else space.stages
        stages = [s for s in options if fitting({**arch, "stages": s})] or [min(options)]
        arch["stages"] = draw(st.sampled_from(stages))
    setting = {**arch, **draw(st.sampled_from(fitting(arch) or _sizes(arch, subject, measured)[:1]))}
    if not ladder:
        allowed = [d for d in depths if d <= scale.max_depth and
                   cost(setting, d, measured) <= scale.max_params] or [min(depths)]
        setting["depth"] = draw(st.sampled_from(allowed))
    return setting


def tau_settings(scale: Scale, subject: Subject, *, depths: tuple[int, int] | None = None,
                 ladder: Sequence[int] | None = None, c: tuple[float, float] | None = None,
                 space: Space = THEOREM) -> st.SearchStrategy[Setting]:
    """Settings {architecture..., width, [image], [depth], [c], seed}: ``depths`` draws a
    power-of-two depth in [lo, hi]; ``ladder`` leaves depth to the claim's fixed ladder."""
    if (depths is None) == (ladder is None):
        raise ValueError("give exactly one of depths (a range) and ladder (fixed depths)")
    choices = list(ladder) if ladder is not None else _depths(depths)
    if not choices:
        raise ValueError(f"no power of two in {depths}")

    takes_architecture = subject.adapter.accepts("block") and subject.adapter.accepts("width")
    measured = None if takes_architecture else measure(subject)  # once, not per draw

    @st.composite
    def build(draw: Any) -> Setting:
        setting = draw(_sized(scale, subject, space, choices, ladder is not None, measured))
        if c is not None:
            setting["c"] = draw(constants(*c))
        setting["seed"] = draw(seeds())
        return setting
    return build()
