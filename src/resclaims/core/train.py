"""Losses, per-block gradients and full-batch gradient descent, batched over seeds.

Squared loss per seed s: F_s(W) = sum_i (1/2) ||f_s(x_i; W) - y_i||^2.  The S models
share no parameters, so one backward pass of sum_s F_s gives every seed's own
gradient, and one GD step on the stacked tensors is S independent GD steps.
A parameter the loss does not depend on (a detached branch, say) gets gradient 0:
that is a measurement, reported as such, not an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from resclaims.core.data import generator
from resclaims.core.ensemble import Ensemble
from resclaims.core.seed_threads import Chunk, over_seed_chunks


def squared_loss(ens: Ensemble, x: Tensor, y: Tensor) -> Tensor:
    """F_s = sum_i (1/2) ||y_hat_{s,i} - y_i||^2 for every seed: shape (S,)."""
    return 0.5 * (ens.outputs(x) - y).pow(2).flatten(1).sum(1)


def cross_entropy(ens: Ensemble, x: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the logits y_hat_s against ``labels`` per seed: shape (S,)."""
    logits = ens.outputs(x)
    return torch.stack([torch.nn.functional.cross_entropy(z, labels) for z in logits])


def gradients(value: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
    """d value / d params, with zeros (not an error) for parameters ``value`` does not
    depend on, and for all of them when it depends on none."""
    if not value.requires_grad:
        return [torch.zeros_like(p) for p in params]
    return list(torch.autograd.grad(value, params, allow_unused=True, materialize_grads=True))


@dataclass(frozen=True)
class BlockGradients:
    """loss (S,); norms[s, l] = ||grad_{theta_l} F_s|| over block l's trained tensors
    theta_l, shape (S, L); shared (S,): the norm over trained tensors no single block
    owns (a tau shared by all blocks); ``dead[l]``: block l has trained tensors and
    every one of them got an exactly zero gradient for every seed."""

    loss: Tensor
    norms: Tensor
    shared: Tensor
    dead: list[bool]


def block_gradients(ens: Ensemble, loss: Callable[[], Tensor]) -> BlockGradients:
    """Per-block gradient norms of ``loss()`` (per-seed losses, shape (S,)) at the
    ensemble's current parameters."""
    per_block = [ens.block_parameters(l) for l in range(ens.depth)]
    shared = ens.shared_parameters()
    flat = [p for ps in per_block for p in ps] + shared
    for p in flat:
        p.requires_grad_(True)
    try:
        value = loss()
        grads = gradients(value.sum(), flat)
    finally:
        for p in flat:
            p.requires_grad_(False)
    norms, dead, k = [], [], 0
    for ps in per_block:
        g = grads[k:k + len(ps)]
        norms.append(ens.per_seed_sq_norm(g).sqrt())
        dead.append(bool(ps) and all(not bool(t.any()) for t in g))
        k += len(ps)
    return BlockGradients(value.detach(), torch.stack(norms, dim=1).detach(),
                          ens.per_seed_sq_norm(grads[k:]).sqrt().detach(), dead)


def ntk_top_eigenvalue(ens: Ensemble, x: Tensor, iterations: int = 20, seed: int = 0,
                       centered: bool = False) -> Tensor:
    """lambda_max(K_s) per seed, shape (S,), for the Gram matrix K_s = J_s J_s^T of the
    Jacobian J_s = d vec(y_hat_s) / d theta_s of the outputs in the trained parameters
    (the neural tangent kernel on x): GD on the squared loss is stable for
    eta < 2 / lambda_max.  ``centered`` restricts K to output directions with zero mean
    over the d outputs of each sample, the only ones a softmax cross-entropy sees (its
    Hessian in the logits is diag(p) - p p^T, at most 1/2, and zero along constants).
    K v = J (J^T v) costs one VJP (J^T v) and one double VJP (J u as the derivative of the
    linear map v -> J^T v): reverse mode only.  With n d outputs per seed (n inputs, d
    outputs each):

    * n d <= ``iterations``: K_s is assembled column by column, K e_j for the n d unit
      vectors e_j (all seeds at once), and lambda_max is exact (``eigvalsh``, of C K C
      with C the centring when ``centered``), at n d of the power iteration's
      ``iterations`` products;
    * otherwise power iteration from a Gaussian start drawn from ``seed``: the Rayleigh
      quotient v^T K v of the last iterate, a lower bound that converges to lambda_max.

    Seeds run in chunks side by side (:func:`resclaims.core.seed_threads.over_seed_chunks`);
    each chunk starts from its rows of one draw for the whole ensemble, so the result does
    not depend on the chunks."""

    def chunk(part: Ensemble, place: Chunk) -> Tensor:
        def start(shape: torch.Size, dtype: torch.dtype) -> Tensor:
            return torch.randn((ens.size, *shape[1:]), generator=generator(seed), dtype=dtype)[place.rows]
        return _ntk_power(part, x, iterations, centered, start)
    return over_seed_chunks(ens, chunk)


def _ntk_power(ens: Ensemble, x: Tensor, iterations: int, centered: bool,
               start: Callable[[torch.Size, torch.dtype], Tensor]) -> Tensor:
    """``ntk_top_eigenvalue`` for one run over the ensemble's seeds: the assembled Gram, or
    power iteration from v_0 = start(shape of the outputs, their dtype)."""
    params = ens.trained_parameters()
    for p in params:
        p.requires_grad_(True)
    try:
        out = ens.outputs(x)
        if not out.requires_grad:  # nothing trained reaches the outputs: K = 0
            return torch.zeros(out.shape[0], dtype=torch.float64, device=out.device)
        probe = torch.zeros_like(out, requires_grad=True)
        jt_probe = torch.autograd.grad(out, params, probe, create_graph=True, allow_unused=True,
                                       materialize_grads=True)
        live = [i for i, g in enumerate(jt_probe) if g.requires_grad]

        def gram_times(v: Tensor) -> Tensor:
            jt_v = torch.autograd.grad(out, params, v, retain_graph=True, allow_unused=True,
                                       materialize_grads=True)
            return torch.autograd.grad([jt_probe[i] for i in live], probe, [jt_v[i] for i in live],
                                       retain_graph=True, allow_unused=True, materialize_grads=True)[0]
        size = out[0].numel()
        if size <= iterations:
            return _exact_top(gram_times, out, centered)
        v = start(out.shape, out.dtype).to(out.device)
        lam = torch.zeros(out.shape[0], dtype=torch.float64, device=out.device)
        for _ in range(iterations):
            if centered:
                v = v - v.mean(dim=-1, keepdim=True)
            v = v / v.flatten(1).norm(dim=1).clamp_min(1e-300).view(-1, *[1] * (v.dim() - 1))
            kv = gram_times(v)
            if centered:
                kv = kv - kv.mean(dim=-1, keepdim=True)
            lam = (kv * v).flatten(1).sum(1).double()
            v = kv
    finally:
        for p in params:
            p.requires_grad_(False)
    return lam.detach()


def _exact_top(gram_times: Callable[[Tensor], Tensor], out: Tensor, centered: bool) -> Tensor:
    """lambda_max of every seed's Gram K_s (n d x n d, columns K e_j from ``gram_times`` on
    the outputs' unit vectors, all seeds at once), or of C K_s C for the centring C of each
    input's d outputs when ``centered``; ``eigvalsh`` in float64."""
    seeds, size = out.shape[0], out[0].numel()
    columns = []
    for j in range(size):
        e = torch.zeros(seeds, size, dtype=out.dtype, device=out.device)
        e[:, j] = 1
        columns.append(gram_times(e.view_as(out)).reshape(seeds, size))
    gram = torch.stack(columns, dim=-1).double()
    gram = (gram + gram.transpose(1, 2)) / 2  # symmetric to roundoff: K_ij and K_ji sum in different orders
    if centered:
        d = out.shape[-1]
        centre = torch.eye(size, dtype=torch.float64, device=out.device) - torch.block_diag(
            *[torch.full((d, d), 1 / d, dtype=torch.float64, device=out.device)] * (size // d))
        gram = centre @ gram @ centre
    return torch.linalg.eigvalsh(gram)[:, -1]


@dataclass(frozen=True)
class BlockTraces:
    """trace[s, l] = tr(K_l) for seed s and block l (S, L); shared (S,): the same for the
    trained tensors no single block owns; ``dead[l]``: block l's tensors got exactly zero
    for every probe and seed (K_l = 0: no gradient can reach it)."""

    trace: Tensor
    shared: Tensor
    dead: list[bool]


def block_ntk_traces(ens: Ensemble, x: Tensor, probes: int = 8, seed: int = 0) -> BlockTraces:
    """tr(K_l) = sum_{i,k} ||d f_{ik} / d theta_l||^2, block l's share of the trace of the
    neural tangent kernel on x, per seed: the expected ||grad_{theta_l} F||^2 of the
    squared loss for targets y ~ N(0, I) at f = 0, without the noise of one draw of y.
    Hutchinson's estimate: the mean of ||J_l^T v||^2 over ``probes`` Gaussian v."""
    gen = generator(seed)
    trace = shared = None
    dead: list[bool] = []
    for _ in range(probes):
        def projection() -> Tensor:
            out = ens.outputs(x)
            v = torch.randn(out.shape, generator=gen, dtype=out.dtype).to(out.device)
            return (out * v).flatten(1).sum(1)
        g = block_gradients(ens, projection)
        trace = g.norms.pow(2) if trace is None else trace + g.norms.pow(2)
        shared = g.shared.pow(2) if shared is None else shared + g.shared.pow(2)
        dead = g.dead if not dead else [a and b for a, b in zip(dead, g.dead)]
    assert trace is not None and shared is not None
    return BlockTraces(trace / probes, shared / probes, dead)


@dataclass(frozen=True)
class Trajectory:
    """losses[t, s] = F_s after t GD steps, t = 0..T (NaN/inf kept as measured)."""

    losses: Tensor


def gradient_descent(loss: Callable[[], Tensor | tuple[Tensor, Sequence[Tensor]]], params: Sequence[Tensor],
                     lr: float | Sequence[float], steps: int, stop_below: Tensor | None = None,
                     agree: Callable[[bool], bool] | None = None) -> Trajectory:
    """``steps`` steps of theta <- theta - lr grad_theta F_s for every seed at once, where
    ``loss()`` returns the per-seed losses (S,) and ``params`` are the trained tensors;
    a ``loss()`` that returns (losses, gradients) supplies its own gradients of
    sum_s F_s (a closed form) and autograd is not used.  ``lr``: one step size, or one
    per tensor (layer-wise step sizes).  Stops early once every seed's loss is
    non-finite (diverged), or is at most its entry of ``stop_below`` (S,) when given.
    ``agree``: the early-stop decision shared with runs on the other seeds
    (``Chunk.all``), asked once per step."""
    rates = [float(lr)] * len(params) if isinstance(lr, (int, float)) else [float(r) for r in lr]
    if len(rates) != len(params):
        raise ValueError(f"gradient_descent: {len(rates)} step sizes for {len(params)} tensors")
    own = None
    for p in params:
        p.requires_grad_(True)
    losses = []
    try:
        for step in range(steps + 1):
            out = loss()
            value, own = out if isinstance(out, tuple) else (out, None)
            losses.append(value.detach())
            done = not bool(torch.isfinite(value).any()) or (
                stop_below is not None and bool((value.detach() <= stop_below).all()))
            if agree is not None:
                done = agree(done)
            if step == steps or done:
                break
            grads = gradients(value.sum(), params) if own is None else own
            with torch.no_grad():
                for p, g, r in zip(params, grads, rates):
                    p.sub_(r * g)
    finally:
        for p in params:
            p.requires_grad_(False)
    return Trajectory(torch.stack(losses))


def ensemble_descent(ens: Ensemble, loss_of: Callable[[Ensemble], Tensor], lr: float, steps: int) -> Trajectory:
    """:func:`gradient_descent` of ``loss_of(e)`` (per-seed losses (S,) of ensemble e) on
    ``ens``'s trained tensors, its seeds in chunks side by side
    (:func:`resclaims.core.seed_threads.over_seed_chunks`), the chunks agreeing on when to
    stop: the trajectory of one run over all seeds, bit for bit."""
    def run(part: Ensemble, chunk: Chunk) -> Tensor:
        return gradient_descent(lambda: loss_of(part), part.trained_parameters(), lr, steps, agree=chunk.all).losses
    return Trajectory(over_seed_chunks(ens, run, dim=1))
