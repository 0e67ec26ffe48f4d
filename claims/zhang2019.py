"""Zhang, Yu, Yi, Chen, Liu: "Stabilize Deep ResNet with A Sharp Scaling Factor tau",
Machine Learning 111 (2022), arXiv:1903.07120.

Model (family ``tau-resnet``): h_0 = ReLU(A x), h_l = ReLU(h_{l-1} + tau W_l h_{l-1}),
y = B h_L, with A, W_l ~ N(0, 2/m), B ~ N(0, 1/d).  With r_l = ||h_l|| / ||h_0||:

* forward_stable     tau = c/sqrt(L): r_l bounded above and below for all l <= L.
* backward_stable    tau <= 1/sqrt(L): ||d h_L / d h_0||_2 bounded.
* forward_converse   tau = L^(-1/2+c): r_L unbounded, log r_L ~ L^(2c).
* forward_constant   log r_L = kappa tau^2 L with kappa ~ 1 at the N(0, 2/m) init.
* gradient_scale     tau = 1/sqrt(L): ||grad_W F|| / sqrt(F) saturates in L,
                     and is spread evenly over the layers.
* gd_depth_free      GD on W converges linearly at a rate independent of L.
* trains_without_norm  tau = 1/sqrt(L) trains deep nets with no normalization.

Statistics: each example evaluates S seeds at once.  High-probability claims use the
exact binomial exceedance test (H0: P(violation) <= P0); rate and converse claims the
order-statistic interval of the per-seed median; both at alpha = budget / examples.
"""
from __future__ import annotations

import math
import torch
from hypothesis import strategies as st
from torch import Tensor

from resclaims.claim import Cite, Claim, Context, Evidence, Judgement, Scale, Setting
from resclaims.core import data, jacobian, sweeps, train
from resclaims.core.ensemble import Ensemble
from resclaims.family import Subject
from resclaims.models.zhang2019 import TAU_RESNET
from resclaims.stats import (band_margin, exceedance, median_interval, r_squared, seeds_for_exceedance,
                             seeds_for_median, slope)
from resclaims.strategies.architectures import constants, residual_settings, seeds, widths_fitting

AUTHORS = "Zhang, Yu, Yi, Chen, Liu"
ARXIV = "1903.07120"
IN_DIM = 16          # p, input dimension (the notes' reference measurements)
SAMPLES = 32         # n, inputs per forward sweep
P0 = 0.1             # "w.h.p." made testable: H0 allows up to 10% of inits to violate
MIN_SEEDS = 10       # S is at least this, more when alpha asks for it


def _cite(where: str) -> Cite:
    return Cite(AUTHORS, 2022, ARXIV, where)


def _ensemble(subject: Subject, setting: Setting, ctx: Context, depth: int, tau: float, count: int,
              samples: int = SAMPLES, out_dim: int = 1, dtype: torch.dtype = torch.float64,
              ) -> tuple[Ensemble, Tensor]:
    """``count`` models of ``subject`` (seeds derived from setting['seed']) and their
    inputs: ``samples`` points on the unit sphere of R^IN_DIM."""
    x = data.unit_sphere(samples, IN_DIM, setting["seed"], dtype).to(ctx.device)

    def build(seed: int) -> torch.nn.Module:
        return subject.build(seed, dtype=dtype, device=ctx.device, depth=depth, width=setting["width"],
                             tau=tau, in_dim=IN_DIM, out_dim=out_dim)
    return Ensemble(build, data.spawn(setting["seed"], count), x), x


def _hp_seeds(ctx: Context) -> int:
    return max(MIN_SEEDS, seeds_for_exceedance(P0, ctx.alpha))


def _rate_seeds(ctx: Context, tests: int = 1) -> int:
    """Seeds for ``tests`` median intervals sharing the per-example budget alpha."""
    return max(MIN_SEEDS, seeds_for_median(ctx.alpha / tests))


def _log_ratios(ens: Ensemble, x: Tensor) -> Tensor:
    """log r_l = log ||h_l|| - log ||h_0||, shape (S, n, L + 1)."""
    logs = sweeps.log_norms(ens, x)
    return logs - logs[..., :1]


def _exceedance_judgement(violations: list[float], ctx: Context, what: str) -> Judgement:
    test = exceedance(violations, P0, ctx.alpha)
    return Judgement(not test.reject, test.margin,
                     f"{test.failures}/{len(violations)} seeds {what} (falsified at >= {test.needed}, "
                     f"p={test.p_value:.2g})")


def _band_judgement(values: list[float], lo: float, hi: float, ctx: Context, name: str) -> Judgement:
    ci = median_interval(values, ctx.alpha)
    margin = band_margin(ci, lo, hi)
    inside = not ci.disjoint_from(lo, hi)
    return Judgement(inside, margin, f"median {name} in {ci} {'meets' if inside else 'misses'} "
                                     f"[{lo:.3g}, {hi:.3g}]")


# D-T1 ------------------------------------------------------------------------------

def _forward_stable_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    depth, c = setting["depth"], setting["c"]
    ens, x = _ensemble(subject, setting, ctx, depth, c / math.sqrt(depth), _hp_seeds(ctx))
    lr = _log_ratios(ens, x)
    max_r = lr.amax(dim=(1, 2)).exp()
    min_r = lr.amin(dim=(1, 2)).exp()
    return {"tau": c / math.sqrt(depth), "upper": 1.5 * math.exp(c ** 2), "lower": 0.5,
            "max_r": max_r, "min_r": min_r, "q90_max_r": float(max_r.quantile(0.9)),
            "q10_min_r": float(min_r.quantile(0.1)), "seeds": ens.size, "batched": ens.batched,
            "r_median_by_layer": lr.exp().median(dim=1).values.median(dim=0).values}


def _forward_stable_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    violations = [max(math.log(hi_r / ev["upper"]), math.log(ev["lower"] / lo_r))
                  for hi_r, lo_r in zip(ev["max_r"], ev["min_r"])]
    j = _exceedance_judgement(violations, ctx, f"leave [{ev['lower']}, {ev['upper']:.3g}]")
    return Judgement(j.holds, j.margin, f"q90 max r={ev['q90_max_r']:.3g}, q10 min r="
                                        f"{ev['q10_min_r']:.3g}; {j.summary}")


forward_stable = Claim(
    id="zhang2019.forward_stable",
    cite=_cite("abstract; Sect. 3 (forward stability)"),
    statement="For tau = c/sqrt(L), c <= 1, w.h.p. over the init every r_l = ||h_l||/||h_0||, "
              "l <= L, lies in [0.5, 1.5 e^{c^2}], uniformly in L.",
    provenance="paper",
    kind="high-probability",
    family=TAU_RESNET,
    settings=lambda scale: residual_settings(scale, depths=(4, 1024), widths=(64, 128, 256), c=(0.25, 1.0)),
    check=_forward_stable_check,
    judge=_forward_stable_judge,
    thresholds="Form [PAPER]. Constants [DERIVED]: log r_L ~ tau^2 L = c^2, so r -> e^{c^2}; the "
               "notes measure q90/median <= 1.25 at m >= 64 and we measured q90 max_l r = 3.04 at "
               "c = 1 (bound 4.08, margin 1.34x), q10 min_l r = 0.95 (bound 0.5, 1.9x).",
    cost="cheap",
)


# D-T2 ------------------------------------------------------------------------------

JACOBIAN_BOUND = 10.0


def _backward_stable_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    depth, c = setting["depth"], setting["c"]
    ens, x = _ensemble(subject, setting, ctx, depth, c / math.sqrt(depth), _hp_seeds(ctx), samples=8)
    norms = jacobian.jacobian_norm(ens, x, iterations=30, seed=setting["seed"])
    return {"tau": c / math.sqrt(depth), "bound": JACOBIAN_BOUND, "jacobian_norm": norms,
            "median": float(norms.median()), "max": float(norms.max()), "seeds": ens.size}


def _backward_stable_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    violations = [math.log(v / ev["bound"]) if v > 0 else -math.inf for v in ev["jacobian_norm"]]
    j = _exceedance_judgement(violations, ctx, f"have ||J|| > {ev['bound']:g}")
    return Judgement(j.holds, j.margin, f"median ||dh_L/dh_0||={ev['median']:.3g}, max={ev['max']:.3g}; "
                                        f"{j.summary}")


backward_stable = Claim(
    id="zhang2019.backward_stable",
    cite=_cite("abstract; Sect. 3 (backward stability)"),
    statement="For tau = c/sqrt(L), c <= 1, w.h.p. the input-output Jacobian satisfies "
              "||d h_L / d h_0||_2 <= 10, uniformly in L.",
    provenance="paper",
    kind="high-probability",
    family=TAU_RESNET,
    settings=lambda scale: residual_settings(scale, depths=(4, 256), widths=(64, 128), c=(0.25, 1.0)),
    check=_backward_stable_check,
    judge=_backward_stable_judge,
    thresholds="Form [PAPER]. Bound 10 from the notes' table (median 4.1-4.5 at tau = 1/sqrt(L), "
               "L = 4..1024); we measured median 4.4-4.5, max 5.15 over 10 seeds at m = 128, L = 16..256 "
               "(margin 1.9x). Power iteration (30 steps) underestimates by < 3% (measured vs 100 steps).",
    cost="expensive",
)


# D-T3 ------------------------------------------------------------------------------

CONVERSE_DEPTHS = (64, 256, 1024)


def _converse_settings(scale: Scale) -> st.SearchStrategy[Setting]:
    return st.fixed_dictionaries({
        "c": constants(0.1, 0.35),
        "width": widths_fitting(scale, CONVERSE_DEPTHS[-1], (64, 128, 256)),
        "seed": seeds(),
    })


def _forward_converse_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    c, count = setting["c"], _rate_seeds(ctx)
    log_r = []  # per depth: median over samples of log r_L, shape (S,)
    for depth in CONVERSE_DEPTHS:
        ens, x = _ensemble(subject, setting, ctx, depth, depth ** (-0.5 + c), count)
        log_r.append(_log_ratios(ens, x)[..., -1].median(dim=1).values)
        del ens
    table = torch.stack(log_r, dim=1)  # (S, depths)
    log_depth = [math.log(d) for d in CONVERSE_DEPTHS]
    slopes = [slope(log_depth, [math.log(v) if v > 0 else math.nan for v in row]) for row in table.tolist()]
    medians = table.median(dim=0).values.tolist()
    return {"depths": list(CONVERSE_DEPTHS), "taus": [d ** (-0.5 + c) for d in CONVERSE_DEPTHS],
            "median_log_r": medians, "growing": all(a < b for a, b in zip(medians, medians[1:])),
            "slopes": slopes, "predicted": 2 * c, "band": [2 * c - 0.1, 2 * c + 0.15],
            "seeds": count}


def _forward_converse_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    lo, hi = ev["band"]
    j = _band_judgement(ev["slopes"], lo, hi, ctx, "d log log r / d log L")
    holds = j.holds and ev["growing"]
    return Judgement(holds, j.margin if ev["growing"] else min(j.margin, -1.0),
                     f"log r_L = {', '.join(f'{v:.3g}' for v in ev['median_log_r'])} at L = "
                     f"{ev['depths']}; {j.summary}")


forward_converse = Claim(
    id="zhang2019.forward_converse",
    cite=_cite("abstract (v2-v5): tau > L^(-1/2+c) makes the forward process unbounded"),
    statement="For tau = L^(-1/2+c), c > 0, r_L grows without bound in L: the median log r_L "
              "increases over L = 64, 256, 1024 with d log log r_L / d log L in [2c - 0.1, 2c + 0.15].",
    provenance="paper",
    kind="converse",
    family=TAU_RESNET,
    settings=_converse_settings,
    check=_forward_converse_check,
    judge=_forward_converse_judge,
    thresholds="Unboundedness [PAPER]; exponent 2c [DERIVED]: log r ~ tau^2 L = L^(2c). Band from "
               "the notes (reference slopes 0.264, 0.561, 0.762 at c = 0.1, 0.25, 0.35); we measured "
               "per-seed slopes 0.20-0.30, 0.54-0.59, 0.74-0.78 at m = 64 (6 seeds each).",
    cost="medium",
    examples=({"c": 0.25, "width": 64, "seed": 0},),
)


# kappa -----------------------------------------------------------------------------

def _forward_constant_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    depth, c = setting["depth"], setting["c"]
    tau = c / math.sqrt(depth)
    ens, x = _ensemble(subject, setting, ctx, depth, tau, _rate_seeds(ctx))
    kappa = (_log_ratios(ens, x)[..., -1] / (tau ** 2 * depth)).median(dim=1).values
    return {"tau": tau, "kappa": kappa, "band": [0.6, 1.4], "seeds": ens.size}


def _forward_constant_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    return _band_judgement(list(ev["kappa"]), *ev["band"], ctx, "kappa = log r_L/(tau^2 L)")


forward_constant = Claim(
    id="zhang2019.forward_constant",
    cite=_cite("Sect. 2 model; heuristic log r ~ tau^2 L (notes D-T1)"),
    statement="At the N(0, 2/m) init, log r_L = kappa tau^2 L with kappa in [0.6, 1.4] "
              "(median over inits), for tau = c/sqrt(L), c in [0.5, 1], L >= 64.",
    provenance="derived",
    kind="rate",
    family=TAU_RESNET,
    settings=lambda scale: residual_settings(scale, depths=(64, 1024), widths=(64, 128, 256), c=(0.5, 1.0)),
    check=_forward_constant_check,
    judge=_forward_constant_judge,
    thresholds="Band [0.6, 1.4] from the notes (kappa ~ 1 at 2/m). We measured per-sample kappa "
               "medians 0.77 (L = 16), 0.86 (64), 0.93 (256) at m = 128; N(0, 1/m) gives 0.40-0.47, "
               "torch's default init 0.15.",
    cost="cheap",
)


# D-T4 ------------------------------------------------------------------------------

GRADIENT_DEPTHS = (64, 256)
GRADIENT_OUT_DIM = 16  # d: F sums n d squared residuals, so sqrt(F) concentrates


def _gradient_settings(scale: Scale) -> st.SearchStrategy[Setting]:
    return st.fixed_dictionaries({"width": widths_fitting(scale, GRADIENT_DEPTHS[-1], (64, 128, 256)),
                                  "seed": seeds()})


def _gradient_scale_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    count = _rate_seeds(ctx, tests=2)
    x = data.unit_sphere(SAMPLES, IN_DIM, setting["seed"]).to(ctx.device)
    y = data.gaussian_targets(SAMPLES, GRADIENT_OUT_DIM, setting["seed"] + 1).to(ctx.device)
    ratios, spread = [], None
    for depth in GRADIENT_DEPTHS:
        ens, _ = _ensemble(subject, setting, ctx, depth, 1 / math.sqrt(depth), count, out_dim=GRADIENT_OUT_DIM)
        loss, layer_grads = train.layer_gradients(ens, x, y)
        ratios.append(layer_grads.norm(dim=1) / loss.sqrt())
        spread = layer_grads.amax(dim=1) / layer_grads.amin(dim=1)
        del ens
    saturation = (ratios[1] / ratios[0]).tolist()
    return {"depths": list(GRADIENT_DEPTHS), "grad_ratio_median": [float(r.median()) for r in ratios],
            "saturation": saturation, "band": [0.7, 1.4],
            "layer_spread": spread, "spread_bound": 10.0, "seeds": count}


def _gradient_scale_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    half = Context(ctx.device, ctx.alpha / 2, ctx.scale)  # two tests share the budget
    sat = _band_judgement(ev["saturation"], *ev["band"], half, "ratio(4L)/ratio(L)")
    even = _exceedance_judgement([math.log(s / ev["spread_bound"]) if s == s else math.nan
                                  for s in ev["layer_spread"]], half,
                                 f"have max_l/min_l ||grad W_l|| > {ev['spread_bound']:g}")
    g = ev["grad_ratio_median"]
    return Judgement(sat.holds and even.holds, min(sat.margin, even.margin),
                     f"||grad||/sqrt(F) = {g[0]:.3g} -> {g[1]:.3g}; {sat.summary}; {even.summary}")


gradient_scale = Claim(
    id="zhang2019.gradient_scale",
    cite=_cite("Sect. 3 gradient bounds (Allen-Zhu-style, proportional to tau)"),
    statement="For tau = 1/sqrt(L), ||grad_W F|| / sqrt(F) at init saturates in depth "
              "(ratio(4L)/ratio(L) in [0.7, 1.4] for L >= 64) and max_l / min_l ||grad_{W_l} F|| < 10.",
    provenance="reconstructed",
    kind="rate",
    family=TAU_RESNET,
    settings=_gradient_settings,
    check=_gradient_scale_check,
    judge=_gradient_scale_judge,
    thresholds="Bounds proportional to tau [RECON]; band [0.7, 1.4] and spread < 10 from the notes "
               "(reference ratio 65 at L = 64 and 256; spread 4.1-4.9 at L = 64, 4.7-6.0 at L = 256). "
               "tau = 1/L vanishes like L^(-1/2): ratio(4L)/ratio(L) ~ 0.5.",
    cost="medium",
)


# D-T5 ------------------------------------------------------------------------------

GD_DEPTHS = (4, 16, 64)
GD_STEPS = 150


def _gd_settings(scale: Scale) -> st.SearchStrategy[Setting]:
    return st.fixed_dictionaries({"width": widths_fitting(scale, GD_DEPTHS[-1], (64, 128)), "seed": seeds()})


def _log_loss_rate(losses: Tensor) -> tuple[list[float], list[float]]:
    """Per seed: -slope and R^2 of log F_t on t over the last 3/4 of the run (after
    warm-up).  NaN if the loss is not finite or not positive anywhere there."""
    t = list(range(losses.shape[0] // 4, losses.shape[0]))
    rates, fits = [], []
    for column in losses[t[0]:].T.tolist():
        logs = [math.log(v) if v > 0 and math.isfinite(v) else math.nan for v in column]
        if len(logs) < len(t):
            logs += [math.nan] * (len(t) - len(logs))
        rates.append(-slope(t, logs))
        fits.append(r_squared(t, logs))
    return rates, fits


def _gd_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    count, width, samples = _rate_seeds(ctx), setting["width"], 8
    lr = 0.2 / (width * samples)  # eta = 0.2 d / (m n), d = 1: eta tau^2 L fixed for tau = 1/sqrt(L)
    x = data.unit_sphere(samples, IN_DIM, setting["seed"]).to(ctx.device)
    y = data.gaussian_targets(samples, 1, setting["seed"] + 1).to(ctx.device)
    rates, fits, final = [], [], []
    for depth in GD_DEPTHS:
        ens, _ = _ensemble(subject, setting, ctx, depth, 1 / math.sqrt(depth), count)
        traj = train.gradient_descent(lambda: train.squared_loss(ens, x, y), train.block_parameters(ens),
                                      lr, GD_STEPS)
        r, f = _log_loss_rate(traj.losses)
        rates.append(r)
        fits.append(f)
        final.append(float((traj.losses[-1] / traj.losses[0]).median()))
        del ens
    ratio = [deep / shallow if shallow > 0 else math.nan for shallow, deep in zip(rates[0], rates[-1])]
    return {"depths": list(GD_DEPTHS), "lr": lr, "steps": GD_STEPS,
            "median_rate": [float(torch.tensor(r).nanmedian()) for r in rates],
            "median_r2": [float(torch.tensor(f).nanmedian()) for f in fits],
            "median_final_over_initial": final, "rate_ratio": ratio, "band": [0.4, 2.5],
            "seeds": count}


def _gd_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    j = _band_judgement(ev["rate_ratio"], *ev["band"], ctx, f"rate(L={ev['depths'][-1]})/rate(L=4)")
    rates = ", ".join(f"{r:.3g}" for r in ev["median_rate"])
    return Judgement(j.holds, j.margin, f"log-loss rate per step {rates} at L = {ev['depths']}; {j.summary}")


gd_depth_free = Claim(
    id="zhang2019.gd_depth_free",
    cite=_cite("abstract (v5): GD converges to a global minimum at a depth-independent rate"),
    statement="Full-batch GD on the W_l with tau = 1/sqrt(L) and one step size eta = 0.2 d/(m n) "
              "decreases log F linearly at a rate that does not depend on L: "
              "rate(L = 64)/rate(L = 4) in [0.4, 2.5].",
    provenance="paper",
    kind="rate",
    family=TAU_RESNET,
    settings=_gd_settings,
    check=_gd_check,
    judge=_gd_judge,
    thresholds="Depth independence [PAPER]; step-size rule eta tau^2 L fixed and the ratio bound 2.5 "
               "from the notes (steps to 1e-3 F0: 129-187 at L = 4, 121-198 at L = 64); band "
               "[1/2.5, 2.5] symmetric in log. We measured per-seed steps(64)/steps(4) 0.4-2.2.",
    cost="expensive",
)


# D-T6 ------------------------------------------------------------------------------

TRAIN_STEPS = 100
TRAIN_LR = 0.5

def _trains_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    depth, classes, samples = setting["depth"], 4, 128
    x = data.unit_sphere(samples, IN_DIM, setting["seed"], torch.float32).to(ctx.device)
    labels = data.teacher_classes(x.cpu(), classes, setting["seed"] + 1).to(ctx.device)
    ens, _ = _ensemble(subject, setting, ctx, depth, 1 / math.sqrt(depth), _hp_seeds(ctx),
                       samples=samples, out_dim=classes, dtype=torch.float32)
    traj = train.gradient_descent(lambda: train.cross_entropy(ens, x, labels), train.block_parameters(ens),
                                  TRAIN_LR, TRAIN_STEPS)
    initial, final = traj.losses[0], traj.losses[-1]
    return {"tau": 1 / math.sqrt(depth), "steps": TRAIN_STEPS, "lr": TRAIN_LR, "initial_loss": initial,
            "final_loss": final, "target_fraction": 0.5, "seeds": ens.size}


def _trains_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    violations = [math.log(f / (ev["target_fraction"] * i)) if f == f and f > 0 else
                  (-math.inf if f == 0 else math.nan)
                  for i, f in zip(ev["initial_loss"], ev["final_loss"])]
    j = _exceedance_judgement(violations, ctx, f"end above {ev['target_fraction']:g} x initial loss")
    med = sorted(ev["final_loss"], key=lambda v: (v != v, v))[len(ev["final_loss"]) // 2]
    return Judgement(j.holds, j.margin, f"median final loss {med:.3g}; {j.summary}")


trains_without_norm = Claim(
    id="zhang2019.trains_without_norm",
    cite=_cite("abstract; Sect. 5 experiments (ResNet without normalization)"),
    statement="With tau = 1/sqrt(L) and no normalization, full-batch GD on the blocks (float32, "
              "one fixed step size) halves the cross-entropy of a deep residual net within 100 steps, "
              "for L up to 128.",
    provenance="paper",
    kind="high-probability",
    family=TAU_RESNET,
    settings=lambda scale: residual_settings(scale, depths=(8, 128), widths=(32, 64)),
    check=_trains_check,
    judge=_trains_judge,
    thresholds="Trains [PAPER]; the synthetic stand-in (teacher labels, 4 classes, 128 points, "
               "lr 0.5, 100 steps, halve the loss) is ours, calibrated on the reference.",
    cost="medium",
)


CLAIMS = [forward_stable, backward_stable, forward_converse, forward_constant, gradient_scale,
          gd_depth_free, trains_without_norm]

__all__ = ["CLAIMS", *(c.id.split(".")[1] for c in CLAIMS)]
