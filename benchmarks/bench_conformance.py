"""asv history of theory conformance: ``track_margin_<paper>__<name>``, one per claim of
the catalog, is the claim's margin on its family's reference subject at the ``ci``
profile (derandomized, on one thread: a commit's value is reproducible, so a change
between commits is a change of the code).  A margin > 0 says the claim held with that
much to spare, < 0 that it was falsified by that much (see :mod:`resclaims.engine`).

Units: each margin is in its claim's own units (decades of an identity's error, a
statistic's distance to its band, log10(alpha / p), ...); ``resclaims check --json``
names them (``unit``).  asv's ``unit`` says so: "margin (claim units; see the JSON's unit)".
Stored values: an infinite margin is stored as +-1e300 (:data:`resclaims.history.SENTINEL`:
asv keeps results in JSON that its pages parse strictly, and a -inf margin must stay a
falling point, not a gap); a run that errors raises, so asv records no value (null).

One function per claim, not one ``track_margin`` parametrised by claim id: asv draws one
graph per benchmark with every parameter on one axis, and margins in different units
(with a 1e300 sentinel among them) would flatten every claim; one function gives each
claim its own graph, regression detection and ``pretty_name`` (the claim id).  The
functions are generated from the registry, so a new claim gets its benchmark without
an edit here; ``version`` is fixed, so a claim's history survives edits of this file.

Record one commit's margins (``--bench 'track_margin.*forward_stable'`` for one claim):
    asv machine --yes
    asv run --python=same --set-commit-hash $(git rev-parse HEAD) --bench track_margin
    asv publish
``resclaims report --history .asv/results`` draws them (:mod:`resclaims.history`).
"""
from __future__ import annotations

from typing import Callable

import torch

from resclaims import registry
from resclaims.engine import run
from resclaims.history import UNIT, benchmark_name, stored

PROFILE = "ci"
TIMEOUT = 1800  # s per claim; the slowest take about a minute at ci on one CPU thread


def setup() -> None:
    """One thread: LAPACK's results depend on the thread count."""
    torch.set_num_threads(1)


def margin(claim_id: str) -> float:
    """The margin of ``claim_id`` on its reference at PROFILE, as asv stores it; raises
    when the run gives no margin (an error), so asv records a failure, not a value."""
    result = run(claim_id, profile=PROFILE)
    if result.margin is None:
        raise RuntimeError(f"{claim_id} on {result.subject}: {result.verdict}: {result.summary}")
    return stored(result.margin)


def _track(claim_id: str) -> Callable[[], float]:
    def track() -> float:
        return margin(claim_id)
    track.__name__ = track.__qualname__ = benchmark_name(claim_id)
    track.pretty_name = claim_id
    track.pretty_source = f"resclaims.engine.run({claim_id!r}, profile={PROFILE!r}).margin"
    track.unit = UNIT
    track.timeout = TIMEOUT
    track.version = "1"
    return track


globals().update({track.__name__: track for track in map(_track, registry.claims())})
