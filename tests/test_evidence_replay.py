"""Speed work must not change a result: the evidence of the reference subjects on fixed
settings is bit-identical to the evidence recorded at the baseline commit (the fixture
names it; ``tools/record_evidence.py`` wrote it), so replay files and counterexamples
from before keep reproducing.  Keys added to a claim's evidence since (data for the
report's figures) are not compared; every recorded key must be there, unchanged."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from record_evidence import record  # noqa: E402

BASELINE = json.loads((ROOT / "tests" / "fixtures" / "evidence_baseline.json").read_text())


@pytest.mark.parametrize("case", BASELINE["cases"], ids=lambda c: f"{c['claim']}-{c['setting']['seed']}")
def test_evidence_is_bit_identical_to_the_baseline(case: dict) -> None:
    now = record(case["claim"], case["setting"])
    # JSON floats round-trip exactly, so equality here is equality of every bit
    evidence = json.loads(json.dumps(now["evidence"]))
    assert {key: evidence.get(key) for key in case["evidence"]} == case["evidence"], \
        f"{case['claim']} evidence changed since commit {BASELINE['commit']}"
