"""Wang et al., "Is the Skip Connection Provable to Reform the Neural Network Loss
Landscape?" (IJCAI 2020, arXiv:2006.05939), on Freeman & Bruna, "Topology and Geometry
of Half-Rectified Network Optimization" (ICLR 2017, arXiv:1611.01540).

Family ``skip-net``: m ReLU units fed by the input x (the skip) and read by a linear
readout a, beside a deep ReLU branch (additive or into the units [RECON]), square loss
F(theta) = (1/N) sum_i (f(x_i; theta) - y_i)^2 on the empirical measure.  The units'
features the readout reads are measured through the subject's own forward pass:
Z_j(x) = f(x; a = e_j) - f(x; a = 0) with any lateral input u zeroed, which is
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
* barrier_width     (E-P5, Wang et al.'s main claim [RECON]) the barrier between minima falls with width m:
                    the bootstrap CI of the log-log slope of the median barrier lies below 0.
* components        (E-P7) the number of connected components of minima at a fixed level does not grow
                    with m.
* calibration       (E-P6) the estimators behind E-P5: no barrier between linear-net minima (Prop 2.2), a
                    barrier between the swapped minima of F&B's m = 2 counterexample that falls at m = 8,
                    and no barrier between a point and its relabelled copy after alignment.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import torch
from hypothesis import strategies as st
from torch import Tensor

from resclaims.claim import Cite, Claim, Context, Evidence, Judgement, Setting
from resclaims.core.data import generator
from resclaims.core.descent import gradient
from resclaims.core.flat import Flat, Units
from resclaims.family import Subject, SubjectError
from resclaims.models.wang2020 import SKIP_FORMS, SKIP_NET
from resclaims.strategies.sublevel import inputs, model_in_dim, skip_settings, teacher_data
from resclaims.verdicts import decades, worst_of

ROUNDOFF = 1e-10   # relative float64 slack of an exact (in)equality [notes: 1e-10]
ARCH = ("form", "depth", "hidden")
GRADIENT_TOL = 1e-4  # autograd vs central differences, relative to ||grad F||
FD_ROUNDOFF = 1e-15  # float64 roundoff of one loss evaluation, relative to |F|


def _cite(where: str, fb: bool = False) -> Cite:
    if fb:
        return Cite("Freeman & Bruna", 2017, "1611.01540", where)
    return Cite("Wang, Shen, Zhao & Zhang", 2020, "2006.05939", where)


class Net:
    """The subject's model at ``width`` units for a setting, as a function of one flat
    parameter vector (:class:`~resclaims.core.flat.Flat`) on data (x, y), with its unit
    layer located through the parts ``units`` (W), ``readout`` (a) and, when the
    subject has one, ``lateral`` (U)."""

    def __init__(self, subject: Subject, setting: Setting, width: int, x: Tensor, y: Tensor,
                 seed: int | None = None, **overrides: Any) -> None:
        keys = {k: setting[k] for k in ARCH if k in setting}
        self.model = subject.build(setting["seed"] if seed is None else seed, dtype=torch.float64,
                                   in_dim=model_in_dim(setting), width=width, **{**keys, **overrides})
        self.flat = Flat(self.model, x, y)
        names = {id(p): n for n, p in self.model.named_parameters()}

        def located(part: str) -> str:
            tensor = subject.part(part, self.model)
            if id(tensor) not in names:
                raise SubjectError(f"subject {subject.name}: part {part!r} must be a parameter of the model")
            return names[id(tensor)]
        has_lateral = "lateral" in subject.adapter.parts or hasattr(self.model, "lateral")
        self.w, self.a = located("units"), located("readout")
        self.u = located("lateral") if has_lateral else None
        self.units = Units((self.w,) + ((self.u,) if self.u else ()), (self.a,), width)
        w = dict(self.model.named_parameters())[self.w]
        if w.numel() % width or dict(self.model.named_parameters())[self.a].numel() != width:
            raise SubjectError(f"subject {subject.name}: units must have one row and readout one entry per unit "
                               f"(width {width}); got units {tuple(w.shape)}")
        self.width = width
        self.theta = self.flat.point()

    def rows(self, theta: Tensor, name: str) -> Tensor:
        return self.flat.rows(theta, name, self.width)

    def set(self, theta: Tensor, name: str, rows: Tensor) -> Tensor:
        return self.flat.with_rows(theta, name, rows)

    def features(self, theta: Tensor, x: Tensor) -> Tensor:
        """Z (N, m): Z_j = f(x; a = e_j) - f(x; a = 0), any lateral input zeroed; relu(W x)
        for a skip network.  Each call gets its own copy of x."""
        if self.u is not None:
            theta = self.set(theta, self.u, torch.zeros_like(self.rows(theta, self.u)))
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
    w1 = basis[:, 0]
    w2 = math.cos(alpha) * basis[:, 0] + math.sin(alpha) * basis[:, 1]
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
)


# E-P1: the Gaussian arc-cosine oracle ------------------------------------------------------

ORACLE_SAMPLES = 2 ** 18


def arc_cosine(alpha: float) -> float:
    """k(alpha) = E[relu(w1.x) relu(w2.x)] / E[relu(w.x)^2] for unit w1, w2 at angle alpha
    and x ~ N(0, I): (sin a + (pi - a) cos a) / pi (Cho & Saul 2009, degree 1)."""
    return (math.sin(alpha) + (math.pi - alpha) * math.cos(alpha)) / math.pi


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
                                          f"units of w . x)")
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
        if net.u is not None:  # unit j reads h through unit k's lateral row: only w differs
            u = net.rows(before, net.u)
            before = net.set(before, net.u, torch.cat([u[1:2], u[1:]]))
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
    covers="skip networks of every form (in the last-hidden form unit j shares unit k's lateral row), widths 2..32, "
           "random parameters, teacher targets, every input kind, alpha from pi/2 down to 1e-5",
    family=SKIP_NET,
    settings=lambda scale, subject: skip_settings(subject, width=st.sampled_from([2, 4, 8, 32]),
                                                  teacher=st.integers(1, 4), alpha=_alpha(1e-3)),
    check=_merge_check,
    judge=_merge_judge,
    thresholds=f"Exact inequality; slack {ROUNDOFF:g} (F + bound) for float64 roundoff.",
    requires={"form": SKIP_FORMS},
    cost="cheap",
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
    slope = float(grad[0] @ direction)
    step = 1e-6 * (1 + float(theta.norm()))
    ends = net.flat.loss(torch.stack([theta + step * direction, theta - step * direction]))
    finite = float(ends[0] - ends[1]) / (2 * step)
    return {"line_excess": float(line.max()) - max(f_a, f_b), "line_scale": float(line.abs().max()) + 1.0,
            "quadratic_error": float((line - quad).abs().max()), "curvature": curvature,
            "unused": unused, "homogeneity": moved(net.flat.scale(theta, net.units, factors)),
            "permutation": moved(net.flat.permute(theta, net.units, perm)), "per_sample": batch,
            "gradient_error": abs(slope - finite) / (float(grad.norm()) + abs(float(value[0])) * FD_ROUNDOFF / step),
            "gradient_norm": float(grad.norm())}


def _legs_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    exact = [("unused", "redrawing the input row of a unit whose readout is 0 changed f by {:.3g} (relative): "
                        "that unit's readout multiplies another unit"),
             ("homogeneity", "(w_j, u_j, a_j) -> (c w_j, c u_j, a_j / c) changed f by {:.3g} (relative): the units "
                             "are not positively homogeneous (not ReLU?)"),
             ("permutation", "relabelling the units (rows of W, U and entries of a together) changed f by {:.3g} "
                             "(relative)"),
             ("per_sample", "f on the first rows of the batch differs from the first rows of f by {:.3g} (relative): "
                            "samples are coupled")]
    parts = [(decades(ev[key], ROUNDOFF), text.format(ev[key])) for key, text in exact]
    parts += [
        _at_most(ev["line_excess"], 0.0, ev["line_scale"],
                 f"F along a line of readouts rose {ev['line_excess']:.4g} above its ends: not convex in the readout"),
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
)



CLAIMS = [kernel_sandwich, arccos_oracle, merge_inequality, exact_legs]
