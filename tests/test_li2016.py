"""Facts about the li2016 family the claims rely on, checked exactly on small cases."""
from __future__ import annotations

import pytest
import torch

from resclaims import Adapter, Subject
from resclaims.core import hessian
from resclaims.core.data import generator, linear_regression
from resclaims.models import li2016_mutants as mutants
from resclaims.models.li2016 import SHORTCUT_STACK, initialise_, plain_linear, shortcut_stack
from resclaims.strategies.stacks import moments


def _hessian(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    obj = hessian.model_objective(model, [list(b.parameters()) for b in model.blocks], x, y)
    return hessian.dense_hessian(obj)


def test_one_shortcut_at_zero_is_the_plain_net_at_identity() -> None:
    x, y = linear_regression(50, 3, 2, whiten=False)
    residual = shortcut_stack(5, 3, generator=generator(0), shortcut_depth=1)
    plain = plain_linear(5, 3, generator=generator(0))
    assert torch.allclose(_hessian(residual, x, y), _hessian(plain, x, y), atol=1e-10)


def test_one_shortcut_gradient_at_zero_is_a_transpose_in_every_unit() -> None:
    x, y = linear_regression(50, 3, 2, whiten=False)
    model = shortcut_stack(4, 3, generator=generator(0), shortcut_depth=1)
    obj = hessian.model_objective(model, [list(b.parameters()) for b in model.blocks], x, y)
    for g in torch.split(hessian.gradient(obj), obj.sizes):
        assert torch.allclose(g.view(3, 3), moments(x, y).T, atol=1e-12)


def test_inits_have_the_stated_laws() -> None:
    w = torch.empty(200, 200, dtype=torch.float64)
    assert float(initialise_(w, "zero", 0.0, generator(0)).abs().max()) == 0.0
    assert abs(float(initialise_(w, "gaussian", 1e-3, generator(0)).std()) - 1e-3) < 1e-5
    assert abs(float(initialise_(w, "xavier", 0.0, generator(0)).var()) * 200 - 1) < 0.02
    q = initialise_(w, "orthogonal", 0.0, generator(0))
    assert torch.allclose(q @ q.T, torch.eye(200, dtype=torch.float64), atol=1e-12)
    wide = initialise_(torch.empty(3, 7, dtype=torch.float64), "orthogonal", 0.0, generator(0))
    assert torch.allclose(wide @ wide.T, torch.eye(3, dtype=torch.float64), atol=1e-12)


def test_whitened_data_have_identity_second_moment() -> None:
    x, _ = linear_regression(64, 4, 3, whiten=True)
    assert torch.allclose(x.T @ x / 64, torch.eye(4, dtype=torch.float64), atol=1e-12)


def test_a_stack_with_a_head_is_outside_the_family_contract() -> None:
    from resclaims.family import SubjectError

    def with_head(depth: int, width: int, init: str, generator: torch.Generator) -> torch.nn.Module:
        model = shortcut_stack(depth, width, "gaussian", 0.1, generator=generator)
        return torch.nn.Sequential(model, torch.nn.Linear(width, width, dtype=torch.float64))

    subject = Subject("with_head", SHORTCUT_STACK, Adapter(build=with_head, blocks=lambda m: list(m[0].units),
                                                           fixed={"shortcut_depth": 2}))
    with pytest.raises(SubjectError, match="no head"):
        subject.check_contract()


SETTING = {"shortcut_depth": 2, "depth": 2, "width": 3, "samples": 64, "whiten": True, "seed": 0}


def _with_loss(loss, build=shortcut_stack) -> Subject:
    return Subject("own-loss", SHORTCUT_STACK, Adapter(build=build, loss=loss))


@pytest.mark.parametrize("loss, c", [
    (mutants.summed_squares, "64"),                                                  # a sum over N = 64 samples
    (torch.nn.functional.mse_loss, "0.6667"),                                        # a mean over N d, no 1/2
    (lambda out, y: (out - y).pow(2).sum(1).mean(), "2")], ids=["sum", "mse_loss", "no-half"])
def test_a_loss_that_is_c_times_the_theorys_is_judged_against_c_times_its_values(loss, c: str) -> None:
    """H scales with the loss: spec H(0) = c {+-sigma_i(A)}, and the claim says which c."""
    from resclaims.engine import run
    result = run("li2016.depth2_hessian_at_zero", _with_loss(loss), setting=SETTING)
    assert result.verdict == "holds" and f"c = {c}," in result.summary


def test_a_loss_that_is_not_a_multiple_of_the_squared_error_is_outside_the_claims() -> None:
    from resclaims.engine import run
    result = run("li2016.depth2_hessian_at_zero", _with_loss(torch.nn.functional.l1_loss), setting=SETTING)
    assert result.verdict == "skipped" and "not a positive multiple of the squared error" in result.summary


class _DoubledUnit(torch.nn.Module):
    """h -> h + 2 W2 W1 h: a factor inside the unit, which no loss constant explains."""

    def __init__(self, unit: torch.nn.Module) -> None:
        super().__init__()
        self.inner = unit

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + 2 * self.inner.branch(h)


def test_a_factor_inside_the_units_is_told_from_the_losss_constant() -> None:
    from resclaims.engine import run

    def doubled(depth: int, width: int, init: str, generator: torch.Generator) -> torch.nn.Module:
        model = shortcut_stack(depth, width, init, generator=generator)
        model.units = torch.nn.ModuleList(_DoubledUnit(u) for u in model.units)
        return model
    subject = Subject("doubled", SHORTCUT_STACK, Adapter(build=doubled, loss=mutants.summed_squares,
                                                         fixed={"shortcut_depth": 2, "activation": "identity"}))
    result = run("li2016.depth2_hessian_at_zero", subject, setting=SETTING)
    assert result.verdict == "falsified" and "k = 128" in result.summary and "c = 64" in result.summary


def test_extra_parameters_are_named_before_the_two_sided_taylor_test() -> None:
    """Biases in a linear branch: a smooth loss with a gradient at 0 (and so a cubic Taylor
    term beside the quartic one, which the one-cubic fit takes as smooth); the summary
    leads with the nonzero gradient and names the extra parameters, not a ReLU kink; a
    ReLU branch leads with the kink."""
    from resclaims.engine import run
    setting = {"shortcut_depth": 2, "depth": 4, "width": 3, "samples": 64, "whiten": False, "seed": 1}
    biases = run("li2016.depth2_hessian_at_zero", "li2016.branch_biases", setting=setting)
    assert biases.verdict == "falsified"
    assert biases.summary.startswith("grad R(0) = ") and "extra parameters such as biases?" in biases.summary
    relu = run("li2016.depth2_hessian_at_zero", "li2016.relu_branch", setting=setting)
    assert relu.verdict == "falsified" and relu.summary.startswith("the loss is not smooth at 0")


def test_a_declared_smooth_activation_is_judged_up_to_its_slope_at_zero() -> None:
    """A SiLU stack (smooth at 0; s'(0) = 1/2, s''(0) != 0) was falsified as a kink.  Now
    H(0) is judged as k {+-sigma_i(A)} with k = s'(0) = 1/2, the claim whose O(s^2) rate
    needs identity or tanh skips it, saying why, and the t^n law of deep shortcuts holds;
    the same stack with tied units is still falsified (a factor L is not s'(0))."""
    from resclaims.engine import run

    depth2 = run("li2016.depth2_hessian_at_zero", "usermodels:silu_stack", shrink=False)
    assert depth2.verdict == "holds" and "k = 0.5: s'(0) of 'silu'" in depth2.summary, depth2.summary
    small = run("li2016.small_init_limit", "usermodels:silu_stack", shrink=False)
    assert small.verdict == "skipped" and "'silu' is smooth at 0" in small.summary, small.summary
    flat = run("li2016.deep_shortcut_flat", "usermodels:silu_stack", shrink=False)
    assert flat.verdict == "holds", flat.summary
    tied = run("li2016.depth2_hessian_at_zero", "usermodels:silu_stack_tied", shrink=False)
    assert tied.verdict == "falsified" and "weights shared by several units?" in tied.summary, tied.summary


def test_deep_shortcut_flat_names_a_lower_power_not_a_kink() -> None:
    """A smooth stack whose R(tV) - R(0) starts at t^3 where n = 4 is declared (a layer
    missing): R / t^4 has a pole, which the two-sided fit reads as a misfit; the verdict
    names the power, as the slopes agree on both sides."""
    from resclaims.claim import Context
    from resclaims.claims import li2016
    from resclaims.profiles import resolve

    ev = {"gradient_norm": 0.0, "max_abs_H": 0.0, "remainder_orders": [3.0, 3.001, 2.999, 3.0, 3.0, 3.0, 3.0, 3.0],
          "mismatch": 0.0, "kink": 0.799, "leads": [0.0, 0.0, 0.0, 0.0]}
    judgement = li2016._flat_judge({"shortcut_depth": 4}, ev, Context("cpu", 1e-3, resolve("ci").scale))
    assert not judgement.holds and "starts at t^3" in judgement.summary, judgement.summary
    assert "kink" not in judgement.summary
