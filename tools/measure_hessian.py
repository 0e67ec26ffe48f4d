"""The dense-Hessian figures of the README ("Benchmarks"), measured in one run:

    python tools/measure_hessian.py

H(0) of the 2-shortcut stack (zero init, N = 256 samples, fp64) by ours
(``hessian.dense_hessian``: the chain sweep) and by the naive baseline
(``torch.func.hessian`` of the li2016 notes' flat-vector loop model), at 1 and 2 torch
threads, best of 3 after a warm-up, as a table in Markdown.  The naive baseline is
left out at P = 4,096, where it does not fit in memory.
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
NAIVE_MAX = 2048  # parameters


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    threads = torch.get_num_threads()
    print("| P (width d, depth L) | ours, 1 thread | naive, 1 thread | ratio | ours, 2 threads "
          "| naive, 2 threads | ratio |")
    print("|---|---|---|---|---|---|---|")
    for width, depth in CASES:
        size = 2 * width * width * depth
        obj = stack_objective(depth, width)
        cells = []
        for count in (1, 2):
            torch.set_num_threads(count)
            ours = best(lambda: hessian.dense_hessian(obj))
            if size <= NAIVE_MAX:
                naive = best(lambda: naive_hessian(depth, width))
                cells += [f"{ours:.3f} s", f"{naive:.2f} s", f"{naive / ours:.1f}"]
            else:
                cells += [f"{ours:.3f} s", "does not fit", ""]
        print(f"| {size:,} (d = {width}, L = {depth}) | " + " | ".join(cells) + " |", flush=True)
    torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
