"""Speed work must not change a result: the evidence of the reference subjects on fixed
settings is bit-identical to the evidence recorded at a baseline commit (each recording
names it; ``tools/record_evidence.py`` wrote them), so replay files and counterexamples
from before keep reproducing.  Keys added to a claim's evidence since (data for the
report's figures) are not compared; every recorded key must be there, unchanged.

Bits depend on the machine too: MKL and ATen choose kernels by CPU, and the same code
at c9e22d2 gave other last bits on an AMD EPYC (AVX512) than on the machine of the first
recording (which named no machine).  So there is one recording per machine kind: on a
recorded kind the evidence must match that recording bit for bit, and every recording
from another kind to CROSS_MACHINE_RTOL / CROSS_MACHINE_ATOL, a roundoff check, which
still catches a changed draw, seed or formula (those move the evidence by percents).
The first recording was made at c9e22d2, before the speed work; the AMD EPYC one at
61e5eb9, after it (bit-identical to c9e22d2 on the machine that ran CI then)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from record_evidence import machine, record  # noqa: E402

RECORDINGS = [json.loads(p.read_text()) for p in sorted((ROOT / "tests" / "fixtures").glob("evidence_baseline*.json"))]
# Across machines (measured, AMD EPYC against the first recording, 14 cases): relative
# differences up to 6.5e-16 in sweeps, 1.2e-11 in conditioning fits, 7.4e-7 after 100 GD
# steps (margin 13x); quantities that are themselves roundoff differ absolutely by up to
# 1.6e-15 (spectrum and gradient errors, judged at 1e-9 and 1e-10: margin 600x), except
# the two-sided Taylor mismatch of deep_shortcut_flat, a finite-difference ratio of
# roundoff (4.5e-7 against 2.3e-7; judged at 0.1), which gets its own absolute tolerance.
CROSS_MACHINE_RTOL = 1e-5
CROSS_MACHINE_ATOL = 1e-12
CROSS_MACHINE_ATOL_BY_KEY = {"mismatch": 1e-6}


def _close(recorded: object, now: object, atol: float = CROSS_MACHINE_ATOL) -> bool:
    """Equal structure; floats within the cross-machine tolerance; everything else equal."""
    if isinstance(recorded, dict):
        return isinstance(now, dict) and recorded.keys() <= now.keys() and all(
            _close(v, now[k], CROSS_MACHINE_ATOL_BY_KEY.get(k, atol)) for k, v in recorded.items())
    if isinstance(recorded, list):
        return isinstance(now, list) and len(recorded) == len(now) and all(
            _close(r, n, atol) for r, n in zip(recorded, now))
    if isinstance(recorded, float) and isinstance(now, (int, float)):
        return math.isclose(recorded, now, rel_tol=CROSS_MACHINE_RTOL, abs_tol=atol)
    return recorded == now


def test_recordings_hold_the_same_cases() -> None:
    keys = [[(c["claim"], c["setting"]) for c in r["cases"]] for r in RECORDINGS]
    assert len(RECORDINGS) >= 2 and all(k == keys[0] for k in keys)


@pytest.mark.parametrize("index", range(len(RECORDINGS[0]["cases"])),
                         ids=[f"{c['claim']}-{c['setting']['seed']}" for c in RECORDINGS[0]["cases"]])
def test_evidence_is_bit_identical_to_the_baseline(index: int) -> None:
    case = RECORDINGS[0]["cases"][index]
    now = record(case["claim"], case["setting"])
    # JSON floats round-trip exactly, so equality here is equality of every bit
    evidence = json.loads(json.dumps(now["evidence"]))
    recorded = [(r.get("machine"), r["commit"], r["cases"][index]["evidence"]) for r in RECORDINGS]
    for kind, commit, expected in recorded:
        if kind == machine():
            assert {key: evidence.get(key) for key in expected} == expected, \
                f"{case['claim']} evidence changed since commit {commit} on this kind of machine ({machine()})"
        else:
            assert _close(expected, evidence), \
                f"{case['claim']} evidence moved beyond roundoff since commit {commit} (recorded on {kind})"
