"""Speed work must not change a result: the evidence of the reference subjects on fixed
settings is bit-identical to the evidence recorded at a baseline commit (each recording
names it; ``tools/record_evidence.py`` wrote them), so replay files and counterexamples
from before keep reproducing.  Keys added to a claim's evidence since (data for the
report's figures) are not compared; every recorded key must be there, unchanged.

Bits depend on the machine too: MKL and ATen choose kernels by CPU, and the same code
at c9e22d2 gave other last bits on an AMD EPYC (AVX512) than on the machine of the first
recording (which named no machine).  So there is one recording per machine kind: on a
recorded kind the evidence must match it bit for bit; on any other it must match every
recording to CROSS_MACHINE_RTOL / CROSS_MACHINE_ATOL, a roundoff check, which still
catches a changed draw, seed or formula (those move the evidence by percents)."""
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
# steps; quantities that are themselves roundoff (a spectrum error of 5.5e-16, a fitted
# mismatch of 4.5e-7) differ by up to 2.3e-7 absolute.  Margins: 13x and 4x.
CROSS_MACHINE_RTOL = 1e-5
CROSS_MACHINE_ATOL = 1e-6


def _close(recorded: object, now: object) -> bool:
    """Equal structure; floats within the cross-machine tolerance; everything else equal."""
    if isinstance(recorded, dict):
        return isinstance(now, dict) and recorded.keys() <= now.keys() and all(
            _close(v, now[k]) for k, v in recorded.items())
    if isinstance(recorded, list):
        return isinstance(now, list) and len(recorded) == len(now) and all(map(_close, recorded, now))
    if isinstance(recorded, float) and isinstance(now, (int, float)):
        return math.isclose(recorded, now, rel_tol=CROSS_MACHINE_RTOL, abs_tol=CROSS_MACHINE_ATOL)
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
    mine = [(commit, ev) for kind, commit, ev in recorded if kind == machine()]
    if mine:
        commit, expected = mine[0]
        assert {key: evidence.get(key) for key in expected} == expected, \
            f"{case['claim']} evidence changed since commit {commit} on this kind of machine ({machine()})"
    else:
        for kind, commit, expected in recorded:
            assert _close(expected, evidence), \
                f"{case['claim']} evidence moved beyond roundoff since commit {commit} (recorded on {kind})"
