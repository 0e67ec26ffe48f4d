"""Shamir: "Are ResNets Provably Better than Linear Predictors?", NeurIPS 2018, arXiv:1804.06739.

Family ``residual-unit``: p(x) = w^T (x + V F_theta(x)) for ANY feature network F_theta,
F(w, V, theta) = mean_i l(p(x_i); y_i) with l convex in the prediction (squared,
logistic, Huber), against the best linear predictor F_lin* = min_u mean_i l(u^T x_i; y_i).
With l' = dl/dp, g_w = E[l'(x + V F)] = grad_w F and r = E[l' F] (grad_V F = w r^T),
convexity gives F_lin(u) >= F + u^T (g_w - V r) - w^T g_w, which is the whole proof:

theorem claims
* bound_everywhere   (B-C2) at every point and every u: F - F_lin(u) <= ||grad_w F|| (||u|| + ||w||)
                     + ||u|| ||V||_op ||grad_V F||_F / ||w||, with autograd's gradients of the
                     subject's own forward pass (so it also tests the backward pass).
* local_minima       (B-C1, Theorem 1) every local minimum of (w, V) -> F with theta fixed has
                     F <= F_lin* (converged points only: ||grad|| <= 1e-8).
* joint_minima       (B-C1 jointly with theta) every local minimum of (w, V, theta) -> F with ||w|| >= 1e-2 has
                     F <= F_lin*, at points where Adam then trust-region Newton (resclaims.core.newton) converged
                     to ||grad|| <= 1e-8 (smooth one-layer feature networks, n >= 8 parameters).
* saddle_at_zero     (B-C3) w = 0, V0 = -E[l'(0) h(x)] r0^T/||r0||^2 is an exact stationary point worse than
                     linear, and a strict saddle: the Hessian has a negative eigenvalue and a push along
                     its eigenvector escapes to F <= F_lin*.
* no_skip_flat       (B-C4, converse) without the skip, dead ReLU features make a flat local minimum
                     above F_lin*.
* tweaked_sgd        (B-C5) the tweaked unit w^T x + v^T F_theta(x), by projected SGD with theta
                     redrawn every step, has average online loss within the online-gradient-descent
                     regret bound of the best linear predictor on the same stream.

Every inequality is the theory's, with float64 roundoff tolerances; nothing is fitted.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable

import torch
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.func import functional_call

from resclaims.claim import Cite, Claim, Context, Discarded, Evidence, Judgement, OutsideHypotheses, Scale, Setting
from resclaims.claims import shamir2018_figures as draw
from resclaims.core import convex, descent, hessian, newton
from resclaims.core.data import generator
from resclaims.family import Subject, SubjectError
from resclaims.models.shamir2018 import RESIDUAL_UNIT
from resclaims.stats import slope
from resclaims.strategies.units import unit_data, unit_settings
from resclaims.verdicts import decades, worst_of

AUTHORS = "Shamir"
ARXIV = "1804.06739"
ROUNDOFF = 1e-9          # relative float64 slack of an exact inequality
GRADIENT_TOL = 1e-8      # a converged point: ||grad|| <= 1e-8 [notes]
ROUNDOFF_EIG = 1e3 * torch.finfo(torch.float64).eps  # |lambda| below this times ||H||_2 is roundoff
LINEAR_TOL = 1e-6        # F <= F_lin* + 1e-6 (1 + F_lin*) at a converged local minimum [notes]
MAX_NEWTON = 300


def _cite(where: str) -> Cite:
    return Cite(AUTHORS, 2018, ARXIV, where)


def _model(subject: Subject, setting: Setting, ctx: Context, **extra: Any) -> nn.Module:
    keys = {k: setting[k] for k in ("depth", "activation", "scale") if k in setting}
    return subject.build(setting["seed"], dtype=torch.float64, device="cpu", in_dim=setting["in_dim"],
                         features=setting["features"], **{**keys, **extra})


OFFSET_RTOL = 1e-9  # p(x; w, 0) affine in w: p(a) + p(b) - p(a + b) = p(0) to this, relative


def refuse_offset(subject: Subject, at_v0: Callable[[Tensor], Tensor], w0: Tensor) -> None:
    """OutsideHypotheses when the unit at V = 0 is p(x; w) = w^T h(x) + c with a constant
    c != 0, the same for every x (a bias on the head): an offset outside (w, V), which
    the theorem's unit w^T (x + V F(x)) has none of.  Affinity in w is checked on two
    random directions a, b (p(a) + p(b) - p(a + b) = p(0)), so a nonlinearity after the
    sum that is constant at zero (a sigmoid: 1/2) is left to the claims to judge."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(w0.shape, generator=g, dtype=w0.dtype) for _ in range(2))
    with torch.no_grad():
        zero, pa, pb, pab = (at_v0(w) for w in (torch.zeros_like(w0), a, b, a + b))
    c = zero.reshape(-1)[0]
    scale = float(torch.stack([t.abs().max() for t in (zero, pa, pb, pab)]).max())
    constant = bool((zero != 0).any()) and bool((zero == c).all())
    if constant and torch.allclose(pa + pb - pab, zero, rtol=0.0, atol=OFFSET_RTOL * scale):
        raise OutsideHypotheses(f"subject {subject.name}: at V = 0 the unit is w^T h(x) + c with c = {float(c):.3g}, "
                                f"an offset outside (w, V) (a bias on the head?); the theorem's unit w^T (x + V F(x)) "
                                f"has none: give the head bias=False or start it at 0")


class Unit:
    """The subject's unit as a function of its head w and mixing V (features fixed):
    ``loss(w, V)`` = mean l(p(x; w, V); y) through the subject's own forward pass."""

    def __init__(self, subject: Subject, model: nn.Module, x: Tensor, y: Tensor, loss: str) -> None:
        self.model, self.x, self.y, self.l = model, x, y, convex.LOSSES[loss]
        for p in model.parameters():  # derivatives are taken in (w, V) only, through functional_call
            p.requires_grad_(False)
        head, mixing = subject.held_part("head", model), subject.held_part("mixing", model)
        names = {id(t): n for n, t in [*model.named_parameters(), *model.named_buffers()]}
        self.names, self.shapes = (names[id(head)], names[id(mixing)]), (head.shape, mixing.shape)
        self.w0 = head.detach().reshape(-1).clone()
        self.v0 = subject.part("mixing", model).detach().clone()  # V as the subject names it (d x m)
        self.features = subject.part("features", model)
        refuse_offset(subject, lambda w: functional_call(model, self.params(w, torch.zeros_like(self.v0)), (x,)),
                      self.w0)

    def params(self, w: Tensor, v: Tensor) -> dict[str, Tensor]:
        """The model's head and mixing tensors at w (d,) and V, in the shapes the model
        holds them (a Linear's (1, d) weight for w, say)."""
        return {self.names[0]: w.reshape(self.shapes[0]), self.names[1]: v.reshape(self.shapes[1])}

    def loss(self, w: Tensor, v: Tensor) -> Tensor:
        out = functional_call(self.model, self.params(w, v), (self.x,))
        return self.l(out, self.y).mean()

    def flat(self, z: Tensor) -> Tensor:
        """loss of the concatenated z = [w; vec V]."""
        n = self.w0.numel()
        return self.loss(z[:n].view_as(self.w0), z[n:].view_as(self.v0))

    def join(self, w: Tensor, v: Tensor) -> Tensor:
        return torch.cat([w.reshape(-1), v.reshape(-1)])

    def skip_features(self) -> Tensor:
        """h(x) = dp/dw at V = 0 (n, d): what the head reads through the skip alone (x for
        the reference, alpha x for a skip scaled by alpha)."""
        def out(w: Tensor) -> Tensor:
            return functional_call(self.model, self.params(w, torch.zeros_like(self.v0)), (self.x,))
        return torch.func.jacrev(out)(torch.zeros_like(self.w0))

    def curvature(self, z: Tensor) -> tuple[float, float]:
        """(lambda_min, ||H||_2) of the (w, V) Hessian at z, by the Hessian core."""
        lam, top, _ = self.lowest_mode(z)
        return lam, top

    def lowest_mode(self, z: Tensor) -> tuple[float, float, Tensor]:
        """(lambda_min, ||H||_2, the unit eigenvector of lambda_min) of the (w, V) Hessian at z."""
        eig, vectors = torch.linalg.eigh(hessian.dense_hessian(hessian.Objective(self.flat, z, (self.w0.numel(),
                                                                                                  self.v0.numel()))))
        return float(eig[0]), float(eig.abs().max()), vectors[:, 0]


def best_linear(x: Tensor, y: Tensor, loss: str) -> convex.Minimum:
    """F_lin* = min_u mean l(u^T x; y), by Newton's method (exact for squared loss in one step)."""
    l = convex.LOSSES[loss]
    return convex.newton(lambda u: l(x @ u, y).mean(), torch.zeros(x.shape[1], dtype=x.dtype), tol=1e-12)


# B-C2 --------------------------------------------------------------------------------

def _bound_terms(unit: Unit, w: Tensor, v: Tensor, x: Tensor, y: Tensor, loss: str) -> Evidence:
    """F at (w, V) and the right side of B-C2's inequality there, from autograd's gradients:
    ||grad_w F|| (||u|| + ||w||) + ||u|| ||V||_op ||grad_V F|| / ||w||, u = u* in the
    coordinates the head reads through the skip."""
    w, v = w.clone().requires_grad_(True), v.clone().requires_grad_(True)
    value = unit.loss(w, v)
    gw, gv = torch.autograd.grad(value, (w, v), allow_unused=True, materialize_grads=True)
    lin = best_linear(x, y, loss)
    u = best_linear(unit.skip_features(), y, loss).point
    w_norm = float(w.detach().norm())
    u_norm, v_op = u.norm(), torch.linalg.matrix_norm(v.detach(), 2)
    rhs = math.inf if w_norm == 0 else float(gw.norm() * (u_norm + w_norm) + u_norm * v_op * gv.norm() / w_norm)
    return {"F": float(value.detach()), "F_lin": lin.value, "rhs": rhs, "w_norm": w_norm,
            "grad_w": float(gw.norm()), "grad_V": float(gv.norm()),
            "bound_w": float(gw.norm() * (u_norm + w_norm)),   # the two terms of rhs, for the figure
            "bound_V": float(u_norm * v_op * gv.norm() / w_norm) if w_norm else math.inf}


def _bound_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    unit = Unit(subject, _model(subject, setting, ctx), x, y, setting["loss"])
    w, v = unit.w0, unit.v0
    if setting["settle"]:  # a point stationary in w (F is convex in w for fixed V, theta)
        w = convex.newton(lambda t: unit.loss(t, v), w, tol=1e-12).point
    return _bound_terms(unit, w, v, x, y, setting["loss"])


def _bound_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    lhs = ev["F"] - ev["F_lin"]
    slack = ev["rhs"] - lhs
    scale = 1 + abs(ev["F"])
    margin = slack / scale if math.isfinite(slack) else -math.inf
    text = (f"F - F_lin* = {lhs:.4g} vs bound {ev['rhs']:.4g} (||grad_w|| = {ev['grad_w']:.3g}, ||grad_V|| = "
            f"{ev['grad_V']:.3g}, ||w|| = {ev['w_norm']:.3g})")
    if margin < -ROUNDOFF:
        return Judgement(False, margin, "the convexity bound fails: " + text + "; the gradients autograd reports "
                                        "are not those of a unit w^T (x + V F(x)) (a detached branch, a missing "
                                        "skip, a nonlinearity after the sum?)")
    return Judgement(True, margin, text)


bound_everywhere = Claim(
    id="shamir2018.bound_everywhere",
    cite=_cite("Sect. 4 (approximate stationary points)"),
    statement="At every (w, V, theta): F - F_lin* <= ||grad_w F|| (||u|| + ||w||) + ||u|| ||V||_op ||grad_V F||_F "
              "/ ||w||, u the best linear predictor on what the head reads through the skip (u = argmin F_lin for "
              "the reference's identity skip), with the gradients of the subject's own backward pass; in "
              "particular every stationary point with w != 0 is no worse than the best linear predictor.",
    provenance="derived",
    kind="identity",
    scope="theorem",
    covers="d, m = 1..8 (d != m drawn), feature MLPs of depth 1-4 (ReLU, tanh, sin), squared / logistic / Huber "
           "loss, Gaussian or heavy-tailed x, init scales 1e-3..3 (where build takes scale), at the init and at "
           "points stationary in w",
    family=RESIDUAL_UNIT,
    settings=lambda scale, subject: unit_settings(subject, scale=st.floats(-3, 0.5).map(lambda e: 10.0 ** e),
                                                  settle=st.booleans()),
    check=_bound_check,
    judge=_bound_judge,
    thresholds=f"An exact inequality [DERIVED from convexity: F_lin(u) >= F + u^T E[l'x] - E[l'p]]; slack "
               f"allowed {ROUNDOFF:g} (1 + |F|) for float64 roundoff. Notes: max LHS - RHS over 2000 points -0.063.",
    requires={"skip": ("identity",)},
    cost="cheap",
    figure=draw.bound_everywhere,
)


# B-C1 --------------------------------------------------------------------------------

def _minima_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    unit = Unit(subject, _model(subject, setting, ctx), x, y, setting["loss"])
    found = convex.newton(unit.flat, unit.join(unit.w0, unit.v0), tol=GRADIENT_TOL / 10, max_steps=MAX_NEWTON)
    if not found.gradient_norm <= GRADIENT_TOL:
        raise Discarded(f"Newton did not converge in {MAX_NEWTON} steps (||grad|| > {GRADIENT_TOL:g})")
    lam, top = unit.curvature(found.point)
    if lam < -ROUNDOFF_EIG * top:  # Newton may stop at a saddle: not a local minimum
        raise Discarded("converged to a saddle (negative Hessian eigenvalue), not a local minimum")
    lin = best_linear(x, y, setting["loss"])
    return {"F": found.value, "F_lin": lin.value, "gradient_norm": found.gradient_norm, "steps": found.steps,
            "w_norm": float(found.point[:unit.w0.numel()].norm()), "lambda_min": lam}


def _minima_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    excess = ev["F"] - ev["F_lin"]
    tol = LINEAR_TOL * (1 + abs(ev["F_lin"]))
    text = (f"converged (||grad|| = {ev['gradient_norm']:.2g}, {ev['steps']} Newton steps) at F = {ev['F']:.6g} vs "
            f"F_lin* = {ev['F_lin']:.6g} (||w|| = {ev['w_norm']:.3g})")
    if excess > tol:
        return Judgement(False, (tol - excess) / (1 + abs(ev["F_lin"])), "a local minimum worse than the best "
                         "linear predictor: " + text)
    return Judgement(True, (tol - excess) / (1 + abs(ev["F_lin"])), text)


local_minima = Claim(
    id="shamir2018.local_minima",
    cite=_cite("Theorem 1"),
    statement=f"For any fixed feature network, every local minimum of (w, V) -> F(w, V, theta) has F <= F_lin* "
              f"(to {LINEAR_TOL:g} (1 + F_lin*)); judged only at converged points (||grad|| <= {GRADIENT_TOL:g}) "
              f"whose Hessian has no negative eigenvalue beyond roundoff.",
    provenance="paper",
    kind="identity",
    scope="theorem",
    covers="as bound_everywhere; minimised by damped Newton on (w, V) from the subject's init",
    family=RESIDUAL_UNIT,
    settings=lambda scale, subject: unit_settings(subject, scale=st.floats(-3, 0.5).map(lambda e: 10.0 ** e)),
    check=_minima_check,
    judge=_minima_judge,
    thresholds=f"[notes: F <= F_lin* + 1e-6 (1 + F_lin*) once ||grad|| < 1e-8]. A setting whose minimisation does "
               f"not reach ||grad|| <= {GRADIENT_TOL:g} in {MAX_NEWTON} Newton steps is discarded "
               "and counted in the result (resclaims.claim.Discarded), never a pass, and so is a converged saddle (lambda_min(H) < -2.2e-13 "
               "||H||_2). Notes: F - F_lin* in [-0.0323, -0.0321] at d = 5, m = 4.",
    requires={"skip": ("identity",)},
    cost="medium",
    figure=partial(draw.local_minima, tol=LINEAR_TOL),
)


# B-C1 jointly with theta -------------------------------------------------------------

JOINT_GRADIENT_TOL = 1e-8    # converged: ||grad_(w, V, theta) F|| <= 1e-8
JOINT_W_FLOOR = 1e-2         # judged only where ||w|| >= 1e-2: at w -> 0 the infimum is approached, not attained
SAMPLES_PER_PARAMETER = 8    # n >= 8 P: a minimum that interpolates the data (F ~ 0) would pass vacuously
JOINT_MAX_PARAMETERS = 64    # P = d + d m + |theta|: dense exact Hessians, a few ms each
ADAM_STEPS = 200             # warm start, step 1e-2 decaying to 1e-3
MAX_TRUST = 150              # trust-region Newton iterations (converged settings took <= 103 at d, m <= 3)


class JointUnit:
    """The subject's unit as a function of all its trained parameters, z = [w; vec V;
    theta] (theta: every other parameter of the model that requires a gradient, i.e. the
    feature network's; a tensor the user froze stays at its value and is not counted in
    P), through the subject's own forward pass."""

    def __init__(self, subject: Subject, model: nn.Module, x: Tensor, y: Tensor, loss: str) -> None:
        self.model, self.x, self.y, self.l = model, x, y, convex.LOSSES[loss]
        head, mixing = subject.held_part("head", model), subject.held_part("mixing", model)
        named = dict(model.named_parameters())
        names = {id(p): n for n, p in named.items()}
        if id(head) not in names or id(mixing) not in names:
            raise SubjectError(f"subject {subject.name}: head and mixing must be parameters of the model (they are "
                               f"buffers)")
        first = [names[id(head)], names[id(mixing)]]
        refuse_offset(subject, lambda w: functional_call(model, {first[0]: w.view(head.shape),
                                                                 first[1]: torch.zeros_like(mixing)}, (x,)),
                      head.detach().reshape(-1))
        self.order = first + [n for n, p in named.items() if n not in first and p.requires_grad]
        self.mixing_shape = subject.part("mixing", model).shape  # V as the subject names it (d x m)
        self.shapes = [named[n].shape for n in self.order]
        self.counts = [named[n].numel() for n in self.order]
        self.start = torch.cat([named[n].detach().reshape(-1) for n in self.order])

    def flat(self, z: Tensor) -> Tensor:
        pieces = torch.split(z, self.counts)
        params = {n: p.view(s) for n, p, s in zip(self.order, pieces, self.shapes)}
        return self.l(functional_call(self.model, params, (self.x,)), self.y).mean()

    def head(self, z: Tensor) -> Tensor:
        return z[:self.counts[0]]

    def mixing(self, z: Tensor) -> Tensor:
        return z[self.counts[0]:self.counts[0] + self.counts[1]].view(self.mixing_shape)


def _joint_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    unit = JointUnit(subject, _model(subject, setting, ctx), x, y, setting["loss"])
    size, n = unit.start.numel(), x.shape[0]
    if size > JOINT_MAX_PARAMETERS:  # the strategy keeps the reference below; a user's model fixes its own size
        raise OutsideHypotheses(f"{subject.name} has {size} parameters in (w, V, theta), more than the "
                                f"{JOINT_MAX_PARAMETERS} whose dense Hessians shamir2018.joint_minima certifies minima with")
    if n < SAMPLES_PER_PARAMETER * size:
        raise Discarded(f"fewer than {SAMPLES_PER_PARAMETER} samples per parameter: a minimum could interpolate")
    warm = descent.adam(lambda zs: torch.stack([unit.flat(z) for z in zs]), unit.start[None], ADAM_STEPS,
                        lr=1e-2, lr_end=1e-3)
    found = newton.trust_region(unit.flat, warm.points[0], tol=JOINT_GRADIENT_TOL / 10, max_steps=MAX_TRUST)
    if not found.gradient_norm <= JOINT_GRADIENT_TOL:
        raise Discarded(f"the joint minimisation did not converge in {MAX_TRUST} trust-region steps "
                        f"(||grad|| > {JOINT_GRADIENT_TOL:g})")
    w, v = unit.head(found.point), unit.mixing(found.point)
    w_norm = float(w.norm())
    if w_norm < JOINT_W_FLOOR:
        raise Discarded(f"converged with w near 0 (||w|| < {JOINT_W_FLOOR:g}): outside the claim")
    if found.lambda_min < -ROUNDOFF_EIG * found.hessian_norm:
        raise Discarded("converged to a saddle (negative Hessian eigenvalue), not a local minimum")
    lin = best_linear(x, y, setting["loss"])
    u_norm, v_op = float(lin.point.norm()), float(torch.linalg.matrix_norm(v, 2))
    # B-C2 at a point with gradient norm g: F - F_lin* <= g (||u*|| + ||w|| + ||u*|| ||V||_op / ||w||)
    slack = found.gradient_norm * (u_norm + w_norm + u_norm * v_op / w_norm)
    if slack > LINEAR_TOL * (1 + abs(lin.value)):
        raise Discarded(f"converged too loosely: the slack B-C2 allows at that gradient exceeds {LINEAR_TOL:g} "
                        f"(1 + F_lin*)")
    return {"F": found.value, "F_lin": lin.value, "gradient_norm": found.gradient_norm, "w_norm": w_norm,
            "lambda_min": found.lambda_min, "hessian_norm": found.hessian_norm, "parameters": size, "samples": n,
            "adam_steps": warm.steps, "trust_steps": found.steps, "iterations": found.iterations,
            "gradient_slack": slack}


def _joint_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    excess = ev["F"] - ev["F_lin"]
    scale = 1 + abs(ev["F_lin"])
    tol = LINEAR_TOL * scale
    text = (f"converged jointly over {ev['parameters']} parameters (||grad|| = {ev['gradient_norm']:.2g} after "
            f"{ev['adam_steps']} Adam + {ev['iterations']} trust-region steps; lambda_min(H) = "
            f"{ev['lambda_min']:.2g}) at F = {ev['F']:.6g} vs F_lin* = {ev['F_lin']:.6g} (||w|| = "
            f"{ev['w_norm']:.3g}, n = {ev['samples']})")
    if excess > tol:
        return Judgement(False, (tol - excess) / scale, "a joint local minimum worse than the best linear "
                                                        "predictor: " + text)
    return Judgement(True, (tol - excess) / scale, text)


def _joint_settings(scale: Scale, subject: Subject) -> st.SearchStrategy[Setting]:
    small = scale.max_params <= 2 ** 20   # ci and smoke: d, m <= 3 (P <= 24), n = 512
    # the first of each list is the smoke profile's one setting (d = m = 2, logistic, sin), one whose joint
    # minimisation converges: at d = m = 1 the infimum is often approached as w -> 0 (discarded)
    return unit_settings(subject, losses=("logistic", "squared", "huber"), dims=(2, 1, 3) if small else (2, 1, 3, 4),
                         samples=(512,) if small else (512, 1024), activations=("sin", "tanh"), depths=(1,))


joint_minima = Claim(
    id="shamir2018.joint_minima",
    cite=_cite("Theorem 1"),
    statement=f"Every local minimum of F jointly in (w, V, theta) with w away from 0 has F <= F_lin* (to "
              f"{LINEAR_TOL:g} (1 + F_lin*)): judged at points where Adam then trust-region Newton converged "
              f"(||grad|| <= {JOINT_GRADIENT_TOL:g}), ||w|| >= {JOINT_W_FLOOR:g}, and the full Hessian has no "
              f"negative eigenvalue beyond roundoff.",
    provenance="paper",
    kind="identity",
    scope="theorem",
    covers=f"smooth feature networks only: one tanh or sin layer (ReLU excluded: at its kinks ||grad|| <= tol is "
           f"no test of a local minimum), d, m = 1..3 at ci (1..4 in dev/thorough), at most "
           f"{JOINT_MAX_PARAMETERS} parameters in all and n >= {SAMPLES_PER_PARAMETER} P samples (n = 512, 1024) so "
           f"the minimum does not interpolate; squared, logistic and Huber losses (C^1; Huber's second derivative "
           f"jumps only where a residual is exactly 1); a model with more parameters is discarded, not judged",
    family=RESIDUAL_UNIT,
    settings=_joint_settings,
    check=_joint_check,
    judge=_joint_judge,
    thresholds=f"F <= F_lin* + {LINEAR_TOL:g} (1 + F_lin*), as local_minima [notes]; the slack that B-C2 allows at "
               f"the measured gradient, ||grad|| (||u*|| + ||w|| + ||u*|| ||V||_op / ||w||), is in the evidence "
               f"(gradient_slack), and a point where it exceeds the tolerance is discarded. Discarded and counted, never passes: no convergence to {JOINT_GRADIENT_TOL:g} in "
               f"{ADAM_STEPS} Adam + {MAX_TRUST} trust-region steps, ||w|| < {JOINT_W_FLOOR:g}, a saddle "
               f"(lambda_min(H) < -2.2e-13 ||H||_2), P > {JOINT_MAX_PARAMETERS} or n < {SAMPLES_PER_PARAMETER} P. "
               f"Measured at ci on the reference: 3 of 4 drawn settings converged, (F - F_lin*) / (1 + F_lin*) in "
               f"[-0.106, -0.065], ||grad|| 1e-14..1e-9 after 20-110 trust-region steps.",
    requires={"skip": ("identity",)},
    cost="medium",
    figure=partial(draw.joint_minima, tol=LINEAR_TOL, gradient_tol=JOINT_GRADIENT_TOL, w_floor=JOINT_W_FLOOR),
)


# B-C3 --------------------------------------------------------------------------------

def _saddle_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    unit = Unit(subject, _model(subject, setting, ctx), x, y, setting["loss"])
    p0 = torch.zeros(x.shape[0], dtype=x.dtype, requires_grad=True)
    (slope0,) = torch.autograd.grad(unit.l(p0, y).sum(), p0)  # l'(0; y_i)
    with torch.no_grad():
        feats = unit.features(x)
    r0 = (slope0[:, None] * feats).mean(0)
    if not float(r0.norm()) > 1e-6:
        raise Discarded("r0 = E[l'(0) F(x)] = 0: the constructed point is not defined")
    v0 = -torch.outer((slope0[:, None] * unit.skip_features()).mean(0), r0) / (r0 @ r0)
    if v0.shape != unit.v0.shape:
        raise SubjectError(f"subject {subject.name}: mixing has shape {tuple(unit.v0.shape)}, expected "
                           f"{tuple(v0.shape)} (d x m)")
    z0 = unit.join(torch.zeros_like(unit.w0), v0)
    grad = torch.func.grad(unit.flat)(z0)
    lam, top, mode = unit.lowest_mode(z0)
    sign = 1.0 if int(torch.randint(2, (1,), generator=generator(setting["seed"]))) else -1.0
    # along the negative curvature (Newton's method is drawn to saddles from elsewhere), and large enough that the
    # gradient there, about |lambda_min| |push|, exceeds Newton's tolerance 100 times over
    size = max(1e-6, 100 * GRADIENT_TOL / abs(lam)) if lam < 0 else 1e-6
    push = size * sign * mode
    escaped = convex.newton(unit.flat, z0 + push, tol=GRADIENT_TOL / 10, max_steps=MAX_NEWTON)
    if not escaped.gradient_norm <= GRADIENT_TOL:
        raise Discarded(f"the escape from the pushed point did not converge in {MAX_NEWTON} Newton steps")
    lin = best_linear(x, y, setting["loss"])
    return {"F": float(unit.flat(z0)), "F_lin": lin.value, "gradient_norm": float(grad.norm()),
            "lambda_min": lam, "hessian_norm": top, "escaped_to": escaped.value}


def _saddle_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    scale = 1 + abs(ev["F"])
    parts = [(decades(ev["gradient_norm"] / scale, GRADIENT_TOL),
              f"the constructed point is not stationary: ||grad|| = {ev['gradient_norm']:.3g}"),
             ((ev["F"] - ev["F_lin"]) / scale, f"the point is not worse than linear: F = {ev['F']:.4g} <= F_lin* = "
                                              f"{ev['F_lin']:.4g}"),
             ((-ev["lambda_min"] - ROUNDOFF_EIG * ev["hessian_norm"]) / scale,
              f"no negative curvature: lambda_min(H) = {ev['lambda_min']:.3g} (a bad local minimum, against Thm 1)"),
             ((ev["F_lin"] + LINEAR_TOL * (1 + abs(ev["F_lin"])) - ev["escaped_to"]) / scale,
              f"a 1e-6 push does not escape: F = {ev['escaped_to']:.6g} > F_lin* = {ev['F_lin']:.6g}")]
    return worst_of(parts, f"w = 0, V0: grad {ev['gradient_norm']:.1g}, F = {ev['F']:.4g} > F_lin* = {ev['F_lin']:.4g}, "
                           f"lambda_min = {ev['lambda_min']:.3g} < 0; a push escapes to {ev['escaped_to']:.6g}")


saddle_at_zero = Claim(
    id="shamir2018.saddle_at_zero",
    cite=_cite("Sect. 3 (w = 0 in the proof of Theorem 1)"),
    statement="At w = 0, V0 = -E[l'(0; y) h(x)] r0^T / ||r0||^2 (h = dp/dw at V = 0, x for the reference; r0 = "
              "E[l'(0; y) F(x)] != 0) the gradient vanishes "
              "and F = E l(0; y) > F_lin*, yet the point is a strict saddle: the (w, V) Hessian has a negative "
              "eigenvalue, and Newton's method from a push along its eigenvector (1e-6, or 100 x 1e-8 / |lambda_min| "
              "where the curvature is weaker) reaches F <= F_lin*.",
    provenance="derived",
    kind="identity",
    scope="theorem",
    covers="as bound_everywhere (settings with r0 = 0 are discarded)",
    family=RESIDUAL_UNIT,
    settings=lambda scale, subject: unit_settings(subject, dims=tuple(range(1, 7))),
    check=_saddle_check,
    judge=_saddle_judge,
    thresholds=f"Stationarity to {GRADIENT_TOL:g} (1 + |F|) (exact up to roundoff: notes 1e-16); lambda_min below "
               f"roundoff, -2.2e-13 ||H||_2 [notes: -0.070; it is about -||r0||^2 / lambda_max, as small as 3e-10 "
               f"at d = m = 1]; escape to F_lin* + {LINEAR_TOL:g} (1 + F_lin*) (an escape that does not converge "
               f"is discarded).",
    requires={"skip": ("identity",)},
    cost="medium",
    figure=partial(draw.saddle_at_zero, tol=LINEAR_TOL, gradient_tol=GRADIENT_TOL, roundoff_eig=ROUNDOFF_EIG),
)


# B-C4 --------------------------------------------------------------------------------

DEAD_BIAS = -1e3


def _flat_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    unit = Unit(subject, _model(subject, setting, ctx), x, y, setting["loss"])
    biases = [p for n, p in unit.features.named_parameters() if n.endswith("bias")] \
        if isinstance(unit.features, nn.Module) else []
    if not biases:
        raise SubjectError(f"subject {subject.name}: the dead-ReLU fixture needs feature layers with biases")
    with torch.no_grad():
        for b in biases:
            b.fill_(DEAD_BIAS)  # every ReLU dead on the data: F(x) = 0
        if bool(unit.features(x).any()):
            raise SubjectError(f"subject {subject.name}: biases of -1e3 leave features nonzero: the dead-ReLU "
                               f"fixture needs ReLU feature layers")
    z = unit.join(unit.w0, unit.v0)
    pushes = torch.randn(4, z.numel(), generator=generator(setting["seed"]), dtype=z.dtype)
    grads = [float(torch.func.grad(unit.flat)(z + 0.1 * q).norm()) for q in torch.cat([z.new_zeros(1, z.numel()), pushes])]
    values = [float(unit.flat(z + 0.1 * q)) for q in pushes]
    return {"F": float(unit.flat(z)), "F_lin": best_linear(x, y, setting["loss"]).value,
            "max_gradient": max(grads), "value_spread": max(abs(v - float(unit.flat(z))) for v in values)}


def _flat_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    scale = 1 + abs(ev["F"])
    return worst_of([(decades(ev["max_gradient"] / scale, GRADIENT_TOL),
                      f"the dead-ReLU point is not flat: ||grad|| = {ev['max_gradient']:.3g} nearby"),
                     (decades(ev["value_spread"] / scale, GRADIENT_TOL),
                      f"the loss changes by {ev['value_spread']:.3g} around the point"),
                     ((ev["F"] - ev["F_lin"] - LINEAR_TOL * scale) / scale,
                      f"the flat point is not worse than linear: F = {ev['F']:.4g}, F_lin* = {ev['F_lin']:.4g}")],
                    f"a flat local minimum (gradient {ev['max_gradient']:.1g} at the point and 4 random points "
                    f"0.1 sqrt(P) away) at "
                    f"F = {ev['F']:.4g} > F_lin* = {ev['F_lin']:.4g}")


no_skip_flat = Claim(
    id="shamir2018.no_skip_flat",
    cite=_cite("Sect. 3 (why the skip matters)"),
    statement="Without the skip, p(x) = w^T V F(x) with ReLU features whose units are all dead on the data has zero "
              "gradient on a whole ball around any (w, V): a flat local minimum at F = mean l(0; y) > F_lin*.",
    provenance="derived",
    kind="converse",
    scope="theorem",
    covers="no-skip units with ReLU feature layers that have biases (set to -1e3), all losses and data",
    family=RESIDUAL_UNIT,
    settings=lambda scale, subject: unit_settings(subject, activations=("relu",)),
    check=_flat_check,
    judge=_flat_judge,
    thresholds=f"Exact: the features are 0, so gradients and changes are 0 (tolerance {GRADIENT_TOL:g} (1 + |F|)); "
               f"F - F_lin* > {LINEAR_TOL:g} (1 + |F|) [notes: 0.301 vs 0.254].",
    requires={"skip": ("none",)},
    cost="cheap",
    figure=partial(draw.no_skip_flat, tol=LINEAR_TOL, gradient_tol=GRADIENT_TOL),
)


# B-C5 --------------------------------------------------------------------------------

HORIZONS = (200, 800, 3200)    # T; the bound is checked at each, the rate fitted over them


def _sgd_check(setting: Setting, subject: Subject, ctx: Context) -> Evidence:
    x, y = unit_data(setting)
    model = _model(subject, setting, ctx)
    unit = Unit(subject, model, x, y, setting["loss"])
    if unit.v0.numel() != setting["features"]:
        raise SubjectError(f"subject {subject.name}: the tweaked unit's mixing must be one vector v of m entries")
    lin = best_linear(x, y, setting["loss"])
    radius = 2 * float(lin.point.norm()) + 1.0   # B: the ball holds (u*, 0)
    layers = [m for m in unit.features.modules() if hasattr(m, "reset_parameters")]
    # G = l b sets the step eta = B/(G sqrt T); the bound checked uses the gradients met, so G need not bound them
    b = float(x.norm(dim=1).max()) + math.sqrt(setting["features"])  # ||[x; F(x)]|| for features in [-1, 1]
    lip = {"logistic": 1.0, "huber": convex.HUBER_DELTA}.get(setting["loss"], radius * b + float(y.abs().max()))
    grad_bound = lip * b
    gaps, bounds = [], []
    for horizon in HORIZONS:
        g = generator(setting["seed"] + horizon)
        order = torch.randint(0, x.shape[0], (horizon,), generator=g)
        eta = radius / (grad_bound * math.sqrt(horizon))
        z = torch.zeros(unit.w0.numel() + unit.v0.numel(), dtype=torch.float64)
        online, comparator, squares = 0.0, 0.0, 0.0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(setting["seed"])
            for t in range(horizon):
                for layer in layers:  # theta_t redrawn: the regret bound holds whatever theta does
                    layer.reset_parameters()
                xi, yi = x[order[t]:order[t] + 1], y[order[t]:order[t] + 1]
                def step_loss(zz: Tensor) -> Tensor:
                    n = unit.w0.numel()
                    out = functional_call(model, unit.params(zz[:n], zz[n:].view_as(unit.v0)), (xi,))
                    return unit.l(out, yi).sum()
                value, grad = torch.func.grad_and_value(step_loss)(z)[::-1]
                online += float(value)
                squares += float(grad @ grad)
                comparator += float(unit.l(xi @ lin.point, yi).sum())
                z = z - eta * grad
                norm = float(z.norm())
                if norm > radius:
                    z = z * (radius / norm)
        gaps.append((online - comparator) / horizon)
        bounds.append((radius ** 2 / (2 * eta) + eta * squares / 2) / horizon)  # OGD regret from z_1 = 0
    positive = [(math.log(h), math.log(g)) for h, g in zip(HORIZONS, gaps) if g > 0]
    rate = slope(*zip(*positive)) if len(positive) >= 2 else math.nan
    return {"horizons": HORIZONS, "gaps": gaps, "bounds": bounds, "rate": rate, "radius": radius}


def _sgd_judge(setting: Setting, ev: Evidence, ctx: Context) -> Judgement:
    parts = [((bound - gap) / bound, f"the average online loss exceeds the best linear predictor's by {gap:.4g} at "
                                     f"T = {t}, above the online-gradient-descent regret bound {bound:.4g}")
             for t, gap, bound in zip(ev["horizons"], ev["gaps"], ev["bounds"])]
    gaps = ", ".join(f"{g:.3g}" for g in ev["gaps"])
    return worst_of(parts, f"gap to the best linear predictor {gaps} at T = {list(ev['horizons'])}, within "
                           f"the regret bound; fitted rate {ev['rate']:.2f} (T^-1/2 expected)")


tweaked_sgd = Claim(
    id="shamir2018.tweaked_sgd",
    cite=_cite("abstract; Sect. 5 (a tweak of the architecture; SGD)"),
    statement="For the tweaked unit p(x) = w^T x + v^T F_theta(x), projected SGD on (w, v) from 0 with eta = "
              "B/(G sqrt(T)) has average online loss at most (B^2/(2 eta) + (eta/2) sum_t ||g_t||^2)/T = O(B G / "
              "sqrt(T)) above the best linear predictor's on the same "
              "stream, whatever theta does (here: redrawn every step), for T = 200, 800, 3200.",
    provenance="reconstructed",
    kind="rate",
    scope="theorem",
    covers="the tweaked unit, bounded (tanh, sin) features, squared / logistic / Huber loss, d, m = 1..4",
    family=RESIDUAL_UNIT,
    settings=lambda scale, subject: unit_settings(subject, dims=(1, 2, 3, 4), samples=(64,),
                                                  activations=("tanh", "sin")),
    check=_sgd_check,
    judge=_sgd_judge,
    thresholds="The regret bound of projected online gradient descent from z_1 = 0 with the gradients it met "
               "[DERIVED: B the radius, holding u* = (argmin F_lin, 0)]; the form of the tweak is [RECON]. The fitted rate is reported, not asserted "
               "(notes: gaps 0.0099, 0.0033, 0.0003 at T = 1e3, 1e4, 1e5).",
    requires={"skip": ("tweaked",), "activation": ("tanh", "sin")},
    cost="expensive",
    figure=draw.tweaked_sgd,
)


CLAIMS = [bound_everywhere, local_minima, joint_minima, saddle_at_zero, no_skip_flat, tweaked_sgd]
