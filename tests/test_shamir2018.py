"""The shamir2018 machinery: Newton's method against closed forms, the unit's loss through
functional_call, the construction of the bad stationary point, and a user's transformer
feature network checked against the claims (at the smoke size)."""
from __future__ import annotations

import pytest
import torch

from resclaims import registry
from resclaims.claims.shamir2018 import Unit, best_linear
from resclaims.cli import main
from resclaims.core import convex
from resclaims.strategies.units import unit_data

SETTING = {"in_dim": 3, "features": 2, "loss": "squared", "samples": 64, "inputs": "gaussian", "seed": 4}


@pytest.mark.parametrize("loss", ["squared", "logistic", "huber"])
def test_best_linear_predictor_is_the_convex_minimum(loss: str) -> None:
    x, y = unit_data({**SETTING, "loss": loss})
    lin = best_linear(x, y, loss)
    assert lin.gradient_norm < 1e-10
    if loss == "squared":
        assert torch.allclose(lin.point, torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1), atol=1e-12)
    for _ in range(5):  # no nearby u does better
        u = lin.point + 1e-3 * torch.randn(3, dtype=torch.float64)
        assert convex.LOSSES[loss](x @ u, y).mean() >= lin.value


def test_newton_descends_from_where_the_hessian_is_indefinite() -> None:
    found = convex.newton(lambda z: (z[0] ** 2 - 1) ** 2 + z[1] ** 2, torch.tensor([0.1, 0.3], dtype=torch.float64))
    assert found.gradient_norm < 1e-10 and found.value < 1e-16 and abs(abs(float(found.point[0])) - 1) < 1e-8


def test_the_units_loss_is_its_forward_pass() -> None:
    subject = registry.subjects()["shamir2018.reference"]
    model = subject.build(0, in_dim=3, features=2)
    x, y = unit_data(SETTING)
    unit = Unit(subject, model, x, y, "squared")
    manual = 0.5 * ((x + model.features(x) @ model.mixing.T) @ model.head - y).pow(2).mean()
    assert torch.allclose(unit.loss(model.head, model.mixing), manual)
    assert torch.allclose(unit.flat(unit.join(unit.w0, unit.v0)), manual)


def test_the_users_transformer_feature_network_meets_the_theorem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--claims", "shamir2018.*", "--subject", "examples.feature_net:adapter",
                 "--profile", "smoke"])
    out = capsys.readouterr().out
    # joint_minima's hypotheses leave it out (more than 64 parameters: dense Hessians): not applicable, with
    # the reason, never a pass nor an error
    assert code == 0 and "3 hold, 0 falsified, 0 errors, 3 skipped" in out
    assert "more than the 64" in out


def test_every_claim_draws_its_figure_on_a_result_with_missing_or_failing_evidence() -> None:
    """Each shamir2018 claim has a figure; it draws on real smoke results of the cheap claims,
    on hand-written evidence of the others (failing values included) and on a result without
    evidence (an error), which it says it cannot draw rather than raising."""
    from matplotlib.figure import Figure

    from resclaims.engine import run

    claims = [c for c in registry.claims().values() if c.paper == "shamir2018"]
    assert claims and all(c.figure is not None for c in claims)
    drawn = {"shamir2018.local_minima": {"F": 0.5, "F_lin": 0.4, "gradient_norm": 1e-9, "lambda_min": 0.0},
             "shamir2018.joint_minima": {"F": 0.5, "F_lin": 0.4, "gradient_norm": 1e-9, "lambda_min": -1e-17,
                                         "w_norm": 1e-3, "gradient_slack": 2e-6, "parameters": 7, "samples": 512,
                                         "iterations": 30},
             "shamir2018.saddle_at_zero": {"F": 0.3, "F_lin": 0.4, "escaped_to": 0.4, "gradient_norm": 0.0,
                                           "lambda_min": 1e-3, "hessian_norm": 1.0},
             "shamir2018.tweaked_sgd": {"horizons": [200, 800, 3200], "gaps": [0.1, -0.01, 2.0],
                                        "bounds": [1.0, 0.5, 0.25], "rate": "nan"}}
    results = [run(claim, profile="smoke").to_json() for claim in ("shamir2018.bound_everywhere",
                                                                   "shamir2018.no_skip_flat")]
    results += [{"claim": claim, "verdict": "falsified", "alpha": 1e-3, "evidence": evidence, "setting": SETTING}
                for claim, evidence in drawn.items()]
    results += [{"claim": c.id, "verdict": "error", "evidence": {}} for c in claims]
    for result in results:
        figure = Figure()
        registry.get(result["claim"]).figure(result, figure)
        assert figure.axes, result["claim"]


def test_a_joint_minimum_over_w_v_and_theta_is_no_worse_than_linear() -> None:
    """B-C1 jointly with theta on one reference setting: Adam then trust-region Newton
    converge over all 7 parameters (d = 2, m = 1, one sin layer) with w away from 0, a
    positive semidefinite Hessian up to roundoff, and F below F_lin*."""
    from resclaims.engine import run

    setting = {"in_dim": 2, "features": 1, "loss": "logistic", "samples": 512, "inputs": "gaussian", "seed": 1,
               "activation": "sin", "depth": 1}
    result = run("shamir2018.joint_minima", setting=setting)
    ev = result.evidence
    assert result.verdict == "holds", result.summary
    assert ev["parameters"] == 7 and ev["samples"] == 512 and ev["gradient_norm"] <= 1e-8 and ev["w_norm"] >= 1e-2
    assert ev["lambda_min"] >= -1e-12 * ev["hessian_norm"] and ev["gradient_slack"] <= 1e-6
    assert ev["F"] < ev["F_lin"]


def test_a_joint_minimum_leaves_the_tensors_a_user_froze() -> None:
    """theta is what the model trains: a frozen feature layer is neither moved nor counted
    in P (it would push a small unit past the 64 parameters of dense Hessians)."""
    from resclaims.claims.shamir2018 import JointUnit

    subject = registry.subject_for("usermodels:linear_unit_frozen", registry.get("shamir2018.joint_minima").family)
    setting = {"in_dim": 2, "features": 1, "loss": "squared", "samples": 512, "inputs": "gaussian", "seed": 1}
    x, y = unit_data(setting)
    model = subject.build(1, in_dim=2, features=1)
    unit = JointUnit(subject, model, x, y, "squared")
    assert "feat.0.weight" not in unit.order and unit.start.numel() == 37 - 24
    assert unit.order[:2] == ["head.weight", "mix.weight"]


@pytest.mark.parametrize("adapter", ["linear_unit", "linear_unit_view"])
def test_a_unit_of_linear_layers_is_checked_whatever_the_heads_shape(adapter: str) -> None:
    """A Linear(d, 1) head is a (1, d) weight: named as the weight or as its row, the
    claims work with w in R^d and hand the model its own shape (it once ended in errors,
    and a (d, 1) head in a false alarm)."""
    from resclaims.engine import run
    for claim_id in ("shamir2018.bound_everywhere", "shamir2018.saddle_at_zero", "shamir2018.local_minima"):
        result = run(claim_id, f"usermodels:{adapter}", profile="smoke", shrink=False)
        assert result.verdict == "holds", f"{claim_id}: {result.summary}"


def test_an_offset_on_the_head_is_outside_the_theorem_and_said_so() -> None:
    from resclaims.engine import run
    result = run("shamir2018.local_minima", "usermodels:linear_unit_head_bias", profile="smoke")
    assert result.verdict == "skipped" and "an offset outside (w, V) (a bias on the head?)" in result.summary
    squashed = run("shamir2018.local_minima", "usermodels:linear_unit_sigmoid", profile="smoke", shrink=False)
    assert squashed.verdict == "falsified", squashed.summary  # 1/2 at w = 0 for every x, but not an offset: judged


def test_the_init_scale_is_drawn_only_for_a_build_that_takes_it() -> None:
    from resclaims.profiles import PROFILES
    from resclaims.setting_check import example_settings
    claim = registry.get("shamir2018.bound_everywhere")
    user = registry.subject_for("usermodels:linear_unit", claim.family, claim)
    assert all("scale" not in s for s in example_settings(claim, user, PROFILES["ci"].scale))
    reference = registry.subject_for(None, claim.family, claim)
    assert all("scale" in s for s in example_settings(claim, reference, PROFILES["ci"].scale))
