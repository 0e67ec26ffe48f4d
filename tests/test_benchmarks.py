"""pytest-benchmark benchmarks of the core (``pytest --benchmark-only``): the batched
sweep against the naive per-seed loop, measured in the same run.  Under plain pytest
(or xdist) each runs once as a smoke test; no test asserts a time."""
from __future__ import annotations

import math

import pytest
import torch

from resclaims.core import data, sweeps
from resclaims.core.ensemble import Ensemble
from resclaims.models.zhang2019 import SUBJECTS


@pytest.fixture(scope="module", params=[True, False], ids=["batched", "loop"])
def ensemble(request: pytest.FixtureRequest) -> tuple[Ensemble, torch.Tensor]:
    x = data.unit_sphere(8, 16, 0)
    build = lambda s: SUBJECTS[0].build(s, depth=256, width=64, tau=1 / 16, in_dim=16, out_dim=1)  # noqa: E731
    return Ensemble(build, data.spawn(0, 8), x, batched=request.param), x


def test_forward_sweep(benchmark, ensemble: tuple[Ensemble, torch.Tensor]) -> None:
    ens, x = ensemble
    benchmark.group = "forward sweep L=256 m=64 S=8"
    logs = benchmark(sweeps.log_norms, ens, x)
    assert math.isfinite(float(logs.max()))
