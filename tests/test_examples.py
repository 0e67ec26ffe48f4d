"""The CIFAR-style ResNet of examples/ (written independently of resclaims' models, as a
user's code) checked through its adapter: with tau = 1/sqrt(L) it holds every theorem
claim, with tau = 1 (the classic ResNet) theorem claims falsify it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resclaims import registry
from resclaims.engine import run

ROOT = Path(__file__).parent.parent
THEOREMS = [c.id for c in registry.claims().values() if c.scope == "theorem"]


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", THEOREMS)
def test_scaled_example_holds_every_theorem_claim(claim_id: str) -> None:
    result = run(claim_id, "examples.cifar_resnet:adapter", shrink=False)
    assert result.verdict == "holds", f"{claim_id}: {result.summary} at {result.setting}"


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["zhang2019.forward_stable", "zhang2019.backward_stable"])
def test_unscaled_example_is_falsified(claim_id: str) -> None:
    result = run(claim_id, "examples.cifar_resnet:adapter_unscaled")
    assert result.verdict == "falsified", result.summary
    assert set(result.setting) == {"depth", "seed"} | ({"c"} if "c" in result.setting else set())


def test_example_adapter_is_short_and_uses_the_users_names() -> None:
    from examples import cifar_resnet

    model = cifar_resnet.adapter.build(depth=5, tau=0.3)
    assert len(cifar_resnet.residual_blocks(model)) == 5 and isinstance(model.tau, torch.nn.Parameter)
    assert sum(p is model.tau for p in model.parameters()) == 1  # one shared, learnable tau
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)  # CIFAR-sized input too
    source = Path(cifar_resnet.__file__).read_text().split("# --- resclaims adapters")[1]
    assert len([line for line in source.splitlines() if line.strip() and not line.startswith("#")]) <= 20


def test_cli_imports_the_adapter_from_the_working_directory() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = Path(sys.executable).with_name("resclaims")
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "import sys; from resclaims.cli import main; sys.exit(main())"]
    proc = subprocess.run([*command, "check", "--claims", "zhang2019.forward_stable", "--subject",
                           "examples.cifar_resnet:adapter", "--setting", '{"depth": 4, "c": 0.5, "seed": 1}'],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "holds" in proc.stdout and "theorem" in proc.stdout
