"""The numerical core against dense oracles and its own invariants."""
from __future__ import annotations

import math

import torch

from resclaims.core import data, jacobian, sweeps, train
from resclaims.core.ensemble import Ensemble
from resclaims.models.zhang2019 import SUBJECTS
from resclaims.models.zhang2019_mutants import SUBJECTS as MUTANTS

REFERENCE = SUBJECTS[0]
NORM_MUTANT = next(s for s in MUTANTS if s.name.endswith("tau_before_norm"))


def _ensemble(subject=REFERENCE, depth=6, width=16, tau=0.4, seeds=(1, 2, 3), batched=True, n=5):
    x = data.unit_sphere(n, 7, 0)
    build = lambda s: subject.build(s, depth=depth, width=width, tau=tau, in_dim=7, out_dim=2)  # noqa: E731
    return Ensemble(build, seeds, x, batched=batched), x


def test_batched_equals_loop() -> None:
    batched, x = _ensemble()
    looped, _ = _ensemble(batched=False)
    assert batched.batched and not looped.batched
    torch.testing.assert_close(sweeps.log_norms(batched, x), sweeps.log_norms(looped, x), rtol=1e-12, atol=1e-12)


def test_same_seed_same_bits() -> None:
    a, x = _ensemble()
    b, _ = _ensemble()
    assert torch.equal(sweeps.log_norms(a, x), sweeps.log_norms(b, x))


def test_batchnorm_subject_falls_back_to_loop() -> None:
    ens, x = _ensemble(NORM_MUTANT)
    assert not ens.batched
    assert torch.isfinite(sweeps.log_norms(ens, x)).all()


def _plain_log_norms(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """log ||h_l|| by a plain forward pass, no rescaling: shape (n, L + 1)."""
    h = model.stem(x)
    out = [h.norm(dim=-1).log()]
    for block in model.blocks:
        h = block(h)
        out.append(h.norm(dim=-1).log())
    return torch.stack(out, -1)


def test_log_norms_match_a_plain_forward() -> None:
    ens, x = _ensemble(seeds=(4,))
    model = REFERENCE.build(4, depth=6, width=16, tau=0.4, in_dim=7, out_dim=2)
    torch.testing.assert_close(sweeps.log_norms(ens, x)[0], _plain_log_norms(model, x), rtol=1e-12, atol=1e-12)


def test_rescaling_is_exact_and_prevents_overflow() -> None:
    """tau = 1, L = 2048: ||h_L|| ~ e^800 overflows float64 in a plain forward pass;
    the sweep stays finite and agrees with the plain pass wherever that is finite."""
    ens, x = _ensemble(depth=2048, width=16, tau=1.0, seeds=(0,))
    logs = sweeps.log_norms(ens, x)[0]
    plain = _plain_log_norms(REFERENCE.build(0, depth=2048, width=16, tau=1.0, in_dim=7, out_dim=2), x)
    assert torch.isfinite(logs).all() and not torch.isfinite(plain[:, -1]).any()
    finite = torch.isfinite(plain)
    assert logs[:, -1].min() > 256 * math.log(2.0)  # rescaling did happen
    torch.testing.assert_close(logs[finite], plain[finite], rtol=1e-12, atol=1e-12)


def test_jacobian_norm_matches_dense() -> None:
    ens, x = _ensemble(depth=5, width=12, tau=0.5, seeds=(7,), n=1)
    model = REFERENCE.build(7, depth=5, width=12, tau=0.5, in_dim=7, out_dim=2)
    h0 = model.stem(x)[0]

    def blocks(h: torch.Tensor) -> torch.Tensor:
        for block in model.blocks:
            h = block(h)
        return h
    dense = torch.linalg.matrix_norm(torch.autograd.functional.jacobian(blocks, h0), ord=2)
    estimate = jacobian.jacobian_norm(ens, x, iterations=200)
    assert float(estimate[0]) <= float(dense) * (1 + 1e-9)
    assert abs(float(estimate[0]) / float(dense) - 1) < 1e-6


def test_layer_gradients_match_autograd() -> None:
    ens, x = _ensemble(seeds=(3,))
    y = data.gaussian_targets(5, 2, 1)
    loss, grads = train.layer_gradients(ens, x, y)
    model = REFERENCE.build(3, depth=6, width=16, tau=0.4, in_dim=7, out_dim=2)
    f = 0.5 * (model(x) - y).pow(2).sum()
    f.backward()
    torch.testing.assert_close(loss[0], f.detach())
    expected = torch.stack([b.linear.weight.grad.norm() for b in model.blocks])
    torch.testing.assert_close(grads[0], expected)


def test_gradient_descent_lowers_the_loss() -> None:
    ens, x = _ensemble()
    y = data.gaussian_targets(5, 2, 1)
    traj = train.gradient_descent(lambda: train.squared_loss(ens, x, y), train.block_parameters(ens), 0.01, 50)
    assert traj.losses.shape == (51, 3)
    assert (traj.losses[-1] < traj.losses[0]).all()
