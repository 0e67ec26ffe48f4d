"""Forward sweeps: per-layer norms ||h_l|| of every seed and sample, without overflow.

For positively 1-homogeneous blocks (ReLU and linear maps, as in the theory)
block(2^k h) = 2^k block(h) exactly in floating point, so rescaling a row by a power of
two and carrying the exponent separately changes no bit of the result.  Rows are
rescaled only when log2 ||h|| leaves [-RESCALE, RESCALE]; in that range nothing is
rescaled at all, so non-homogeneous blocks are evaluated exactly as written, and
tau = 1 at L = 1024 (||h_L|| ~ 1e300 and beyond) does not overflow.
"""
from __future__ import annotations

import torch
from torch import Tensor

from resclaims.core.ensemble import Ensemble

RESCALE = 256  # rescale when ||h|| > 2^256 or < 2^-256; float64 overflows at 2^1024


def log_norms(ens: Ensemble, x: Tensor) -> Tensor:
    """log ||h_l|| for l = 0..L: shape (S, n, L + 1), natural log, float64."""
    with torch.no_grad():
        h = ens.stem(x)
        exponent = torch.zeros(h.shape[:-1], dtype=torch.float64, device=h.device)
        out = [h.norm(dim=-1).double().log()]
        for layer in range(ens.depth):
            h = ens.block(layer, h)
            norm = h.norm(dim=-1)
            _, e = torch.frexp(norm)
            e = torch.where((e.abs() > RESCALE) & (norm > 0), e, torch.zeros_like(e))
            if bool(e.any()):
                h = torch.ldexp(h, -e.unsqueeze(-1).to(h.dtype))
                exponent = exponent + e.double()
                norm = h.norm(dim=-1)
            out.append(norm.double().log() + exponent * torch.log(torch.tensor(2.0, dtype=torch.float64)))
    return torch.stack(out, dim=-1)
