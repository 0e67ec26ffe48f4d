"""Profiles: how hard a run looks.  ``smoke`` is one derandomized example per claim
(the simplest setting, plus explicit examples: a quick look), ``ci`` is derandomized and
small, ``dev`` random and small, ``thorough`` random, large and guided by ``hypothesis.target`` on the
violation margin.  Chosen by argument, CLI flag ``--profile``, pytest option
``--resclaims-profile`` or the environment variable RESCLAIMS_PROFILE (in that order)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from hypothesis import HealthCheck, Phase, Verbosity

from resclaims.claim import Cost, Scale

ENV_VAR = "RESCLAIMS_PROFILE"
DEFAULT = "ci"


@dataclass(frozen=True)
class Profile:
    """Examples per claim cost class, size caps, and Hypothesis behaviour."""

    name: str
    examples: dict[str, int]
    scale: Scale
    derandomize: bool
    target: bool

    def max_examples(self, cost: Cost, search: Mapping[str, int] | None = None) -> int:
        """Examples for a claim of this cost, or the claim's own count for this profile
        (``Claim.search``)."""
        return (search or {}).get(self.name, self.examples[cost])

    def hypothesis_settings(self, cost: Cost, shrink: bool, search: Mapping[str, int] | None = None
                            ) -> dict[str, Any]:
        """Keyword arguments for ``hypothesis.settings`` for a claim of this cost.  One
        counterexample is enough to falsify a claim: ``report_multiple_bugs=False`` stops the
        generation at the first (Hypothesis would otherwise go on drawing, up to twice the
        settings it took to find it, for distinct failures), then shrinks it."""
        phases = [Phase.explicit, Phase.generate] + ([Phase.target] if self.target else [])
        if shrink:
            phases.append(Phase.shrink)
        return dict(max_examples=self.max_examples(cost, search), derandomize=self.derandomize,
                    deadline=None, database=None, print_blob=False, phases=phases, report_multiple_bugs=False,
                    verbosity=Verbosity.quiet,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", {"cheap": 1, "medium": 1, "expensive": 1},
                     Scale(max_depth=1024, max_params=2 ** 20), derandomize=True, target=False),
    "ci": Profile("ci", {"cheap": 4, "medium": 3, "expensive": 2},
                  Scale(max_depth=1024, max_params=2 ** 20), derandomize=True, target=False),
    "dev": Profile("dev", {"cheap": 10, "medium": 5, "expensive": 3},
                   Scale(max_depth=1024, max_params=2 ** 24), derandomize=False, target=False),
    "thorough": Profile("thorough", {"cheap": 200, "medium": 60, "expensive": 20},
                        Scale(max_depth=1024, max_params=2 ** 26), derandomize=False, target=True),
}


class UnknownProfile(ValueError):
    """A profile name that is not in PROFILES."""


def resolve(name: str | None = None) -> Profile:
    """The profile called ``name``, else $RESCLAIMS_PROFILE, else ``ci``."""
    chosen = name or os.environ.get(ENV_VAR) or DEFAULT
    if chosen not in PROFILES:
        raise UnknownProfile(f"unknown profile {chosen!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[chosen]
