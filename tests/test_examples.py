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
from resclaims.profiles import ENV_VAR

ROOT = Path(__file__).parent.parent
THEOREMS = [c.id for c in registry.claims().values() if c.scope == "theorem" and c.paper == "zhang2019"]
STACK_THEOREMS = [c.id for c in registry.claims().values() if c.scope == "theorem" and c.paper == "li2016"]


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", THEOREMS)
def test_scaled_example_holds_every_theorem_claim(claim_id: str) -> None:
    # the simplest architecture of each claim unless RESCLAIMS_PROFILE asks for more: the
    # ci profile (all six hold) costs about 5 CPU-minutes on this conv net
    result = run(claim_id, "examples.cifar_resnet:adapter", profile=os.environ.get(ENV_VAR, "smoke"), shrink=False)
    assert result.verdict == "holds", f"{claim_id}: {result.summary} at {result.setting}"


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["zhang2019.forward_stable", "zhang2019.backward_stable"])
def test_unscaled_example_is_falsified(claim_id: str) -> None:
    # no shrinking (tested in test_engine): a conv net's shrink replays cost most of this test
    result = run(claim_id, "examples.cifar_resnet:adapter_unscaled", shrink=False)
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


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", STACK_THEOREMS)
def test_users_residual_mlp_holds_every_shortcut_depth_claim(claim_id: str) -> None:
    # its tanh is declared fixed: the claim about linear branches does not apply
    expected = "skipped" if claim_id == "li2016.gd_depth2_depth_free" else "holds"
    result = run(claim_id, "examples.residual_mlp:adapter", shrink=False)
    assert result.verdict == expected, f"{claim_id}: {result.summary} at {result.setting}"


def test_a_fixed_shortcut_depth_skips_the_claims_about_other_depths() -> None:
    verdicts = {c: run(c, "examples.residual_mlp:adapter_basic", profile="smoke").verdict
                for c in ("li2016.depth1_curvature_grows", "li2016.deep_shortcut_flat", "li2016.depth2_hessian_at_zero")}
    assert verdicts == {"li2016.depth1_curvature_grows": "skipped", "li2016.deep_shortcut_flat": "skipped",
                        "li2016.depth2_hessian_at_zero": "holds"}


def test_relu_between_the_layers_is_flagged_not_passed() -> None:
    result = run("li2016.depth2_hessian_at_zero", "examples.residual_mlp:adapter_relu", profile="smoke")
    assert result.verdict == "falsified" and "not smooth at 0" in result.summary


def test_user_subject_is_checked_against_the_families_whose_contract_it_meets() -> None:
    out = subprocess.run([sys.executable, "-m", "resclaims.cli", "check", "--subject",
                          "examples.residual_mlp:adapter_basic", "--profile", "smoke", "--claims", "li2016.deep*",
                          "--claims", "zhang2019.forward_stable"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2, out.stdout + out.stderr  # explicit --claims: the tau claim cannot use it
    out = subprocess.run([sys.executable, "-m", "resclaims.cli", "check", "--subject",
                          "examples.residual_mlp:adapter_basic", "--profile", "smoke", "--claims", "li2016.deep*"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and "skipped" in out.stdout + out.stderr, out.stdout + out.stderr
