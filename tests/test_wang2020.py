"""The wang2020 machinery: the flat-parameter view and the unit symmetries the barrier
estimators rely on (the notes' path-code bugs: flatten and unflatten in different
orders, a permutation that moves w but not a), batched descent, the data, and the
judges of the statistical claims on evidence made to fail."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from resclaims import registry
from resclaims.claim import Context, Scale
from resclaims.claims import wang2020
from resclaims.core import descent
from resclaims.core.data import generator
from resclaims.core.flat import Flat, Units
from resclaims.engine import run
from resclaims.family import Adapter, Subject, SubjectError, as_adapter
from resclaims.models.wang2020 import SKIP_NET, skip_net
from resclaims.stats import pairwise_slope_interval
from resclaims.strategies.sublevel import inputs, teacher_data

CTX = Context("cpu", 1e-3, Scale(1024, 2 ** 20))
SETTING = {"in_dim": 2, "bias": True, "samples": 64, "inputs": "sphere", "seed": 3, "teacher": 2,
           "form": "last_hidden", "depth": 2, "hidden": 8}


def _flat(form: str = "last_hidden", width: int = 5) -> tuple[Flat, Units, torch.Tensor]:
    x, y = teacher_data({**SETTING, "form": form})
    net = skip_net(3, width, generator=generator(1), form=form, depth=2, hidden=8)
    units = Units(("units", "lateral") if form == "last_hidden" else ("units",), ("readout",), width)
    return Flat(net, x, y), units, x


def test_flatten_and_unflatten_agree_and_reproduce_the_model() -> None:
    flat, _, x = _flat()
    theta = flat.point()
    named = dict(flat.model.named_parameters())
    assert all(torch.equal(flat.unflatten(theta)[n], named[n]) for n in flat.names)
    assert torch.equal(flat.output(theta), flat.model(x).detach())
    assert torch.equal(flat.loss(theta[None])[0], (flat.model(x) - flat.y).pow(2).mean().detach())


def test_chunked_loss_equals_one_call() -> None:
    flat, _, _ = _flat()
    thetas = flat.point() + 0.1 * torch.randn(7, flat.dim, generator=generator(2), dtype=torch.float64)
    whole = flat.loss(thetas)
    flat.chunk = 2
    assert torch.allclose(flat.loss(thetas), whole, rtol=1e-14, atol=0)


def test_relabelling_moves_every_unit_tensor_and_alignment_undoes_it() -> None:
    flat, units, _ = _flat()
    theta = flat.point()
    perm = torch.randperm(5, generator=generator(4))
    copy = flat.permute(theta, units, perm)
    assert torch.allclose(flat.output(copy), flat.output(theta), rtol=0, atol=1e-14)
    assert torch.equal(flat.rows(copy, "readout", 5), flat.rows(theta, "readout", 5)[perm])
    assert torch.equal(flat.align(theta, copy, units), theta)
    moved_w_only = flat.permute(theta, Units(("units",), (), 5), perm)  # the notes' bug: a not moved
    assert not torch.allclose(flat.output(moved_w_only), flat.output(theta))


def test_normalize_puts_incoming_rows_at_unit_norm_without_changing_f() -> None:
    flat, units, _ = _flat()
    theta = flat.point()
    unit = flat.normalize(theta, units)
    assert torch.allclose(flat.incoming_norms(unit, units), torch.ones(5, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(flat.output(unit), flat.output(theta), rtol=1e-13, atol=1e-14)


def test_a_readout_stored_as_one_row_is_viewed_per_unit() -> None:
    subject = registry.subjects()["wang2020.linear_layers"]
    x, y = teacher_data({**SETTING, "form": "additive"})
    net = wang2020.Net(subject, {**SETTING, "form": "additive"}, 4, x, y)
    a = dict(net.model.named_parameters())[net.a]
    assert a.shape == (1, 4) and torch.equal(net.rows(net.theta, net.a)[:, 0], a[0].detach())


def test_batched_adam_is_independent_per_row() -> None:
    flat, _, _ = _flat("two_layer")
    start = flat.point() + 0.3 * torch.randn(3, flat.dim, generator=generator(5), dtype=torch.float64)
    together = descent.adam(flat.loss, start, 50).points
    alone = torch.cat([descent.adam(flat.loss, row[None], 50).points for row in start])
    assert torch.allclose(together, alone, rtol=1e-12, atol=1e-14)


def test_gradient_of_a_constant_is_zero() -> None:
    values, grad = descent.gradient(lambda t: torch.zeros(t.shape[0], dtype=t.dtype), torch.ones(2, 3))
    assert torch.equal(grad, torch.zeros(2, 3))


@pytest.mark.parametrize("kind", ["gaussian", "sphere", "heavy-tailed"])
def test_inputs_have_the_drawn_shape_and_bias(kind: str) -> None:
    x = inputs({**SETTING, "inputs": kind, "in_dim": 4, "bias": True})
    assert x.shape == (64, 5) and torch.equal(x[:, -1], torch.ones(64, dtype=torch.float64))
    if kind == "sphere":
        assert torch.allclose(x[:, :4].norm(dim=1), torch.ones(64, dtype=torch.float64))


def test_teacher_is_realizable_by_a_two_layer_student() -> None:
    x, y = teacher_data(SETTING)
    g = generator(SETTING["seed"] + 1)
    v = torch.randn(2, 3, generator=g, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    b = torch.randn(2, generator=g, dtype=torch.float64)
    assert torch.equal(torch.relu(x @ v.T) @ b, y)


def test_arc_cosine_kernel_values() -> None:
    assert wang2020.arc_cosine(0.0) == pytest.approx(1.0)
    assert wang2020.arc_cosine(math.pi / 2) == pytest.approx(1 / math.pi)


def test_components_count_connected_minima_inside_the_level() -> None:
    row = {"losses": [0.0, 0.0, 0.0, 5.0], "pairs": [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)],
           "path_max": [0.5, 2.0, 2.0, 9.0, 9.0, 9.0]}
    assert wang2020.components(row, 1.0) == (2, 3)   # {0, 1}, {2}; minimum 3 lies above the level
    assert wang2020.components(row, 10.0) == (1, 4)


def _evidence(medians: list[float]) -> dict:
    rows = []
    pairs = list(itertools.combinations(range(4), 2))
    for width, level in zip((8, 32, 128), medians):
        spread = [level * f for f in (0.5, 0.7, 0.9, 1.1, 1.4, 2.0)]
        rows.append({"width": width, "pairs": pairs, "aligned": spread, "linear": spread, "bezier": spread[:2],
                     "descent_gain": [0.0] * 6, "losses": [0.0] * 4, "gradient_norms": [0.0] * 4})
    return {"floor": 1e-6, "widths": rows, "n": 3}


def test_pairwise_slope_interval_resamples_units_and_recovers_an_exact_slope() -> None:
    pairs = {(i, j): 0.0 for i, j in itertools.combinations(range(5), 2)}
    levels = [{k: -2.0 * x for k in pairs} for x in (0.0, 1.0, 2.0)]
    fitted, ci = pairwise_slope_interval([0.0, 1.0, 2.0], levels, [5, 5, 5], 0.95, 200, 0)
    assert fitted == pytest.approx(-2.0) and ci.lo == pytest.approx(-2.0) and ci.hi == pytest.approx(-2.0)


def test_barrier_judge_holds_on_falling_barriers_and_fails_on_flat_ones() -> None:
    setting = {"seed": 0}
    falling = wang2020._barrier_judge(setting, _evidence([1e-2, 3e-3, 1e-3]), CTX)
    flat = wang2020._barrier_judge(setting, _evidence([1e-2, 1e-2, 1e-2]), CTX)
    floor = wang2020._barrier_judge(setting, _evidence([1e-8, 1e-8, 1e-8]), CTX)
    assert falling.holds and falling.margin > 0
    assert not flat.holds and "do not fall" in flat.summary
    assert floor.holds and "within the floor" in floor.summary  # no barrier at any width: nothing to fall


def test_skip_vs_plain_judge_needs_lower_barriers_with_the_skip() -> None:
    pairs = list(itertools.combinations(range(4), 2))

    def evidence(ratio: float) -> dict:
        plain = [0.01 * (1 + 0.1 * k) for k in range(6)]
        return {"floor": 1e-6, "widths": [{"width": m, "minima": 4, "pairs": pairs, "plain": plain,
                                           "skip": [ratio * b for b in plain]} for m in (8, 32, 128)]}
    assert wang2020._skip_vs_plain_judge({"seed": 0}, evidence(0.2), CTX).holds
    same = wang2020._skip_vs_plain_judge({"seed": 0}, evidence(1.0), CTX)
    assert not same.holds and "does not lower" in same.summary


def test_barrier_check_refuses_a_subject_without_minima() -> None:
    ev = _evidence([1e-2, 1e-2, 1e-2])
    for row in ev["widths"]:
        row["descent_gain"] = [1.0] * 6   # descent would explain every barrier
    subject = registry.subjects()["wang2020.reference"]
    wang2020._LANDSCAPES[(subject.name, '{"seed": -1}')] = (subject, ev)
    try:
        with pytest.raises(SubjectError, match="no minima to compare"):
            wang2020._barrier_check({"seed": -1}, subject, CTX)
    finally:
        wang2020._LANDSCAPES.clear()


def test_the_plain_net_is_outside_the_skip_claims() -> None:
    plain = registry.subjects()["wang2020.plain"]
    assert wang2020.kernel_sandwich.applies_to(plain) is not None
    assert wang2020.exact_legs.applies_to(plain) is None


class _Mine(nn.Module):
    """A user's two-layer net with its own names, optionally with unit biases."""

    def __init__(self, in_dim: int, width: int, bias: bool) -> None:
        super().__init__()
        self.first = nn.Linear(in_dim, width, bias=bias, dtype=torch.float64)
        self.second = nn.Linear(width, 1, bias=False, dtype=torch.float64)
        self.input_shape = (in_dim,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.relu(self.first(x)))[:, 0]


@pytest.mark.parametrize("bias, readout", [(False, "weight"), (True, "weight"), (False, "row")])
def test_user_module_with_its_own_names_is_a_subject(bias: bool, readout: str) -> None:
    """Parts named by the user's own attributes; the readout as the Linear's (1, m) weight
    or as its row, a view of the whole weight."""
    parts = {"units": lambda m: m.first.weight,
             "readout": (lambda m: m.second.weight) if readout == "weight" else (lambda m: m.second.weight[0])}
    if bias:
        parts["unit_bias"] = lambda m: m.first.bias
    subject = Subject("mine", SKIP_NET, Adapter(lambda in_dim, width: _Mine(in_dim, width, bias),
                                                 fixed={"form": "two_layer"}, parts=parts))
    subject.check_contract()
    for claim in (wang2020.exact_legs, wang2020.kernel_sandwich, wang2020.merge_inequality, wang2020.relabelled_copy,
                  wang2020.arccos_oracle):
        result = run(claim.id, subject, profile="smoke", shrink=False)
        assert result.verdict == "holds", f"{claim.id}: {result.summary}"


def test_undeclared_unit_bias_is_named_in_the_counterexample() -> None:
    subject = Subject("mine", SKIP_NET, Adapter(lambda in_dim, width: _Mine(in_dim, width, True),
                                                 fixed={"form": "two_layer"},
                                                 parts={"units": lambda m: m.first.weight,
                                                        "readout": lambda m: m.second.weight}))
    result = run(wang2020.exact_legs.id, subject, profile="smoke", shrink=False)
    assert result.verdict == "falsified" and "unit_bias" in result.summary


def test_every_claim_draws_its_figure_on_a_result_with_missing_or_failing_evidence() -> None:
    """Each wang2020 claim has a figure; it draws on real smoke results of the cheap claims, on
    hand-written evidence of the landscape claims (flat barriers, a failing slope interval)
    and on a result without evidence (an error), which it says it cannot draw rather than
    raising."""
    from matplotlib.figure import Figure

    claims = [c for c in registry.claims().values() if c.paper == "wang2020"]
    assert claims and all(c.figure is not None for c in claims)
    flat = _evidence([1e-2, 1e-2, 1e-2])
    pairs = flat["widths"][0]["pairs"]
    drawn = {
        "wang2020.barrier_width": (flat, {"interval": [-0.1, 0.2], "band": ["-inf", 0.0]}),
        "wang2020.components": ({"widths": [8, 32, 128], "levels": [0.1, 0.2],
                                 "counts": [[[3, 4], [2, 4], [1, 1]], [[1, 4], [3, 4], [2, 4]]]}, {}),
        "wang2020.skip_vs_plain": ({"floor": 1e-6, "widths": [{"width": m, "minima": 4, "pairs": pairs,
                                                               "skip": [0.0, 1e-2, 2e-2, 1e-3, 1e-2, 1e-2],
                                                               "plain": [1e-3] * 6} for m in (8, 32)]},
                                   {"interval": ["-inf", 0.4], "band": ["-inf", 0.0]}),
        "wang2020.estimators": ({"linear_nets": {"barriers": [0.0, 1e-6, 1e-3], "floor": 1e-4},
                                 "swap": {"mean_square": 0.5, "2": {"linear": 0.4, "bezier": 0.05, "neb": 0.3},
                                          "8": {"linear": 0.3, "bezier": 1e-4, "neb": 0.0}}}, {}),
        "wang2020.arccos_oracle": ({"mean": 1e-3, "se": 1e-5, "energy": 0.5, "kernel": 0.1, "samples": 64}, {})}
    results = [run(claim, profile="smoke").to_json() for claim in ("wang2020.kernel_sandwich",
                                                                   "wang2020.merge_inequality", "wang2020.exact_legs",
                                                                   "wang2020.relabelled_copy")]
    results += [{"claim": claim, "verdict": "falsified", "alpha": 1e-3, "evidence": evidence,
                 "setting": {**SETTING, "alpha": 0.5}, **extra} for claim, (evidence, extra) in drawn.items()]
    results += [{"claim": c.id, "verdict": "error", "evidence": {}} for c in claims]
    for result in results:
        figure = Figure()
        registry.get(result["claim"]).figure(result, figure)
        assert figure.axes, result["claim"]


def test_one_landscape_serves_both_claims_on_a_users_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """barrier_width and components each resolve a user's ``module:adapter`` to a Subject of
    their own; the landscape is computed once for both (it once took 39 s and then 32 s
    more), and not for another adapter of the same name."""
    computed: list[str] = []
    monkeypatch.setattr(wang2020, "_LANDSCAPES", {})
    monkeypatch.setattr(wang2020, "_landscape_uncached", lambda subject, setting: computed.append(subject.name) or {})
    adapter = Adapter(build=lambda in_dim, width, generator: skip_net(in_dim, width, generator=generator))
    setting = {"seed": 3}
    wang2020._landscape(Subject("mine:adapter", SKIP_NET, adapter), setting)
    wang2020._landscape(Subject("mine:adapter", SKIP_NET, adapter), setting)
    assert computed == ["mine:adapter"]
    other = Adapter(build=lambda in_dim, width, generator: skip_net(in_dim, width, generator=generator))
    wang2020._landscape(Subject("mine:adapter", SKIP_NET, other), setting)
    assert computed == ["mine:adapter"] * 2
    def factory(in_dim: int, width: int, generator: torch.Generator) -> nn.Module:
        return skip_net(in_dim, width, generator=generator)
    for _ in range(2):  # a bare factory is wrapped in a new, equal Adapter each time it is resolved
        wang2020._landscape(Subject("mine:factory", SKIP_NET, as_adapter(factory, "mine:factory")), setting)
    assert computed == ["mine:adapter"] * 2 + ["mine:factory"]
