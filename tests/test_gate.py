"""What the gate costs and that cheaper is not different: cost accounting, drawn and
streamed ensembles against built ones, stacked block calls against vmapped ones."""
from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from resclaims import Adapter, Subject, costs, registry
from resclaims.cli import main
from resclaims.core import data, sweeps
from resclaims.core import ensemble
from resclaims.core.ensemble import Ensemble
from resclaims.engine import run
from resclaims.models.zhang2019 import SUBJECTS, TAU_RESNET, TauBlock, draw_tau_resnet
from resclaims.models.zhang2019_mutants import DetachedBranchBlock
from resclaims.profiles import resolve
from resclaims.setting_check import example_settings
from resclaims.strategies.architectures import CONV_WIDTHS, MLP_WIDTHS, cost, measure

REFERENCE = SUBJECTS[0]
ARCHS = [dict(block="mlp"), dict(block="mlp", branch_depth=2, stages=3),
         dict(block="conv", input="image", image=8, stages=2), dict(block="mlp", input="image", image=4)]


def _keywords(arch: dict, depth: int = 6) -> dict:
    return dict(depth=depth, tau=0.4, width=8, in_dim=5, out_dim=2, **arch)


def _ensemble(arch: dict, how: str, seeds: int = 3, subject: Subject = REFERENCE) -> Ensemble:
    kw = _keywords(arch)
    drawn = None if how in ("built", "loop") else subject.drawn(**kw)
    ens = Ensemble(lambda s: subject.build(s, **kw), data.spawn(7, seeds),
                   lambda m: subject.inputs(m, 4, 7, in_dim=5), blocks=subject.blocks,
                   drawn=drawn, stream=how == "streamed", batched=how != "loop")
    if drawn is not None:  # the drawn path was taken: no model was built, the template is the skeleton
        assert all(p.is_meta for p in ens.models[0].parameters())
        assert ens.streamed == (how == "streamed")
    return ens


DRAWN = [s for s in registry.subjects().values() if s.family is TAU_RESNET and s.adapter.draw is not None]


@pytest.mark.parametrize("subject", DRAWN, ids=lambda s: s.name)
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: "-".join(f"{v}" for v in a.values()))
def test_drawn_parameters_are_the_built_ones(arch: dict, subject: Subject) -> None:
    """For the reference and every variant that declares the reference's draws."""
    built, drawn = _ensemble(arch, "built", subject=subject), _ensemble(arch, "drawn", subject=subject)
    assert built.params.keys() == drawn.params.keys()
    for name, value in built.params.items():
        assert torch.equal(value, drawn.params[name]), name
    assert type(drawn.models[0].blocks[0]) is type(built.models[0].blocks[0])  # the variant's own forward


def test_a_variant_that_draws_otherwise_is_refused_and_built() -> None:
    """draw_tau_resnet refuses blocks with their own init; the ensemble then builds."""
    lecun = registry.subjects()["zhang2019.init_lecun"]
    wrong = Subject("wrong", TAU_RESNET, Adapter(build=lecun.adapter.build, draw=draw_tau_resnet))
    with pytest.raises(ValueError, match="cannot draw LecunInitBlock"):
        draw_tau_resnet(lecun.build(0, **_keywords(ARCHS[0])), torch.Generator())  # at the call, not the first draw
    built = _ensemble(ARCHS[0], "built", subject=lecun)
    assert wrong.drawn(**_keywords(ARCHS[0])) is None  # refused at the call, so a streamed ensemble builds too
    for stream in (False, True):
        ens = Ensemble(lambda s: wrong.build(s, **_keywords(ARCHS[0])), data.spawn(7, 3), built.x,
                       blocks=wrong.blocks, drawn=wrong.drawn(**_keywords(ARCHS[0])), stream=stream)
        assert not ens.streamed
        for name, value in ens.params.items():
            assert torch.equal(value, built.params[name]), name
    assert len(DRAWN) >= 8  # the reference, five mutants and two controls


def test_drawing_threads_end_with_the_draw(restore_threads) -> None:
    """Seeds are drawn side by side in threads that end with the draw: a thread that ran
    a parallel kernel keeps an OpenMP team, and while such threads live libgomp puts
    every team to sleep between kernels (later small sweeps ran 2.3x slower)."""
    torch.set_num_threads(2)
    _ensemble(ARCHS[0], "drawn", seeds=4)
    assert not [t for t in threading.enumerate() if t.name.startswith("resclaims-draw")]


@pytest.mark.parametrize("chunk", [64 * 2 ** 20, 1], ids=["one-chunk", "block-by-block"])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: "-".join(f"{v}" for v in a.values()))
def test_streamed_sweep_is_bit_identical_and_frees_its_blocks(arch: dict, chunk: int, monkeypatch) -> None:
    monkeypatch.setattr(ensemble, "STREAM_BYTES", chunk)
    built, streamed, loop = (_ensemble(arch, how) for how in ("built", "streamed", "loop"))
    expected = sweeps.log_norms(built, built.x)
    assert torch.equal(sweeps.log_norms(streamed, streamed.x), expected)
    assert torch.allclose(sweeps.log_norms(loop, loop.x), expected, rtol=1e-12, atol=0)
    assert streamed.transitions == built.transitions
    assert not any(n.startswith("blocks.") for n in streamed.params)  # every block freed after use


def test_streamed_ensemble_is_forward_only_and_in_order() -> None:
    ens = _ensemble(ARCHS[0], "streamed")
    with pytest.raises(RuntimeError, match="transitions after the sweep"):
        ens.transitions
    h = ens.stem(ens.x)
    with pytest.raises(RuntimeError, match="stem once"):
        ens.stem(ens.x)
    with pytest.raises(RuntimeError, match="once, in order"):
        ens.block(1, h)
    with pytest.raises(RuntimeError, match="without stream=True"):
        ens.trained_parameters()


def test_a_model_whose_parameters_are_not_in_forward_order_is_not_streamed() -> None:
    """Streaming reads the stem's parameters as those drawn before block 1's: a model that
    registers its blocks before its stem is drawn whole instead, with the same evidence."""
    kw = _keywords(ARCHS[0])

    class Reordered(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.blocks, self.head, self.stem = net.blocks, net.head, net.stem
            self.input_shape = net.input_shape

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.stem(x)
            for block in self.blocks:
                h = block(h)
            return self.head(h)

    def draw(skeleton, generator):  # the reference's draw order, under this model's names
        values = {n: v.clone() for n, v in REFERENCE.adapter.draw(skeleton.original, generator)}
        return ((n, values[n].clone()) for n, _ in skeleton.named_parameters())

    def build(generator, **k):
        net = REFERENCE.adapter.build(generator=generator, **k)
        model = Reordered(net)
        object.__setattr__(model, "original", net)  # not a submodule: no parameters registered twice
        return model

    from resclaims.family import Adapter, Subject
    subject = Subject("reordered", REFERENCE.family, Adapter(build=build, draw=draw))
    ens = Ensemble(lambda s: subject.build(s, **kw), data.spawn(7, 3), lambda m: subject.inputs(m, 4, 7, in_dim=5),
                   drawn=subject.drawn(**kw), stream=True)
    assert not ens.streamed
    built = _ensemble(ARCHS[0], "built")
    assert torch.equal(sweeps.log_norms(ens, ens.x), sweeps.log_norms(built, built.x))


def test_stacked_blocks_agree_with_vmapped_calls() -> None:
    kw = _keywords(dict(block="mlp", branch_depth=2, stages=2))
    make = lambda stacked: Ensemble(lambda s: REFERENCE.build(s, **kw), data.spawn(1, 4),  # noqa: E731
                                    lambda m: REFERENCE.inputs(m, 4, 1, in_dim=5), blocks=REFERENCE.blocks,
                                    stacked_blocks=stacked)
    fast, generic = make(True), make(False)
    assert torch.equal(sweeps.log_norms(fast, fast.x), sweeps.log_norms(generic, generic.x))
    assert any(f is not None for f in fast._stacked.values())  # noqa: SLF001 - the fast path was taken


def test_a_subclass_that_rewrites_forward_is_applied_by_its_own_forward() -> None:
    """DetachedBranchBlock's forward values equal TauBlock's, so only the class rule keeps
    TauBlock.forward_stacked from hiding its missing gradient."""
    kw = dict(depth=3, tau=0.5, width=6, in_dim=5, out_dim=1, block_class=DetachedBranchBlock)
    ens = Ensemble(lambda s: REFERENCE.build(s, **kw), data.spawn(0, 2), lambda m: REFERENCE.inputs(m, 4, 0, in_dim=5))
    sweeps.log_norms(ens, ens.x)
    assert set(ens._stacked.values()) == {None}  # noqa: SLF001
    assert isinstance(ens._block_modules[0], TauBlock)  # noqa: SLF001


def test_phases_are_charged_exclusively() -> None:
    with costs.measure() as c:
        with costs.phase("evidence"):
            with costs.phase("construction"):
                time.sleep(0.3)
            time.sleep(0.02)
        with costs.phase("judgement"):
            pass
    assert c.construction_s >= 0.3 and 0.02 <= c.evidence_s < 0.3  # >= 0.32 if charged twice
    assert c.construction_s + c.evidence_s + c.judgement_s + c.other_s == pytest.approx(c.total_s)
    assert c.peak_rss_mib > 0
    with costs.measure() as busy:
        sum(i * i for i in range(5_000_000))
    assert busy.cpu_s > 5 * c.cpu_s  # a busy loop keeps a core busy; sleeping does not
    with pytest.raises(ValueError, match="unknown phase"):
        with costs.phase("shrinking"):
            pass


def test_results_carry_their_costs(tmp_path) -> None:
    result = run("zhang2019.forward_stable", profile="smoke")
    assert result.costs.construction_s > 0 and result.costs.evidence_s > 0
    assert result.seconds == result.costs.total_s
    out = tmp_path / "r.json"
    assert main(["check", "--claims", "zhang2019.forward_stable", "--profile", "smoke", "--timings",
                 "--json", str(out)]) == 0
    saved = json.loads(out.read_text())["results"][0]["costs"]
    assert set(saved) >= {"construction_s", "evidence_s", "judgement_s", "other_s", "total_s", "cpu_s", "peak_rss_mib"}


class _ConvBlock(torch.nn.Module):
    """A user's block, written without the project's names: relu(x + tau conv(relu(conv x)))."""

    def __init__(self, channels: int, tau: float) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.tau = tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.tau * self.conv2(torch.relu(self.conv1(x))))


def _conv_net(depth: int, tau: float, width: int = 4) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, width, 3, padding=1), *[_ConvBlock(width, tau) for _ in range(depth)],
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(width, 2))


def _mlp_net(depth: int, tau: float, width: int = 4) -> torch.nn.Module:
    blocks = [torch.nn.Linear(width, width, bias=False) for _ in range(depth)]
    return torch.nn.Sequential(torch.nn.Linear(5, width), *blocks, torch.nn.Linear(width, 2))


USER_CONV = Adapter(build=_conv_net, blocks=lambda m: list(m)[1:-3],
                    inputs=lambda n, g: torch.randn(n, 3, 8, 8, generator=g))
USER_MLP = Adapter(build=_mlp_net, blocks=lambda m: list(m)[1:-1], inputs=lambda n, g: torch.randn(n, 5, generator=g))


def test_a_users_conv_net_taking_a_width_is_sized_by_its_measured_cost() -> None:
    """Its width is a channel count from the conv list, and a setting's cost is the probe's
    measured multiply-adds per block scaled by width^2 (not the MLP formula w^2 per block,
    which once let ``backward_stable`` draw 128 channels at L = 64 for such a net: 382 s);
    the paper's MLP example of ``forward_converse`` is not run on it (64 channels at
    L = 1024: 527 s, 24 GB); an MLP block's measured cost is the reference formula's."""
    conv = registry.subject_for(USER_CONV, TAU_RESNET)
    measured = measure(conv)
    probe = TAU_RESNET.probe["width"]
    assert measured.conv and measured.width == probe
    assert measured.per_block == 2 * 9 * probe * probe * 8 * 8  # two 3x3 convolutions on 8 x 8 positions
    assert measured.at(2 * probe) == 4 * measured.per_block
    scale = resolve("ci").scale
    for claim_id in ("zhang2019.forward_stable", "zhang2019.backward_stable", "zhang2019.forward_converse",
                     "zhang2019.gd_depth_free"):
        claim = registry.get(claim_id)
        for setting in example_settings(claim, conv, scale, draws=20):  # explicit examples included
            assert setting["width"] in CONV_WIDTHS and "block" not in setting, (claim_id, setting)
            if "depth" in setting and setting["width"] > min(CONV_WIDTHS):
                assert cost(setting, setting["depth"], measured) <= scale.max_params, (claim_id, setting)
    mlp = measure(registry.subject_for(USER_MLP, TAU_RESNET))
    assert not mlp.conv and mlp.at(64) == cost({"width": 64}, 1)
    assert {s["width"] for s in example_settings(registry.get("zhang2019.forward_stable"),
                                                 registry.subject_for(USER_MLP, TAU_RESNET), scale)} <= set(MLP_WIDTHS)
