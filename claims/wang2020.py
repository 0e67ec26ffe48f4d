"""Wang et al., "Is the Skip Connection Provable to Reform the Neural Network Loss
Landscape?" (IJCAI 2020, arXiv:2006.05939), on Freeman & Bruna, "Topology and Geometry
of Half-Rectified Network Optimization" (ICLR 2017, arXiv:1611.01540).

Family ``skip-net``: m ReLU units fed by the input x (the skip) and read by a linear
readout a, beside a deep ReLU branch (additive or into the units [RECON]), square loss
F(theta) = (1/N) sum_i (f(x_i; theta) - y_i)^2 on the empirical measure.  The units'
features the readout reads are measured through the subject's own forward pass:
Z_j(x) = f(x; a = e_j) - f(x; a = 0) with any lateral input u and unit bias zeroed, which is
relu(w_j . x) for a skip network.

theorem claims
* kernel_sandwich   (E-P1, F&B Prop 2.3) for unit w_1, w_2 at angle alpha and their unit bisector
                    w_m, on the empirical measure: ((1 + cos a)/2) ||w_m||_Z^2 - 2 ||S|| ((1 - cos a)/2
                    + sin^2 a) <= [w_1, w_2]_Z <= ((1 + cos a)/2) ||w_m||_Z^2.
* arccos_oracle     (E-P1) for x ~ N(0, I): E[Z_1 Z_2] = k(alpha) (E Z_1^2 + E Z_2^2)/2 with the
                    arc-cosine kernel k(alpha) = (sin a + (pi - a) cos a)/pi, to the Monte-Carlo error.
* merge_inequality  (E-P2, the step of F&B Cor. 2.5) merging unit k into unit j (a_j += a_k, a_k = 0)
                    changes the loss by at most 2 |a_k| sqrt(F ||S||) d + a_k^2 ||S|| d^2, d = ||w_j - w_k||.
* exact_legs        (E-P3, F&B Thm 2.4 legs 1, 3, 6) F along a line of readouts is a convex quadratic;
                    a unit with a_j = 0 can move freely; (w_j, u_j, a_j) -> (c w_j, c u_j, a_j / c) and
                    relabelling the units leave f unchanged; f acts on each sample alone; autograd's
                    gradient is F's.
* barrier_width     (E-P5, Wang et al.'s main claim [RECON]) the aligned straight-path barrier between minima
                    of the unit layer falls with width m: the bootstrap CI of the pooled log-log slope
                    lies below 0 (an upper bound on the depth the theorem bounds, falling as it must).
* components        (E-P7) the connected components per minimum at a level do not grow with m.
* relabelled_copy   (E-P6 iii) relabelling the units leaves F unchanged and, after alignment, the straight
                    path to the relabelled copy is flat.

reference-conformance claims
* estimators        (E-P6 i, ii) the estimators behind E-P5 on fixed problems: no barrier between
                    linear-net minima (Prop 2.2), a barrier between the swapped minima of F&B's m = 2
                    two-cluster problem that falls at m = 8.
* skip_vs_plain     (E-P5) the reference's barriers are lower with the skip than without.
"""
from __future__ import annotations

import functools
import itertools
import json
import math
import statistics
from statistics import NormalDist
from typing import Any

import numpy

import torch
from hypothesis import strategies as st
from torch import Tensor, nn

from resclaims.claim import Cite, Claim, Context, Evidence, Judgement, Scale, Setting
from resclaims.claims import wang2020_figures as draw
from resclaims.core import descent, gaussian, paths
from resclaims.core.data import generator
from resclaims.core.descent import Descent, gradient
from resclaims.core.flat import Flat, Units
from resclaims.family import Subject, SubjectError
from resclaims.models.wang2020 import SKIP_FORMS, SKIP_NET, LinearNet, skip_net
from resclaims.strategies.sublevel import inputs, model_in_dim, skip_settings, teacher_data
from resclaims.stats import Interval, pairwise_slope_interval, unit_bootstrap
from resclaims.verdicts import decades, worst_of

ROUNDOFF = 1e-10   # relative float64 slack of an exact (in)equality [notes: 1e-10]
ARCH = ("form", "depth", "hidden")
GRADIENT_TOL = 1e-4  # autograd vs central differences, relative to ||grad F||
FD_ROUNDOFF = 1e-15  # float64 roundoff of one loss evaluation, relative to |F|


def _cite(where: str, fb: bool = False) -> Cite:
    if fb:
        return Cite("Freeman & Bruna", 2017, "1611.01540", where)
    return Cite("Wang, Shen, Zhao & Zhang", 2020, "2006.05939", where)


EXTRA_PARTS = ("lateral", "unit_bias")   # optional per-unit incoming tensors besides W


class Net:
    """The subject's model at ``width`` units for a setting, in eval mode, as a function of
    one flat parameter vector (:class:`~resclaims.core.flat.Flat`) on data (x, y), with
    its unit layer located through the parts ``units`` (W, one row per unit), ``readout``
    (a, one entry per unit) and, where the subject names them, the other tensors each
    unit reads through: ``lateral`` (U, the input-to-last-hidden form) and ``unit_bias``
    (b, for a layer with biases).  ``units_only``: theta is the unit layer alone, the
    rest of the network fixed at its drawn values."""

    def __init__(self, subject: Subject, setting: Setting, width: int, x: Tensor, y: Tensor,
                 seed: int | None = None, units_only: bool = False, **overrides: Any) -> None:
        keys = {k: setting[k] for k in ARCH if k in setting}
        self.model = subject.build(setting["seed"] if seed is None else seed, dtype=torch.float64,
                                   in_dim=model_in_dim(setting), width=width, **{**keys, **overrides}).eval()
        named = dict(self.model.named_parameters())
        names = {id(p): n for n, p in named.items()}

        def located(part: str) -> str:  # the parameter itself, or a view of the whole of one (fc.weight[0])
            tensor = subject.held_part(part, self.model)
            if id(tensor) not in names:
                raise SubjectError(f"subject {subject.name}: part {part!r} must be a parameter of the model, not a "
                                   f"buffer")
            return names[id(tensor)]
        self.w, self.a = located("units"), located("readout")
        self.extra = tuple(located(part) for part in EXTRA_PARTS
                           if part in subject.adapter.parts or isinstance(getattr(self.model, part, None), nn.Parameter))
        if named[self.w].shape[0] != width or named[self.a].numel() != width or any(
                named[n].shape[0] != width for n in self.extra):
            raise SubjectError(f"subject {subject.name}: units (and lateral, unit_bias) must have one row per unit "
                               f"and readout one entry per unit (width {width}); got units "
                               f"{tuple(named[self.w].shape)}, readout {tuple(named[self.a].shape)}")
        self.units = Units((self.w,) + self.extra, (self.a,), width)
        rest = tuple(n for n in named if n not in self.units.names) if units_only else ()
        self.flat = Flat(self.model, x, y, frozen=rest)
        self.width = width
        self.theta = self.flat.point()

    def rows(self, theta: Tensor, name: str) -> Tensor:
        return self.flat.rows(theta, name, self.width)

    def set(self, theta: Tensor, name: str, rows: Tensor) -> Tensor:
        return self.flat.with_rows(theta, name, rows)

    def features(self, theta: Tensor, x: Tensor) -> Tensor:
        """Z (N, m): Z_j = f(x; a = e_j) - f(x; a = 0), lateral inputs and unit biases
        zeroed; relu(W x) for a skip network.  Each call gets its own copy of x."""
        for name in self.extra:
            theta = self.set(theta, name, torch.zeros_like(self.rows(theta, name)))
        base = self.flat.output(self.set(theta, self.a, torch.zeros(self.width, 1, dtype=theta.dtype)), x.clone())
        eye = torch.eye(self.width, dtype=theta.dtype)
        return torch.stack([self.flat.output(self.set(theta, self.a, eye[j][:, None]), x.clone()) - base
                            for j in range(self.width)], 1)


def _at_most(lhs: float, rhs: float, scale: float, failed: str) -> tuple[float, str]:
    """(margin, text) of lhs <= rhs: the relative slack (rhs - lhs)/scale plus the float64
    roundoff allowance ROUNDOFF; negative (or NaN, read as -inf) when it fails."""
    margin = (rhs - lhs) / scale + ROUNDOFF if scale > 0 else (math.inf if lhs <= rhs else -math.inf)
    return (margin if math.isfinite(margin) else -math.inf), failed


def _spectral(x: Tensor) -> float:
    """||S|| = ||X^T X / N||_2, the empirical second-moment operator norm."""
    return float(torch.linalg.matrix_norm(x.T @ x / x.shape[0], 2))


def _pair(x: Tensor, alpha: float, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Unit w_1, w_2 at angle alpha in a random 2-plane of R^n, and their unit bisector;
    w_1 leans toward the mean input, so that the units are active on most samples."""
    n = x.shape[1]
    lean = x.mean(0) / x.mean(0).norm().clamp_min(1e-12)
    basis, _ = torch.linalg.qr(torch.stack([lean + torch.randn(n, generator=g, dtype=torch.float64) / math.sqrt(n),
                                            torch.randn(n, generator=g, dtype=torch.float64)], 1))
    w1 = basis[:, 0] * (-1.0 if float(basis[:, 0] @ lean) < 0 else 1.0)   # QR's sign is arbitrary
    w2 = math.cos(alpha) * w1 + math.sin(alpha) * basis[:, 1]
    mid = (w1 + w2) / (w1 + w2).norm()
    return w1, w2, mid


def _with_units(net: Net, rows: Tensor) -> Tensor:
    """The net's theta with its unit rows W replaced (the first rows; the rest kept)."""
    w = net.rows(net.theta, net.w).clone()
    w[: rows.shape[0]] = rows
    return net.set(net.theta, net.w, w)


# E-P1: the kernel sandwich -------------------------------------------------------------

def _sandwich_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x = inputs(setting)
    net = Net(subject, setting, 3, x, torch.zeros(x.shape[0], dtype=torch.float64))
    w1, w2, mid = _pair(x, setting["alpha"], generator(setting["seed"] + 2))
    z = net.features(_with_units(net, torch.stack([w1, w2, mid])), x)
    inner, mid_sq = float((z[:, 0] * z[:, 1]).mean()), float(z[:, 2].pow(2).mean())
    c, s = math.cos(setting["alpha"]), math.sin(setting["alpha"])
    sigma = _spectral(x)
    upper = (1 + c) / 2 * mid_sq
    lower = upper - 2 * sigma * ((1 - c) / 2 + s * s)
    return {"inner": inner, "upper": upper, "lower": lower, "sigma": sigma, "mid_sq": mid_sq}


def _sandwich_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    scale = ev["sigma"] + ev["mid_sq"]
    parts = [_at_most(ev["inner"], ev["upper"], scale, f"[w1, w2]_Z = {ev['inner']:.6g} above the upper bound "
                                                       f"{ev['upper']:.6g}"),
             _at_most(ev["lower"], ev["inner"], scale, f"[w1, w2]_Z = {ev['inner']:.6g} below the lower bound "
                                                       f"{ev['lower']:.6g}")]
    return worst_of(parts, f"{ev['lower']:.4g} <= [w1, w2]_Z = {ev['inner']:.4g} <= {ev['upper']:.4g} "
                           f"(alpha = {setting['alpha']:.3g}, ||S|| = {ev['sigma']:.3g})")


def _alpha(low: float = 0.05) -> st.SearchStrategy[float]:
    """An angle in [low, pi/2], drawn as a fraction of pi/2 (shrinks toward pi/2)."""
    return st.floats(low / (math.pi / 2), 1.0, allow_nan=False, allow_infinity=False).map(lambda f: f * math.pi / 2)


kernel_sandwich = Claim(
    id="wang2020.kernel_sandwich",
    cite=_cite("Prop. 2.3 (the ReLU kernel is nearly linear)", fb=True),
    statement="For unit vectors w1, w2 at angle alpha <= pi/2 and their unit bisector wm, on any measure of x (here "
              "the empirical one): ((1 + cos a)/2) ||wm||_Z^2 - 2 ||S|| ((1 - cos a)/2 + sin^2 a) <= [w1, w2]_Z <= "
              "((1 + cos a)/2) ||wm||_Z^2, with [u, v]_Z = E[Z_u Z_v] for the features Z the readout reads and "
              "S = E[x x^T].",
    provenance="paper",
    kind="identity",
    scope="theorem",
    covers="skip networks of every form (additive, input-to-last-hidden with u zeroed, two-layer), n = 2..8, "
           "Gaussian (random covariance), spherical and heavy-tailed inputs, with or without a bias coordinate",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, alpha=_alpha(1e-3)),
    check=_sandwich_check,
    judge=_sandwich_judge,
    thresholds=f"Exact inequalities (the proof holds for the empirical measure); slack {ROUNDOFF:g} (||S|| + "
               f"||wm||_Z^2) for float64 roundoff [notes: 1e-10].",
    requires={"form": SKIP_FORMS},
    cost="cheap",
    figure=functools.partial(draw.kernel_sandwich, roundoff=ROUNDOFF),
)


# E-P1: the Gaussian arc-cosine oracle ------------------------------------------------------

ORACLE_SAMPLES = 2 ** 18


def arc_cosine(alpha: float) -> float:
    """k(alpha) = E[relu(w1.x) relu(w2.x)] / E[relu(w.x)^2] for unit w1, w2 at angle alpha
    and x ~ N(0, I): (sin a + (pi - a) cos a) / pi (Cho & Saul 2009, degree 1), twice
    the Gaussian cross-moment of ``core.gaussian``."""
    return 2 * float(gaussian.arc_cosine(torch.tensor(math.cos(alpha), dtype=torch.float64)))


def _oracle_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x = torch.randn(ORACLE_SAMPLES, setting["in_dim"], generator=generator(setting["seed"]), dtype=torch.float64)
    net = Net(subject, setting, 2, x[:4], torch.zeros(4, dtype=torch.float64))
    w1, w2, _ = _pair(x, setting["alpha"], generator(setting["seed"] + 2))
    z = net.features(_with_units(net, torch.stack([w1, w2])), x)
    t = z[:, 0] * z[:, 1] - arc_cosine(setting["alpha"]) * (z[:, 0].pow(2) + z[:, 1].pow(2)) / 2
    return {"mean": float(t.mean()), "se": float(t.std() / math.sqrt(len(t))),
            "energy": float(z.pow(2).mean()), "kernel": float((z[:, 0] * z[:, 1]).mean()),
            "oracle": arc_cosine(setting["alpha"]) * float(z.pow(2).mean()), "samples": len(t)}


def _oracle_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    if not ev["energy"] > 0:
        return Judgement(False, -math.inf, "the readout reads no unit: f does not change with a (features Z = 0, "
                                           "so the units fed by x are not connected to the output)")
    crit = NormalDist().inv_cdf(1 - ctx.alpha / 2)
    z = abs(ev["mean"]) / ev["se"] if ev["se"] > 0 else (0.0 if ev["mean"] == 0 else math.inf)
    text = (f"E[Z1 Z2] = {ev['kernel']:.5g} vs arc-cosine {ev['oracle']:.5g} at alpha = {setting['alpha']:.3g}: "
            f"|z| = {z:.2f}")
    if z > crit:
        return Judgement(False, crit - z, f"{text} > {crit:.2f} (alpha = {ctx.alpha:.2g}; the units are not ReLU "
                                          f"units of w . x, or read more than x: name 'lateral' / 'unit_bias' parts)")
    return Judgement(True, crit - z, f"{text} <= {crit:.2f} ({ev['samples']} Gaussian samples)")


arccos_oracle = Claim(
    id="wang2020.arccos_oracle",
    cite=_cite("Prop. 2.3 (the ReLU kernel), Gaussian case", fb=True),
    statement="For x ~ N(0, I_n) and unit w1, w2 at angle alpha, the features the readout reads satisfy "
              "E[Z1 Z2] = k(alpha) (E Z1^2 + E Z2^2)/2, k(alpha) = (sin a + (pi - a) cos a)/pi (the degree-1 "
              "arc-cosine kernel): the units are ReLUs of w . x, at any positive scale.",
    provenance="derived",
    kind="high-probability",
    scope="theorem",
    covers="skip networks of every form, n = 2..8, alpha in [0.05, pi/2]",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, samples=(ORACLE_SAMPLES,), input_kinds=("gaussian",),
                                                  biases=(False,), alpha=_alpha()),
    check=_oracle_check,
    judge=_oracle_judge,
    thresholds=f"Two-sided z-test of the mean of t = Z1 Z2 - k (Z1^2 + Z2^2)/2 (0 in expectation for any scale of "
               f"relu) over {ORACLE_SAMPLES} samples at the example's alpha: a false alarm has probability alpha.",
    requires={"form": SKIP_FORMS},
    cost="cheap",
    figure=draw.arccos_oracle,
)


# E-P2: the merge inequality --------------------------------------------------------------

MERGE_SHRINK = (1.0, 0.1, 0.01)   # the merge is checked at alpha, alpha/10, alpha/100


def _merge_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = teacher_data(setting)
    net = Net(subject, setting, setting["width"], x, y)
    g = generator(setting["seed"] + 3)
    sigma, theta = _spectral(x), net.theta
    w = net.rows(theta, net.w)
    rows = []
    for shrink in MERGE_SHRINK:
        alpha = setting["alpha"] * shrink
        wk = w[1]
        basis, _ = torch.linalg.qr(torch.stack([wk, torch.randn(wk.shape, generator=g, dtype=wk.dtype)], 1))
        wj = wk.norm() * (math.cos(alpha) * basis[:, 0] * torch.sign(basis[:, 0] @ wk) + math.sin(alpha) * basis[:, 1])
        before = net.set(theta, net.w, torch.cat([wj[None], wk[None], w[2:]]))
        for name in net.extra:  # unit j reads h (and its bias) through unit k's rows: only w differs
            other = net.rows(before, name)
            before = net.set(before, name, torch.cat([other[1:2], other[1:]]))
        a = net.rows(before, net.a).clone()
        merged = a.clone()
        merged[0] += a[1]
        merged[1] = 0.0
        after = net.set(before, net.a, merged)
        f_before, f_after = (float(v) for v in net.flat.loss(torch.stack([before, after])))
        d, ak = float((wj - wk).norm()), float(a[1, 0])
        bound = 2 * abs(ak) * math.sqrt(f_before * sigma) * d + ak * ak * sigma * d * d
        rows.append({"alpha": alpha, "increase": f_after - f_before, "bound": bound, "loss": f_before, "d": d})
    return {"merges": rows, "sigma": sigma}


def _merge_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    parts = [_at_most(r["increase"], r["bound"], r["loss"] + r["bound"],
                      f"merging a unit at angle {r['alpha']:.3g} (||w_j - w_k|| = {r['d']:.3g}) raised the loss by "
                      f"{r['increase']:.4g}, above the bound {r['bound']:.4g}")
             for r in ev["merges"]]
    shown = ", ".join(f"{r['increase']:.3g} <= {r['bound']:.3g}" for r in ev["merges"])
    return worst_of(parts, f"loss change on merging <= bound at alpha/{{1, 10, 100}}: {shown}")


merge_inequality = Claim(
    id="wang2020.merge_inequality",
    cite=_cite("Cor. 2.5, proof (pruning a clustered unit)", fb=True),
    statement="Merging unit k into unit j (a_j += a_k, a_k = 0) changes the square loss F = mean (f - y)^2 by at most "
              "2 |a_k| sqrt(F ||S||) ||w_j - w_k|| + a_k^2 ||S|| ||w_j - w_k||^2 (relu is 1-Lipschitz, then "
              "Cauchy-Schwarz), so the cost of pruning vanishes with the angle between the units.",
    provenance="derived",
    kind="identity",
    scope="theorem",
    covers="skip networks of every form (unit j shares unit k's lateral row and bias), widths 2..32, "
           "random parameters, teacher targets, every input kind, alpha from pi/2 down to 1e-5",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, width=st.sampled_from([2, 4, 8, 32]),
                                                  teacher=st.integers(1, 4), alpha=_alpha(1e-3)),
    check=_merge_check,
    judge=_merge_judge,
    thresholds=f"Exact inequality; slack {ROUNDOFF:g} (F + bound) for float64 roundoff.",
    requires={"form": SKIP_FORMS},
    cost="cheap",
    figure=draw.merge_inequality,
)


# E-P3: the exact legs ------------------------------------------------------------------------

LINE_POINTS = 101   # t grid of the readout leg [notes]


def _legs_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = teacher_data(setting)
    net = Net(subject, setting, setting["width"], x, y)
    g = generator(setting["seed"] + 4)
    theta, m = net.theta, setting["width"]
    f0 = net.flat.output(theta, x.clone())
    scale = float(f0.abs().max()) + 1.0

    def moved(other: Tensor) -> float:
        return float((net.flat.output(other, x.clone()) - f0).abs().max()) / scale
    # leg 1: F along a line of readouts, everything else fixed, is a quadratic in t with t^2 coefficient >= 0
    a_b = torch.randn(m, 1, generator=g, dtype=torch.float64) / math.sqrt(m)
    a_a = net.rows(theta, net.a)
    ts = torch.linspace(0, 1, LINE_POINTS, dtype=torch.float64)
    line = net.flat.loss(torch.stack([net.set(theta, net.a, (1 - t) * a_a + t * a_b) for t in ts]))
    f_a, f_mid, f_b = float(line[0]), float(line[LINE_POINTS // 2]), float(line[-1])
    curvature = 2 * (f_a + f_b - 2 * f_mid)   # q(t) = f_a + (f_b - f_a - c) t + c t^2 through t = 0, 1/2, 1
    quad = f_a + (f_b - f_a - curvature) * ts + curvature * ts ** 2
    # leg 3: a unit with a_j = 0 can move anywhere (its w_j and u_j redrawn)
    j = int(torch.randint(m, (1,), generator=g))
    silent = net.set(theta, net.a, a_a * (torch.arange(m)[:, None] != j))
    f_silent = net.flat.output(silent, x.clone())
    redrawn = silent
    for name in net.units.incoming:
        rows = net.rows(silent, name).clone()
        rows[j] = torch.randn(rows.shape[1], generator=g, dtype=torch.float64)
        redrawn = net.set(redrawn, name, rows)
    unused = float((net.flat.output(redrawn, x.clone()) - f_silent).abs().max()) / scale
    # positive homogeneity and relabelling
    factors = torch.exp(torch.empty(m, dtype=torch.float64).uniform_(math.log(0.3), math.log(3.0), generator=g))
    perm = torch.randperm(m, generator=g)
    # one sample at a time: f on the first rows of the batch equals the first rows of f
    head = min(7, x.shape[0])
    batch = float((net.flat.output(theta, x[:head].clone()) - f0[:head]).abs().max()) / scale
    # the gradient autograd gives is F's: directional derivative against central differences
    direction = torch.randn(theta.shape, generator=g, dtype=torch.float64)
    direction /= direction.norm()
    value, grad = gradient(net.flat.loss, theta[None])
    derivative = float(grad[0] @ direction)
    step = 1e-6 * (1 + float(theta.norm()))
    ends = net.flat.loss(torch.stack([theta + step * direction, theta - step * direction]))
    finite = float(ends[0] - ends[1]) / (2 * step)
    return {"line": line.tolist(),   # F at t = 0..1 along the readout line, for the figure
            "line_excess": float(line.max()) - max(f_a, f_b), "line_scale": float(line.abs().max()) + 1.0,
            "quadratic_error": float((line - quad).abs().max()), "curvature": curvature,
            "unused": unused, "homogeneity": moved(net.flat.scale(theta, net.units, factors)),
            "permutation": moved(net.flat.permute(theta, net.units, perm)), "per_sample": batch,
            "gradient_error": abs(derivative - finite) / (float(grad.norm()) + abs(float(value[0])) * FD_ROUNDOFF / step),
            "gradient_norm": float(grad.norm())}


def _legs_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    undeclared = (" (does each unit read through a tensor the adapter does not name? declare it as parts "
                  "'unit_bias' or 'lateral')")
    exact = [("unused", "redrawing the input row of a unit whose readout is 0 changed f by {:.3g} (relative): "
                        "that unit's readout multiplies another unit" + undeclared),
             ("homogeneity", "(w_j, u_j, a_j) -> (c w_j, c u_j, a_j / c) changed f by {:.3g} (relative): the units "
                             "are not positively homogeneous (not ReLU?)"),
             ("permutation", "relabelling the units (rows of W, U, b and entries of a together) changed f by "
                             "{:.3g} (relative)" + undeclared),
             ("per_sample", "f on the first rows of the batch differs from the first rows of f by {:.3g} (relative): "
                            "samples are coupled")]
    parts = [(decades(ev[key], ROUNDOFF), text.format(ev[key])) for key, text in exact]
    parts += [
        _at_most(ev["line_excess"], 0.0, ev["line_scale"],
                 f"F along a line of readouts rose {ev['line_excess']:.4g} above its ends: not convex in the readout"),
        _at_most(-ev["curvature"], 0.0, ev["line_scale"],
                 f"F along a line of readouts is concave (t^2 coefficient {ev['curvature']:.4g}): not convex in the "
                 f"readout"),
        (decades(ev["quadratic_error"], ROUNDOFF * ev["line_scale"]),
         f"F along a line of readouts is not a quadratic in t (off by {ev['quadratic_error']:.3g}): f is not linear "
         f"in the readout"),
        (decades(ev["gradient_error"], GRADIENT_TOL),
         f"autograd's directional derivative is off by {ev['gradient_error']:.3g} (relative to ||grad F|| = "
         f"{ev['gradient_norm']:.3g}) from central differences: parameters detached from the graph?"),
    ]
    return worst_of(parts, f"exact legs hold: readout line convex quadratic (curvature {ev['curvature']:.3g}), "
                           f"unused unit, homogeneity, relabelling and per-sample to {ROUNDOFF:g}, gradient to "
                           f"{ev['gradient_error']:.2g}")


exact_legs = Claim(
    id="wang2020.exact_legs",
    cite=_cite("Thm. 2.4, legs 1, 3 and 6 of the constructive path", fb=True),
    statement="With everything but the readout fixed, F along a line of readouts is a convex quadratic (so bounded "
              "by its ends); a unit with a_j = 0 can move anywhere without changing f; (w_j, u_j, a_j) -> (c w_j, "
              "c u_j, a_j / c), c > 0, and relabelling the units leave f unchanged; f acts on each sample alone; "
              "autograd's gradient is F's (every path estimator relies on it).",
    provenance="derived",
    kind="identity",
    scope="theorem",
    covers="skip networks of every form and the plain net without skip (the legs are about the unit layer), widths "
           "2..32, random parameters, teacher targets, every input kind",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, forms=SKIP_FORMS + ("plain",),
                                                  width=st.sampled_from([2, 4, 8, 32]), teacher=st.integers(1, 4)),
    check=_legs_check,
    judge=_legs_judge,
    thresholds=f"Exact identities to {ROUNDOFF:g} relative; the gradient against central differences at step "
               f"h = 1e-6 (1 + ||theta||) to {GRADIENT_TOL:g} relative (truncation O(h^2), roundoff "
               f"{FD_ROUNDOFF:g} |F| / h, and a relu kink crossed with probability ~ N m h).",
    cost="cheap",
    figure=functools.partial(draw.exact_legs, roundoff=ROUNDOFF, gradient_tol=GRADIENT_TOL),
)


# E-P5 and E-P7: minima, barriers between them, and their width trend -----------------------

MIN_PAIRS = 3         # pairs ending at minima needed at every width
PRIMARY = "aligned"   # the barrier the trend is fitted to: the linear path after aligning the units
GATE = 0.1            # an endpoint is a minimum for a pair when descent could explain <= 10% of its barrier
FLOOR = 1e-4          # tau = 1e-4 Var(Y): a pair with barrier <= tau is connected [notes: the noise floor]
ADAM_STEPS, POLISH_ITERATIONS = 500, 300
BEZIER_STEPS, BEZIER_LR = 200, 5e-2   # lr 1e-2 barely moves the control point (tests/test_paths.py); 0.2 overshoots
NEB_PIVOTS = 17       # [notes: P = 9 -> 17]; a string's corner-cutting error falls as 1/P^2 (linear nets:
                      # 1.5e-4, 3.1e-5, 4.2e-6 at 9, 17, 33 pivots against a floor of 8.7e-5)
BOOTSTRAP = 1000
SIGN_RESAMPLES = 200  # bootstrap replicates for a standard error
COVERAGE = 0.95       # the slope's bootstrap interval [notes: 95%, 1000 resamples]
ETA = 0.5             # the theory's exponent -(1 - eta)/n is reported at this eta [RECON]
# the input-to-last-hidden form's units read (x, h_L(x)), n + hidden dimensions: m^(-(1 - eta)/(n + hidden)) is
# flat over any ladder we can afford (measured: aligned barriers 0.012, 0.016, 0.038 at m = 8, 32, 128)
BARRIER_FORMS = ("additive", "two_layer")
CI_LADDER, THOROUGH_LADDER = (8, 32, 128), (8, 16, 32, 64, 128)


def _ladder(scale: Scale) -> st.SearchStrategy[Setting]:
    """Widths, minima per width and estimators for a profile: the ci ladder with 12 minima
    (66 pairs: with 8, the interval that resamples minima was [-0.75, 0.11] on the first
    ci setting) on straight paths and Bezier curves on the first 6 pairs, or, where a
    profile allows models 64 times larger (thorough), widths 8..128 with Bezier, NEB and
    string sampling on the first 10."""
    if scale.max_params >= 2 ** 26:
        return st.just({"widths": THOROUGH_LADDER, "minima": 12, "estimators": ("linear", "bezier", "neb", "dss"),
                        "curved_pairs": 10})
    return st.just({"widths": CI_LADDER, "minima": 12, "estimators": ("linear", "bezier"), "curved_pairs": 6})


def _barrier_settings(scale: Scale, subject: Subject) -> st.SearchStrategy[Setting]:
    return st.tuples(skip_settings(subject, dims=(2, 3), samples=(256,), input_kinds=("sphere", "gaussian"),
                                   forms=BARRIER_FORMS,
                                   biases=(True,), teacher=st.integers(2, 3)),
                     _ladder(scale)).map(lambda pair: {**pair[0], **pair[1]})


def _minima(subject: Subject, setting: Setting, width: int, x: Tensor, y: Tensor) -> tuple[Net, Descent]:
    """``setting["minima"]`` minima of the unit layer at ``width``, the rest of the network
    fixed (the deep branch of the first seed): unit-layer inits from seeds derived from
    the setting's, Adam then L-BFGS, all at once."""
    nets = [Net(subject, setting, width, x, y, seed=setting["seed"] + 7919 * width + r, units_only=True)
            for r in range(setting["minima"])]
    net = nets[0]
    start = torch.stack([n.theta for n in nets])
    found = descent.polish(net.flat.loss, descent.adam(net.flat.loss, start, ADAM_STEPS, 1e-2, 1e-3).points,
                           POLISH_ITERATIONS)
    return net, found


def _landscape_uncached(subject: Subject, setting: Setting) -> Evidence:
    x, y = teacher_data(setting)
    floor = FLOOR * float(y.var())
    rows = []
    for width in setting["widths"]:
        net, found = _minima(subject, setting, width, x, y)
        points = torch.stack([net.flat.normalize(p, net.units) for p in found.points])
        losses, gradients = descent.gradient(net.flat.loss, points)   # at the normalized points the paths start from
        losses, grads = losses.tolist(), gradients.norm(dim=1).tolist()
        pairs = list(itertools.combinations(range(len(points)), 2))
        a, b = points[[i for i, _ in pairs]], points[[j for _, j in pairs]]
        aligned = torch.stack([net.flat.align(p, q, net.units) for p, q in zip(a, b)])
        profiles = {"linear": paths.linear(net.flat.loss, a, b), "aligned": paths.linear(net.flat.loss, a, aligned)}
        curved = slice(0, setting["curved_pairs"])  # the curved paths cost 200 optimizer steps a pair
        if "bezier" in setting["estimators"]:
            profiles["bezier"] = paths.bezier(net.flat.loss, a[curved], aligned[curved], steps=BEZIER_STEPS,
                                              lr=BEZIER_LR, seed=setting["seed"])
        if "neb" in setting["estimators"]:
            profiles["neb"] = paths.neb(net.flat.loss, a[curved], aligned[curved], pivots=NEB_PIVOTS)
        if "dss" in setting["estimators"]:  # can a string of descended beads join the pair within the floor?
            ends = net.flat.loss(torch.cat([a[curved], aligned[curved]])).view(2, -1).max(0).values
            profiles["dss"] = [paths.dss(net.flat.loss, p[None], q[None], float(top) + 10 * floor)[0]
                               for p, q, top in zip(a[curved], aligned[curved], ends)]
        distance = (a - aligned).norm(dim=1).tolist()
        # how much descent from an endpoint could explain: at most F (F >= 0), to first order ||grad F|| d
        gains = [max(min(losses[i], grads[i] * d), min(losses[j], grads[j] * d)) for (i, j), d in zip(pairs, distance)]
        rows.append({
            "width": width, "losses": losses, "gradient_norms": grads, "pairs": pairs, "descent_gain": gains,
            **{name: [p.barrier for p in ps] for name, ps in profiles.items()},
            **({"dss_connected": [p.connected for p in profiles["dss"]]} if "dss" in profiles else {}),
            "path_max": [float(p.losses.max()) for p in profiles[PRIMARY]]})
    return {"floor": floor, "widths": rows, "n": model_in_dim(setting)}


_LANDSCAPES: dict[tuple[str, str], tuple[Subject, Evidence]] = {}


def _landscape(subject: Subject, setting: Setting) -> Evidence:
    """Minima and barriers per width for (subject, setting), computed once per process:
    barrier_width and components judge the same evidence (the latest four are kept), keyed
    by the subject's name, since each claim resolves a user's ``module:adapter`` to a
    Subject of its own, and held with the subject so that only an equal adapter (the same
    build, blocks, fixed keywords...) matches."""
    key = (subject.name, json.dumps(setting, sort_keys=True, default=str))
    if key not in _LANDSCAPES or _LANDSCAPES[key][0].adapter != subject.adapter:
        while len(_LANDSCAPES) >= 4:
            _LANDSCAPES.pop(next(iter(_LANDSCAPES)))
        _LANDSCAPES[key] = (subject, _landscape_uncached(subject, setting))
    return _LANDSCAPES[key][1]


def _accepted(row: Evidence, floor: float) -> dict[tuple[int, int], float]:
    """The primary (aligned straight-path) barrier of each pair of the row whose ends are
    minima at the barrier's resolution (descent from them explains at most GATE of it),
    clamped below at the floor, by pair (i, j)."""
    return {(i, j): max(b, floor) for (i, j), b, gain in zip(row["pairs"], row[PRIMARY], row["descent_gain"])
            if gain <= GATE * max(b, floor)}


def _barrier_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    ev = _landscape(subject, setting)
    accepted = [_accepted(row, ev["floor"]) for row in ev["widths"]]
    for row, pairs in zip(ev["widths"], accepted):
        kept = len(pairs)
        if kept < MIN_PAIRS:
            raise SubjectError(f"subject {subject.name}: at width {row['width']} only {kept} of "
                               f"{len(row['pairs'])} pairs end at minima (losses "
                               f"{', '.join(f'{v:.2g}' for v in row['losses'])}; gradient norms "
                               f"{', '.join(f'{v:.2g}' for v in row['gradient_norms'])}): no minima to compare")
    return {**ev, "accepted": [list(pairs.values()) for pairs in accepted]}   # the barriers fitted, for the figure


def barrier_slope(setting: Setting, ev: Evidence) -> tuple[float, Interval]:
    """The pooled least-squares slope of log B on log m and its bootstrap interval
    (resampling minima within each width: the pairs share them)."""
    kept = [_accepted(row, ev["floor"]) for row in ev["widths"]]
    return pairwise_slope_interval([math.log(row["width"]) for row in ev["widths"]],
                                   [{k: math.log(b) for k, b in values.items()} for values in kept],
                                   [len(row["losses"]) for row in ev["widths"]], COVERAGE, BOOTSTRAP,
                                   setting["seed"])


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3g}" if values else "-"


def _barrier_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    kept = [list(_accepted(row, ev["floor"]).values()) for row in ev["widths"]]
    table = "; ".join(
        f"m={row['width']}: {_median(r)} over {len(r)}/{len(row['pairs'])} pairs, "
        f"{sum(b <= ev['floor'] for b in r)} at the floor (straight {_median(row['linear'])}, bezier "
        f"{_median(row.get('bezier', []))}" + (f", neb {_median(row['neb'])}" if "neb" in row else "")
        + (f", strings joined {sum(row['dss_connected'])}/{len(row['dss_connected'])}" if "dss_connected" in row
           else "") + ")"
        for row, r in zip(ev["widths"], kept))
    if all(b <= ev["floor"] for r in kept for b in r):
        return Judgement(True, 0.0, f"every pair is joined within the floor {ev['floor']:.2g} at every width (no "
                                    f"barrier to fall): {table}")
    fitted, ci = barrier_slope(setting, ev)
    text = (f"median aligned barrier (floor {ev['floor']:.2g}) {table}; log-log slope {fitted:.2f}, "
            f"{int(COVERAGE * 100)}% bootstrap CI [{ci.lo:.2f}, {ci.hi:.2f}] (theory's exponent -(1 - eta)/n = "
            f"{-(1 - ETA) / ev['n']:.2f} at eta = {ETA}, n = {ev['n']}: reported, not asserted)")
    return Judgement(ci.hi < 0, -ci.hi, text if ci.hi < 0 else f"barriers do not fall with width: {text}",
                     band=(-math.inf, 0.0), interval=(ci.lo, ci.hi), unit="slope of log B on log m")


barrier_width = Claim(
    id="wang2020.barrier_width",
    cite=_cite("main theorem (depth of local minima O(m^((eta - 1)/n))) [RECON]; F&B Thm 2.4, Cor. 2.5"),
    statement="Between minima of the layer of m units the skip feeds (the rest of the network fixed), the barrier "
              "B = max_t F(gamma(t)) - max(F_A, F_B) of the straight path after aligning the units falls with m: "
              "the least-squares slope of log B on log m over the pairs of minima has a bootstrap confidence "
              "interval below 0.  B bounds the depth the theorem bounds from above (F&B's constructive path is "
              "piecewise linear in (W, a) once units are matched; the aligned straight path is its simplest "
              "instance), so a falsification says the landscape or this estimator fails to show the trend.  Raw "
              "straight paths and Bezier curves (NEB and string sampling in thorough) are reported beside it.",
    provenance="reconstructed",
    kind="rate",
    scope="theorem",
    covers="additive and two-layer skip networks (not the input-to-last-hidden form: its units read n + hidden "
           "dimensions, see BARRIER_FORMS), n = 2, 3 with a bias coordinate, spherical and Gaussian inputs, "
           "realizable teachers of 2 or 3 ReLU units, widths 8, 32, 128 (ci) or 8..128 (thorough), square loss, "
           "kappa = 0",
    family=SKIP_NET,
    settings=_barrier_settings,
    check=_barrier_check,
    judge=_barrier_judge,
    thresholds=f"Slope CI ({int(COVERAGE * 100)}%, {BOOTSTRAP} resamples of the minima within each width, pairs "
               f"sharing a minimum being dependent) upper end < 0 [notes: regress the median; pooled over pairs "
               f"here, the medians of 12 minima being too coarse]; barriers below tau = {FLOOR:g} Var(Y) count as "
               f"tau, and all at tau holds (nothing to fall); a pair counts when descent from its ends explains "
               f"at most {GATE:g} of its barrier (min(F, ||grad F|| ||theta_A - theta_B||), F >= 0), at least "
               f"{MIN_PAIRS} pairs a width; measured on the reference: see the README's barrier table.",
    requires={"form": BARRIER_FORMS},
    shares="wang2020.landscape",
    cost="expensive",
    figure=functools.partial(draw.barrier_width, eta=ETA, coverage=COVERAGE),
)


LEVELS = (0.25, 0.5)   # lambda: these quantiles of the aligned path maxima pooled over every width


def components(row: Evidence, level: float) -> tuple[int, int]:
    """(N, R_in): connected components of the minima in the sub-level set {F <= level}, an
    edge wherever the aligned straight path stays at or below the level, and how many
    minima lie in the set (union-find over the pairs)."""
    inside = [i for i, f in enumerate(row["losses"]) if f <= level]
    parent = {i: i for i in inside}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i
    for (i, j), top in zip(row["pairs"], row["path_max"]):
        if i in parent and j in parent and top <= level:
            parent[root(i)] = root(j)
    return len({root(i) for i in inside}), len(inside)


def _components_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    ev = _landscape(subject, setting)
    pooled = numpy.array([top for row in ev["widths"] for top in row["path_max"]])
    levels = [float(numpy.quantile(pooled, q)) for q in LEVELS]
    counts = [[components(row, level) for row in ev["widths"]] for level in levels]
    for level, row_counts in zip(levels, counts):
        if sum(inside >= 2 for _, inside in row_counts) < 2:
            raise SubjectError(f"subject {subject.name}: fewer than two widths have two minima below the level "
                               f"{level:.3g} (minima inside by width: {[r for _, r in row_counts]}): nothing to compare")
    return {"widths": [row["width"] for row in ev["widths"]], "levels": levels, "counts": counts}


def _components_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    parts, shown = [], []
    for q, level, counts in zip(LEVELS, ev["levels"], ev["counts"]):
        usable = [(m, n, inside) for m, (n, inside) in zip(ev["widths"], counts) if inside >= 2]
        (m0, n0, r0), (m1, n1, r1) = usable[0], usable[-1]
        shown.append(f"lambda = {level:.3g} (q{q:g}): N = {[c for c, _ in counts]} of {[r for _, r in counts]} minima")
        parts.append((n0 / r0 - n1 / r1, f"at lambda = {level:.3g} the minima fall into {n1} components of {r1} at "
                                         f"m = {m1}, a larger share than {n0} of {r0} at m = {m0}"))
    return worst_of(parts, f"components per minimum do not grow with m = {ev['widths']}: " + "; ".join(shown))


components_claim = Claim(
    id="wang2020.components",
    cite=_cite("Prop. 2.1 and Sect. 3 (sub-level sets become connected as m grows)", fb=True),
    statement="Graph the minima found at width m inside the sub-level set {F <= lambda}, an edge where the aligned "
              "straight path between two stays below lambda: the number of connected components per minimum inside, "
              "N(lambda) / R_in, at the largest width is at most that at the smallest (of the widths with two minima "
              "inside), at levels lambda = the quartile and the median of the path maxima pooled over the widths.",
    provenance="derived",
    kind="rate",
    scope="theorem",
    covers="as wang2020.barrier_width (the same minima and paths)",
    family=SKIP_NET,
    settings=_barrier_settings,
    check=_components_check,
    judge=_components_judge,
    thresholds="N / R_in at m = 128 <= N / R_in at m = 8 (ci; F&B Fig. 1's trend). The straight path is one path, "
               "so an edge is certain and a missing edge is not: N is an upper bound on the true count. Margin: the "
               "drop in N / R_in.",
    requires={"form": BARRIER_FORMS},
    shares="wang2020.landscape",
    cost="expensive",
    figure=draw.components,
)


# E-P6: the estimators' calibration (fixed problems) and the relabelled copy (the subject) -------------

SWAP_HIGH, SWAP_LOW = 0.2, 0.02   # best barrier / E[y^2]: at least at m = 2, at most at m = 8
CALIBRATION_SEED = 0              # (i) and (ii) are fixed problems, computed once per process


@functools.cache
def _linear_nets() -> Evidence:
    """(i) F&B Prop. 2.2: minima of f = a . (W x) (m = 4, n = 3, y linear plus noise), NEB
    between three pairs; the true barrier is 0."""
    g = generator(CALIBRATION_SEED)
    x = torch.randn(128, 3, generator=g, dtype=torch.float64)
    y = x @ torch.randn(3, generator=g, dtype=torch.float64) + 0.1 * torch.randn(128, generator=g, dtype=torch.float64)
    nets = [LinearNet(3, 4, generator(CALIBRATION_SEED + 1 + r)) for r in range(6)]
    flat = Flat(nets[0], x, y)
    start = torch.stack([Flat(net, x, y).point() for net in nets])
    found = descent.polish(flat.loss, descent.adam(flat.loss, start, ADAM_STEPS, 1e-2, 1e-3).points,
                           POLISH_ITERATIONS)
    profiles = paths.neb(flat.loss, found.points[0::2], found.points[1::2], pivots=NEB_PIVOTS)
    return {"barriers": [p.barrier for p in profiles], "floor": FLOOR * float(y.var()),
            "gradient_norm": float(found.gradient_norms.max())}


def _two_clusters() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """F&B Sect. 2.3.1's situation [DERIVED]: inputs in two tight clusters (std 0.05 around
    e_1 and e_2, bias appended), a teacher of two units each active on one cluster, with
    readouts +1 and -1 (so no single unit can serve both).  Returns x, y, V, b."""
    g = generator(CALIBRATION_SEED)
    side = torch.randint(0, 2, (128,), generator=g)
    x = torch.eye(2, dtype=torch.float64)[side] + 0.05 * torch.randn(128, 2, generator=g, dtype=torch.float64)
    x = torch.cat([x, torch.ones(128, 1, dtype=torch.float64)], 1)
    v = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]], dtype=torch.float64) / math.sqrt(2)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    return x, torch.relu(x @ v.T) @ b, v, b


@functools.cache
def _swapped_teacher() -> Evidence:
    """(ii) the two global minima theta_A = teacher, theta_B = its units swapped, in a two-layer
    net of m = 2 units and of m = 8 (six spare units with zero readout, the same in both):
    Bezier and NEB barriers between them (not aligned: alignment would undo the swap)."""
    x, y, v, b = _two_clusters()
    out: Evidence = {"mean_square": float(y.pow(2).mean())}
    for width in (2, 8):
        net = skip_net(3, width, generator=generator(CALIBRATION_SEED + 1), form="two_layer")
        flat, units = Flat(net, x, y), Units(("units",), ("readout",), width)
        w = flat.rows(flat.point(), "units", width).clone()
        w[:2] = v
        readout = torch.zeros(width, 1, dtype=torch.float64)
        readout[:2, 0] = b
        a = flat.with_rows(flat.with_rows(flat.point(), "units", w), "readout", readout)
        swap = torch.arange(width)
        swap[:2] = torch.tensor([1, 0])
        ends = (a[None], flat.permute(a, units, swap)[None])
        out[str(width)] = {"linear": paths.linear(flat.loss, *ends)[0].barrier,
                           "bezier": paths.bezier(flat.loss, *ends, steps=300, lr=BEZIER_LR)[0].barrier,
                           "neb": paths.neb(flat.loss, *ends, pivots=NEB_PIVOTS)[0].barrier,
                           "ends": flat.loss(torch.cat(ends)).tolist()}
    return out


def _estimators_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    return {"linear_nets": _linear_nets(), "swap": _swapped_teacher()}


def _estimators_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    lin, swap = ev["linear_nets"], ev["swap"]
    high = min(swap["2"]["bezier"], swap["2"]["neb"]) / swap["mean_square"]
    low = min(swap["8"]["bezier"], swap["8"]["neb"]) / swap["mean_square"]
    parts = [
        (math.log10(lin["floor"] / max(max(lin["barriers"]), 1e-300)),
         f"NEB finds a barrier {max(lin['barriers']):.3g} between minima of a linear net, above the floor "
         f"{lin['floor']:.3g} (Prop. 2.2: none exists): the estimator reports false barriers"),
        (math.log10(high / SWAP_HIGH), f"the swapped teacher at m = 2 shows a barrier of only {high:.3g} E[y^2] "
                                       f"(expected >= {SWAP_HIGH}): the estimators miss a true barrier"),
        (math.log10(SWAP_LOW / max(low, 1e-300)), f"the swapped teacher at m = 8 keeps a barrier of {low:.3g} "
                                                  f"E[y^2] (expected <= {SWAP_LOW})")]
    return worst_of(parts, f"linear nets: NEB barriers <= {max(lin['barriers']):.2g} (floor {lin['floor']:.2g}); "
                           f"swapped teacher: best of Bezier and NEB {high:.2f} E[y^2] at m = 2, {low:.2g} at m = 8 "
                           f"(straight path {swap['2']['linear'] / swap['mean_square']:.2f})")


estimators = Claim(
    id="wang2020.estimators",
    cite=_cite("Prop. 2.2, Sect. 2.3.1 (the estimators behind the barrier claims)", fb=True),
    statement="The barrier estimators mean what they say on fixed problems: NEB finds no barrier above the floor "
              "between minima of a linear net (whose sub-level sets are connected, Prop. 2.2), and between a "
              "teacher and its swapped copy in a two-cluster problem the best of Bezier and NEB is >= 0.2 E[y^2] "
              "at m = 2 and <= 0.02 E[y^2] at m = 8 (spare units open a path).",
    provenance="derived",
    kind="identity",
    scope="reference-conformance",
    covers="fixed problems (a linear net, F&B's two-layer net on two clusters): the estimators, not the subject",
    family=SKIP_NET,
    settings=lambda scale, subject: st.fixed_dictionaries({"seed": st.just(CALIBRATION_SEED)}),
    check=_estimators_check,
    judge=_estimators_judge,
    thresholds="Floor 1e-4 Var(Y) [notes] (measured with 17 pivots: 4.5e-6..3.1e-5 vs 8.7e-5); 0.2 and 0.02 E[y^2] "
               "(measured 0.63 and 0.0015: margins 3x and 13x; F&B: risk >= 1/2 on the straight path, here "
               "E[y^2] = 0.489). Calibrated on these problems: reference conformance of the estimators.",
    cost="expensive",
    figure=functools.partial(draw.estimators, swap_high=SWAP_HIGH, swap_low=SWAP_LOW),
)


def _relabelled_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = teacher_data(setting)
    net = Net(subject, setting, setting["width"], x, y)
    perm = torch.randperm(setting["width"], generator=generator(setting["seed"] + 5))
    copy = net.flat.permute(net.theta, net.units, perm)
    ends = net.flat.loss(torch.stack([net.theta, copy]))
    aligned = net.flat.align(net.theta, copy, net.units)
    raw, straight = (paths.linear(net.flat.loss, net.theta[None], end[None])[0] for end in (copy, aligned))
    return {"losses": ends.tolist(), "raw": raw.barrier, "aligned": straight.barrier,
            "raw_path": raw.losses.tolist(), "aligned_path": straight.losses.tolist()}   # F along each path, for the figure


def _relabelled_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    scale = abs(ev["losses"][0]) + 1.0
    parts = [(decades(abs(ev["losses"][1] - ev["losses"][0]), ROUNDOFF * scale),
              f"relabelling the subject's units changed F from {ev['losses'][0]:.6g} to {ev['losses'][1]:.6g}: the "
              f"copy is not the same network"),
             (decades(max(ev["aligned"], 0.0), ROUNDOFF * scale),
              f"after alignment a relabelled copy still shows a barrier of {ev['aligned']:.3g}")]
    return worst_of(parts, f"relabelled copy: same F, raw straight-path barrier {ev['raw']:.3g}, "
                           f"{ev['aligned']:.2g} after alignment")


relabelled_copy = Claim(
    id="wang2020.relabelled_copy",
    cite=_cite("Prop. 2.1 (isolated minima at equal loss under permutation)", fb=True),
    statement="Relabelling the units (W, U, b rows and a entries together) leaves F unchanged, and after aligning "
              "the units (Hungarian assignment on unit cosines) the straight path between a point and its "
              "relabelled copy is flat: the alignment behind barrier_width undoes the symmetry exactly.",
    provenance="derived",
    kind="identity",
    scope="theorem",
    covers="skip networks of every form and the plain net, widths 2..32, random parameters, teacher targets",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, forms=SKIP_FORMS + ("plain",),
                                                  width=st.sampled_from([2, 4, 8, 32]), teacher=st.integers(1, 4)),
    check=_relabelled_check,
    judge=_relabelled_judge,
    thresholds="Exact, to 1e-10 relative.",
    cost="cheap",
    figure=functools.partial(draw.relabelled_copy, roundoff=ROUNDOFF),
)


# E-P5, second part: skip against no skip ---------------------------------------------------------

def _skip_vs_plain_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    if not subject.adapter.accepts("form"):
        raise SubjectError(f"subject {subject.name}: build must take form= ('plain' and a skip form) to be compared "
                           f"with its own counterpart without skip")
    skip = _landscape(subject, setting)
    plain = _landscape(subject, {**setting, "form": "plain"})
    return {"floor": min(skip["floor"], plain["floor"]), "widths": [
        {"width": a["width"], "minima": len(a["losses"]), "pairs": a["pairs"], "skip": a[PRIMARY], "plain": b[PRIMARY]}
        for a, b in zip(skip["widths"], plain["widths"])]}


def _mean(rows: list[list[float]]) -> float:
    values = [v for row in rows for v in row]
    return statistics.fmean(values) if values else math.nan


def _skip_vs_plain_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    floor = ev["floor"]
    levels = [{tuple(p): math.log(max(a, floor) / max(b, floor)) for p, a, b in zip(r["pairs"], r["skip"], r["plain"])}
              for r in ev["widths"]]
    mean, boot = unit_bootstrap(levels, [r["minima"] for r in ev["widths"]], _mean, SIGN_RESAMPLES, setting["seed"])
    se = statistics.stdev(boot)
    bound = mean + NormalDist().inv_cdf(1 - ctx.alpha) * se
    table = "; ".join(f"m={r['width']}: {statistics.median(r['skip']):.3g} vs {statistics.median(r['plain']):.3g}"
                      for r in ev["widths"])
    text = (f"mean log(B_skip / B_plain) = {mean:.2f} (bootstrap SE {se:.2f}, one-sided upper bound {bound:.2f} at "
            f"alpha = {ctx.alpha:.2g}); median aligned barrier, skip vs plain: {table}")
    return Judgement(bound < 0, -bound, text if bound < 0 else f"the skip does not lower the barrier: {text}",
                     band=(-math.inf, 0.0), interval=(-math.inf, bound), unit="mean log(B_skip / B_plain)")


skip_vs_plain = Claim(
    id="wang2020.skip_vs_plain",
    cite=_cite("Fig. 1 (ResNet-56 loss surfaces with and without skip connections) [illustration]"),
    statement="The aligned straight-path barrier between minima of the unit layer is lower with the skip (units "
              "read x) than in the same network without it (units read h_L(x)): the mean over pairs and widths of "
              "log(B_skip / B_plain) is below 0, by a one-sided test at the example's alpha.",
    provenance="reconstructed",
    kind="converse",
    scope="reference-conformance",
    covers="the reference's additive and two-layer forms against its plain form, as barrier_width's settings",
    family=SKIP_NET,
    settings=_barrier_settings,
    check=_skip_vs_plain_check,
    judge=_skip_vs_plain_judge,
    thresholds="mean + z_(1 - alpha) SE < 0, SE from 200 resamples of the minima (pairs share them; the notes' sign "
               "test over the 18 pairs that share none reached only 15/18, p = 0.0038, with barriers 3 to 8 times "
               "lower with the skip) [notes: qualitative, Li et al. 2018 / Wang et al. Fig. 1]. A comparison of the "
               "paper's two models, not a theorem.",
    requires={"form": BARRIER_FORMS},
    shares="wang2020.landscape",
    cost="expensive",
    search={"ci": 1, "smoke": 1},
    figure=draw.skip_vs_plain,
)


CLAIMS = [kernel_sandwich, arccos_oracle, merge_inequality, exact_legs, relabelled_copy, barrier_width,
          components_claim, estimators, skip_vs_plain]
