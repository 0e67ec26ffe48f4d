"""The dense-Hessian figures of the README ("Benchmarks"), measured in one run:

    python tools/measure_hessian.py

The Hessian of the 2-shortcut stack (N = 256 samples, fp64) by ours
(``hessian.dense_hessian``: the chain sweep) and by the naive baseline
(``torch.func.hessian`` of the li2016 notes' flat-vector loop model), at 1 and 2 torch
threads, best of 3 after a warm-up, as tables in Markdown: at the zero point (H(0), the
claims' point, where every E_k = 0 and A_k = I and the sweep skips those products) and
at a small Gaussian point (s = 0.1, C-T4's init), where nothing is skipped.  The naive
baseline is left out at P = 4,096, where it does not fit in memory; where it runs, the
two matrices must agree to 1e-10 relative, or the script stops.  Last, the extreme
eigenvalues by 64 Lanczos steps on HVPs (``hessian.hessian_spectrum``) at P = 10,240 and
100,352 (N = 64, s = 0.1), where no dense method fits.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_hessian import naive_hessian, stack_objective  # noqa: E402
from resclaims.core import hessian  # noqa: E402

CASES = [(4, 32), (4, 48), (3, 85), (2, 192), (4, 128)]  # (width d, depth L): P = 2 d^2 L
POINTS = {"zero point, H(0)": ("zero", 0.0), "small Gaussian point (s = 0.1)": ("gaussian", 0.1)}
NAIVE_MAX = 2048  # parameters


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def table(init: str, scale: float, cases: list[tuple[int, int]]) -> None:
    print("| P (width d, depth L) | ours, 1 thread | naive, 1 thread | ratio | ours, 2 threads "
          "| naive, 2 threads | ratio |")
    print("|---|---|---|---|---|---|---|")
    for width, depth in cases:
        size = 2 * width * width * depth
        obj = stack_objective(depth, width, init=init, scale=scale)
        if size <= NAIVE_MAX:
            ours, theirs = hessian.dense_hessian(obj), naive_hessian(depth, width, point=obj.point)
            if not torch.allclose(ours, theirs, rtol=1e-10, atol=1e-10 * float(theirs.abs().max())):
                sys.exit(f"d = {width}, L = {depth}: the two Hessians differ")
        cells = []
        for count in (1, 2):
            torch.set_num_threads(count)
            ours = best(lambda: hessian.dense_hessian(obj))
            if size <= NAIVE_MAX:
                naive = best(lambda: naive_hessian(depth, width, point=obj.point))
                cells += [f"{ours:.3f} s", f"{naive:.2f} s", f"{naive / ours:.1f}"]
            else:
                cells += [f"{ours:.3f} s", "does not fit", ""]
        print(f"| {size:,} (d = {width}, L = {depth}) | " + " | ".join(cells) + " |", flush=True)


def lanczos_table() -> None:
    print("| P (width d, depth L) | 64 Lanczos steps, 1 thread | 2 threads | lambda_min, lambda_max "
          "(residual norms) |")
    print("|---|---|---|---|")
    for width, depth in ((16, 20), (32, 49)):
        obj = stack_objective(depth, width, init="gaussian", scale=0.1, samples=64)
        cells = []
        for count in (1, 2):
            torch.set_num_threads(count)
            cells.append(f"{best(lambda: hessian.hessian_spectrum(obj, steps=64), repeat=2):.2f} s")
        spec = hessian.hessian_spectrum(obj, steps=64)
        ends = (f"{float(spec.values[0]):.4g} ({float(spec.residuals[0]):.0e}), "
                f"{float(spec.values[-1]):.4g} ({float(spec.residuals[-1]):.0e})")
        print(f"| {obj.size:,} (d = {width}, L = {depth}) | " + " | ".join(cells) + f" | {ends} |", flush=True)


def main() -> None:
    threads = torch.get_num_threads()
    for (title, (init, scale)), cases in zip(POINTS.items(), (CASES, CASES[1:4])):
        print(f"\n{title}:\n")
        table(init, scale, cases)
    print("\nLanczos, small Gaussian point (s = 0.1):\n")
    lanczos_table()
    torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
