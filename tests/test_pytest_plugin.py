"""The pytest plugin: verify's failures at the user's line, subjects as objects, the
[tool.resclaims] table as test items, margins in user_properties, header and statistics."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import strategies as st

import resclaims
from resclaims import registry
from resclaims.claim import Claim
from resclaims.models.zhang2019 import TAU_RESNET, tau_resnet
from resclaims.project import read

pytest_plugins = ["pytester"]

CHEAP = "zhang2019.forward_stable"
SIMPLEST = {"c": 0.25, "depth": 4, "seed": 0, "width": 64}  # smoke's first setting of CHEAP

MYNETS = '''
import torch
from resclaims.models.zhang2019 import tau_resnet


def good(depth, width, tau, in_dim, out_dim, generator):
    return tau_resnet(depth, tau, width, generator=generator, in_dim=in_dim, out_dim=out_dim)


def overscaled(depth, width, tau, in_dim, out_dim, generator):
    """A bug: the branch is scaled by 4, whatever tau is asked for."""
    return tau_resnet(depth, 4.0, width, generator=generator, in_dim=in_dim, out_dim=out_dim)


class Broken(torch.nn.Module):
    def forward(self, h):
        raise RuntimeError("kernel not found")


def crashes_when_deep(depth, width, tau, in_dim, out_dim, generator):
    """Passes the probe (depth 3), then crashes inside the check."""
    model = good(depth, width, tau, in_dim, out_dim, generator)
    if depth > 3:
        model.blocks[0] = Broken()
    return model
'''

USER_TEST = f'''
import resclaims
from mynets import overscaled


def test_my_resnet():
    resclaims.verify("{CHEAP}", overscaled, setting={SIMPLEST!r})
'''


@pytest.fixture(autouse=True)
def inner_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's sessions run in this process: they take no profile from this session's
    environment, and do not set torch's thread count as an xdist worker would."""
    monkeypatch.delenv("RESCLAIMS_PROFILE", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)


def simplest(claim_id: str) -> Claim:
    """CHEAP on its simplest setting only, so that a falsified search costs one setting."""
    return Claim(**{**registry.get(CHEAP).__dict__, "id": claim_id,
                    "settings": lambda scale, subject: st.just(dict(SIMPLEST))})


def project(pytester: pytest.Pytester, table: str, ini: str = "") -> None:
    """A user's project: pyproject.toml with ``ini`` under [tool.pytest.ini_options] and
    ``table`` under [tool.resclaims], and mynets.py."""
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{ini}\n\n[tool.resclaims]\n{table}")
    pytester.makepyfile(mynets=MYNETS)


def good(depth: int, width: int, tau: float, in_dim: int, out_dim: int, generator: object) -> object:
    return tau_resnet(depth, tau, width, generator=generator, in_dim=in_dim, out_dim=out_dim)


GOOD = resclaims.Adapter(build=good)


def test_a_factory_or_adapter_object_is_a_subject_named_after_it() -> None:
    result = resclaims.verify(CHEAP, good, setting=SIMPLEST)
    assert result.verdict == "holds" and result.subject == f"{__name__}:good"
    assert registry.subject_for(GOOD, TAU_RESNET).name == f"{__name__}:GOOD"  # the variable: replays as --subject
    assert registry.subject_for(resclaims.Adapter(build=good), TAU_RESNET).name == f"{__name__}:good"
    with pytest.raises(resclaims.SubjectError, match="neither a resclaims.Adapter nor callable"):
        resclaims.verify(CHEAP, 3)


def test_a_falsified_verify_fails_at_the_users_line_with_the_counterexample(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mynets=MYNETS, test_user=USER_TEST)
    xml = pytester.path / "out.xml"
    result = pytester.runpytest_inprocess("-p", "no:xdist", "test_user.py", f"--junitxml={xml}",
                                          "--hypothesis-show-statistics")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    result.stdout.fnmatch_lines([">*resclaims.verify(*overscaled*", "E*AssertionError: zhang2019.forward_stable "
                                 "falsified on subject mynets:overscaled", "E*replay:*--subject mynets:overscaled*",
                                 "*resclaims statistics*", "*zhang2019.forward_stable on mynets:overscaled*falsified",
                                 "*1 example(s) judged, 0 setting(s) discarded"])
    assert "engine.py" not in text and "Claim(" not in text
    assert f'name="resclaims.{CHEAP}[mynets:overscaled].margin"' in xml.read_text()
    line = pytester.runpytest_inprocess("-p", "no:xdist", "test_user.py", "--tb=line")
    line.stdout.fnmatch_lines([f"{pytester.path / 'test_user.py'}:[0-9]*: AssertionError: {CHEAP} falsified*"])


def test_the_pyproject_table_collects_one_item_per_claim_and_subject(pytester: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fast = simplest("plugin.forward_stable")
    catalog = {**registry.claims(), fast.id: fast}
    monkeypatch.setattr(registry, "claims", lambda: catalog)
    project(pytester, '''subjects = ["mynets:good", "mynets:overscaled", "mynets:crashes_when_deep", "li2016.plain"]
claims = ["plugin.*", "li2016.deep_shortcut_flat"]
profile = "smoke"''')
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    xml = pytester.path / "out.xml"
    result = pytester.runpytest_inprocess("-p", "no:xdist", "--strict-markers", "-m", "resclaims", "-rs",
                                          f"--junitxml={xml}", "--resclaims-statistics")
    assert "RESCLAIMS_PROFILE" not in os.environ  # the table's profile was for its session only
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, deselected=1)
    text = result.stdout.str()
    result.stdout.fnmatch_lines_random([
        "resclaims: profile smoke (max examples 1 cheap, 1 medium, 1 expensive; derandomized), device cpu",
        "*_ plugin.forward_stable on mynets:overscaled _*",
        "plugin.forward_stable falsified on subject mynets:overscaled",
        "*_ ERROR at call of plugin.forward_stable on mynets:crashes_when_deep _*",
        "subject mynets:crashes_when_deep raised RuntimeError during plugin.forward_stable: kernel not found",
        "SKIPPED [[]1[]] pyproject.toml*: not applicable: li2016.deep_shortcut_flat is about*fixes shortcut_depth = 1",
        "*resclaims statistics*", "pyproject.toml::plugin.forward_stable[[]mynets:good[]]:"])
    assert "engine.py" not in text and not [line for line in result.outlines if line.startswith("E ")]
    assert '<property name="resclaims.plugin.forward_stable[mynets:good].margin"' in xml.read_text()


def test_default_claims_and_selection_by_keyword_and_paper(pytester: pytest.Pytester) -> None:
    project(pytester, 'subjects = ["mynets:good", "zhang2019.no_tau"]', ini='testpaths = ["tests"]')
    pytester.mkdir("tests").joinpath("test_mine.py").write_text("def test_mine():\n    pass\n")
    theorems = [c.id for c in registry.claims().values() if c.paper == "zhang2019" and c.scope == "theorem"]
    everything = [c.id for c in registry.claims().values() if c.paper == "zhang2019"]
    listed = pytester.runpytest_inprocess("-p", "no:xdist", "--collect-only", "-q", "-m", "zhang2019")
    assert [line for line in listed.outlines if "::" in line] == \
        [f"pyproject.toml::{c}[mynets:good]" for c in theorems] + \
        [f"pyproject.toml::{c}[zhang2019.no_tau]" for c in everything]  # as `resclaims check --subject`
    assert "1 deselected" in listed.stdout.str()  # tests/test_mine.py, from testpaths
    chosen = pytester.runpytest_inprocess("-p", "no:xdist", "--collect-only", "-q", "-k", "forward_stable")
    assert [line for line in chosen.outlines if "::" in line] == \
        [f"pyproject.toml::{CHEAP}[mynets:good]", f"pyproject.toml::{CHEAP}[zhang2019.no_tau]"]


@pytest.mark.parametrize("table, stream, message", [
    ('subjects = ["nope.module:f"]', "stdout", "[[]tool.resclaims[]]: subject nope.module:f: cannot import module*"),
    ('subjects = ["mynets:good"]\nclaims = ["no.*"]', "stdout", "[[]tool.resclaims[]]: no claim matches 'no.*'*"),
    ('subjects = ["mynets:good"]\nprofiles = "ci"', "stderr", "ERROR: *[[]tool.resclaims[]]: unknown key(s) profiles*"),
    ('subjects = "mynets:good"', "stderr", "ERROR: *subjects must be a non-empty list*"),
])
def test_a_bad_table_is_one_line(pytester: pytest.Pytester, table: str, stream: str, message: str) -> None:
    project(pytester, table)
    result = pytester.runpytest_inprocess("-p", "no:xdist", "--collect-only")
    assert result.ret != 0 and not [line for line in result.outlines + result.errlines if line.startswith("E ")]
    getattr(result, stream).fnmatch_lines([message])


def test_the_resclaims_repository_collects_no_claims() -> None:
    assert read(Path(__file__).parent.parent / "pyproject.toml") is None
