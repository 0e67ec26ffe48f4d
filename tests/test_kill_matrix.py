"""The kill matrix: every mutant is falsified by each claim its ``killed_by`` names.

The expected cells are declared once, on the mutants (models/<paper>_mutants.py);
this one generic test instantiates a case per (mutant, claim) cell.
"""
from __future__ import annotations

import pytest

from resclaims import registry
from resclaims.engine import run

CELLS = [(m.name, c) for m in registry.mutants() for c in m.killed_by]


def test_every_mutant_has_a_killer() -> None:
    for mutant in registry.mutants():
        assert mutant.killed_by, f"{mutant.name} is killed by no claim"
        for claim_id in mutant.killed_by:
            assert registry.get(claim_id).family is mutant.family


@pytest.mark.slow
@pytest.mark.parametrize("mutant, claim_id", CELLS, ids=[f"{m}-{c.split('.')[1]}" for m, c in CELLS])
def test_mutant_is_falsified(mutant: str, claim_id: str) -> None:
    result = run(claim_id, mutant, shrink=False)
    assert result.verdict == "falsified", f"{claim_id} did not kill {mutant}: {result.summary}"
