"""Comparing two results files (``resclaims compare OLD NEW``, ``check --baseline OLD``):
what a change to the model code did to the claims.

Results are matched by claim and subject.  Reported: verdicts that changed, results
that appeared or disappeared, and margins that shrank by more than a fraction of the
old margin (only where both runs hold and the old margin is finite and positive; an
infinite old margin is said to be unmeasurable).  A regression, which fails the gate,
is a verdict that got worse (holds -> falsified, error, or skipped because no setting could
be judged: a result with discarded settings and none judged), a margin that shrank beyond
the fraction, or a result that held in the old run and is missing from the new one; a
new run that is incomplete (interrupted) fails the gate too.  Everything here is a pure
function of the two payloads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Collection, Literal, Mapping

Kind = Literal["worse", "changed", "appeared", "disappeared", "shrank", "unmeasured"]
WORSE = {("holds", "falsified"), ("holds", "error")}
DEFAULT_SHRINK = 0.5


@dataclass(frozen=True)
class Change:
    """One difference between the runs, for one claim on one subject."""

    claim: str
    subject: str
    kind: Kind
    detail: str
    was: str | None = None  # the old verdict, for a result that disappeared

    @property
    def regression(self) -> bool:
        return self.kind in ("worse", "shrank") or (self.kind == "disappeared" and self.was == "holds")

    def line(self) -> str:
        return f"{self.kind:11} {self.claim} on {self.subject}: {self.detail}"


@dataclass
class Comparison:
    """The changes (in the new run's order, then the disappeared ones), notes on what
    makes the runs hard to compare (profiles, an incomplete baseline), and whether the
    new run is incomplete (itself a regression)."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shrink: float = DEFAULT_SHRINK
    compared: int = 0
    incomplete: bool = False

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def failed(self) -> bool:
        """Whether the gate fails: a regression, or an incomplete new run."""
        return bool(self.regressions) or self.incomplete

    def lines(self) -> list[str]:
        """The report: notes, changes, and a closing line that says whether it failed."""
        worse = sum(c.kind == "worse" for c in self.changes)
        shrank = sum(c.kind == "shrank" for c in self.changes)
        gone = sum(c.kind == "disappeared" and c.regression for c in self.changes)
        pieces = [f"{worse} verdict(s) worse", f"{shrank} margin(s) shrank by more than {self.shrink:.0%}"]
        pieces += [f"{gone} held result(s) disappeared"] * bool(gone)
        pieces += ["the new run is incomplete"] * self.incomplete
        count = worse + shrank + gone + self.incomplete
        verdict = f"{count} regression(s): {', '.join(pieces)}" if count else "no regression"
        line = "regression: the new run is incomplete (interrupted): it cannot pass the gate; rerun it to the end"
        incomplete = [line] * self.incomplete
        return ([f"note: {n}" for n in self.notes] + incomplete + [c.line() for c in self.changes]
                + [f"compared {self.compared} result(s) with the baseline: {verdict}"])


def not_judged(verdict: str, discarded: Mapping[str, int] | None) -> bool:
    """Whether a result (its verdict and its ``discarded`` counts, from a Result or its
    JSON) was skipped because none of its settings could be judged, rather than because
    the subject fixes an architecture outside the claim's hypotheses."""
    return verdict == "skipped" and bool(discarded)


def compare(old: Mapping[str, Any], new: Mapping[str, Any], shrink: float = DEFAULT_SHRINK) -> Comparison:
    """Compare two results payloads (as written by ``check --json``)."""
    before, after = _by_key(old), _by_key(new)
    out = Comparison(notes=_notes(old, new), shrink=shrink, compared=len(before.keys() & after.keys()),
                     incomplete=not new.get("complete", True))
    for key, now in after.items():
        was = before.get(key)
        if was is None:
            out.changes.append(Change(*key, "appeared", now["verdict"]))
        elif was["verdict"] != now["verdict"]:
            unjudged = was["verdict"] == "holds" and not_judged(now["verdict"], now.get("discarded"))
            kind: Kind = "worse" if (was["verdict"], now["verdict"]) in WORSE or unjudged else "changed"
            out.changes.append(Change(*key, kind, f"{was['verdict']} -> {now['verdict']} ({now.get('summary', '')})"))
        elif now["verdict"] == "holds":
            change = _margin_change(key, was, now, shrink)
            if change is not None:
                out.changes.append(change)
    out.changes += [Change(*key, "disappeared", f"was {was['verdict']}", was=was["verdict"])
                    for key, was in before.items() if key not in after]
    return out


def restrict(payload: Mapping[str, Any], pairs: Collection[tuple[str, str]]) -> dict[str, Any]:
    """``payload`` with only the results whose (claim, subject) is in ``pairs``: a
    baseline cut to what a check selected, so the claims and subjects it did not run are
    not reported as disappeared."""
    return {**payload, "results": [r for r in payload.get("results", []) if (r["claim"], r["subject"]) in pairs]}


def _by_key(payload: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["claim"], r["subject"]): r for r in payload.get("results", [])}


def _margin_change(key: tuple[str, str], was: Mapping[str, Any], now: Mapping[str, Any],
                   shrink: float) -> Change | None:
    old, new = _number(was.get("margin")), _number(now.get("margin"))
    if old is None or new is None or old <= 0:
        return None
    unit = f" {now['unit']}" if now.get("unit") else ""
    if math.isinf(old):
        if math.isinf(new):
            return None
        return Change(*key, "unmeasured", f"margin inf -> {new:.3g}{unit}: the shrinkage of an infinite margin "
                                          f"is not measured")
    fraction = (old - new) / old
    if fraction <= shrink:
        return None
    return Change(*key, "shrank", f"margin {old:.3g} -> {new:.3g}{unit} (shrank {fraction:.0%}, more than "
                                  f"{shrink:.0%})")


def _number(value: Any) -> float | None:
    """A margin from the JSON (a number, or "inf"/"-inf"/"nan"), None if absent or nan."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    notes = []
    profiles = [p.get("environment", {}).get("profile") for p in (old, new)]
    if profiles[0] != profiles[1]:
        notes.append(f"the baseline ran profile {profiles[0]}, the new run {profiles[1]}: margins come from "
                     f"different searches")
    if not old.get("complete", True):  # an incomplete new run is a regression (Comparison.lines)
        notes.append("the baseline is incomplete (interrupted): results it lacks show as appeared")
    return notes
