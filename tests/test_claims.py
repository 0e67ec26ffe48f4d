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


def test_forward_converse_names_a_forward_pass_that_overflows() -> None:
    """r_L overflowing float64 (a tau far too large) falsifies the converse with the
    cause named, not only NaN slopes (evidence of a tau-over-stages bug at c = 0.2)."""
    from resclaims.claim import Context
    from resclaims.claims import zhang2019
    from resclaims.profiles import resolve

    nan = float("nan")
    slopes = [1.22, 1.23, nan, 1.14, 1.16, 1.19, nan, nan, 1.18, 1.10, 1.2, nan, 1.21]
    ev = {"depths": [64, 256, 1024], "median_log_r": [23.04, nan, nan], "growing": False, "slopes": slopes,
          "band": [0.2, 0.55]}
    judgement = zhang2019._forward_converse_judge({}, ev, Context("cpu", 1e-3, resolve("ci").scale))
    assert not judgement.holds
    assert "overflows float64 at L = [256, 1024]" in judgement.summary
