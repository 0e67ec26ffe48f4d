"""Barrier estimators on landscapes whose barriers are known: a convex quadratic (no
barrier on any path) and a 2-D ridge with a low pass off the straight line."""
from __future__ import annotations

import pytest
import torch

from resclaims.core import paths
from resclaims.core.data import generator

# The ridge: F(x, y) = (x^2 - 1)^2 s(y) + C y^2 with s(y) = L + (H - L)(1 - y)^2 > 0.
# Minima F = 0 at (-1, 0) and (1, 0); on the straight line y = 0, F = H (x^2 - 1)^2 peaks
# at H at the origin.  Every path between the minima crosses x = 0, where
# F(0, y) = s(y) + C y^2 is least at y* = (H - L) / (H - L + C) with value SADDLE, an
# index-1 saddle (F(x, y*) peaks at x = 0): SADDLE is the minimax barrier and a lower
# bound on every estimator.  s'(0) != 0 tilts the gradient off the line, so paths that
# start straight leave it.
H, L, C = 4.0, 0.25, 0.25
SADDLE = L + C * (H - L) / (H - L + C)


def ridge(theta: torch.Tensor) -> torch.Tensor:
    x, y = theta[:, 0], theta[:, 1]
    return (x ** 2 - 1) ** 2 * (L + (H - L) * (1 - y) ** 2) + C * y ** 2


A = torch.tensor([[-1.0, 0.0]], dtype=torch.float64)
B = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
# A second pair off the minima and not mirror-symmetric, for the batching tests.
A2 = torch.cat([A, torch.tensor([[-0.9, 0.3]], dtype=torch.float64)])
B2 = torch.cat([B, torch.tensor([[1.1, -0.2]], dtype=torch.float64)])

WEIGHTS = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
CENTER = torch.tensor([0.3, -0.2, 0.1, 0.4], dtype=torch.float64)


def quadratic(theta: torch.Tensor) -> torch.Tensor:
    return 0.5 * (WEIGHTS * (theta - CENTER) ** 2).sum(1)


def _pairs(k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    points = torch.randn(2, k, 4, generator=generator(seed), dtype=torch.float64)
    return points[0], points[1]


ESTIMATORS = {
    "linear": lambda F, a, b: paths.linear(F, a, b),
    "bezier": lambda F, a, b: paths.bezier(F, a, b, steps=100),
    "neb": lambda F, a, b: paths.neb(F, a, b, cycles=2, steps=50),
    "dss": lambda F, a, b: paths.dss(F, a, b, float(F(torch.cat([a, b])).max())),
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_convex_loss_has_no_barrier(name: str) -> None:
    a, b = _pairs()
    profiles = ESTIMATORS[name](quadratic, a, b)
    assert len(profiles) == 3
    for profile, start, end in zip(profiles, a, b):
        assert profile.estimator == name and profile.connected
        assert 0 <= profile.barrier <= 1e-10
        assert profile.ts[0] == 0 and profile.ts[-1] == 1 and bool((profile.ts.diff() >= 0).all())
        assert profile.losses[0] == quadratic(start[None])[0] and profile.losses[-1] == quadratic(end[None])[0]
        assert profile.length >= 1 - 1e-12


def test_linear_endpoints_are_exact_and_length_one() -> None:
    a, b = _pairs()
    for profile, start, end in zip(paths.linear(quadratic, a, b, points=17), a, b):
        assert profile.ts.shape == profile.losses.shape == (17,)
        assert torch.equal(profile.losses[[0, -1]], quadratic(torch.stack([start, end])))
        assert profile.length == pytest.approx(1, abs=1e-12) and profile.beads == 0


def test_barrier_is_peak_over_higher_endpoint() -> None:
    assert paths.barrier(torch.tensor([1.0, 3.0, 2.0]), 1.0, 2.0) == 1.0
    assert paths.linear(quadratic, *(p[:1] for p in _pairs()))[0].barrier >= 0
    assert paths.linear(quadratic, CENTER[None], CENTER[None])[0].length == float("inf")


def test_linear_meets_the_ridge_on_the_line() -> None:
    profile, = paths.linear(ridge, A, B)
    assert abs(profile.barrier - H) <= 1e-9


def test_curved_paths_go_around_the_ridge() -> None:
    straight, = paths.linear(ridge, A, B)
    curve, = paths.bezier(ridge, A, B, lr=5e-2)
    band, = paths.neb(ridge, A, B)
    assert curve.beads == 1 and band.beads == 9 + 2 * 3
    assert SADDLE - 1e-12 <= curve.barrier < straight.barrier / 4
    # The landscape is mirror-symmetric in x, so the band's middle pivot stays on x = 0,
    # where the nudged force is plain descent on F(0, y) (curvature 8, step 0.01,
    # contraction 0.92 for 800 steps): it converges to the saddle to roundoff, and the
    # dense chords beside it are lower.  1e-8 leaves room for summation order.
    assert SADDLE - 1e-12 <= band.barrier <= SADDLE + 1e-8
    assert band.length > 1.2 and curve.length > 1.2
    # Infinite spring constant: the final pivots (every ``sub`` = 9th dense point) sit at
    # equal arclength, measured along the string before the last resampling, so along
    # the final one up to second order in the last step (1.5e-9 here; 0.17 without it).
    torch.testing.assert_close(band.ts[::9], torch.linspace(0, 1, 17, dtype=torch.float64), rtol=0, atol=1e-6)


def test_dss_connects_above_the_saddle_only() -> None:
    above, = paths.dss(ridge, A, B, level=1.0)
    assert above.connected and above.beads >= 1 and SADDLE <= above.barrier <= 1.0
    below, = paths.dss(ridge, A, B, level=0.4, depth=3, steps=300)
    assert not below.connected and below.barrier >= SADDLE
    assert 1 <= below.beads <= 2 ** 3 - 1


def test_tangent_follows_the_higher_neighbour() -> None:
    # One interior node at (1, 0) between (0, 0) and (1, 2): tau^- = (1, 0), tau^+ = (0, 2).
    strings = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]], dtype=torch.float64).expand(4, 3, 2)
    losses = torch.tensor([[0.0, 1.0, 3.0],   # uphill: tau^+
                           [3.0, 1.0, 0.0],   # downhill: tau^-
                           [0.0, 3.0, 1.0],   # maximum, F_2 > F_0: 3 tau^+ + 2 tau^-
                           [1.0, 0.0, 3.0]],  # minimum, F_2 > F_0: 3 tau^+ + 1 tau^-
                          dtype=torch.float64)
    expected = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 6.0], [1.0, 6.0]], dtype=torch.float64)
    expected = expected / expected.norm(dim=1, keepdim=True)
    torch.testing.assert_close(paths._tangents(strings, losses)[:, 0], expected, rtol=0, atol=1e-15)


def test_nudged_step_drops_the_tangential_gradient() -> None:
    # Linear F = g . x on a straight uphill string along e_1: tau = e_1 at every node, so
    # each node moves by -lr (0, g_2, g_3).
    g = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
    strings = torch.linspace(0, 1, 5, dtype=torch.float64)[None, :, None] * torch.eye(3, dtype=torch.float64)[0]
    ends = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    moved = paths._nudge(lambda theta: theta @ g, strings, ends, 0.1)
    interior = torch.tensor([0.0, 1, 1, 1, 0], dtype=torch.float64)[None, :, None]
    expected = interior * torch.tensor([0.0, -0.2, 0.3], dtype=torch.float64)
    torch.testing.assert_close(moved - strings, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name, tol", [("linear", 0.0), ("bezier", 1e-12), ("neb", 1e-12)])
def test_pairs_together_equal_pairs_alone(name: str, tol: float) -> None:
    run = {"linear": paths.linear, "bezier": lambda F, a, b: paths.bezier(F, a, b, steps=150),
           "neb": lambda F, a, b: paths.neb(F, a, b, cycles=2, steps=100)}[name]
    together = run(ridge, A2, B2)
    alone = [run(ridge, A2[k:k + 1], B2[k:k + 1])[0] for k in range(2)]
    assert together[0].barrier != together[1].barrier
    for joint, single in zip(together, alone):
        assert joint.ts.shape == single.ts.shape and joint.beads == single.beads
        torch.testing.assert_close(joint.ts, single.ts, rtol=0, atol=tol)
        torch.testing.assert_close(joint.losses, single.losses, rtol=0, atol=tol)
        assert abs(joint.barrier - single.barrier) <= tol


def test_bezier_same_seed_same_bits() -> None:
    first, second = (paths.bezier(ridge, A2, B2, steps=100, seed=3) for _ in range(2))
    other = paths.bezier(ridge, A2, B2, steps=100, seed=4)
    for p, q, r in zip(first, second, other):
        assert torch.equal(p.losses, q.losses) and p.barrier == q.barrier
        assert not torch.equal(p.losses, r.losses)
