"""Forward sweeps: per-layer norms ||h_l|| of every seed and sample, without overflow.

For positively 1-homogeneous blocks (ReLU and linear maps, as in the theory)
block(2^k h) = 2^k block(h) exactly in floating point, so rescaling a sample by a power
of two and carrying the exponent separately changes no bit of the result.  Samples are
rescaled only when log2 ||h|| leaves [-RESCALE, RESCALE]; in that range nothing is
rescaled at all, so non-homogeneous blocks are evaluated exactly as written, and
tau = 1 at L = 1024 (||h_L|| ~ 1e300 and beyond) does not overflow.  ||h|| is the
Euclidean norm of one sample's whole activation (all channels and positions).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from resclaims.core.ensemble import Ensemble

RESCALE = 256  # rescale when ||h|| > 2^256 or < 2^-256; float64 overflows at 2^1024


def _sample_norms(h: Tensor) -> Tensor:
    return h.flatten(2).norm(dim=-1)


def log_norms(ens: Ensemble, x: Tensor) -> Tensor:
    """log ||h_l|| for l = 0..L: shape (S, n, L + 1), natural log, float64.

    Per block this costs the block, one norm, one log and one range check of the norms
    (a single host sync); samples are rescaled only after a check finds a norm outside
    [2^-RESCALE, 2^RESCALE)."""
    with torch.no_grad():
        h = ens.stem(x)
        exponent: Tensor | None = None  # accumulated base-2 exponents (S, n); None while all zero
        out = [_sample_norms(h).double().log()]
        for layer in range(ens.depth):
            h = ens.block(layer, h)
            norm = _sample_norms(h)
            lo, hi = torch.aminmax(norm)
            if float(hi) >= 2.0 ** RESCALE or float(lo) < 2.0 ** -RESCALE:
                h, norm, exponent = _rescaled(h, norm, exponent)
            log = norm.double().log()
            out.append(log if exponent is None else log + exponent * math.log(2.0))
    return torch.stack(out, dim=-1)


def _rescaled(h: Tensor, norm: Tensor, exponent: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Samples whose norm has a base-2 exponent beyond +-RESCALE (and is not 0) divided
    by that power of two, exactly; the exponent carried in ``exponent``."""
    _, e = torch.frexp(norm)
    e = torch.where((e.abs() > RESCALE) & (norm > 0), e, torch.zeros_like(e))
    if not bool(e.any()):
        return h, norm, exponent
    h = torch.ldexp(h, -e.view(*e.shape, *[1] * (h.dim() - 2)).to(h.dtype))
    exponent = e.double() if exponent is None else exponent + e.double()
    return h, _sample_norms(h), exponent


def log_growth(logs: Tensor, skip: Sequence[int] = ()) -> Tensor:
    """log r_l = sum over blocks k <= l, k not in ``skip``, of log(||h_k|| / ||h_{k-1}||):
    the growth accumulated by the shape-preserving blocks (pass the ensemble's
    ``transitions`` as ``skip``; with none it is log ||h_l|| - log ||h_0||).
    ``logs`` as returned by :func:`log_norms`; same shape, log r_0 = 0."""
    steps = logs.diff(dim=-1)
    if skip:
        keep = torch.ones(steps.shape[-1], dtype=torch.bool, device=steps.device)
        keep[[k - 1 for k in skip]] = False
        steps = torch.where(keep, steps, torch.zeros_like(steps))
    return torch.cat([torch.zeros_like(logs[..., :1]), steps.cumsum(dim=-1)], dim=-1)
