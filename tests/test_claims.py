"""Every claim holds on its family's reference subject (the ci profile)."""
from __future__ import annotations

import pytest

from resclaims import registry
from resclaims.engine import run


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", list(registry.claims()))
def test_claim_holds_on_reference(claim_id: str) -> None:
    result = run(claim_id, shrink=False)
    assert result.verdict == "holds", f"{claim_id}: {result.summary} at {result.setting}"
