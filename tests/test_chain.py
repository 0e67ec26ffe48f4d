"""The chain sweep (core/chain.py) against P HVPs and torch.func.hessian: every block
kind the sweep must handle, and every model it must refuse (then dense_hessian falls
back to HVPs and still gives the exact matrix)."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from resclaims.core import chain, hessian
from resclaims.core.data import generator, linear_regression
from resclaims.models.li2016 import shortcut_stack

TOL = dict(atol=1e-12, rtol=1e-10)


def _objective(model: nn.Module, blocks: list[nn.Module], x: Tensor, y: Tensor,
               loss: hessian.Loss = hessian.mean_squared) -> hessian.Objective:
    trained = [[p for p in b.parameters() if p.requires_grad] for b in blocks]
    return hessian.model_objective(model, trained, x, y, loss, blocks)


def _check(obj: hessian.Objective) -> Tensor:
    """The sweep's matrix, after checking it against torch.func.hessian."""
    assert obj.chain is not None
    ours = chain.chain_hessian(obj.chain, obj.point)
    assert torch.allclose(ours, torch.func.hessian(obj.fn)(obj.point), **TOL)
    return ours


@pytest.mark.parametrize("n, init, activation", [(1, "xavier", "tanh"), (2, "zero", "identity"),
                                                 (2, "gaussian", "tanh"), (3, "gaussian", "tanh")])
def test_sweep_matches_on_shortcut_stacks(n: int, init: str, activation: str) -> None:
    x, y = linear_regression(30, 3, 0, whiten=False)
    model = shortcut_stack(4, 3, init, 0.3, generator=generator(1), shortcut_depth=n, activation=activation)
    _check(_objective(model, list(model.units), x, y))


def _skipped(obj: hessian.Objective, monkeypatch: pytest.MonkeyPatch) -> tuple[Tensor, list[bool]]:
    """The sweep's matrix and, per block from the last, whether its row was skipped;
    after checking it is the matrix of the sweep without skips, bit for bit."""
    seen: list[bool] = []
    moves_nothing = chain._moves_nothing

    def spy(*tensors: Tensor) -> bool:
        seen.append(moves_nothing(*tensors))
        return seen[-1]
    monkeypatch.setattr(chain, "_moves_nothing", spy)
    ours = chain.chain_hessian(obj.chain, obj.point)
    monkeypatch.setattr(chain, "_moves_nothing", lambda *tensors: False)
    plain = chain.chain_hessian(obj.chain, obj.point)
    assert torch.equal(ours.isnan(), plain.isnan()) and torch.equal(ours.nan_to_num(), plain.nan_to_num())
    return ours, seen


def test_units_whose_branch_is_zero_skip_exactly_zero_products(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero units (E_k = 0, A_k = I) between non-zero ones: their rows of H are F_k alone
    while the columns of later units still pass through them."""
    x, y = linear_regression(30, 3, 0, whiten=False)
    model = shortcut_stack(6, 3, "gaussian", 0.3, generator=generator(1), activation="tanh")
    with torch.no_grad():
        for k in (0, 2, 3):
            for layer in model.units[k].layers:
                layer.weight.zero_()
    obj = _objective(model, list(model.units), x, y)
    ours, skipped = _skipped(obj, monkeypatch)
    assert skipped[::-1] == [True, False, True, True, False, False]
    assert torch.allclose(ours, torch.func.hessian(obj.fn)(obj.point), **TOL)
    block = 2 * 9
    assert not ours[:block, block:].any() and ours[block:2 * block, 2 * block:].any()


class Gate(nn.Module):
    """h -> h + v * h: E = diag(h), not 0 at v = 0."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.zeros(d, dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.v * h


class Bend(nn.Module):
    """h -> h + u * h (h - 1): on states in {0, 1}, E = diag(h (h - 1)) = 0 while the
    mixed derivative D = diag(delta (2h - 1)) is not (W_k = D_k must reach earlier rows)."""

    def __init__(self, d: int, g: torch.Generator) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.randn(d, generator=g, dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.u * h * (h - 1)


def test_a_skipped_row_still_passes_its_mixed_derivative_to_earlier_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    g = generator(3)
    d = 16
    blocks = [block for _ in range(8) for block in (Gate(d), Bend(d, g))]
    model = nn.Sequential(*blocks)
    x = torch.randint(0, 2, (24, d), generator=g).double()
    y = torch.randn(24, d, generator=g, dtype=torch.float64)
    obj = _objective(model, blocks, x, y)
    assert obj.size >= hessian.CHAIN_MIN
    ours, skipped = _skipped(obj, monkeypatch)
    assert skipped[::-1] == [False, True] * 8
    assert torch.allclose(ours, torch.func.hessian(obj.fn)(obj.point), **TOL)
    assert ours[:d, d:2 * d].abs().max() > 0.1  # Gate 1 against Bend 1: through W = D alone


class Root(nn.Module):
    """h -> h + u * sqrt(|h|): at h = 0, E = 0 and A = I + u * inf."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.full((d,), 0.5, dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.u * h.abs().sqrt()


def test_a_row_meeting_non_finite_derivatives_is_not_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [Root(16) for _ in range(20)]
    model = nn.Sequential(*blocks)
    x, y = torch.zeros(8, 16, dtype=torch.float64), torch.ones(8, 16, dtype=torch.float64)
    ours, skipped = _skipped(_objective(model, blocks, x, y), monkeypatch)
    assert not any(skipped) and ours.isnan().any()


def test_a_row_is_skipped_only_when_every_product_with_e_is_exactly_zero() -> None:
    zero, finite = torch.zeros(4, 3, 2, dtype=torch.float64), torch.ones(4, 3, 3, dtype=torch.float64)
    assert chain._moves_nothing(zero, finite, finite)
    assert not chain._moves_nothing(zero.index_fill(0, torch.tensor([1]), 1e-300), finite)
    for bad in (float("inf"), float("nan")):
        assert not chain._moves_nothing(zero, finite, finite.index_fill(0, torch.tensor([2]), bad))
    huge = torch.full((2, 2), 1e308, dtype=torch.float64)
    assert not chain._moves_nothing(zero, huge)  # a sum that overflows: no skip


def test_sweep_folds_tied_units_into_one_variable() -> None:
    x, y = linear_regression(30, 3, 0)
    model = shortcut_stack(4, 3, "gaussian", 0.3, generator=generator(1), activation="tanh")
    model.units[2] = model.units[1]
    obj = _objective(model, list(model.units), x, y)
    assert obj.size == 3 * 2 * 9
    _check(obj)


class Scaled(nn.Module):
    """h -> h + s * tanh(W h + b) with a frozen diagonal and a running buffer: a block
    with biases, an untrained parameter, a buffer, and a Python attribute s that
    stacking cannot see."""

    def __init__(self, d_in: int, d_out: int, scale: float, g: torch.Generator) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out, dtype=torch.float64)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(d_out, d_in, generator=g, dtype=torch.float64) / d_in ** 0.5)
            self.lin.bias.copy_(torch.randn(d_out, generator=g, dtype=torch.float64) * 0.1)
        self.diag = nn.Parameter(torch.rand(d_out, generator=g, dtype=torch.float64), requires_grad=False)
        self.register_buffer("shift", torch.full((d_out,), 0.05, dtype=torch.float64))
        self.scale = scale
        self.skip = d_in == d_out

    def forward(self, h: Tensor) -> Tensor:
        out = self.scale * torch.tanh(self.lin(h) + self.shift) * self.diag
        return h + out if self.skip else out


def test_sweep_on_blocks_of_several_widths_attributes_and_untrained_tensors() -> None:
    g = generator(2)
    blocks = [Scaled(3, 5, 1.0, g), Scaled(5, 5, 0.5, g), Scaled(5, 5, 2.0, g), Scaled(5, 2, 1.0, g)]
    model = nn.Sequential(*blocks)
    x = torch.randn(25, 3, generator=g, dtype=torch.float64)
    y = torch.randn(25, 2, generator=g, dtype=torch.float64)
    _check(_objective(model, blocks, x, y))


class ConvUnit(nn.Module):
    """h -> h + conv(tanh(conv(h))) on (C, H, W) images: a state of C H W entries."""

    def __init__(self, g: torch.Generator) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64)
        self.b = nn.Conv2d(2, 2, 3, padding=1, bias=False, dtype=torch.float64)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.b(torch.tanh(self.a(h)))


def test_sweep_on_image_states_and_a_per_sample_loss_other_than_squared() -> None:
    g = generator(3)
    blocks = [ConvUnit(g), ConvUnit(g)]
    model = nn.Sequential(*blocks)
    x = torch.randn(6, 2, 3, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 18, (6,), generator=g)

    def cross_entropy(out: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(out.flatten(1), target)
    _check(_objective(model, blocks, x, y, cross_entropy))


def test_a_model_with_a_head_carries_no_chain() -> None:
    x, y = linear_regression(20, 3, 0)
    stack = shortcut_stack(2, 3, "gaussian", 0.3, generator=generator(1))
    model = nn.Sequential(stack, nn.Linear(3, 3, dtype=torch.float64))
    assert _objective(model, list(stack.units), x, y).chain is None


def _fallback(model: nn.Module, blocks: list[nn.Module], x: Tensor, y: Tensor, loss: hessian.Loss,
              reason: str) -> None:
    obj = _objective(model, blocks, x, y, loss)
    with pytest.raises(chain.NotAChain, match=reason):
        chain.chain_hessian(obj.chain, obj.point)
    assert obj.size >= hessian.CHAIN_MIN  # so dense_hessian tries the sweep, then falls back
    assert torch.allclose(hessian.dense_hessian(obj), hessian.hvp_hessian(obj), **TOL)


def test_a_loss_coupling_samples_falls_back_to_hvps() -> None:
    x, y = linear_regression(20, 4, 0)
    model = shortcut_stack(8, 4, "gaussian", 0.3, generator=generator(1), activation="tanh")

    def batch_mean_error(out: Tensor, target: Tensor) -> Tensor:
        return (out.mean(0) - target.mean(0)).pow(2).sum() + hessian.mean_squared(out, target)
    _fallback(model, list(model.units), x, y, batch_mean_error, "sum of per-sample terms")


class Normed(nn.Module):
    """h -> h + BatchNorm(W h) in train mode: batch statistics mix the samples."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d, dtype=torch.float64)
        self.norm = nn.BatchNorm1d(d, dtype=torch.float64, track_running_stats=False)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.norm(self.lin(h))


def test_batch_statistics_fall_back_to_hvps() -> None:
    torch.manual_seed(0)
    blocks = [Normed(7) for _ in range(4)]
    model = nn.Sequential(*blocks)
    x, y = linear_regression(20, 7, 0)
    _fallback(model, blocks, x, y, hessian.mean_squared, "mixes samples")


class Pooled(nn.Module):
    """h -> h + tanh(W h + c mean_batch(h)) with a trained c = 0: its outputs are
    per-sample at c = 0, its derivative in c is not."""

    def __init__(self, d: int, g: torch.Generator) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d, d, generator=g, dtype=torch.float64) / d)
        self.c = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return h + torch.tanh(h @ self.weight.T + self.c * h.mean(0))


def test_samples_mixed_by_a_term_zero_at_w_fall_back_to_hvps() -> None:
    g = generator(2)
    blocks = [Pooled(7, g) for _ in range(6)]
    x, y = linear_regression(20, 7, 0)
    _fallback(nn.Sequential(*blocks), blocks, x, y, hessian.mean_squared, "mixes samples")


class Constant(nn.Module):
    """h -> b: ignores its input, so the backward pass gives no adjoint for x."""

    def __init__(self, d: int, g: torch.Generator) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.randn(d, generator=g, dtype=torch.float64))

    def forward(self, h: Tensor) -> Tensor:
        return self.b.expand(h.shape[0], -1)


def test_a_first_block_that_ignores_its_input() -> None:
    g = generator(4)
    blocks = [Constant(8, g), *[Scaled(8, 8, 0.5, g) for _ in range(5)]]
    x, y = linear_regression(16, 8, 0)
    _check(_objective(nn.Sequential(*blocks), blocks, x, y))
