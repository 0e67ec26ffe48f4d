"""Settings for residual stacks: depth, width, branch-scale constant and seed.

Everything drawn is a small, readable number; weights come later from the seed.
Depths are powers of two (log-uniform), so a shrunk counterexample reads
``depth=16`` rather than ``depth=13``; widths come from a short list; scale
constants are multiples of 0.05.
"""
from __future__ import annotations

from typing import Any, Sequence

from hypothesis import strategies as st

from resclaims.claim import Scale


def seeds() -> st.SearchStrategy[int]:
    """A base seed; the models of one setting use seeds derived from it."""
    return st.integers(min_value=0, max_value=2 ** 31 - 1)


def constants(lo: float, hi: float, step: float = 0.05) -> st.SearchStrategy[float]:
    """Multiples of ``step`` in [lo, hi], shrinking towards ``lo``."""
    k_lo, k_hi = round(lo / step), round(hi / step)
    if k_lo > k_hi:
        raise ValueError(f"empty range [{lo}, {hi}] for step {step}")
    return st.integers(k_lo, k_hi).map(lambda k: round(k * step, 10))


def fits(scale: Scale, depth: int, width: int) -> bool:
    """Whether a model of this depth and width is within the profile's size caps."""
    return depth <= scale.max_depth and depth * width * width <= scale.max_params


@st.composite
def depth_width(draw: Any, scale: Scale, depths: tuple[int, int], widths: Sequence[int]) -> tuple[int, int]:
    """(depth, width) with depth a power of two in ``depths`` and width from ``widths``,
    within the profile's caps.  Width is drawn first; depth is capped by what fits."""
    allowed = [w for w in widths if fits(scale, depths[0], w)]
    if not allowed:
        raise ValueError(f"no width in {list(widths)} fits depth {depths[0]} under {scale}")
    width = draw(st.sampled_from(allowed))
    lo = depths[0].bit_length() - 1
    hi = lo
    while 2 ** (hi + 1) <= depths[1] and fits(scale, 2 ** (hi + 1), width):
        hi += 1
    return width, 2 ** draw(st.integers(lo, hi))


def residual_settings(scale: Scale, depths: tuple[int, int], widths: Sequence[int],
                      c: tuple[float, float] | None = None, **fixed: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Settings {depth, width, [c], seed, **fixed}: the common shape of residual-stack claims."""
    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        width, depth = draw(depth_width(scale, depths, widths))
        setting: dict[str, Any] = {"depth": depth, "width": width}
        if c is not None:
            setting["c"] = draw(constants(*c))
        setting["seed"] = draw(seeds())
        setting.update(fixed)
        return setting
    return build()


def widths_fitting(scale: Scale, depth: int, widths: Sequence[int]) -> st.SearchStrategy[int]:
    """A width from ``widths`` such that a depth-``depth`` model fits the caps (the
    smallest width when none fits: the claim's ladder is fixed, so it must run)."""
    allowed = [w for w in widths if fits(scale, depth, w)] or [min(widths)]
    return st.sampled_from(allowed)
