"""Every claim holds on its family's reference subjects (the ci profile), or is skipped
where a reference fixes an architecture outside the claim's hypotheses."""
from __future__ import annotations

import pytest

from resclaims import registry
from resclaims.compare import not_judged
from resclaims.engine import run
from conftest import grouped


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [grouped(c, "reference", c) for c in registry.claims()])
def test_claim_holds_on_reference(claim_id: str) -> None:
    result = run(claim_id, shrink=False)
    assert result.verdict == "holds", f"{claim_id}: {result.summary} at {result.setting}"


OTHER_REFERENCES = [(s.name, c.id) for s in registry.subjects().values() if s.role == "reference"
                    for c in registry.claims().values()
                    if c.family is s.family and s is not registry.reference(c.family, c)]


@pytest.mark.slow
@pytest.mark.parametrize("subject, claim_id", OTHER_REFERENCES)
def test_claim_holds_or_is_skipped_on_every_other_reference(subject: str, claim_id: str) -> None:
    result = run(claim_id, subject, shrink=False)
    assert result.verdict in ("holds", "skipped") and not not_judged(result.verdict, result.discarded), \
        f"{claim_id} on {subject}: {result.summary}"
