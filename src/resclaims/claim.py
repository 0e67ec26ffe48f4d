"""The Claim type: a theorem stated as a property that Hypothesis can falsify.

A claim is data: citation, statement, provenance, kind, the family of subjects it
needs, a strategy of settings, a ``check`` that computes evidence for one setting
and a ``judge`` that turns evidence into a verdict.  The engine reads these fields
and nothing else, so a new paper adds claims without touching the engine.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal, Mapping

from hypothesis.strategies import SearchStrategy

from resclaims.family import Family, Subject

Provenance = Literal["paper", "reconstructed", "derived"]
Scope = Literal["theorem", "reference-conformance"]
Kind = Literal["identity", "high-probability", "rate", "converse"]
Cost = Literal["cheap", "medium", "expensive"]
Setting = dict[str, Any]
Evidence = dict[str, Any]

PROVENANCES: tuple[str, ...] = ("paper", "reconstructed", "derived")
KINDS: tuple[str, ...] = ("identity", "high-probability", "rate", "converse")
COSTS: tuple[str, ...] = ("cheap", "medium", "expensive")
SCOPES: tuple[str, ...] = ("theorem", "reference-conformance")
_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class Discarded(Exception):
    """Raised by a check for a drawn setting the claim cannot judge (a minimisation that
    did not converge within its budget, a degenerate draw): the engine counts it by its
    message, reports the count with the verdict, and draws another setting.  A discarded
    setting is never a pass."""


class OutsideHypotheses(Exception):
    """Raised by a check when the subject itself, whatever the setting, is outside the
    claim's hypotheses (a user's model too large for the claim's dense Hessians, say): the
    result is ``skipped`` with the message as the reason, never a pass nor an error."""


@dataclass(frozen=True)
class Cite:
    """Where a claim comes from: authors, year, arXiv id and the theorem or section."""

    authors: str
    year: int
    arxiv: str
    where: str

    def short(self) -> str:
        return f"{self.arxiv} {self.where}"

    def __str__(self) -> str:
        return f"{self.authors} ({self.year}), arXiv:{self.arxiv}, {self.where}"


@dataclass(frozen=True)
class Scale:
    """Size caps a profile puts on drawn settings (CI small, thorough as the paper):
    ``max_depth`` blocks, and ``max_params`` = depth * width^2, the size of one model
    and so the cost of drawing and sweeping it."""

    max_depth: int
    max_params: int


@dataclass(frozen=True)
class Context:
    """What a check and a judge may know besides the setting: the device, the
    per-example false-alarm rate ``alpha`` (budget / examples) and the size caps."""

    device: str
    alpha: float
    scale: Scale


@dataclass(frozen=True)
class Judgement:
    """A verdict with its margin: ``margin`` > 0 means the claim held with that much to
    spare (in the claim's own units), < 0 that it failed by that much.  ``summary`` is
    the one line shown in the table.  The verdict helpers also fill in what the test
    measured, for the JSON and the figures: ``p_value`` of a test, the ``band`` [lo, hi]
    the claim allows, the confidence ``interval`` of the statistic judged against it,
    and the ``unit`` of the margin."""

    holds: bool
    margin: float
    summary: str
    p_value: float | None = None
    band: tuple[float, float] | None = None
    interval: tuple[float, float] | None = None
    unit: str = ""

    def restate(self, summary: str) -> "Judgement":
        """The same verdict, margin and statistics with another summary line."""
        return replace(self, summary=summary)


@dataclass(frozen=True)
class Claim:
    """One executable theorem.  See the module docstring; fields are validated at
    definition time so a malformed claim fails on import, not in a run.

    ``scope``: ``theorem`` claims state what the paper promises for every model meeting
    its hypotheses; their strategy draws the architectures they cover (``covers``
    says which) and a user's subject is checked against them by default.
    ``reference-conformance`` claims pin constants calibrated on the paper's exact
    model; they run on a user's subject only when asked for.
    ``settings(scale, subject)`` gives the strategy of settings for one subject (a
    subject whose architecture is its own is not drawn one).
    ``requires``: architecture keywords the hypotheses restrict, with the values they
    allow (``{"shortcut_depth": (2,)}``); a subject that fixes another value is outside
    the theorem and the claim is ``skipped`` on it, with the reason.
    ``examples``: settings run before the drawn ones, on every subject whose ``build``
    takes all of the keywords of ``examples_need`` or none of them: an example of the
    paper's architecture half applied to a model whose architecture is its own means
    nothing and may cost far more (the paper's MLP width given to a user's conv net:
    64 channels at L = 1024).
    ``search``: examples per profile name where the cost class's count is not enough (a
    deterministic claim whose rare counterexamples are worth hunting, ``{"thorough": 500}``).
    ``shares``: claims with the same non-empty value compute the same evidence for the same
    setting and cache it per process; runners should keep them in one process (the test
    suite groups them for pytest-xdist).
    ``figure(result, fig)``: draws the figure a reader of the paper would draw for one
    result onto a matplotlib Figure, from the result's JSON (``Result.to_json()``) alone, with
    the claim's band or threshold on it; the report (:mod:`resclaims.html_report`) calls it."""

    id: str
    cite: Cite
    statement: str
    provenance: Provenance
    kind: Kind
    scope: Scope
    covers: str
    family: Family
    settings: Callable[[Scale, Subject], SearchStrategy[Setting]]
    check: Callable[[Setting, Subject, Context], Evidence]
    judge: Callable[[Setting, Evidence, Context], Judgement]
    thresholds: str
    cost: Cost = "medium"
    budget: float = 1e-3
    examples: tuple[Setting, ...] = field(default_factory=tuple)
    examples_need: tuple[str, ...] = ()
    requires: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    search: Mapping[str, int] = field(default_factory=dict)
    shares: str = ""
    figure: Callable[[dict[str, Any], Any], None] | None = None

    def applies_to(self, subject: Subject) -> str | None:
        """None when ``subject`` can meet the hypotheses, else why it cannot."""
        for keyword, allowed in self.requires.items():
            value = subject.architecture(keyword)
            if value is not None and value not in allowed:
                return (f"not applicable: {self.id} is about {keyword} in {list(allowed)}; subject "
                        f"{subject.name} fixes {keyword} = {value}")
        return None

    def examples_for(self, subject: Subject) -> tuple[Setting, ...]:
        """The explicit examples to run on ``subject`` (see ``examples_need``)."""
        taken = [subject.adapter.accepts(k) for k in self.examples_need]
        return self.examples if all(taken) or not any(taken) else ()

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} must look like '<paper>.<name>' (lower case)")
        if self.provenance not in PROVENANCES:
            raise ValueError(f"claim {self.id}: provenance {self.provenance!r} not in {PROVENANCES}")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind {self.kind!r} not in {KINDS}")
        if self.scope not in SCOPES:
            raise ValueError(f"claim {self.id}: scope {self.scope!r} not in {SCOPES}")
        if not self.covers.strip():
            raise ValueError(f"claim {self.id}: say which architectures it covers")
        if self.cost not in COSTS:
            raise ValueError(f"claim {self.id}: cost {self.cost!r} not in {COSTS}")
        if not 0 < self.budget < 1:
            raise ValueError(f"claim {self.id}: budget {self.budget} must be in (0, 1)")
        if not self.thresholds.strip():
            raise ValueError(f"claim {self.id}: state where its thresholds come from")

    @property
    def paper(self) -> str:
        return self.id.split(".", 1)[0]


def finite_or(value: float, fallback: float) -> float:
    """``value`` if finite, else ``fallback`` (for margins of overflowed evidence)."""
    return value if math.isfinite(value) else fallback
