"""The Hessian core against the dense float64 eigendecomposition on tiny models,
including the symmetric {+sigma_i, -sigma_i} spectrum of a 2-shortcut stack at zero."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from resclaims.core import hessian
from resclaims.core.data import generator, linear_regression
from resclaims.models.li2016 import shortcut_stack


def _objective(n: int, depth: int = 3, width: int = 3, init: str = "zero", activation: str = "identity",
               seed: int = 0) -> hessian.Objective:
    x, y = linear_regression(40, width, seed, whiten=False)
    model = shortcut_stack(depth, width, init, 0.3, generator=generator(seed), shortcut_depth=n,
                           activation=activation)
    return hessian.model_objective(model, [list(u.parameters()) for u in model.units], x, y)


@pytest.mark.parametrize("n, init, activation", [(1, "gaussian", "identity"), (2, "zero", "identity"),
                                                 (2, "gaussian", "tanh"), (3, "xavier", "tanh")])
def test_dense_hessian_matches_torch_func_hessian(n: int, init: str, activation: str) -> None:
    obj = _objective(n, init=init, activation=activation)
    exact = torch.func.hessian(obj.fn)(obj.point)
    for chunk in (1, 7, 1000):
        assert torch.allclose(hessian.dense_hessian(obj, chunk), exact, atol=1e-12, rtol=1e-10)


def test_both_hvps_match_each_other_and_the_dense_matrix() -> None:
    obj = _objective(2, init="gaussian")
    vs = torch.randn(5, obj.size, generator=generator(1), dtype=torch.float64)
    h = hessian.dense_hessian(obj)
    batched = torch.func.vmap(hessian.hvp_operator(obj))(vs)
    for v, hv in zip(vs, batched):
        assert torch.allclose(hessian.hvp(obj, v), hv, atol=1e-13)
        assert torch.allclose(h @ v, hv, atol=1e-12)


def test_lanczos_recovers_the_symmetric_spectrum_at_zero_exactly() -> None:
    obj = _objective(2, depth=4, width=3)
    dense = torch.linalg.eigvalsh(hessian.dense_hessian(obj))
    spectrum = hessian.hessian_spectrum(obj, steps=40, seed=3)
    distinct = torch.unique(dense.round(decimals=10))
    assert spectrum.exhausted and spectrum.steps == distinct.numel() == 6  # +-sigma_1..3
    assert torch.allclose(spectrum.values, distinct, atol=1e-10)
    assert float(spectrum.residuals.max()) < 1e-10
    assert spectrum.largest == pytest.approx(-spectrum.smallest, rel=1e-12)  # where power iteration oscillates


def test_lanczos_extremes_on_an_indefinite_spectrum_are_within_their_residuals() -> None:
    g = generator(4)
    q, _ = torch.linalg.qr(torch.randn(400, 400, generator=g, dtype=torch.float64))
    eigenvalues = torch.cat([torch.linspace(-3.0, 2.0, 399, dtype=torch.float64), torch.tensor([5.0])])
    matrix = q @ torch.diag(eigenvalues) @ q.T
    spectrum = hessian.lanczos(lambda v: matrix @ v, 400, steps=60, seed=0)
    assert not spectrum.exhausted
    assert abs(spectrum.largest - 5.0) <= float(spectrum.residuals[-1]) + 1e-12
    assert abs(spectrum.largest - 5.0) < 1e-8   # isolated top eigenvalue: converged
    assert abs(spectrum.smallest + 3.0) <= float(spectrum.residuals[0]) + 1e-12


def test_conditioning_sets_the_null_space_aside_by_the_stated_rule() -> None:
    c = hessian.conditioning(torch.tensor([-4.0, -1e-12, 0.0, 0.5, 2.0], dtype=torch.float64))
    assert (c.max_abs, c.min_abs, c.cond, c.null) == (4.0, 0.5, 8.0, 2)
    zero = hessian.conditioning(torch.zeros(5, dtype=torch.float64))
    assert math.isnan(zero.cond) and zero.null == 5


def test_condition_number_at_zero_equals_cond_a_for_every_depth() -> None:
    x, y = linear_regression(64, 3, 5)
    sigma = torch.linalg.svdvals(x.T @ (x - y) / 64)
    for depth in (1, 2, 5):
        model = shortcut_stack(depth, 3, generator=generator(0))
        obj = hessian.model_objective(model, [list(u.parameters()) for u in model.units], x, y)
        cond = hessian.conditioning(torch.linalg.eigvalsh(hessian.dense_hessian(obj))).cond
        assert cond == pytest.approx(float(sigma[0] / sigma[-1]), rel=1e-10)


def test_taylor_remainder_orders_and_the_kink_test() -> None:
    w = torch.zeros(3, dtype=torch.float64)
    cubic = hessian.Objective(lambda v: (v ** 3).sum() + (v ** 2).sum(), w, (3,))
    v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert hessian.taylor_remainder(cubic, v, subtract=2).order == pytest.approx(3.0, abs=1e-6)
    assert hessian.taylor_remainder(cubic, v, subtract=0).order == pytest.approx(2.0, abs=0.05)
    smooth = hessian.taylor_remainder(cubic, v, subtract=2)
    assert smooth.mismatch < 1e-9
    kink = hessian.Objective(lambda v: torch.relu(v).pow(2).sum(), w, (3,))
    r = hessian.taylor_remainder(kink, v, subtract=2)  # autograd's Hessian at 0 is 0; the loss is not flat
    assert r.order == pytest.approx(2.0, abs=1e-6) and r.mismatch > 0.5
    assert smooth.kink < 1e-12 and smooth.lead == pytest.approx(1.0) and r.kink > 0.5


def test_the_one_cubic_fit_reads_competing_powers_as_smooth() -> None:
    """r(t) = t^3 - 9 t^4 (a smooth loss whose t^3 and t^4 terms nearly cancel at t = 0.1,
    as along some directions of a SiLU branch): the log-log slope reads order 2 and the
    two one-sided coefficients differ, yet one cubic fits u = r / t^3 = 1 - 9t exactly."""
    w = torch.zeros(1, dtype=torch.float64)
    competing = hessian.Objective(lambda v: (v ** 3 - 9 * v ** 4).sum() + 1.0, w, (1,))
    r = hessian.taylor_remainder(competing, torch.ones(1, dtype=torch.float64), subtract=2)
    assert r.order < 2.1 and r.mismatch > 1.0  # what the slope and the one-sided coefficients read
    assert r.kink < 1e-10 and r.lead == pytest.approx(1 / 1.9)
    one = torch.ones(1, dtype=torch.float64)
    below = hessian.taylor_remainder(competing, one, subtract=2, leading=2)  # u = t - 9 t^2: no t^2 term
    assert below.kink < 1e-10 and below.lead < 1e-10
    above = hessian.taylor_remainder(competing, one, subtract=2, leading=4)  # u = 1/t - 9: a pole, no cubic
    assert above.kink > 0.1


def test_model_objective_counts_a_tied_weight_once() -> None:
    layer = nn.Linear(2, 2, bias=False, dtype=torch.float64)
    model = nn.Sequential(layer, layer)
    x = torch.randn(5, 2, dtype=torch.float64)
    obj = hessian.model_objective(model, [[layer.weight], [layer.weight]], x, x)
    assert obj.sizes == (4, 0) and obj.size == 4
    assert torch.allclose(obj.fn(obj.point), hessian.mean_squared(model(x), x))


def test_block_hessian_is_the_slice_of_the_dense_one() -> None:
    obj = _objective(2, depth=3, init="gaussian", activation="tanh")
    h = hessian.dense_hessian(obj)
    blocks = obj.offsets()
    for a, b in ((0, 0), (1, 2), (2, 0)):
        assert torch.allclose(hessian.block_hessian(obj, a, b), h[blocks[a], blocks[b]], atol=1e-12)


def test_a_model_torch_func_cannot_transform_gets_exact_derivatives_by_plain_autograd() -> None:
    """An old-style autograd.Function (no setup_context) defeats torch.func; gradient, HVPs,
    the dense Hessian, a block and Lanczos fall back to double backward and agree with
    torch.autograd.functional.hessian."""
    import usermodels
    from resclaims.core.data import linear_regression

    model = usermodels.old_style_function.build(8, 4, "gaussian", 0.5, generator=torch.Generator().manual_seed(0))
    x, y = linear_regression(32, 4, 0)
    obj = hessian.model_objective(model, [list(u.parameters()) for u in model.units], x, y,
                                  blocks=list(model.units))
    assert obj.size >= hessian.CHAIN_MIN  # the chain sweep is tried first, and falls back
    with pytest.raises(RuntimeError, match="setup_context"):
        torch.func.grad(obj.fn)(obj.point)
    truth = torch.autograd.functional.hessian(obj.fn, obj.point)
    assert torch.allclose(hessian.dense_hessian(obj), truth, atol=1e-12, rtol=1e-10)
    v = torch.randn(obj.size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(hessian.hvp(obj, v), truth @ v, atol=1e-12, rtol=1e-10)
    assert torch.allclose(hessian.block_hessian(obj, 1, 2), truth[32:64, 64:96], atol=1e-12, rtol=1e-10)
    top = float(torch.linalg.eigvalsh(truth).abs().max())
    assert hessian.hessian_spectrum(obj, steps=64).max_abs == pytest.approx(top, rel=1e-9)
    leaf = obj.point.detach().requires_grad_()
    assert torch.allclose(hessian.gradient(obj), torch.autograd.grad(obj.fn(leaf), leaf)[0], rtol=1e-12)


def test_other_refusals_of_torch_func_are_raised_not_differentiated_by_plain_autograd() -> None:
    """A NumPy round trip in the loss: plain autograd would take it for a constant and
    return a wrong gradient; the refusal is raised instead."""
    w = torch.ones(3, dtype=torch.float64)
    roundtrip = hessian.Objective(lambda v: (torch.from_numpy(v.detach().numpy()) * v).sum(), w, (3,))
    with pytest.raises(RuntimeError):
        hessian.gradient(roundtrip)
    with pytest.raises(RuntimeError):
        hessian.hvp_operator(roundtrip)
