"""The numerical core against dense oracles and its own invariants."""
from __future__ import annotations

import math

import pytest
import torch

from resclaims.core import data, jacobian, sweeps, train
from resclaims.core.ensemble import Ensemble
from resclaims.models.zhang2019 import SUBJECTS
from resclaims.models.zhang2019_mutants import SUBJECTS as MUTANTS

REFERENCE = SUBJECTS[0]
NORM_MUTANT = next(s for s in MUTANTS if s.name.endswith("tau_before_norm"))


def _ensemble(subject=REFERENCE, depth=6, width=16, tau=0.4, seeds=(1, 2, 3), batched=True, n=5, **arch):
    build = lambda s: subject.build(s, depth=depth, width=width, tau=tau, in_dim=7, out_dim=2, **arch)  # noqa: E731
    ens = Ensemble(build, seeds, lambda m: subject.inputs(m, n, 0, in_dim=7), batched=batched)
    return ens, ens.x


CONV = {"block": "conv", "branch_depth": 2, "stages": 3, "input": "image", "image": 8}


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
    h0 = model.stem(x)[0]  # one sample (n = 1)

    def blocks(h: torch.Tensor) -> torch.Tensor:
        for block in model.blocks:
            h = block(h)
        return h
    dense = torch.linalg.matrix_norm(torch.autograd.functional.jacobian(blocks, h0), ord=2)
    estimate = jacobian.jacobian_norm(ens, x, iterations=200)
    assert float(estimate[0]) <= float(dense) * (1 + 1e-9)
    assert abs(float(estimate[0]) / float(dense) - 1) < 1e-6


@pytest.mark.parametrize("arch", [{}, CONV], ids=["mlp", "conv-3-stages"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "loop"])
def test_block_gradients_match_autograd(arch: dict, batched: bool) -> None:
    ens, x = _ensemble(seeds=(3, 4), width=4 if arch else 16, batched=batched, **arch)
    y = data.gaussian_targets(5, 2, 1)
    grads = train.block_gradients(ens, lambda: train.squared_loss(ens, x, y))
    model = REFERENCE.build(4, depth=6, width=4 if arch else 16, tau=0.4, in_dim=7, out_dim=2, **arch)
    f = 0.5 * (model(x) - y).pow(2).sum()
    f.backward()
    torch.testing.assert_close(grads.loss[1], f.detach())
    expected = torch.stack([torch.cat([w.grad.flatten() for w in b.weights()]).norm() for b in model.blocks])
    torch.testing.assert_close(grads.norms[1], expected)
    assert grads.dead == [False] * 6


def test_conv_stages_batched_equals_loop_and_skips_transitions() -> None:
    batched, x = _ensemble(width=4, **CONV)
    looped, _ = _ensemble(width=4, batched=False, **CONV)
    assert batched.batched and not looped.batched
    assert batched.transitions == looped.transitions == [3, 5]  # stages of 2, 2, 2 blocks
    logs = sweeps.log_norms(batched, x)
    torch.testing.assert_close(logs, sweeps.log_norms(looped, x), rtol=1e-12, atol=1e-12)
    growth = sweeps.log_growth(logs, skip=batched.transitions)
    step = logs.diff(dim=-1)
    torch.testing.assert_close(growth[..., -1], step.sum(-1) - step[..., 2] - step[..., 4])


def test_detached_branch_gets_zero_gradient_not_an_error() -> None:
    detached = next(s for s in MUTANTS if s.name.endswith("detached_branch"))
    ens, x = _ensemble(detached)
    grads = train.block_gradients(ens, lambda: train.squared_loss(ens, x, data.gaussian_targets(5, 2, 1)))
    assert grads.dead == [True] * 6 and float(grads.norms.abs().max()) == 0.0
    traj = train.gradient_descent(lambda: train.squared_loss(ens, x, data.gaussian_targets(5, 2, 1)),
                                  ens.trained_parameters(), 0.1, 3)
    assert torch.equal(traj.losses[0], traj.losses[-1])


def test_gradient_descent_lowers_the_loss() -> None:
    ens, x = _ensemble()
    y = data.gaussian_targets(5, 2, 1)
    traj = train.gradient_descent(lambda: train.squared_loss(ens, x, y), ens.trained_parameters(), 0.01, 50)
    assert traj.losses.shape == (51, 3)
    assert (traj.losses[-1] < traj.losses[0]).all()


class _SharedTauBlock(torch.nn.Module):
    def __init__(self, tau: torch.nn.Parameter) -> None:
        super().__init__()
        self.tau = tau  # the same Parameter registered in every block
        self.linear = torch.nn.Linear(4, 4, bias=False, dtype=torch.float64)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(h + self.tau * self.linear(h))


class _SharedTauNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        tau = torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
        self.blocks = torch.nn.ModuleList([_SharedTauBlock(tau) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def test_a_tau_registered_in_every_block_is_one_shared_parameter() -> None:
    """Tied parameters leave the batched path (a block would read another seed's tau) and
    are trained once, not once per block that lists them."""
    ens = Ensemble(lambda s: _SharedTauNet(), (0, 1), data.unit_sphere(5, 4, 0))
    assert not ens.batched
    assert len(ens.shared_parameters()) == 2  # one tau per model
    assert all(len(ens.block_parameters(l)) == 2 for l in range(3))  # each block's own weight, per model


def _dense_ntk_top(seed: int, x: torch.Tensor, centered: bool, **arch) -> float:
    """lambda_max of J J^T (C J J^T C when ``centered``) from the dense Jacobian of one
    model's outputs in its trained tensors."""
    model = REFERENCE.build(seed, depth=6, width=4 if arch else 16, tau=0.4, in_dim=7, out_dim=2, **arch)
    trained = REFERENCE.trained(model)
    names = {id(p): n for n, p in model.named_parameters()}
    values = {names[id(p)]: p.detach() for p in trained}
    jac = torch.func.jacrev(lambda v: torch.func.functional_call(model, v, (x,)))(values)
    j = torch.cat([t.reshape(x.shape[0] * 2, -1) for t in jac.values()], dim=1)
    if centered:
        j = (j.view(x.shape[0], 2, -1) - j.view(x.shape[0], 2, -1).mean(dim=1, keepdim=True)).view_as(j)
    return float(torch.linalg.eigvalsh(j @ j.T)[-1].detach())


@pytest.mark.parametrize("arch", [{}, CONV], ids=["mlp", "conv-3-stages"])
@pytest.mark.parametrize("centered", [False, True], ids=["plain", "centered"])
def test_ntk_top_eigenvalue_against_the_dense_gram(arch: dict, centered: bool) -> None:
    """n d = 10 outputs per seed: with 10 or more products the Gram is assembled and its
    lambda_max is exact to roundoff; with 9, power iteration's Rayleigh quotient is a
    lower bound within 2% of it (measured: 0.0-0.3% below on these seeds; 3 products
    fall up to 41% short)."""
    ens, x = _ensemble(seeds=(3, 4), width=4 if arch else 16, **arch)
    dense = torch.tensor([_dense_ntk_top(s, x, centered, **arch) for s in (3, 4)], dtype=torch.float64)
    exact = train.ntk_top_eigenvalue(ens, x, iterations=10, centered=centered)
    torch.testing.assert_close(exact, dense, rtol=1e-10, atol=0.0)
    power = train.ntk_top_eigenvalue(ens, x, iterations=9, seed=1, centered=centered)
    assert bool((power <= dense * (1 + 1e-10)).all()) and bool((power >= 0.98 * dense).all())


def _per_seed_runs(subject, arch: dict, seeds: tuple[int, ...], lr: float, loss_scale=None):
    """The NTK's top eigenvalue, a GD trajectory and the trained tensors after it, on one
    thread (one run over every seed) and on two (the seeds in two chunks side by side)."""
    y = data.gaussian_targets(5, 2, 1)
    runs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        ens, x = _ensemble(subject, seeds=seeds, **arch)
        top = torch.stack([train.ntk_top_eigenvalue(ens, x, iterations=5, seed=3),  # power iteration
                           train.ntk_top_eigenvalue(ens, x, iterations=10)])  # the Gram (n d = 10)

        def loss(e: Ensemble) -> torch.Tensor:
            scale = 1.0 if loss_scale is None else torch.tensor([loss_scale(s) for s in e.seeds], dtype=x.dtype)
            return scale * train.squared_loss(e, e.x, y)
        traj = train.ensemble_descent(ens, loss, lr, 12)
        assert torch.get_num_threads() == threads  # restored after the threads
        runs.append((top, traj.losses, [p.clone() for p in ens.trained_parameters()]))
    return runs


@pytest.mark.parametrize("subject, arch", [(REFERENCE, {}), (REFERENCE, CONV), (NORM_MUTANT, {})],
                         ids=["mlp", "conv", "loop-path"])
def test_seed_chunks_side_by_side_give_the_bits_of_one_run(subject, arch: dict, restore_threads) -> None:
    """Seeds split over two threads (one intra-op thread each) give, bit for bit, what one
    run over every seed gives, and GD moves the whole ensemble's parameters."""
    (top1, losses1, params1), (top2, losses2, params2) = _per_seed_runs(subject, arch, (1, 2, 3, 4, 5), 0.01)
    assert torch.equal(top1, top2) and torch.equal(losses1, losses2) and losses1.shape == (13, 5)
    assert all(torch.equal(a, b) for a, b in zip(params1, params2))
    assert not torch.equal(losses1[0], losses1[-1])


@pytest.mark.parametrize("diverging", [(1, 2), (1, 2, 3, 4)], ids=["one-chunk", "every-seed"])
def test_chunks_stop_when_one_run_would(diverging: tuple[int, ...], restore_threads) -> None:
    """Seeds that diverge in one chunk do not stop it while the other chunk's seeds still
    train (one run over all seeds would go on: the same inf and NaN losses after), and when
    every seed has diverged every chunk stops at the step one run stops."""
    (_, one, _), (_, chunked, _) = _per_seed_runs(REFERENCE, {}, (1, 2, 3, 4), 1.0,
                                                  lambda s: 1e150 if s in diverging else 1.0)
    torch.testing.assert_close(chunked, one, rtol=0, atol=0, equal_nan=True)
    assert not torch.isfinite(one[-1, 0]) and (one.shape[0] < 13) == (len(diverging) == 4)


def test_an_error_in_one_chunk_stops_the_others_and_is_raised(restore_threads) -> None:
    torch.set_num_threads(2)
    ens, x = _ensemble(seeds=(1, 2, 3, 4))
    y = data.gaussian_targets(5, 2, 1)
    calls = []

    def loss(e: Ensemble) -> torch.Tensor:
        calls.append(e.seeds[0])
        if e.seeds[0] == 3 and len(calls) > 6:
            raise FloatingPointError("the model blew up")
        return train.squared_loss(e, e.x, y)
    with pytest.raises(FloatingPointError, match="blew up"):
        train.ensemble_descent(ens, loss, 0.01, 1000)
    assert len(calls) < 20 and torch.get_num_threads() == 2  # the other chunk stopped at its next step


class _GainUnit(torch.nn.Module):
    """h -> h + gain * tanh(W h), the gain a buffer."""

    def __init__(self, g: torch.Generator) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4, bias=False, dtype=torch.float64)
        self.linear.weight.data = torch.randn(4, 4, generator=g, dtype=torch.float64) / 4
        self.register_buffer("gain", torch.rand(4, generator=g, dtype=torch.float64))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.gain * torch.tanh(self.linear(h))


class _StemBufferNet(torch.nn.Module):
    """A stem with its own buffer, blocks with theirs, and optionally the stem's weight
    tied to the second block's (registered in the block, read by the stem too)."""

    def __init__(self, seed: int, tie: bool = False) -> None:
        super().__init__()
        g = data.generator(seed)
        self.blocks = torch.nn.ModuleList([_GainUnit(g) for _ in range(3)])
        self.stem = torch.nn.Linear(4, 4, bias=False, dtype=torch.float64)
        self.stem.weight.data = torch.randn(4, 4, generator=g, dtype=torch.float64)
        if tie:
            self.stem.weight = self.blocks[1].linear.weight
        self.register_buffer("shift", torch.randn(4, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x) + self.shift
        for block in self.blocks:
            h = block(h)
        return h


@pytest.mark.parametrize("tie", [False, True], ids=["own-stem", "stem-tied-to-a-block"])
def test_the_batched_stem_reads_each_seeds_stem_state(tie: bool) -> None:
    """The batched stem swaps in only the stem's tensors (the blocks do not run there), and
    every tensor when the stem reads one registered in a block; either way h_0 of seed s
    is that model's own."""
    x = data.unit_sphere(6, 4, 0)
    batched = Ensemble(lambda s: _StemBufferNet(s, tie), (3, 4, 5), x)
    looped = Ensemble(lambda s: _StemBufferNet(s, tie), (3, 4, 5), x, batched=False)
    assert batched.batched
    assert torch.equal(batched.stem(x), looped.stem(x))
    torch.testing.assert_close(sweeps.log_norms(batched, x), sweeps.log_norms(looped, x), rtol=1e-12, atol=1e-12)


def test_a_sweep_refuses_a_model_whose_blocks_read_more_than_their_input() -> None:
    """At the claim's own sizes, not only the contract's small probe: the chained sweep is
    checked against the first seed's forward pass before it runs."""
    from resclaims.core.ensemble import NotChained
    from usermodels import own_skip_passed, stale_skip

    x = data.unit_sphere(4, 5, 0)
    for build, refused in ((stale_skip, True), (own_skip_passed, False)):
        ens = Ensemble(lambda s: build(5, 6, 0.4, 5, 2, data.generator(s)), (1, 2), x)
        if refused:
            with pytest.raises(NotChained, match="block 2 is called with more than the hidden state"):
                sweeps.log_norms(ens, x)
        else:
            assert torch.isfinite(sweeps.log_norms(ens, x)).all()


def test_a_drawn_ensemble_checks_the_chain_on_one_built_model() -> None:
    """A user's ``draw`` leaves the ensemble a skeleton without values: the first seed's
    model is built once for the check, streamed or not."""
    from resclaims import Adapter, Subject
    from resclaims.core.ensemble import NotChained
    from resclaims.models.zhang2019 import TAU_RESNET
    from usermodels import stale_skip

    def draw(skeleton: torch.nn.Module, generator: torch.Generator):
        model = stale_skip(5, 6, 0.4, 5, 2, generator)
        return ((n, p.detach()) for n, p in model.named_parameters())
    subject = Subject("stale-drawn", TAU_RESNET, Adapter(build=stale_skip, draw=draw))
    kw = dict(depth=5, width=6, tau=0.4, in_dim=5, out_dim=2)
    x = data.unit_sphere(4, 5, 0)
    for stream in (False, True):
        ens = Ensemble(lambda s: subject.build(s, **kw), (1, 2), x, drawn=subject.drawn(**kw), stream=stream)
        assert all(p.is_meta for p in ens.models[0].parameters())
        with pytest.raises(NotChained, match="block 2 is called with more than the hidden state"):
            sweeps.log_norms(ens, x)
