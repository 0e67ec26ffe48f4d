"""The trust-region Newton method (resclaims.core.newton) against problems with known
minima, and its subproblem against the Moré-Sorensen optimality conditions."""
from __future__ import annotations

import torch

from resclaims.core.newton import subproblem, trust_region

F64 = torch.float64


def test_rosenbrock_reaches_its_minimum_quadratically() -> None:
    found = trust_region(lambda z: (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2,
                         torch.tensor([-1.2, 1.0], dtype=F64), tol=1e-12)
    assert found.reason == "converged" and found.gradient_norm <= 1e-12
    assert torch.allclose(found.point, torch.ones(2, dtype=F64), atol=1e-10)
    assert found.lambda_min > 0 and found.iterations < 60


def test_it_leaves_a_saddle_along_negative_curvature() -> None:
    """From next to the saddle (0, 0) of (x^2 - 1)^2 + y^2 it reaches a minimum x = +-1
    (lambda_min = 2 there), where the gradient alone would crawl."""
    found = trust_region(lambda z: (z[0] ** 2 - 1) ** 2 + z[1] ** 2, torch.tensor([1e-9, 0.3], dtype=F64))
    assert found.reason == "converged" and abs(abs(float(found.point[0])) - 1) < 1e-10
    assert abs(found.lambda_min - 2.0) < 1e-8 and found.value < 1e-18


def test_a_function_unbounded_below_is_not_reported_converged() -> None:
    """From next to the saddle of z1^2 - z0^2 (no minimum) the method follows the negative
    curvature outwards and never claims convergence.  (A gradient-norm test cannot tell a
    flat asymptote, exp(-z) at z = 24, or a degenerate inflection, z^3 near 0, from a
    minimum: the claims that use it judge by an inequality that holds at any point of
    small gradient, and check the Hessian.)"""
    found = trust_region(lambda z: z[1] ** 2 - z[0] ** 2, torch.tensor([1e-3, 1.0], dtype=F64), max_steps=30)
    assert found.reason != "converged" and found.gradient_norm > 1.0 and abs(float(found.point[0])) > 1.0
    assert found.lambda_min == -2.0


def test_subproblem_meets_the_optimality_conditions() -> None:
    """(H + mu I) s = -g, H + mu I positive semidefinite, mu (radius - ||s||) = 0, on random
    indefinite and definite H, and the hard case (g orthogonal to the lowest eigenvector)."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for _ in range(20):
        a = torch.randn(6, 6, generator=g, dtype=F64)
        cases.append((a + a.T, torch.randn(6, generator=g, dtype=F64), float(torch.rand(1, generator=g)) + 0.1))
    cases.append((torch.diag(torch.tensor([-1.0, 2.0], dtype=F64)), torch.tensor([0.0, 1.0], dtype=F64), 1.0))
    for h, grad, radius in cases:
        eigenvalues, vectors = torch.linalg.eigh(h)
        s = subproblem(grad, eigenvalues, vectors, radius)
        assert float(s.norm()) <= radius * (1 + 1e-9)
        model = float(grad @ s + 0.5 * s @ h @ s)
        for _ in range(200):  # no feasible point does better
            q = torch.randn(len(grad), generator=g, dtype=F64)
            q = q * radius * float(torch.rand(1, generator=g)) ** (1 / len(grad)) / q.norm()
            assert model <= float(grad @ q + 0.5 * q @ h @ q) + 1e-10
    h, grad = cases[-1][0], cases[-1][1]
    eigenvalues, vectors = torch.linalg.eigh(h)
    s = subproblem(grad, eigenvalues, vectors, 1.0)
    assert abs(float(s.norm()) - 1) < 1e-9 and abs(float(s[0])) > 0.5  # moved along the negative curvature
