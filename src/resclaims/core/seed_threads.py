"""Per-seed work on an ensemble, its seeds in chunks run side by side in threads.

The models of a claim's ensemble are small: a GD step on 16 seeds of a narrow conv
ResNet is thousands of kernels of microseconds each, which torch's intra-op threads
cannot share (asv ``bench_core.SeedChunks`` on 2 cores: 20 GD steps of 16 seeds, 64 conv
blocks of 4 channels, fp64, took 4.83 s with 2 intra-op threads and 5.02 s with 1).  The
seeds share no parameters, so the work splits by seed: ``k`` chunks of S/k seeds, one
thread each with one intra-op thread, use k cores (the same steps: 3.34 s as 2 chunks,
bit-identical losses).  Torch kernels release the GIL; what the threads share is only
the Python dispatch between kernels.  CPU only: on a GPU the kernels of all seeds
already run as one launch, and threads would only add streams' worth of handles.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from resclaims.core.ensemble import Ensemble


@dataclass
class Chunk:
    """One chunk's place among the others: ``rows``, its seeds as a slice of the whole
    ensemble's; ``all(flag)``, whether every chunk says ``flag`` at this point (each
    chunk must call it equally often: it waits for the others, so a loop that stops when
    one run over all seeds would stops in every chunk at the same step)."""

    rows: slice
    index: int = 0
    _lockstep: "_Lockstep | None" = field(default=None, repr=False)

    def all(self, flag: bool) -> bool:
        return flag if self._lockstep is None else self._lockstep.all(self.index, flag)


class _Lockstep:
    """Agreement between ``count`` threads; ``abort`` releases every waiting thread with
    ``threading.BrokenBarrierError``."""

    def __init__(self, count: int) -> None:
        self._barrier = threading.Barrier(count)
        self._flags = [False] * count

    def all(self, index: int, flag: bool) -> bool:
        self._flags[index] = flag
        self._barrier.wait()
        result = all(self._flags)
        self._barrier.wait()  # nobody writes the next round's flag before everyone has read
        return result

    def abort(self) -> None:
        self._barrier.abort()


def over_seed_chunks(ens: Ensemble, fn: Callable[[Ensemble, Chunk], Tensor], dim: int = 0) -> Tensor:
    """fn(ens, one chunk of all seeds) for a per-seed ``fn`` (its result's axis ``dim``
    runs over the seeds), computed on a CPU as fn(part, chunk) on k = min(S,
    torch.get_num_threads()) chunks of the seeds (:meth:`Ensemble.chunks`) in k fresh
    threads, each with one intra-op thread, and concatenated along ``dim``.  k = 1 (one
    thread, one seed, a streamed ensemble, a GPU, a model that cannot be copied) calls
    fn(ens, Chunk(slice(0, S))).  ``fn`` must treat seeds independently, as every per-seed
    loss or GD does, draw anything random for all S seeds and take its ``chunk.rows``, and
    decide to stop early through ``chunk.all``, so that the result does not depend on k.
    An exception in one chunk (or an interrupt here) stops the others at their next
    ``chunk.all``; the first exception that is not that stop is raised.  The process's
    thread count is restored after."""
    threads = torch.get_num_threads()
    count = min(ens.size, threads)
    parts = None
    if count > 1 and not ens.streamed and ens.x.device.type == "cpu":
        try:
            parts = ens.chunks(count)
        except (RuntimeError, TypeError):  # the template cannot be deep-copied (non-leaf tensors held)
            parts = None
    if parts is None:
        return fn(ens, Chunk(slice(0, ens.size)))
    lockstep, starts = _Lockstep(count), [0]
    for part in parts:
        starts.append(starts[-1] + part.size)

    def one(k: int) -> Tensor:
        torch.set_num_threads(1)
        try:
            return fn(parts[k], Chunk(slice(starts[k], starts[k + 1]), k, lockstep))
        except BaseException:
            lockstep.abort()
            raise
    pool = ThreadPoolExecutor(count, thread_name_prefix="resclaims-seeds")
    try:
        futures = [pool.submit(one, k) for k in range(count)]
        wait(futures)
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
        return torch.cat([f.result() for f in futures], dim)
    except BaseException:
        lockstep.abort()  # an interrupt while waiting: the chunks stop at their next agreement
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)
