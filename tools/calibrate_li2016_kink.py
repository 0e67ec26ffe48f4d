"""Measure the two-sided Taylor statistics behind li2016's KINK_MAX and LEAD_MIN.

    python tools/calibrate_li2016_kink.py > kink.txt

For each stack below and every setting of a grid (shortcut depth n = 2, 3, 4; depth
L = 1, 2, 4, 8; width d = 2, 3, 4; 3 seeds; whitened or correlated inputs), takes the
claims' DIRECTIONS random directions at the zero point and computes
``hessian.taylor_remainder`` as the claims do (n = 2: after the Hessian term, K = 3; n >= 3:
R(tV) - R(0), K = n).  Prints, per stack and n, the range over settings of the worst
``kink`` of the directions (what the claims judge against KINK_MAX) and of the best
``lead`` (what deep_shortcut_flat judges against LEAD_MIN).

Stacks: the reference (identity and tanh); smooth activations the theorem does not name
(SiLU, GELU, softplus(x) - log 2) and the smooth mutants (an (n+1)-shortcut branch, tanh
after the add), none of which may read as a kink; and kinks that must: ReLU in every
unit (the relu_branch mutant), ReLU in one unit of four tanh units, and a leaky ReLU of
slope 0.9 (a kink of 10% in s').
"""
from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resclaims import registry  # noqa: E402
from resclaims.claim import Context  # noqa: E402
from resclaims.claims import li2016  # noqa: E402
from resclaims.core import hessian  # noqa: E402
from resclaims.family import Subject  # noqa: E402
from resclaims.models.li2016 import SHORTCUT_STACK, shortcut_stack  # noqa: E402
from resclaims.profiles import resolve  # noqa: E402
from resclaims import Adapter  # noqa: E402


def _with(activation: Callable[[Tensor], Tensor], every: int = 1) -> Adapter:
    """A reference stack whose units use ``activation`` (every ``every``-th unit; tanh in the others)."""
    def build(depth: int, width: int, init: str, scale: float = 1e-3, shortcut_depth: int = 2,
              generator: torch.Generator | None = None) -> nn.Module:
        model = shortcut_stack(depth, width, init, scale, generator=generator, shortcut_depth=shortcut_depth,
                               activation="tanh")
        for k, unit in enumerate(model.units):
            if k % every == 0:
                unit.activation = activation
        return model
    return Adapter(build=build, fixed={"activation": "other"})


STACKS: dict[str, Subject] = {
    **{name: registry.subjects()[name] for name in ("li2016.reference", "li2016.shortcut_depth_plus_one",
                                                    "li2016.activation_after_add", "li2016.relu_branch")},
    **{name: Subject(name, SHORTCUT_STACK, adapter) for name, adapter in {
        "silu": _with(nn.functional.silu), "gelu": _with(nn.functional.gelu),
        "softplus - log 2": _with(lambda z: nn.functional.softplus(z) - math.log(2.0)),
        "relu in 1 of 4 units": _with(torch.relu, every=4),
        "leaky relu 0.9": _with(lambda z: nn.functional.leaky_relu(z, 0.9))}.items()},
}
KINKS = ("li2016.relu_branch", "relu in 1 of 4 units", "leaky relu 0.9")


def main() -> None:
    torch.set_num_threads(1)
    ctx = Context("cpu", 1e-3, resolve("ci").scale)
    grid = list(itertools.product((1, 2, 4, 8), (2, 3, 4), range(3), (True, False)))
    print(f"{len(grid)} settings per stack and n; worst kink of {li2016.DIRECTIONS} directions, best lead")
    for name, subject in STACKS.items():
        for n in (2, 3, 4):
            kinks, leads = [], []
            for depth, width, seed, whiten in grid:
                setting = {"shortcut_depth": n, "depth": depth, "width": width, "activation": "tanh",
                           "samples": 64, "whiten": whiten, "seed": seed}
                x, y = li2016.data(setting)
                obj = li2016._objective(subject, li2016._build(subject, setting, ctx, seed), x, y)
                subtract, k = (2, 3) if n == 2 else (0, n)
                rs = [hessian.taylor_remainder(obj, v, li2016.TAYLOR_TS, subtract, k)
                      for v in li2016._directions(obj, seed)]
                kinks.append(max(math.inf if math.isnan(r.kink) else r.kink for r in rs))
                leads.append(max(0.0 if math.isnan(r.lead) else r.lead for r in rs))
            kind = "kink" if name in KINKS else "smooth"
            print(f"{name:32s} {kind:6s} n = {n}: worst kink {min(kinks):.2e}..{max(kinks):.2e}, "
                  f"best lead {min(leads):.3f}..{max(leads):.3f}", flush=True)


if __name__ == "__main__":
    main()
