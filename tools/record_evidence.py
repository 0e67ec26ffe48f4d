"""Record the evidence the reference subjects give on fixed settings, for the
bit-identity test (tests/test_evidence_replay.py).

Run it on the commit whose evidence is the baseline:
    python tools/record_evidence.py tests/fixtures/evidence_baseline_<machine>.json
Bits depend on the machine as well as the code (MKL and ATen pick kernels by CPU, and
those round differently), so a recording names the machine it was made on
(:func:`machine`); the test holds a machine of a recorded kind to the bits, others to
roundoff.
The settings cover every architecture option of the families built through the
ensemble (MLP and conv blocks, branch depths 1 and 2, one to three stages, vector and
image inputs) and every claim whose check sweeps an ensemble, at sizes that run in
seconds.  Evidence is stored as JSON (floats round-trip exactly), with the commit; it
is computed on one CPU thread, since LAPACK's results depend on the thread count.
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

from resclaims import registry
from resclaims.engine import evaluate, jsonable
from resclaims.claim import Context
from resclaims.profiles import resolve

ARCH = {"block": "mlp", "branch_depth": 1, "input": "vector", "stages": 1}
CASES: list[tuple[str, dict]] = [
    ("zhang2019.forward_stable", {**ARCH, "width": 32, "depth": 16, "c": 0.85, "seed": 659}),
    ("zhang2019.forward_stable", {**ARCH, "branch_depth": 2, "stages": 2, "width": 16, "depth": 12, "c": 0.5,
                                  "seed": 3}),
    ("zhang2019.forward_stable", {"block": "conv", "branch_depth": 2, "input": "image", "stages": 3, "width": 4,
                                  "image": 8, "depth": 6, "c": 0.7, "seed": 11}),
    ("zhang2019.forward_stable", {**ARCH, "input": "image", "width": 16, "image": 4, "depth": 8, "c": 1.0,
                                  "seed": 5}),
    ("zhang2019.backward_stable", {"block": "conv", "branch_depth": 2, "input": "image", "stages": 1, "width": 8,
                                   "image": 8, "depth": 8, "c": 0.55, "seed": 211957}),
    ("zhang2019.backward_stable", {**ARCH, "width": 32, "depth": 16, "c": 0.3, "seed": 2}),
    ("zhang2019.forward_constant", {**ARCH, "width": 32, "depth": 64, "c": 0.9, "seed": 898335}),
    ("zhang2019.trains_without_norm", {**ARCH, "width": 16, "depth": 16, "seed": 0}),
]
LI2016 = ("li2016.depth2_hessian_at_zero", "li2016.depth1_curvature_grows", "li2016.deep_shortcut_flat",
          "li2016.small_init_limit", "li2016.large_init_conditioning", "li2016.gd_depth3_plateau")
LI2016_SETTINGS = {
    "li2016.depth2_hessian_at_zero": {"samples": 256, "seed": 199198, "activation": "tanh", "depth": 1,
                                      "shortcut_depth": 2, "width": 3, "whiten": True},
    "li2016.depth1_curvature_grows": {"shortcut_depth": 1, "width": 3, "seed": 80, "activation": "identity",
                                      "samples": 64, "whiten": True},
    "li2016.deep_shortcut_flat": {"seed": 524, "shortcut_depth": 3, "width": 3, "depth": 4, "whiten": True,
                                  "samples": 256, "activation": "tanh"},
    "li2016.small_init_limit": {"depth": 1, "width": 2, "samples": 64, "whiten": True, "seed": 0,
                                "shortcut_depth": 2, "activation": "identity"},
    "li2016.large_init_conditioning": {"whiten": True, "width": 4, "seed": 151373261, "init": "xavier",
                                       "activation": "tanh", "shortcut_depth": 2, "samples": 64},
    "li2016.gd_depth3_plateau": {"depth": 8, "activation": "identity", "shortcut_depth": 3, "width": 3,
                                 "whiten": True, "samples": 64, "target": "near-identity", "seed": 3439, "noise": 0.0},
}
CASES += [(c, LI2016_SETTINGS[c]) for c in LI2016]
ALPHA = 1e-4  # the per-example false-alarm rate the checks size their seed counts from
THREADS = 1  # LAPACK's eigensolvers round differently with the thread count: record and replay on one


def machine() -> str:
    """What the bits depend on besides the code: the CPU model, the kernels ATen
    dispatches to on it, and the torch version (which pins MKL's)."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    model = names[0] if names else platform.processor() or platform.machine()
    return f"{model}; {torch.backends.cpu.get_cpu_capability()}; torch {torch.__version__}"


def record(claim_id: str, setting: dict) -> dict:
    """The claim's evidence on its family's reference for ``setting`` (ci size caps)."""
    claim = registry.get(claim_id)
    subject = registry.subject_for(None, claim.family, claim)
    ctx = Context(device="cpu", alpha=ALPHA, scale=resolve("ci").scale)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        evidence, _ = evaluate(claim, subject, setting, ctx)
    finally:
        torch.set_num_threads(threads)
    return {"claim": claim_id, "setting": setting, "evidence": jsonable(evidence)}


def main(path: str) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cases = [record(c, s) for c, s in CASES]
    with open(path, "w") as handle:
        json.dump({"commit": commit, "machine": machine(), "alpha": ALPHA, "threads": THREADS, "cases": cases},
                  handle, indent=1, allow_nan=False)


if __name__ == "__main__":
    main(sys.argv[1])
