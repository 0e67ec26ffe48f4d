"""The kill matrix: every mutant is falsified by each claim its ``killed_by`` names, and
no theorem claim flags a benign control (a harmless variant inside the theorem's
hypotheses); a control's ``killed_by`` names the reference-conformance claims that pin
the constant it changes.

The expected cells are declared once, on the subjects (models/<paper>_mutants.py);
these generic tests instantiate a case per cell.
"""
from __future__ import annotations

import os

import pytest

from resclaims import registry
from resclaims.engine import run
from resclaims.profiles import ENV_VAR
from conftest import grouped

KILLS = [(s.name, c) for s in registry.mutants() + registry.controls() for c in s.killed_by]
SPARES = [(s.name, c.id) for s in registry.controls() for c in registry.claims().values()
          if c.family is s.family and c.scope == "theorem"]


def spare_verdict(control: str, claim_id: str) -> str:
    """What a theorem claim must say of a benign control: holds, or skipped where the
    control is outside the claim's hypotheses."""
    return "skipped" if registry.get(claim_id).applies_to(registry.subjects()[control]) is not None else "holds"


def _ids(cells: list[tuple[str, str]]) -> list[str]:
    return [f"{s.split('.')[1]}-{c.split('.')[1]}" for s, c in cells]


def test_every_mutant_has_a_killer_and_controls_only_conformance_killers() -> None:
    for mutant in registry.mutants():
        assert mutant.killed_by, f"{mutant.name} is killed by no claim"
    for subject in registry.mutants() + registry.controls():
        for claim_id in subject.killed_by:
            assert registry.get(claim_id).family is subject.family
    for control in registry.controls():
        assert all(registry.get(c).scope == "reference-conformance" for c in control.killed_by)


@pytest.mark.slow
@pytest.mark.parametrize("subject, claim_id", KILLS, ids=_ids(KILLS))
def test_mutant_is_falsified(subject: str, claim_id: str) -> None:
    result = run(claim_id, subject, shrink=False)
    assert result.verdict == "falsified", f"{claim_id} did not kill {subject}: {result.summary}"


@pytest.mark.slow
@pytest.mark.parametrize("control, claim_id", [grouped(c, s, s, c) for s, c in SPARES], ids=_ids(SPARES))
def test_control_is_not_flagged(control: str, claim_id: str) -> None:
    # one example each (the simplest architecture) unless RESCLAIMS_PROFILE asks for more: the
    # full ci profile (all 24 cells hold) costs about 7 CPU-minutes
    result = run(claim_id, control, profile=os.environ.get(ENV_VAR, "smoke"), shrink=False)
    assert result.verdict == spare_verdict(control, claim_id), \
        f"{claim_id} flags the harmless {control}: {result.summary}"
