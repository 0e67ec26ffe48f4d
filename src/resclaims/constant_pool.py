"""Draws that depend on the claim's strategy and seed only, not on what the process imported.

Hypothesis (since 6.131) draws, for a small share of its integer, float and string
choices (p = 0.05 each), a constant read from the source of every *local* module the
process has imported so far (``hypothesis.internal.conjecture.providers``: project code
outside site-packages and outside test files).  For a searcher of settings that pool is
noise with consequences:

* a user's CI gate (``resclaims check --subject mymodel:adapter``) would draw other
  settings after a commit that only adds a constant to the model code, and a verdict or a
  ``--baseline`` comparison could change for a reason that has nothing to do with the
  model's behaviour;
* derandomized draws under pytest would depend on which examples or benchmark modules a
  worker happened to import before the claim ran (xdist's test order), and on whether
  resclaims is installed editable (its own modules are then local);
* a Ray worker imports fewer modules than the driver, so its search would differ.

:func:`pinned_constants` empties that pool for the duration of a search.  Hypothesis'
own global constants (0, 1, -1, boundaries, NaN) stay: they are fixed by its version.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_LOCK = threading.Lock()
_DEPTH = [0]  # searches inside pinned_constants now (nested, or in other threads)
_SAVED: list = []  # Hypothesis' own function, while pinned


@contextmanager
def pinned_constants() -> Iterator[None]:
    """Within the block, Hypothesis draws no constants from local modules.  A no-op on a
    Hypothesis that has no such pool.  Re-entrant and thread-safe: the pool is
    process-wide, so it is emptied when the first search enters and restored when the
    last one leaves."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the providers module
        yield
        return
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if not hasattr(providers, "_get_local_constants") or cache is None or not hasattr(providers, "Constants"):
        yield
        return
    with _LOCK:
        if _DEPTH[0] == 0:
            empty = providers.Constants()
            _SAVED[:] = [providers._get_local_constants]
            providers._get_local_constants = lambda: empty
        _DEPTH[0] += 1
    cache.cache.clear()  # per thread: filtered pools computed with the local constants are keyed by choice only
    try:
        yield
    finally:
        cache.cache.clear()
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                providers._get_local_constants = _SAVED.pop()
