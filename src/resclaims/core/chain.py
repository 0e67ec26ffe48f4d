"""The exact Hessian of a loss over a chain of blocks, by second-order backpropagation
through per-sample states instead of P Hessian-vector products.

A chain maps every sample x_i through blocks g_1, ..., g_L with parameters theta_k,

    h_0 = x_i,   h_k = g_k(h_{k-1}; theta_k),   R(theta) = loss(h_L, y),

where the loss is a sum of per-sample terms l_i(h_L) (a mean is a sum scaled by 1/N).
With the per-sample first derivatives of each block,

    A_k = dg_k/dh (d_k x d_{k-1}),   E_k = dg_k/dtheta_k (d_k x p_k),

the first- and second-order adjoints delta_k = dl_i/dh_k and K_k = d^2 l_i/dh_k^2
satisfy, from K_L = d^2 l_i/dh_L^2 down,

    delta_{k-1} = A_k^T delta_k,   K_{k-1} = A_k^T K_k A_k + C_k,

and, writing phi_k(h, theta) = delta_k^T g_k(h; theta) with C_k = d^2 phi/dh^2,
D_k = d^2 phi/dh dtheta (d_{k-1} x p_k), F_k = d^2 phi/dtheta^2, the Hessian blocks are

    H_kk = sum_i E_k^T K_k E_k + F_k,
    H_lm = sum_i E_l^T T_{m-1<-l}^T W_m   (l < m),   W_m = D_m + A_m^T K_m E_m,

with T_{m-1<-l} = A_{m-1} ... A_{l+1} the state Jacobian between the blocks: theta_l
reaches the loss only through h_{m-1}, and W_m = d^2 l_i/dh_{m-1} dtheta_m.  The sweep
carries R_l = [W_{l+1}, A_{l+1}^T R_{l+1}] (the columns of every later block) backwards,
so each row block H_{l,>l} is one GEMM over the N d_l stacked sample rows.

Cost: O(N d P^2) flops in large matrix products, against O(N P^2) in
P small-operand HVP passes; it wins when the state width d is small (narrow deep
stacks, where HVPs are dominated by per-operation overhead).  Per-block derivatives
come from ``torch.func`` on the block itself, vmapped over samples and, for blocks of
one structure, over blocks; they must reproduce the model's own batch forward and
backward passes (outputs, delta_{k-1} = A_k^T delta_k per sample, sum_i E_k^T delta_k =
dR/dtheta_k), or the chain is refused (a block that mixes samples).  A block that shares
parameters with another (tied weights) is handled by folding the per-block copies into
the shared variables.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jacfwd, jacrev, jvp, vmap

from resclaims.core.data import generator

Loss = Callable[[Tensor, Tensor], Tensor]

SEPARABLE_RTOL = 1e-8  # per-sample output Hessians must reproduce a random HVP to this


class NotAChain(ValueError):
    """The model or loss lacks the structure the chain Hessian needs (use HVPs)."""


@dataclass(frozen=True)
class Chain:
    """A model seen as blocks applied in sequence to x, with nothing before, between or
    after them.  ``trained[k]`` lists block k's trained tensors as (name in the block,
    shape, positions in the flat parameter vector w); a tied tensor appears in every
    block that holds it, with the same positions."""

    blocks: tuple[nn.Module, ...]
    trained: tuple[tuple[tuple[str, torch.Size, Tensor], ...], ...]
    x: Tensor
    y: Tensor
    loss: Loss

    def params(self, k: int, w: Tensor) -> dict[str, Tensor]:
        return {name: w[index].view(shape) for name, shape, index in self.trained[k]}

    def index(self, k: int) -> Tensor:
        """Positions in w of block k's flat theta_k."""
        parts = [index for _, _, index in self.trained[k]]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long, device=self.x.device)

    def forward(self, w: Tensor) -> list[Tensor]:
        """The states h_0 = x, h_1, ..., h_L at w."""
        hs = [self.x]
        for k, block in enumerate(self.blocks):
            hs.append(functional_call(block, self.params(k, w), (hs[-1],)))
        return hs


def chain_of(model: nn.Module, blocks: Sequence[nn.Module], positions: dict[int, Tensor], x: Tensor,
             y: Tensor, loss: Loss, point: Tensor) -> Chain:
    """The chain of ``blocks`` for a model whose trained tensors (by ``id``) sit at
    ``positions`` in w.  Raises NotAChain unless every trained tensor lives in a block
    and the blocks applied in order to x give model(x) exactly."""
    in_blocks: set[int] = set()
    trained = []
    for block in blocks:
        mine = []
        for name, p in block.named_parameters(remove_duplicate=True):
            if id(p) in positions:
                mine.append((name, p.shape, positions[id(p)]))
                in_blocks.add(id(p))
        trained.append(tuple(mine))
    if in_blocks != set(positions):
        raise NotAChain("some trained tensors lie outside the blocks")
    chain = Chain(tuple(blocks), tuple(trained), x, y, loss)
    with torch.no_grad():
        try:
            ours, theirs = chain.forward(point)[-1], model(x)
        except Exception as exc:  # a block that cannot run on its own
            raise NotAChain(f"the blocks do not run in sequence: {exc}") from None
        if ours.shape != theirs.shape or not torch.allclose(ours, theirs, rtol=1e-12, atol=0.0):
            raise NotAChain("the model is not its blocks applied in sequence (a stem, head or extra step)")
    return chain


def _per_sample(block: nn.Module, in_shape: torch.Size, names: Sequence[tuple[str, torch.Size]]
                ) -> Callable[[Tensor, Tensor, dict[str, Tensor]], Tensor]:
    """g(h, theta, rest) on one sample: flat state in, flat state out; ``rest`` holds the
    block's untrained tensors (so blocks of one structure can be stacked)."""
    counts = [shape.numel() for _, shape in names]

    def g(h: Tensor, theta: Tensor, rest: dict[str, Tensor]) -> Tensor:
        params = {name: piece.view(shape) for (name, shape), piece in zip(names, torch.split(theta, counts))}
        return functional_call(block, {**rest, **params}, (h.view(in_shape).unsqueeze(0),)).reshape(-1)
    return g


def _block_terms(g: Callable, h: Tensor, theta: Tensor, rest: dict[str, Tensor], delta: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """A (N, d_out, d_in), E (N, d_out, p), C (N, d_in, d_in), D^T (N, p, d_in), F (p, p)
    of one block at inputs h (N, d_in) with output adjoints delta (N, d_out)."""
    a, e = vmap(jacrev(g, argnums=(0, 1)), in_dims=(0, None, None))(h, theta, rest)

    def phi_grad(hi: Tensor, t: Tensor, di: Tensor) -> Tensor:
        return grad(lambda u, v: (di * g(u, v, rest)).sum(), argnums=(0, 1))(hi, t)
    c, dt = vmap(jacfwd(phi_grad, argnums=0), in_dims=(0, None, 0))(h, theta, delta)

    def theta_grad(t: Tensor) -> Tensor:
        return grad(lambda v: (delta * vmap(g, in_dims=(0, None, None))(h, v, rest)).sum())(t)
    f = jacrev(theta_grad)(theta)
    return a, e, c, dt, f


def _structure(block: nn.Module, names: Sequence[tuple[str, torch.Size]], h_in: Tensor, h_out: Tensor) -> tuple:
    """What blocks must share to be stacked: class, tensors and state shapes."""
    rest = [(n, t.shape, t.dtype) for n, t in [*block.named_parameters(), *block.named_buffers()]]
    return (type(block), tuple(names), tuple(rest), h_in.shape, h_out.shape)


def _all_block_terms(chain: Chain, w: Tensor, hs: Sequence[Tensor], deltas: Sequence[Tensor], grad_w: Tensor
                     ) -> list[tuple[Tensor, ...]]:
    """Every block's (A, E, C, D, F).  Blocks of one structure go through one vmapped
    call when evaluating them stacked, one sample at a time, reproduces each block's
    output in the forward pass; otherwise (a block's Python attributes, which stacking
    cannot see, differ) one block at a time, after the same check per block.  A block
    whose per-sample output differs from its batch output mixes samples (batch
    statistics): NotAChain.  So does one whose A and E do not reproduce the batch
    backward pass (``_check_first_order``): outputs are compared at w only, and a block
    that mixes samples through a term that vanishes there (h + tanh(W h + c
    mean_batch(h)) with a trained c = 0) passes that check, not this one."""
    n = chain.x.shape[0]
    ours, scale = torch.zeros_like(grad_w), torch.zeros_like(grad_w)
    groups: dict[tuple, list[int]] = defaultdict(list)
    names = [[(name, shape) for name, shape, _ in chain.trained[k]] for k in range(len(chain.blocks))]
    for k, block in enumerate(chain.blocks):
        groups[_structure(block, names[k], hs[k], hs[k + 1])].append(k)
    out: list[tuple[Tensor, ...]] = [()] * len(chain.blocks)
    for ks in groups.values():
        trained = {name for name, _ in names[ks[0]]}
        thetas = torch.stack([w[chain.index(k)] for k in ks])
        rests = [{nm: t for nm, t in [*chain.blocks[k].named_parameters(), *chain.blocks[k].named_buffers()]
                  if nm not in trained} for k in ks]
        rest = {nm: torch.stack([r[nm] for r in rests]) for nm in rests[0]}
        h_in = torch.stack([hs[k].reshape(n, -1) for k in ks])
        h_out = torch.stack([hs[k + 1].reshape(n, -1) for k in ks])
        delta = torch.stack([deltas[k + 1] for k in ks])
        g = _per_sample(chain.blocks[ks[0]], hs[ks[0]].shape[1:], names[ks[0]])
        if _reproduces(g, h_in, thetas, rest, h_out):
            terms = vmap(lambda hh, t, r, dd: _block_terms(g, hh, t, r, dd))(h_in, thetas, rest, delta)
            _check_first_order(chain, ks, terms[0], terms[1], [deltas[k] for k in ks], delta, ours, scale)
            for j, k in enumerate(ks):
                out[k] = tuple(term[j] for term in terms)
            continue
        for j, k in enumerate(ks):
            gk = _per_sample(chain.blocks[k], hs[k].shape[1:], names[k])
            own = {nm: t[j:j + 1] for nm, t in rest.items()}
            if not _reproduces(gk, h_in[j:j + 1], thetas[j:j + 1], own, h_out[j:j + 1]):
                raise NotAChain(f"block {k + 1} mixes samples: one sample at a time it gives another output")
            out[k] = _block_terms(gk, h_in[j], thetas[j], {nm: t[0] for nm, t in own.items()}, delta[j])
            _check_first_order(chain, [k], out[k][0][None], out[k][1][None], [deltas[k]], delta[j:j + 1], ours, scale)
    if not bool(_agreement(ours, grad_w, scale).all()):
        raise NotAChain("a block mixes samples: its per-sample parameter Jacobians do not sum to the model's gradient")
    return out


def _check_first_order(chain: Chain, ks: Sequence[int], a: Tensor, e: Tensor, delta_in: Sequence[Tensor],
                       delta_out: Tensor, ours: Tensor, scale: Tensor) -> None:
    """For blocks ``ks`` stacked, A (B, N, d_out, d_in) and E (B, N, d_out, p) at output
    adjoints delta_out (B, N, d_out): raise NotAChain unless A_i^T delta_out,i is the
    backward pass's delta_in,i for every sample i (``_agreement``, relative to the sum
    of the terms' absolute values), and add sum_i E_i^T delta_out,i, with that absolute sum,
    into ``ours`` and ``scale`` at the blocks' positions (tied copies summed), for the
    caller to hold against dR/dw."""
    back = torch.einsum("bnoi,bno->bni", a, delta_out)
    bound = torch.einsum("bnoi,bno->bni", a.abs(), delta_out.abs())
    agrees = _agreement(back, torch.stack(list(delta_in)), bound).flatten(1).all(1)
    if not bool(agrees.all()):
        raise NotAChain(f"block {ks[int((~agrees).nonzero()[0])] + 1} mixes samples: its per-sample state "
                        f"Jacobian does not give the model's gradient")
    index = torch.cat([chain.index(k) for k in ks])
    ours.index_add_(0, index, torch.einsum("bnop,bno->bp", e, delta_out).reshape(-1))
    scale.index_add_(0, index, torch.einsum("bnop,bno->bp", e.abs(), delta_out.abs()).reshape(-1))


def _agreement(ours: Tensor, theirs: Tensor, scale: Tensor) -> Tensor:
    """|ours - theirs| <= sqrt(eps) x scale entrywise (1.5e-8 in float64, 3.5e-4 in
    float32: far above the roundoff of a sum whose absolute terms add up to ``scale``,
    far below the O(1) relative error of a block that mixes samples), equal entries
    (inf included) and NaN against NaN agreeing."""
    rtol = math.sqrt(torch.finfo(ours.dtype).eps)
    return ((ours - theirs).abs() <= rtol * scale) | (ours == theirs) | (ours.isnan() & theirs.isnan())


def _reproduces(g: Callable, h_in: Tensor, thetas: Tensor, rest: dict[str, Tensor], h_out: Tensor) -> bool:
    """Whether g, stacked over blocks and vmapped over samples, gives ``h_out`` (to a few
    ulps: batched and unbatched kernels may round differently); False if it cannot run."""
    try:
        with torch.no_grad():
            mine = vmap(vmap(g, in_dims=(0, None, None)))(h_in, thetas, rest)
    except Exception:  # a block that refuses one sample (batch norm in train mode) or vmap
        return False
    tol = 64 * torch.finfo(h_out.dtype).eps
    return torch.allclose(mine, h_out, rtol=tol, atol=tol * float(h_out.abs().max()))


def _output_terms(chain: Chain, out: Tensor) -> tuple[Tensor, Tensor]:
    """delta_L (N, d) and the per-sample K_L (N, d, d) of the loss at the output, after
    checking the loss is a sum of per-sample terms: the per-sample blocks must reproduce
    the output Hessian's product with a random direction."""
    n = out.shape[0]
    flat = out.reshape(n, -1)

    def loss_of(o: Tensor) -> Tensor:
        return chain.loss(o.view(out.shape), chain.y)
    delta = grad(loss_of)(flat)
    d = flat.shape[1]
    basis = torch.eye(d, dtype=flat.dtype, device=flat.device).unsqueeze(1).expand(d, n, d)
    columns = vmap(lambda v: jvp(grad(loss_of), (flat,), (v,))[1])(basis)  # (d, N, d): K_i e_a
    k_out = columns.permute(1, 2, 0)
    u = torch.randn(flat.shape, generator=generator(0), dtype=flat.dtype).to(flat.device)
    full = jvp(grad(loss_of), (flat,), (u,))[1]
    mine = torch.einsum("nab,nb->na", k_out, u)
    if not torch.allclose(mine, full, rtol=SEPARABLE_RTOL, atol=SEPARABLE_RTOL * float(full.abs().max())):
        raise NotAChain("the loss is not a sum of per-sample terms")
    return delta, k_out


def chain_hessian(chain: Chain, w: Tensor) -> Tensor:
    """The dense Hessian of R at w (P x P, P = w.numel()) by the backward sweep in the
    module docstring, each block above the diagonal computed once and mirrored.  Raises
    NotAChain for a loss that is not a sum over samples.

    R_k lives in one (N, d, P) buffer when every state has the same width d: block k's
    columns W_k are written beside those of the later blocks, which A_k^T transforms in
    place (through one temporary), and not at all where A_k = I for every sample (a
    residual block whose branch is zero at w, as at the zero point): no new R per block,
    and no copy where A_k = I.  A block with E_k = 0 for every sample (shortcut depth
    n >= 2 at the zero point) skips its row's products, which are then exactly zero,
    while K, A and R are finite (see ``_moves_nothing``).

    Raises NotAChain, too, when the per-sample first derivatives do not reproduce the
    model's own gradients (``_all_block_terms``)."""
    n = chain.x.shape[0]
    hs, deltas, k_mat, grad_w = _first_order(chain, w)
    terms = _all_block_terms(chain, w, hs, deltas, grad_w)
    sizes = [chain.index(k).numel() for k in range(len(chain.blocks))]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    total = sum(sizes)
    h_exp = w.new_zeros(total, total)
    widths = {h.reshape(n, -1).shape[1] for h in hs}
    buffer = w.new_empty(n, widths.pop(), total) if len(widths) == 1 else None
    r = w.new_zeros(n, k_mat.shape[1], 0)  # R_k: (N, d_k, columns of blocks > k)
    for k in reversed(range(len(chain.blocks))):
        a, e, c, dt, f = terms[k]
        at = a.transpose(1, 2)
        s = slice(starts[k], starts[k] + sizes[k])
        if buffer is None:
            nxt = w.new_empty(n, a.shape[2], total - s.start)
            w_k = nxt[:, :, :sizes[k]]
        else:
            w_k = buffer[:, :, s]
        if _moves_nothing(e, k_mat, a, r):  # every product with E_k is exactly 0
            h_exp[s, s] = 0.5 * (f + f.T)
            w_k.copy_(dt.transpose(1, 2))
        else:
            rows = e.reshape(-1, sizes[k]).T  # E_k^T over the N d_k stacked sample rows
            ke = k_mat @ e
            diagonal = rows @ ke.reshape(rows.shape[1], sizes[k]) + f
            h_exp[s, s] = 0.5 * (diagonal + diagonal.T)  # symmetric up to roundoff
            h_exp[s, s.stop:] = rows @ r.reshape(rows.shape[1], r.shape[2])
            h_exp[s.stop:, s] = h_exp[s, s.stop:].T
            torch.add(dt.transpose(1, 2), at @ ke, out=w_k)
        if buffer is None:
            torch.bmm(at, r, out=nxt[:, :, sizes[k]:])
            r = nxt
        else:
            if r.shape[2] and not _is_identity(a):
                r.copy_(torch.bmm(at, r))
            r = buffer[:, :, s.start:]
        k_mat = at @ k_mat @ a + c
    index = torch.cat([chain.index(k) for k in range(len(chain.blocks))])
    if torch.equal(index, torch.arange(w.numel(), device=index.device)):
        return h_exp
    out = w.new_zeros(w.numel(), w.numel())  # fold tied copies into their shared variables
    out.index_put_((index[:, None], index[None, :]), h_exp, accumulate=True)
    return out


def _moves_nothing(e: Tensor, *others: Tensor) -> bool:
    """Whether E_k = 0 for every sample (theta_k moves no state at w, as in a branch
    whose other layers are zero) while everything E_k meets is finite, so that block k's
    row of the Hessian is F_k alone, W_k = D_k, and skipping those products changes no
    value (0 x inf would be NaN).  Finiteness is read off each tensor's sum, which is
    inf or NaN if any entry is (and if a finite sum overflows: then nothing is skipped)."""
    return not bool(e.any()) and all(math.isfinite(float(t.sum())) for t in others)


def _is_identity(a: Tensor) -> bool:
    """Whether every sample's state Jacobian A (N, d, d) is exactly the identity."""
    return a.shape[1] == a.shape[2] and torch.equal(a, torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
                                                   .expand_as(a))


def _first_order(chain: Chain, w: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor]:
    """The states h_k (N, ...), their adjoints delta_k = dR/dh_k flattened to (N, d_k) and
    the gradient dR/dw, by one backward pass through the model's own batch forward, and
    the per-sample output Hessian K_L (N, d_L, d_L)."""
    with torch.enable_grad():
        x = chain.x.detach().requires_grad_()
        wg = w.detach().requires_grad_()
        hs = [x]
        for k, block in enumerate(chain.blocks):
            hs.append(functional_call(block, chain.params(k, wg), (hs[-1],)))
        delta_out, k_out = _output_terms(chain, hs[-1].detach())
        *deltas, grad_w = torch.autograd.grad(hs[-1], [*hs[:-1], wg], delta_out.view(hs[-1].shape),
                                              allow_unused=True)
    n = x.shape[0]
    grad_w = torch.zeros_like(w) if grad_w is None else grad_w  # None: what R does not use has gradient 0
    deltas = [torch.zeros_like(h) if d is None else d for d, h in zip(deltas, hs)]
    return ([h.detach() for h in hs], [d.reshape(n, -1) for d in deltas] + [delta_out], k_out, grad_w)
