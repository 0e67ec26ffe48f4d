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

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def pinned_constants() -> Iterator[None]:
    """Within the block, Hypothesis draws no constants from local modules.  A no-op on a
    Hypothesis that has no such pool.  Not for concurrent Hypothesis runs in other threads
    of the process (the pool is process-wide)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the providers module
        yield
        return
    local = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if local is None or cache is None or not hasattr(providers, "Constants"):
        yield
        return
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()  # filtered pools computed with the local constants are keyed by choice only
    try:
        yield
    finally:
        providers._get_local_constants = local
        cache.cache.clear()
