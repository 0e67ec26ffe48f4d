"""Per-seed work on an ensemble, its seeds in chunks run side by side in threads.

The models of a claim's ensemble are small: a GD step on 16 seeds of a narrow conv
ResNet is thousands of kernels of microseconds each, which torch's intra-op threads
cannot share (measured on 2 cores: 20 GD steps of 16 seeds, 64 conv blocks of 4
channels, fp64, took 6.3 s with 2 intra-op threads and 5.9 s with 1).  The seeds share
no parameters, so the work splits by seed: ``k`` chunks of S/k seeds, one thread each
with one intra-op thread, use k cores (the same steps: 3.4 s as 2 chunks on 2 cores,
bit-identical losses).  Torch kernels release the GIL; what the threads share is only
the Python dispatch between kernels.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch
from torch import Tensor

from resclaims.core.ensemble import Ensemble


def over_seed_chunks(ens: Ensemble, fn: Callable[[Ensemble, slice], Tensor], dim: int = 0) -> Tensor:
    """fn(ens, all seeds) for a per-seed ``fn`` (its result's axis ``dim`` runs over the
    seeds), computed as fn(chunk, rows) on k = min(S, torch.get_num_threads()) chunks of the
    seeds (:meth:`Ensemble.chunks`; ``rows``: the chunk's seeds as a slice of ens's) in k
    fresh threads, each with one intra-op thread, and concatenated along ``dim``; k = 1
    (one thread, one seed, a streamed ensemble) calls fn(ens, slice(0, S)).  ``fn`` must
    treat seeds independently, as every per-seed loss or GD does, and draw anything random
    for all S seeds and take its ``rows``, so that the result does not depend on k.  The
    process's thread count is restored after."""
    threads = torch.get_num_threads()
    count = min(ens.size, threads)
    if count <= 1 or ens.streamed:
        return fn(ens, slice(0, ens.size))
    parts = ens.chunks(count)
    starts = [0]
    for part in parts:
        starts.append(starts[-1] + part.size)

    def one(k: int) -> Tensor:
        torch.set_num_threads(1)
        return fn(parts[k], slice(starts[k], starts[k + 1]))
    try:
        with ThreadPoolExecutor(count, thread_name_prefix="resclaims-seeds") as pool:
            results = list(pool.map(one, range(count)))
    finally:
        torch.set_num_threads(threads)
    return torch.cat(results, dim)
