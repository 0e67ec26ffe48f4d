"""Loss barriers between two points: how high F must climb on a path from a to b.

Points are flat vectors; F is a batched loss (``descent.Batched``), F(Theta) in R^P for
Theta in R^(P x D), row by row.  For a path gamma: [0, 1] -> R^D from gamma(0) = a to
gamma(1) = b the *barrier* is

    B(gamma) = max_t F(gamma(t)) - max(F(a), F(b)),

read off a dense profile of the path.  Every path bounds the minimax barrier
inf_gamma B(gamma) from above; the estimators differ in the family searched:

* linear:  gamma(t) = (1 - t) a + t b.
* bezier:  phi_c(t) = (1 - t)^2 a + 2 t (1 - t) c + t^2 b (Garipov et al. 2018), the
  control point c minimizing the path loss E_{t ~ U[0, 1]} F(phi_c(t)) by Adam on
  Monte-Carlo t's, c started at (a + b) / 2 (the linear path).
* neb:  a piecewise linear string a = x_0, x_1, ..., x_n, x_{n+1} = b (nudged elastic
  band, infinite spring constant).  Every pivot steps along the nudged force

      f_i = -(g_i - (g_i . tau_i) tau_i),   g_i = grad F(x_i),

  and the pivots are then put back at equal arclength along the string.  The unit
  tangent tau_i is Henkelman & Jonsson's (2000): with F_j = F(x_j),
  tau^+ = x_{i+1} - x_i and tau^- = x_i - x_{i-1}, it is tau^+ uphill
  (F_{i+1} > F_i > F_{i-1}), tau^- downhill (F_{i+1} < F_i < F_{i-1}), and at an
  extremum tau^+ dF_max + tau^- dF_min if F_{i+1} > F_{i-1}, else
  tau^+ dF_min + tau^- dF_max, where dF_max, dF_min are the larger and smaller of
  |F_{i+1} - F_i| and |F_{i-1} - F_i|.  Between cycles, new pivots go to the midpoints
  of the segments whose dense loss peaks highest (AutoNEB, Draxler et al. 2018).
* dss:  dynamic string sampling (Freeman & Bruna 2017) at a level L: a segment whose
  linear max exceeds L gets a bead, started at the segment's argmax and descended until
  F <= L, and both halves are treated alike, to a bounded depth.  The string is
  *connected* when every segment's max is at most L.

Profiles sit at positions ts in [0, 1]: the curve parameter t for linear and bezier,
normalized arclength for the strings.  K pairs of endpoints (a, b in R^(K x D)) share
every F call and every optimizer loop: their points are rows of independent problems.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from resclaims.core.data import generator
from resclaims.core.descent import Batched, adam, gradient


@dataclass(frozen=True)
class Profile:
    """One path's dense loss profile: F at ``ts`` along the path (``losses[0]`` = F(a),
    ``losses[-1]`` = F(b)), its ``barrier``, the free points (``beads``) the estimator
    used, the path's ``length`` over ||b - a|| (inf if a = b), and, for dss, whether the
    string stayed below the level."""

    estimator: str
    ts: Tensor
    losses: Tensor
    barrier: float
    beads: int
    length: float
    connected: bool = True


def barrier(losses: Tensor, f_a: float, f_b: float) -> float:
    """max_t F(gamma(t)) - max(F(a), F(b)) from a path's dense ``losses``."""
    return float(losses.max()) - max(f_a, f_b)


def linear(F: Batched, a: Tensor, b: Tensor, points: int = 65) -> list[Profile]:
    """The straight paths (1 - t) a + t b of the K pairs (a, b: (K, D)) at ``points``
    uniform t in [0, 1]."""
    t = _grid(points, a)
    return _profiles("linear", F, _line(a, b, t), t, 0)


def bezier(F: Batched, a: Tensor, b: Tensor, *, steps: int = 300, samples: int = 8, lr: float = 1e-2,
           seed: int = 0, points: int = 65) -> list[Profile]:
    """Quadratic Bezier curves between the K pairs, each control point trained by Adam
    (``lr`` decaying to lr / 100 over ``steps``) on the mean loss at ``samples`` t's drawn
    uniformly at each step, the same t's for every pair, from a generator seeded with
    ``seed``; profiled at ``points`` uniform t."""
    draws = generator(seed)

    def path_loss(c: Tensor) -> Tensor:
        t = torch.rand(samples, generator=draws, dtype=a.dtype).to(a.device)
        return _evaluate(F, _bezier(a, c, b, t)).mean(1)

    c = adam(path_loss, (a + b) / 2, steps, lr, lr / 100).points
    t = _grid(points, a)
    return _profiles("bezier", F, _bezier(a, c, b, t), t, 1)


def neb(F: Batched, a: Tensor, b: Tensor, *, pivots: int = 9, cycles: int = 4, insert: int = 2, steps: int = 200,
        lr: float = 1e-2, sub: int = 9) -> list[Profile]:
    """Nudged elastic bands between the K pairs, started on the straight paths with
    ``pivots`` interior pivots: ``cycles`` rounds of ``steps`` gradient steps of size
    ``lr`` along the nudged force, each followed by equal-arclength redistribution, with
    ``insert`` pivots added before every round but the first (``beads`` = pivots +
    insert (cycles - 1) while the strings have at least ``insert`` segments).  Profiled
    at ``sub`` points per segment."""
    ends = _evaluate(F, torch.stack([a, b], 1)).detach()
    string = _line(a, b, _grid(pivots + 2, a))
    for cycle in range(cycles):
        if cycle:
            string = _fill(string, _evaluate(F, _polyline(string, sub)).detach(), sub, insert)
        for _ in range(steps):
            string = _equalize(_nudge(F, string, ends, lr))
    return _profiles("neb", F, _polyline(string, sub), None, string.shape[1] - 2)


def dss(F: Batched, a: Tensor, b: Tensor, level: float, *, depth: int = 6, steps: int = 500, lr: float = 1e-2,
        points: int = 33) -> list[Profile]:
    """Dynamic string sampling at ``level`` for each of the K pairs in turn: beads
    descended by Adam (at most ``steps``, ``lr`` decaying to lr / 100, stopping at the
    level), at most ``depth`` levels of halving, every segment checked and profiled at
    ``points`` uniform positions."""
    profiles = []
    for start, end in zip(a, b):
        string = torch.stack([start, *_beads(F, start, end, level, depth, steps, lr, points), end])[None]
        profile, = _profiles("dss", F, _polyline(string, points - 1), None, string.shape[1] - 2)
        profiles.append(replace(profile, connected=bool(profile.losses.max() <= level)))
    return profiles


def _grid(n: int, like: Tensor) -> Tensor:
    """n uniform positions 0 = t_0 < ... < t_{n-1} = 1, in ``like``'s dtype and device."""
    return torch.linspace(0, 1, n, dtype=like.dtype, device=like.device)


def _line(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 - t) a + t b for every pair (a, b: (K, D)) and t (T,): (K, T, D), a at t = 0
    and b at t = 1 exactly."""
    return torch.lerp(a[:, None], b[:, None], t[:, None])


def _bezier(a: Tensor, c: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """phi_c(t) for every pair (a, c, b: (K, D)) and t (T,): (K, T, D)."""
    t = t[:, None]
    return (1 - t) ** 2 * a[:, None] + 2 * t * (1 - t) * c[:, None] + t ** 2 * b[:, None]


def _polyline(strings: Tensor, sub: int) -> Tensor:
    """``sub`` uniform points on every segment of the strings (K, N, D), node first, and
    the last node: (K, (N - 1) sub + 1, D)."""
    K, N, D = strings.shape
    s = torch.arange(sub, dtype=strings.dtype, device=strings.device)[:, None] / sub
    inner = torch.lerp(strings[:, :-1, None], strings[:, 1:, None], s)
    return torch.cat([inner.reshape(K, (N - 1) * sub, D), strings[:, -1:]], 1)


def _evaluate(F: Batched, points: Tensor) -> Tensor:
    """F at every pair's points (K, T, D) in one call: (K, T)."""
    K, T, D = points.shape
    return F(points.reshape(K * T, D)).reshape(K, T)


def _arclength(points: Tensor) -> tuple[Tensor, Tensor]:
    """Cumulative arclength along the polylines through points (K, T, D), normalized to
    end at 1 (uniform for a polyline of length 0): (K, T), and the lengths (K,)."""
    run = torch.cat([torch.zeros_like(points[:, :1, 0]), (points[:, 1:] - points[:, :-1]).norm(dim=-1).cumsum(1)], 1)
    total = run[:, -1:]
    return torch.where(total > 0, run / total, _grid(points.shape[1], points)), total[:, 0]


def _profiles(estimator: str, F: Batched, points: Tensor, ts: Tensor | None, beads: int) -> list[Profile]:
    """The K profiles of paths sampled densely at points (K, T, D) from a to b, at
    positions ``ts`` (T,), or at normalized arclength when None."""
    losses = _evaluate(F, points).detach()
    arc, total = _arclength(points)
    ts = arc if ts is None else ts.expand_as(arc)
    span = (points[:, -1] - points[:, 0]).norm(dim=-1)
    return [Profile(estimator, ts[k], losses[k], barrier(losses[k], float(losses[k, 0]), float(losses[k, -1])), beads,
                    float(total[k] / span[k]) if span[k] > 0 else math.inf) for k in range(points.shape[0])]


def _tangents(strings: Tensor, losses: Tensor) -> Tensor:
    """Henkelman-Jonsson unit tangents at the interior nodes of strings (K, N, D) whose
    nodes have ``losses`` (K, N): (K, N - 2, D)."""
    ahead, behind = strings[:, 2:] - strings[:, 1:-1], strings[:, 1:-1] - strings[:, :-2]
    rise_ahead, rise_behind = losses[:, 2:] - losses[:, 1:-1], losses[:, 1:-1] - losses[:, :-2]
    big = torch.maximum(rise_ahead.abs(), rise_behind.abs())[..., None]
    small = torch.minimum(rise_ahead.abs(), rise_behind.abs())[..., None]
    extremum = torch.where((rise_ahead + rise_behind > 0)[..., None], ahead * big + behind * small,
                           ahead * small + behind * big)
    extremum = torch.where(big > 0, extremum, ahead + behind)  # flat: the chord through both neighbours
    tau = torch.where(((rise_ahead > 0) & (rise_behind > 0))[..., None], ahead,
                      torch.where(((rise_ahead < 0) & (rise_behind < 0))[..., None], behind, extremum))
    return tau / tau.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(tau.dtype).tiny)


def _nudge(F: Batched, strings: Tensor, ends: Tensor, lr: float) -> Tensor:
    """One step of size ``lr`` of every interior node of the strings (K, N, D) along its
    nudged force, with F(a), F(b) given as ``ends`` (K, 2): one F and one autograd call."""
    K, N, D = strings.shape
    values, grad = gradient(F, strings[:, 1:-1].reshape(K * (N - 2), D))
    tau = _tangents(strings, torch.cat([ends[:, :1], values.reshape(K, N - 2), ends[:, 1:]], 1))
    grad = grad.reshape(K, N - 2, D)
    force = (grad * tau).sum(-1, keepdim=True) * tau - grad
    return torch.cat([strings[:, :1], strings[:, 1:-1] + lr * force, strings[:, -1:]], 1)


def _equalize(strings: Tensor) -> Tensor:
    """The strings (K, N, D) resampled at N equally spaced arclengths, ends kept: the
    infinite spring constant."""
    K, N, D = strings.shape
    run, _ = _arclength(strings)
    target = _grid(N, strings)[1:-1].expand(K, N - 2).contiguous()
    seg = torch.searchsorted(run, target, right=True) - 1  # run[seg] <= target < run[seg + 1]
    lo, hi = run.gather(1, seg), run.gather(1, seg + 1)
    start = strings.gather(1, seg[..., None].expand(K, N - 2, D))
    end = strings.gather(1, (seg + 1)[..., None].expand(K, N - 2, D))
    inner = torch.lerp(start, end, ((target - lo) / (hi - lo))[..., None])
    return torch.cat([strings[:, :1], inner, strings[:, -1:]], 1)


def _fill(strings: Tensor, losses: Tensor, sub: int, insert: int) -> Tensor:
    """The strings (K, N, D) with a node added at the midpoint of each of the ``insert``
    segments whose dense ``losses`` (K, (N - 1) sub + 1, from ``_polyline``) peak highest."""
    K, N, D = strings.shape
    peaks = losses.unfold(1, sub + 1, sub).amax(-1)
    chosen = torch.zeros_like(peaks, dtype=torch.bool).scatter_(1, peaks.topk(min(insert, N - 1), 1).indices, True)
    nodes_and_midpoints = torch.stack([strings[:, :-1], (strings[:, :-1] + strings[:, 1:]) / 2], 2)
    keep = torch.stack([torch.ones_like(chosen), chosen], 2)
    return torch.cat([nodes_and_midpoints[keep].reshape(K, -1, D), strings[:, -1:]], 1)


def _beads(F: Batched, start: Tensor, end: Tensor, level: float, depth: int, steps: int, lr: float,
           points: int) -> list[Tensor]:
    """The beads (D,) dss strings between ``start`` and ``end`` (D,), in order: none if
    the segment's max over ``points`` positions is at most ``level`` or ``depth`` is
    spent, else a bead descended from the argmax and the beads of both halves."""
    dense = _polyline(torch.stack([start, end])[None], points - 1)
    losses = _evaluate(F, dense).detach()[0]
    if depth == 0 or bool(losses.max() <= level):
        return []
    until = torch.full((1,), level, dtype=losses.dtype, device=losses.device)
    bead = adam(F, dense[:, losses.argmax()], steps, lr, lr / 100, until=until).points[0]
    rest = (level, depth - 1, steps, lr, points)
    return [*_beads(F, start, bead, *rest), bead, *_beads(F, bead, end, *rest)]
