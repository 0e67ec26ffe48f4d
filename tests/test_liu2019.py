"""The liu2019 machinery: the Gaussian closed form and its gradients (finite at c = +-1),
the global optimum (A-C3), batched population GD against one run at a time, the
filter adapter, and the engine pieces the family added (parts, claim-aware references,
the positive-rate verdict)."""
from __future__ import annotations

import math


import pytest
import torch
from torch import Tensor

from resclaims import registry
from resclaims.claim import Context, Scale
from resclaims.core import gaussian, population_gd, train
from resclaims.family import Adapter, Subject, SubjectError
from resclaims.models.liu2019 import TWO_LAYER_CONV, conv_resnet
from resclaims.strategies.teachers import second_layer_inits, teacher
from resclaims.verdicts import rate_above_verdict

G = torch.Generator().manual_seed(0)


def _rand(*shape: int) -> Tensor:
    return torch.randn(*shape, generator=G, dtype=torch.float64)


@pytest.mark.parametrize("where", ["random", "aligned", "anti-aligned"])
def test_closed_form_gradients_match_autograd_and_stay_finite_at_the_poles(where: str) -> None:
    v, a, b = _rand(5, 7), _rand(5, 4), _rand(5, 4)
    u = {"random": _rand(5, 7), "aligned": 3 * v, "anti-aligned": -2 * v}[where].requires_grad_(True)
    a.requires_grad_(True)
    loss = gaussian.population_loss(u, a, v, b)
    gu, ga = torch.autograd.grad(loss.sum(), (u, a))
    value, grad_u, grad_a = gaussian.population_gradients(u.detach(), a.detach(), v, b)
    assert torch.isfinite(gu).all() and torch.isfinite(grad_u).all()
    assert torch.allclose(value, loss.detach(), atol=1e-13) and torch.allclose(grad_u, gu, atol=1e-13)
    assert torch.allclose(grad_a, ga, atol=1e-13)


def test_closed_form_is_the_expectation_of_the_forward_pass() -> None:
    v, b = teacher(5, 3, 1.0, 1)
    u, a = _rand(5), _rand(3)
    z = gaussian.patches(2 ** 18, 3, 5, 2)
    err = 0.5 * (gaussian.two_layer(z, u, a) - gaussian.two_layer(z, v, b)) ** 2
    assert abs(float(err.mean()) - float(gaussian.population_loss(u, a, v, b))) < 5 * float(err.std()) / 2 ** 9


def test_the_teacher_is_the_global_optimum_and_only_there() -> None:  # A-C3
    v, b = teacher(6, 4, 0.8, 3)
    assert float(gaussian.population_loss(v, b, v, b)) == pytest.approx(0.0, abs=1e-15)
    for _ in range(20):
        du, da = 1e-3 * _rand(6), 1e-3 * _rand(4)
        assert float(gaussian.population_loss(v + du - (du @ v) * v, b + da, v, b)) > 0


def _filter(u: Tensor) -> Tensor:
    s = torch.full((u.shape[-1],), 0.25, dtype=torch.float64)
    return (u + s) / (u + s).norm(dim=-1, keepdim=True)


def test_batched_runs_equal_runs_one_at_a_time() -> None:
    v, b = teacher(4, 4, 1.2, 5)
    a0 = second_layer_inits(b, 6, 6)
    w0 = torch.zeros(6, 4, dtype=torch.float64)
    args = (v.expand(6, 4), b.expand(6, 4))
    together = population_gd.population_gd(_filter, w0, a0, *args, 2e-3, 0.05, True, True, 300)
    for i in range(6):
        alone = population_gd.population_gd(_filter, w0[i:i + 1], a0[i:i + 1], v[None], b[None], 2e-3, 0.05,
                                            True, True, 300)
        assert torch.allclose(alone.w[0], together.w[i], atol=1e-13) and torch.allclose(alone.a[0], together.a[i], atol=1e-13)
    assert int(together.aligned_at[0]) > 0  # the adversarial a0 starts anti-aligned


def test_a_filter_that_does_not_broadcast_runs_under_vmap() -> None:
    def rowwise(w: Tensor) -> Tensor:  # norm over every entry: wrong on a batch
        return (w + 0.25) / (w + 0.25).norm()
    batched = population_gd.batched_filter(rowwise, 4)
    w = _rand(3, 4)
    assert torch.allclose(batched(w), torch.stack([rowwise(r) for r in w]))
    assert population_gd.batched_filter(_filter, 4) is _filter


def test_gradient_descent_takes_layer_wise_steps_and_own_gradients() -> None:
    x, y = torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    traj = train.gradient_descent(lambda: (x.sum().reshape(1), [torch.ones(2, dtype=torch.float64)] * 2), [x, y],
                                  [0.1, 0.5], 1)
    assert traj.losses.shape == (2, 1) and torch.allclose(x, torch.full((2,), 0.9, dtype=torch.float64))
    assert torch.allclose(y, torch.full((2,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="2 step sizes for 1 tensors"):
        train.gradient_descent(lambda: x.sum().reshape(1), [x], [0.1, 0.2], 1)


def test_parts_come_from_the_adapter_or_the_attribute_with_a_clear_error() -> None:
    build = lambda patches, patch_size, generator, dtype=torch.float64: conv_resnet(patches, patch_size, generator=generator)
    model = build(3, 4, torch.Generator())
    plain = Subject("user", TWO_LAYER_CONV, Adapter(build))
    assert plain.part("first_layer", model) is model.layer.w
    renamed = Subject("user", TWO_LAYER_CONV, Adapter(build, parts={"first_layer": lambda m: m.a}))
    assert renamed.part("first_layer", model) is model.a
    with pytest.raises(SubjectError, match="lacks attribute shortcut_gain .*parts="):
        plain.part("shortcut_gain", model)


def test_layers_named_as_views_of_stock_layer_weights_are_trained_through_those_weights() -> None:
    """A Conv1d kernel (1, 1, p) and a Linear weight (1, k), named by views: writes through
    the views reach the model, autograd and GD act on the weights (an independent user's
    model was once judged untrained: its views were not the trained tensors)."""
    from resclaims.claims.liu2019 import _parts, _trained
    from resclaims.engine import run
    subject = registry.subject_for("usermodels:stock_layers", TWO_LAYER_CONV)
    model = subject.build(0, patches=3, patch_size=4)
    layers = _parts(subject, model, 4, 3)
    assert layers.held == (model.conv.weight, model.fc.weight) and _trained(subject, model, layers) == (True, True)
    with torch.no_grad():
        layers.a.copy_(torch.arange(3.0))
    assert torch.equal(model.fc.weight, torch.arange(3.0, dtype=torch.float64).view(1, 3))
    for claim_id in ("liu2019.normalization", "liu2019.finite_sample", "liu2019.gd_from_zero"):
        result = run(claim_id, subject, profile="smoke", shrink=False)
        assert result.verdict == "holds", f"{claim_id}: {result.summary}"
    copied = registry.subject_for("usermodels:stock_layers_copied", TWO_LAYER_CONV)
    with pytest.raises(SubjectError, match="part 'first_layer' must be a parameter .* view of the whole of one"):
        _parts(copied, copied.build(0, patches=3, patch_size=4), 4, 3)
    assert run("liu2019.normalization", copied, profile="smoke").verdict == "error"


def test_a_converse_about_the_cnn_runs_on_the_cnn_reference() -> None:
    claim = registry.get("liu2019.cnn_spurious")
    assert registry.reference(TWO_LAYER_CONV, claim).name == "liu2019.cnn"
    assert registry.reference(TWO_LAYER_CONV).name == "liu2019.reference"


def test_rate_above_verdict() -> None:
    ctx = Context("cpu", 1e-3, Scale(8, 64))
    assert rate_above_verdict(30, 100, 0.05, ctx, "fail").holds
    held = rate_above_verdict(6, 100, 0.05, ctx, "fail")
    assert not held.holds and held.margin < 0 and "does not reject rate <= 0.05" in held.summary


def _spurious_point(b: Tensor) -> Tensor:
    """a_sp = (11^T + (pi - 1) I)^{-1} (11^T - I) a*."""
    k = b.numel()
    ones, eye = torch.ones(k, k, dtype=torch.float64), torch.eye(k, dtype=torch.float64)
    return torch.linalg.solve(ones + (math.pi - 1) * eye, (ones - eye) @ b)


def _profile(v: Tensor, xi: Tensor, b: Tensor, phi: float) -> float:
    """min_a L at the filter cos(phi) v* + sin(phi) xi: L is quadratic in a, so one solve."""
    u = math.cos(phi) * v + math.sin(phi) * xi
    a = torch.zeros_like(b, requires_grad=True)
    grad_a = torch.autograd.grad(gaussian.population_loss(u, a, v, b), a, create_graph=True)[0]
    hess = torch.stack([torch.autograd.grad(g, a, retain_graph=True)[0] for g in grad_a])
    best = torch.linalg.solve(hess, -grad_a.detach())  # from a = 0, one Newton step is exact
    return float(gaussian.population_loss(u, best, v, b))


@pytest.mark.parametrize("b, minimum", [(torch.tensor([1.0, -0.5, 0.8, 0.3]), True),      # pi (1^T a*)^2 < (k+pi-1)||a*||^2
                                        (torch.tensor([1.0, 1.0, 1.05, 0.95]), False)])  # a* nearly parallel to 1
def test_the_spurious_point_is_stationary_and_a_local_minimum_exactly_when_the_condition_holds(b: Tensor,
                                                                                                 minimum: bool) -> None:
    b = b.double()  # A-C4: v = -v*, a = a_sp
    k = b.numel()
    v, _ = teacher(6, k, 0.7, 2)
    xi = _rand(6)
    xi = (xi - (xi @ v) * v) / (xi - (xi @ v) * v).norm()
    a_sp = _spurious_point(b)
    u = (-v).clone().requires_grad_(True)
    a = a_sp.clone().requires_grad_(True)
    loss = gaussian.population_loss(u, a, v, b)
    gu, ga = torch.autograd.grad(loss, (u, a))
    assert float((gu - (gu @ v) * v).norm()) < 1e-12 and float(ga.norm()) < 1e-12 and float(loss) > 0.1
    condition = math.pi * float(b.sum()) ** 2 < (k + math.pi - 1) * float(b @ b)
    assert condition == (float(a_sp @ b) < 0) == minimum
    rise = _profile(v, xi, b, math.pi - 0.03) - _profile(v, xi, b, math.pi)  # the loss rises only cubically
    assert (rise > 0) == minimum and abs(rise) > 1e-9


def test_every_claim_draws_its_figure_on_a_result_with_missing_or_failing_evidence() -> None:
    """Each liu2019 claim has a figure; it draws on real smoke results of the cheap claims, on
    hand-written evidence of the expensive ones (a failing run included) and on a result
    without evidence (an error), which it says it cannot draw rather than raising."""
    from matplotlib.figure import Figure

    from resclaims.engine import run

    claims = [c for c in registry.claims().values() if c.paper == "liu2019"]
    assert claims and all(c.figure is not None for c in claims)
    curves = {"steps": [0, 1, 10, 100], "first": [1.0, 0.9, 0.3, 1e-13], "median": [0.8, 0.7, 0.2, 1e-14],
              "low": [0.5, 0.4, 0.1, 0.0], "high": [1.0, 0.9, 0.6, 0.4]}
    converse = {"trapped": 3, "trials": 8, "figure": {"steps": 100, "angles": [0.5, 2.5], "runs": [4, 4],
                "converged": [1.0, 0.25], "optimum_side": [0.0, 0.0], "spurious_side": [0.0, 0.75],
                "spurious": [0.0, 0.5]}}
    drawn = {"liu2019.gd_from_zero": {"curves": curves, "relative_loss": [1e-13, 0.4], "cosine": [1.0, -1.0],
                                      "steps": 100},
             "liu2019.two_stage": {"curves": curves, "aligned_at": [3, -1], "w_norm_at_alignment": [0.1, "nan"],
                                   "shortcut_norm": 0.5, "r_squared": [0.999, "nan"]},
             "liu2019.prior_violated": converse, "liu2019.cnn_spurious": converse,
             "liu2019.finite_sample": {"curves": curves, "relative_loss": 1e-3, "filter_error": 0.0, "a_error": "inf",
                                       "steps": 100}}
    results = [run(claim, profile="smoke").to_json() for claim in ("liu2019.normalization", "liu2019.reference_trajectory")]
    results += [{"claim": c.id, "verdict": "falsified", "alpha": 1e-3, "p_value": 0.2, "evidence": drawn[c.id],
                 "setting": {"patches": 4, "patch_size": 4}} for c in claims if c.id in drawn]
    results += [{"claim": c.id, "verdict": "error", "evidence": {}} for c in claims]
    for result in results:
        figure = Figure()
        registry.get(result["claim"]).figure(result, figure)
        assert figure.axes, result["claim"]
