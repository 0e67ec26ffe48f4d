"""Second-order evidence for any model: Hessian-vector products, dense Hessians in
bounded memory, Lanczos eigenvalues, condition numbers and Taylor orders.

Everything works on an :class:`Objective`, a scalar loss R: R^P -> R of one flat
parameter vector w (the trained tensors of a model, concatenated; the model itself is
called through ``torch.func.functional_call``, so it keeps its own modules and names).

* ``hvp(obj, v)`` = H(w) v by forward-over-reverse (``jvp`` of ``grad``): one forward
  and one backward pass with tangents, never the P x P matrix.
* ``hvp_operator(obj)``: the same products by reverse-over-reverse on one retained
  graph, for the many products at one w that dense Hessians and Lanczos need.
* ``dense_hessian(obj, chunk)``: H(w), by the chain sweep of ``resclaims.core.chain``
  when the model is blocks applied in sequence, else (``hvp_hessian``) assembled from
  ``vmap``-ed HVPs on ``chunk`` basis vectors at a time, so memory is
  O(chunk x activations + P^2), never O(P x activations).
* ``block_hessian(obj, a, b)``: one block H[I_a, I_b] between parameter groups (units),
  from |I_a| products.
* ``lanczos(matvec, P, steps)``: the symmetric Lanczos process with full
  reorthogonalization; Ritz values come with their residual norms
  ||H y - theta y|| = |beta_k s_k|, so every estimate says how far it can be off.  It
  needs no spectral gap and no definiteness: symmetric spectra {+sigma_i, -sigma_i},
  where power iteration oscillates between the two ends, converge like any other.
  When H has at most ``steps`` distinct eigenvalues (met by the starting vector) the
  process exhausts the Krylov space and the Ritz values are the eigenvalues, exactly.
* ``conditioning(eigenvalues, null_rtol)``: the condition number under the null-space
  rule stated there.
* ``taylor_remainder(obj, v)``: the order k with R(w + t v) - T_m(t) ~ t^k on both sides
  of w, the test that autograd's derivatives describe the loss near w (k >= 3 after
  the Hessian term for a smooth loss) and the order of a flat stationary point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vjp, vmap

from resclaims.core.chain import Chain, Loss, NotAChain, chain_hessian, chain_of
from resclaims.core.data import generator
from resclaims.stats import slope

CHAIN_MIN = 256  # P from which dense_hessian takes the chain sweep (measured crossover: see README)


def mean_squared(output: Tensor, target: Tensor) -> Tensor:
    """R = (1/2N) sum_i ||f(x_i) - y_i||^2: the squared loss of the theory, a mean over
    the N samples."""
    return 0.5 * (output - target).pow(2).flatten(1).sum(1).mean()


@dataclass(frozen=True)
class Objective:
    """R(w) for a flat w in R^P: ``fn(w)`` is the loss, ``point`` the w at which
    derivatives are taken, ``sizes`` the number of entries of each parameter group
    (block) in flattening order, so H splits into per-block submatrices.  ``chain``:
    the model as blocks applied in sequence, when it is one (``resclaims.core.chain``),
    which lets ``dense_hessian`` use the chain sweep instead of P HVPs."""

    fn: Callable[[Tensor], Tensor]
    point: Tensor
    sizes: tuple[int, ...]
    chain: Chain | None = None

    @property
    def size(self) -> int:
        return self.point.numel()

    def offsets(self) -> list[slice]:
        """The slice of w (and of H's rows and columns) that each group occupies."""
        out, start = [], 0
        for n in self.sizes:
            out.append(slice(start, start + n))
            start += n
        return out


def model_objective(model: nn.Module, groups: Sequence[Sequence[Tensor]], x: Tensor, y: Tensor,
                    loss: Loss = mean_squared, blocks: Sequence[nn.Module] | None = None) -> Objective:
    """R(w) = loss(model(x; w), y) as a function of the parameters in ``groups`` (lists
    of the model's own parameters, one list per block; a tensor listed twice, as with
    tied weights, is one variable, counted in its first group).  Every other parameter
    and buffer stays as it is in ``model``.  ``blocks``: modules that, applied in order
    to x, may make up the whole model; if they do (checked), the objective carries that
    chain."""
    names = {id(p): n for n, p in model.named_parameters(remove_duplicate=True)}
    seen: set[int] = set()
    chosen: list[list[tuple[str, Tensor]]] = []
    for group in groups:
        mine = []
        for p in group:
            if id(p) not in names:
                raise ValueError("model_objective: a parameter in `groups` is not a parameter of the model")
            if id(p) not in seen:
                seen.add(id(p))
                mine.append((names[id(p)], p))
        chosen.append(mine)
    flat = [(n, p) for group in chosen for n, p in group]
    shapes = [p.shape for _, p in flat]
    counts = [p.numel() for _, p in flat]
    point = torch.cat([p.detach().reshape(-1) for _, p in flat]) if flat else x.new_zeros(0)

    def fn(w: Tensor) -> Tensor:
        pieces = torch.split(w, counts)
        params = {n: piece.view(shape) for (n, _), piece, shape in zip(flat, pieces, shapes)}
        return loss(functional_call(model, params, (x,)), y)
    sizes = tuple(sum(p.numel() for _, p in group) for group in chosen)
    return Objective(fn, point, sizes, _chain(model, blocks, flat, x, y, loss, point))


def _chain(model: nn.Module, blocks: Sequence[nn.Module] | None, flat: Sequence[tuple[str, Tensor]],
           x: Tensor, y: Tensor, loss: Loss, point: Tensor) -> Chain | None:
    if not blocks:
        return None
    positions, start = {}, 0
    for _, p in flat:
        positions[id(p)] = torch.arange(start, start + p.numel(), device=point.device)
        start += p.numel()
    try:
        return chain_of(model, blocks, positions, x, y, loss, point)
    except NotAChain:
        return None


def _old_style_function(exc: RuntimeError) -> bool:
    """Whether torch.func refused the model for an ``autograd.Function`` without
    ``setup_context``: the one refusal plain autograd differentiates exactly.  (Others,
    such as a NumPy round trip inside the forward pass, plain autograd would silently
    treat as constants: those propagate.)"""
    return "setup_context" in str(exc)


def gradient(obj: Objective, w: Tensor | None = None) -> Tensor:
    """grad R(w) (default: at ``obj.point``); by plain autograd where ``torch.func``
    cannot transform the model (an ``autograd.Function`` without ``setup_context``)."""
    w = obj.point if w is None else w
    try:
        return grad(obj.fn)(w)
    except RuntimeError as exc:
        if not _old_style_function(exc):
            raise
        leaf = w.detach().requires_grad_()
        with torch.enable_grad():
            return torch.autograd.grad(obj.fn(leaf), leaf)[0]


def hvp(obj: Objective, v: Tensor) -> Tensor:
    """H(w) v by forward-over-reverse differentiation (reverse-over-reverse where
    ``torch.func`` cannot transform the model)."""
    try:
        return jvp(grad(obj.fn), (obj.point,), (v,))[1]
    except RuntimeError as exc:
        if not _old_style_function(exc):
            raise
        return hvp_operator(obj)(v)


def hvp_operator(obj: Objective) -> Callable[[Tensor], Tensor]:
    """v -> H(w) v (also for a batch of rows v, through :func:`hvp_rows`) by
    reverse-over-reverse on one retained graph: the forward pass and the gradient at w
    are computed once, and each product is one pullback of grad R (H is symmetric, so
    v^T H = (H v)^T).  1.5-2x cheaper per product than :func:`hvp` when many products
    share one w.  Where ``torch.func`` cannot transform the model (an old-style
    ``autograd.Function``), the same by plain autograd (double backward through
    ``create_graph``)."""
    try:
        _, pullback = vjp(grad(obj.fn), obj.point)
        return lambda v: pullback(v)[0]
    except RuntimeError as exc:
        if not _old_style_function(exc):
            raise
        leaf = obj.point.detach().requires_grad_()
        with torch.enable_grad():
            g = torch.autograd.grad(obj.fn(leaf), leaf, create_graph=True)[0]

        def product(v: Tensor) -> Tensor:
            with torch.enable_grad():
                return torch.autograd.grad(g, leaf, v, retain_graph=True)[0].detach()
        return product


def hvp_rows(operator: Callable[[Tensor], Tensor], rows: Tensor) -> Tensor:
    """The products of ``operator`` (an :func:`hvp_operator`) with each row of ``rows``:
    batched under ``vmap``, or one at a time where it cannot batch them (the plain-autograd
    operator of an old-style ``autograd.Function``, on torch versions whose ``vmap`` does
    not batch its backward)."""
    try:
        return vmap(operator)(rows)
    except RuntimeError as exc:
        if not _old_style_function(exc):
            raise
        return torch.stack([operator(row) for row in rows]) if len(rows) else rows.clone()


def dense_hessian(obj: Objective, chunk: int = 512) -> Tensor:
    """H(w) as a dense (P, P) matrix.  For a chain of at least CHAIN_MIN parameters, by
    the chain sweep (``chain_hessian``: O(N d P^2) in matrix products); otherwise, or
    when its loss is not a sum over samples or a block defeats ``torch.func``, ``chunk`` rows (basis-vector HVPs, batched
    under ``vmap`` on one retained graph) at a time, so memory is
    O(chunk x activations + P^2), symmetrized, (H + H^T)/2, which only removes roundoff."""
    if obj.chain is not None and obj.size >= CHAIN_MIN:
        try:
            return chain_hessian(obj.chain, obj.point)
        except (NotAChain, RuntimeError, NotImplementedError):  # no structure, or an op torch.func lacks
            pass
    return hvp_hessian(obj, chunk)


def hvp_hessian(obj: Objective, chunk: int = 512) -> Tensor:
    """H(w) from P basis-vector HVPs, ``chunk`` at a time (see ``dense_hessian``)."""
    p = obj.size
    out = obj.point.new_empty(p, p)
    eye = torch.eye(p, dtype=obj.point.dtype, device=obj.point.device)
    operator = hvp_operator(obj)
    for start in range(0, p, chunk):
        out[start:start + chunk] = hvp_rows(operator, eye[start:start + chunk])
    return 0.5 * (out + out.T)


def block_hessian(obj: Objective, rows: int, cols: int | None = None) -> Tensor:
    """The block H[I_rows, I_cols] of the Hessian between parameter groups ``rows`` and
    ``cols`` (default: the diagonal block of ``rows``), from |I_rows| HVPs on one
    retained graph instead of the P a dense Hessian needs."""
    blocks = obj.offsets()
    r, c = blocks[rows], blocks[rows if cols is None else cols]
    basis = obj.point.new_zeros(r.stop - r.start, obj.size)
    basis[:, r] = torch.eye(r.stop - r.start, dtype=obj.point.dtype, device=obj.point.device)
    return hvp_rows(hvp_operator(obj), basis)[:, c]


@dataclass(frozen=True)
class Spectrum:
    """Ritz values ``values`` (ascending) of a Lanczos run with their residual norms
    ``residuals`` (||H y_j - theta_j y_j||, y_j the unit Ritz vector): H has an eigenvalue
    within ``residuals[j]`` of ``values[j]``.  ``exhausted``: the Krylov space became
    invariant, so the values are exact eigenvalues (every distinct eigenvalue the
    starting vector meets, which is all of them for a random start, with probability 1)."""

    values: Tensor
    residuals: Tensor
    steps: int
    exhausted: bool

    @property
    def largest(self) -> float:
        return float(self.values[-1])

    @property
    def smallest(self) -> float:
        return float(self.values[0])

    @property
    def max_abs(self) -> float:
        return float(self.values.abs().max())


def lanczos(matvec: Callable[[Tensor], Tensor], size: int, steps: int, seed: int = 0,
            dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu",
            breakdown: float = 1e-10) -> Spectrum:
    """``steps`` steps of the Lanczos process on the symmetric operator ``matvec``, from a
    Gaussian start drawn from ``seed``, with full reorthogonalization (two classical
    Gram-Schmidt passes against every earlier Lanczos vector, so no ghost copies
    appear).  Stops early when beta_j <= ``breakdown`` x the largest |alpha|, |beta| seen
    (an invariant subspace: ``exhausted``)."""
    steps = min(steps, size)
    if steps < 1:
        raise ValueError(f"lanczos needs a positive size and number of steps, got size={size}, steps={steps}")
    basis = torch.zeros(steps, size, dtype=dtype, device=device)
    q = torch.randn(size, generator=generator(seed), dtype=torch.float64).to(dtype=dtype, device=device)
    q = q / q.norm()
    alphas: list[float] = []
    betas: list[float] = []
    scale, exhausted, beta = 0.0, False, 0.0
    for j in range(steps):
        basis[j] = q
        w = matvec(q)
        alpha = float(w @ q)
        alphas.append(alpha)
        for _ in range(2):
            w = w - basis[:j + 1].T @ (basis[:j + 1] @ w)
        beta = float(w.norm())
        scale = max(scale, abs(alpha), beta)
        if beta <= breakdown * scale or j == size - 1:
            exhausted, beta = True, 0.0
            break
        if j < steps - 1:
            betas.append(beta)
            q = w / beta
    k = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        off = torch.tensor(betas[:k - 1], dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    theta, s = torch.linalg.eigh(t)
    residuals = (beta * s[-1]).abs()
    return Spectrum(theta, residuals, k, exhausted)


def hessian_spectrum(obj: Objective, steps: int, seed: int = 0) -> Spectrum:
    """Lanczos on the HVPs of ``obj`` at its point (see :func:`lanczos`), one retained
    graph for all of them (:func:`hvp_operator`)."""
    return lanczos(hvp_operator(obj), obj.size, steps, seed, obj.point.dtype, obj.point.device)


@dataclass(frozen=True)
class Conditioning:
    """max|lambda|, the smallest |lambda| outside the null space, their ratio ``cond``,
    and how many eigenvalues the null-space rule set aside (``null``)."""

    max_abs: float
    min_abs: float
    cond: float
    null: int


NULL_RTOL = 1e-9


def conditioning(eigenvalues: Tensor, null_rtol: float = NULL_RTOL) -> Conditioning:
    """The condition number of a symmetric matrix from its eigenvalues, under the
    null-space rule: an eigenvalue with |lambda| <= null_rtol x max|lambda| belongs to
    the null space (directions the loss is flat in to second order, such as symmetries
    of the parametrisation, or float64 roundoff of an exact 0, which is about
    P eps max|lambda| <= 2e-11 max|lambda| for P <= 10^5) and is left out:
    cond = max|lambda| / min{|lambda| : |lambda| > null_rtol max|lambda|}.
    An all-zero spectrum has cond NaN and every eigenvalue in the null space; a
    non-finite one gives NaN throughout."""
    mags = eigenvalues.abs().double()
    if not bool(torch.isfinite(mags).all()):
        return Conditioning(math.nan, math.nan, math.nan, 0)
    top = float(mags.max()) if mags.numel() else 0.0
    if top == 0.0:
        return Conditioning(top, 0.0, math.nan, int(mags.numel()))
    kept = mags[mags > null_rtol * top]
    low = float(kept.min())
    return Conditioning(top, low, top / low, int(mags.numel() - kept.numel()))


ROUNDOFF_UNITS = 100  # of eps |R(w)|: what r(t) must exceed to count (a few ops of roundoff, 25x margin)


@dataclass(frozen=True)
class Remainder:
    """The Taylor remainder r(t) = R(w + t v) - T_m(t) along a unit direction v and its
    reverse: ``order`` k, the least-squares slope of log|r(t)| on log t (t > 0);
    ``order_reverse`` the same along -v; ``mismatch`` = |c+ - c-| / max(|c+|, |c-|) for
    the leading coefficients c+ = r(t)/t^K and c- = r(-t)/(-t)^K at the smallest t,
    K = round(order).  A loss that is smooth at w has r(t) = c t^K + O(t^(K+1)) on both
    sides with one c, so the orders agree and the mismatch is O(t); a kink (ReLU at 0)
    gives different coefficients on the two sides.  A remainder that vanishes on one
    side only is a kink too (mismatch inf, orders NaN); one that vanishes on both sides
    has order inf and mismatch 0; a non-finite one gives NaN throughout.

    ``order`` and ``mismatch`` read one power of t; where two compete over the ts (a
    smooth but not odd activation, SiLU or GELU: r = c3 t^3 + c4 t^4 + ..., c3 small along
    v) they can read a kink into a smooth loss.  ``kink`` and ``lead`` do not: with K the
    order the caller expects, u(t) = r(t) / t^K (t signed, both sides) is fitted by one
    cubic p in t by least squares.  A smooth loss has u = c_K + c_(K+1) t + ..., which p
    fits to the truncation O(t^4); a kink makes u a step (different c_K on each side) or
    a pole (order below K, as 1/t), which no cubic fits.  ``kink`` = ||u - p|| / ||u||,
    with the roundoff of u added to ||u|| (see ``_one_cubic``); ``lead`` = |p(0)| /
    max |u|, the share of the t^K term (0 when r starts above K)."""

    order: float
    order_reverse: float
    mismatch: float
    kink: float = math.nan
    lead: float = math.nan


def taylor_remainder(obj: Objective, direction: Tensor, ts: Sequence[float] = (1e-2, 10 ** -1.5, 1e-1),
                     subtract: int = 2, leading: int | None = None) -> Remainder:
    """The remainder of R's Taylor polynomial T_m of degree m = ``subtract`` at w (value,
    gradient and Hessian terms from autograd) along ``direction`` (see
    :class:`Remainder`).  With m = 2, a C^3 loss gives order >= 3, and order 2 means
    autograd's Hessian does not describe R near w; m = 0 gives the order of
    R(w + t v) - R(w) itself: the first nonvanishing derivative along v.  ``leading``:
    the order K the fit of ``kink`` and ``lead`` divides by (default m + 1)."""
    w, v = obj.point, direction / direction.norm()
    terms = [float(obj.fn(w))]
    if subtract >= 1:
        terms.append(float(gradient(obj) @ v))
    if subtract >= 2:
        terms.append(float(hvp_operator(obj)(v) @ v))

    def remainder(t: float) -> float:
        polynomial = sum(term * t ** j / math.factorial(j) for j, term in enumerate(terms))
        return float(obj.fn(w + t * v)) - polynomial

    logs_t = [math.log(t) for t in ts]
    plus, minus = ([remainder(sign * t) for t in ts] for sign in (1.0, -1.0))
    if not all(math.isfinite(r) for r in plus + minus):
        return Remainder(math.nan, math.nan, math.nan)
    zero_plus, zero_minus = (all(r == 0.0 for r in rs) for rs in (plus, minus))
    if zero_plus and zero_minus:  # R is its Taylor polynomial along v: no remainder, no kink
        return Remainder(math.inf, math.inf, 0.0, 0.0, 0.0)
    kink, lead = _one_cubic(ts, plus, minus, subtract + 1 if leading is None else leading, abs(terms[0]))
    if zero_plus or zero_minus or any(r == 0.0 for r in plus + minus):  # flat on one side only: a kink
        return Remainder(math.nan, math.nan, math.inf, kink, lead)
    order, order_reverse = (slope(logs_t, [math.log(abs(r)) for r in rs]) for rs in (plus, minus))
    r_plus, r_minus = plus[0], minus[0]
    k, t0 = round(order), ts[0]
    c_plus, c_minus = r_plus / t0 ** k, r_minus / (-t0) ** k
    return Remainder(order, order_reverse, abs(c_plus - c_minus) / max(abs(c_plus), abs(c_minus)), kink, lead)


def _one_cubic(ts: Sequence[float], plus: Sequence[float], minus: Sequence[float], k: int,
               level: float) -> tuple[float, float]:
    """(``kink``, ``lead``) of :class:`Remainder`: u = r(t) / t^k at +-ts fitted by one
    cubic in t / max(ts) (scaled for conditioning), in float64.  The residual is taken
    relative to ||u|| plus ROUNDOFF_UNITS times the roundoff of u, eps |R(w)| / |t|^k per
    point: an r near the roundoff of R (a small t^4 term) is noise, not a kink."""
    t = torch.tensor([*ts, *(-x for x in ts)], dtype=torch.float64)
    u = torch.tensor([*plus, *minus], dtype=torch.float64) / t ** k
    noise = torch.finfo(torch.float64).eps * level / t.abs() ** k
    basis = torch.stack([(t / max(ts)) ** j for j in range(4)], dim=1)
    coef = torch.linalg.lstsq(basis, u[:, None]).solution[:, 0]
    kink = float((u - basis @ coef).norm()) / (float(u.norm()) + ROUNDOFF_UNITS * float(noise.norm()))
    return kink, abs(float(coef[0])) / float(u.abs().max())
