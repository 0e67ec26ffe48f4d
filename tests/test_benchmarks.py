"""pytest-benchmark benchmarks of the core (``pytest --benchmark-only``): the batched
sweep against the naive per-seed loop, the dense Hessian against the naive
``torch.func.hessian``, each measured in the same run; Lanczos at P = 10^5.  Under plain pytest
(or xdist) each runs once as a smoke test; no test asserts a time."""
from __future__ import annotations

import importlib
import inspect
import math
import sys
from pathlib import Path

import pytest
import torch

from resclaims import history, registry
from resclaims.core import data, hessian, sweeps
from resclaims.core.ensemble import Ensemble
from resclaims.engine import run
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


@pytest.mark.parametrize("method", ["dense_hessian", "hvp_hessian", "naive_torch_func_hessian"])
def test_dense_hessian(benchmark, method: str) -> None:
    """H(0) at P = 1,536 (d = 4, L = 48, N = 256): ours (the chain sweep), the same matrix
    from P HVPs, and the baseline of the li2016 notes (torch.func.hessian of a flat-vector
    loop model).  Each gives the saddle's spectrum: half the eigenvalues negative."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import bench_hessian

    benchmark.group = "dense H(0), P = 1536"
    obj = bench_hessian.stack_objective(48)
    run = {"dense_hessian": lambda: hessian.dense_hessian(obj), "hvp_hessian": lambda: hessian.hvp_hessian(obj),
           "naive_torch_func_hessian": lambda: bench_hessian.naive_hessian(48)}[method]
    matrix = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert int((torch.linalg.eigvalsh(matrix) < 0).sum()) == 768


def test_lanczos_extremes_at_100k_parameters(benchmark) -> None:
    """Extreme eigenvalues at P = 100,352 by 64 Lanczos steps (no dense baseline fits)."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import bench_hessian

    obj = bench_hessian.stack_objective(49, width=32, init="gaussian", scale=0.1, samples=64)
    benchmark.group = "Lanczos, P = 100352"
    spectrum = benchmark.pedantic(hessian.hessian_spectrum, (obj, 64), rounds=1)
    assert float(spectrum.residuals[-1]) < 1e-6 * spectrum.max_abs


@pytest.mark.parametrize("method", ["batched", "sequential"])
def test_population_gd_256_runs(benchmark, method: str) -> None:
    """20 population-GD steps of 256 liu2019 runs (p = k = 16): one tensor program against
    one run at a time; both leave the runs where the same steps take them."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import bench_liu2019

    benchmark.group = "population GD, 256 runs x 20 steps"
    prob = bench_liu2019.problem()
    benchmark.pedantic(getattr(bench_liu2019, method), (prob, 20), rounds=1)


@pytest.mark.parametrize("path", ["drawn", "built_per_seed", "previous_stack_module_state"])
def test_construction_16_seeds(benchmark, path: str) -> None:
    """Building the reference's ensemble, L = 128, m = 64, 16 seeds: drawn (Adapter.draw,
    no model per seed), built once per seed and stacked one at a time (a user's factory),
    and the stacking of the path before this work (S models, then
    torch.func.stack_module_state: two copies of the weights).  The first two are whole
    ensembles, with the probes every ensemble runs (a trial of the batched forward pass,
    the stage transitions), which the third leaves out.  All three hold the same weights."""
    kw = dict(depth=128, width=64, tau=1 / 16, in_dim=16, out_dim=1)
    ref = SUBJECTS[0]
    x = data.unit_sphere(8, 16, 0)
    seeds = data.spawn(0, 16)
    build = lambda s: ref.build(s, **kw)  # noqa: E731
    run = {"drawn": lambda: Ensemble(build, seeds, x, drawn=ref.drawn(**kw)).params,
           "built_per_seed": lambda: Ensemble(build, seeds, x).params,
           "previous_stack_module_state": lambda: torch.func.stack_module_state([build(s) for s in seeds])[0]}[path]
    benchmark.group = "construction L=128 m=64 S=16"
    params = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert torch.equal(params["blocks.5.branch.0.weight"][3], build(seeds[3]).blocks[5].branch[0].weight)


BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
BENCHMARK = ("time_", "peakmem_", "mem_", "track_", "timeraw_")


def _bench(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCHMARKS.glob("bench_*.py")))
def test_peakmem_setup_builds_only_what_it_measures(module: str) -> None:
    """asv's peakmem is the process's peak, setup included: a class whose setup builds
    something for a peakmem_* benchmark holds no other benchmark."""
    for name, cls in inspect.getmembers(_bench(module), inspect.isclass):
        methods = [m for m in vars(cls) if m.startswith(BENCHMARK)]
        if any(m.startswith("peakmem_") for m in methods) and ("setup" in vars(cls) or "setup_cache" in vars(cls)):
            assert len(methods) == 1, f"{module}.{name}: {methods} share one setup"


def test_conformance_tracks_one_margin_per_claim() -> None:
    """bench_conformance has one track_margin_* per claim (its pretty_name the claim id),
    returning the margin of the claim's ci run on its reference as asv stores it."""
    bench = _bench("bench_conformance")
    tracks = {name: f for name, f in vars(bench).items() if name.startswith("track_")}
    assert {history.claim_of(f"bench_conformance.{name}") for name in tracks} == set(registry.claims())
    assert all(f.__name__ == name and history.claim_of(f"bench_conformance.{name}") == f.pretty_name
               and f.unit == history.UNIT and f.timeout >= 600 for name, f in tracks.items())
    claim = "wang2020.merge_inequality"  # about a second
    assert tracks[history.benchmark_name(claim)]() == history.stored(run(claim, profile="ci").margin)
