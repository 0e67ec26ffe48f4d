"""Where a claim's time and memory go: model construction, evidence, judgement.

``measure()`` opens an account for one claim run; inside it, ``phase(name)`` charges
the wall time of its body to ``name``.  Phases nest and the accounting is exclusive: a
``construction`` phase inside ``evidence`` (a check that builds its models) is charged
to construction only, so the phases add up to at most the run's wall time, and what is
left is the engine's own work (drawing settings, shrinking).  Outside ``measure()``
phases cost nothing and record nothing.

``cpu_s`` is the process's CPU time (user and system, every thread) over the run:
``cpu_s / total_s`` is the number of cores the claim kept busy on average, so a claim
that leaves cores idle on a multi-core gate shows it.

Peak memory is the process's resident high-water mark during the run (Linux resets it
through ``/proc/self/clear_refs``; elsewhere it is the peak since the process began),
plus the CUDA allocator's peak when a GPU was used.
"""
from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

PHASES: tuple[str, ...] = ("construction", "evidence", "judgement")


@dataclass
class Costs:
    """Seconds per phase (exclusive), ``other_s`` = the rest of ``total_s``, the CPU
    seconds ``cpu_s`` of all threads, and peak memory in MiB: ``peak_rss_mib`` for the
    process, ``peak_cuda_mib`` for the GPU allocator (None when no GPU was used)."""

    construction_s: float = 0.0
    evidence_s: float = 0.0
    judgement_s: float = 0.0
    other_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_cuda_mib: float | None = None


@dataclass
class _Account:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    open: list[list[float]] = field(default_factory=list)  # [start, time spent in nested phases]


_ACCOUNT: ContextVar[_Account | None] = ContextVar("resclaims_costs", default=None)
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Charge the body's wall time, less that of phases nested in it, to ``name``."""
    if name not in PHASES:
        raise ValueError(f"unknown phase {name!r}; one of {PHASES}")
    account = _ACCOUNT.get()
    if account is None:
        yield
        return
    frame = [time.perf_counter(), 0.0]
    account.open.append(frame)
    try:
        yield
    finally:
        elapsed = time.perf_counter() - frame[0]
        account.open.pop()
        account.seconds[name] += elapsed - frame[1]
        if account.open:
            account.open[-1][1] += elapsed


@contextmanager
def measure() -> Iterator[Costs]:
    """Account for the body: the yielded Costs is filled in when the body ends."""
    costs = Costs()
    account = _Account()
    token = _ACCOUNT.set(account)
    _reset_peaks()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        yield costs
    finally:
        _ACCOUNT.reset(token)
        costs.total_s = time.perf_counter() - start
        costs.cpu_s = time.process_time() - cpu
        costs.construction_s = account.seconds["construction"]
        costs.evidence_s = account.seconds["evidence"]
        costs.judgement_s = account.seconds["judgement"]
        costs.other_s = max(0.0, costs.total_s - sum(account.seconds.values()))
        costs.peak_rss_mib = peak_rss_mib()
        costs.peak_cuda_mib = _peak_cuda_mib()


def peak_rss_mib() -> float:
    """The process's resident high-water mark in MiB (since the last reset on Linux)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024


def _reset_peaks() -> None:
    try:
        _CLEAR_REFS.write_text("5")  # "5": reset the peak resident set size (Linux >= 4.0)
    except OSError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def _peak_cuda_mib() -> float | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated() / 2 ** 20
