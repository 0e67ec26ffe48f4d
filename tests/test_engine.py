"""The engine and the command line: catalog, verdicts, replay, and bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import strategies as st

import resclaims
from resclaims import registry
from resclaims.cli import main
from resclaims.claim import Claim, Discarded, Judgement
from resclaims.engine import run
from resclaims.family import SubjectError

FIXTURES = str(Path(__file__).parent / "fixtures")
CHEAP = "zhang2019.forward_stable"


def test_catalog_is_complete_and_well_formed() -> None:
    claims = registry.claims()
    arxiv = {"li2016": {"1611.01186"}, "liu2019": {"1909.04653"}, "shamir2018": {"1804.06739"},
             "zhang2019": {"1903.07120"}, "wang2020": {"2006.05939", "1611.01540"}}  # Wang et al. build on F&B
    assert {c.split(".")[0] for c in claims} == set(arxiv)
    for claim in claims.values():
        assert claim.cite.arxiv in arxiv[claim.paper] and claim.statement and claim.thresholds and claim.covers
        assert registry.reference(claim.family).role == "reference"
    scopes = {c.id: c.scope for c in claims.values()}
    assert scopes.pop("zhang2019.forward_constant") == "reference-conformance"
    assert scopes.pop("liu2019.reference_trajectory") == "reference-conformance"
    assert scopes.pop("wang2020.estimators") == "reference-conformance"
    assert scopes.pop("wang2020.skip_vs_plain") == "reference-conformance"
    assert set(scopes.values()) == {"theorem"}


def test_claim_definition_errors_are_early() -> None:
    base = registry.get(CHEAP)
    with pytest.raises(ValueError, match="provenance"):
        Claim(**{**base.__dict__, "provenance": "folklore"})
    with pytest.raises(ValueError, match="<paper>.<name>"):
        Claim(**{**base.__dict__, "id": "Forward"})


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(registry.claims())
    assert {r["scope"] for r in rows} == {"theorem", "reference-conformance"}
    assert main(["list", "--subjects", "--json"]) == 0
    roles = {r["role"] for r in json.loads(capsys.readouterr().out)}
    assert roles == {"reference", "mutant", "control"}
    assert main(["list"]) == 0
    assert "ref. conformance" in capsys.readouterr().out


TAU = [c for c in registry.claims().values() if c.paper == "zhang2019"]


def test_a_projects_glob_keeps_a_user_subject_to_theorem_claims() -> None:
    """``[tool.resclaims]`` chooses as ``check --claims`` does (registry.by_default)."""
    from resclaims.project import Project
    theorems = [c.id for c in TAU if c.scope == "theorem"]
    assert [c.id for c in Project(("usermodels:good",), ("zhang2019.*",)).claims_of("usermodels:good")] == theorems
    named = Project(("usermodels:good",), ("zhang2019.*", "zhang2019.forward_constant"))
    assert "zhang2019.forward_constant" in [c.id for c in named.claims_of("usermodels:good")]
    assert [c.id for c in Project(("zhang2019.no_tau",), ("zhang2019.*",)).claims_of("zhang2019.no_tau")] == \
        [c.id for c in TAU]


@pytest.mark.parametrize("argv, expected", [
    (["--subject", "usermodels:good"], [c.id for c in TAU if c.scope == "theorem"]),  # its family only
    (["--subject", "usermodels:good", "--scope", "all"], [c.id for c in TAU]),
    (["--subject", "usermodels:good", "--claims", "zhang2019.forward_constant"], ["zhang2019.forward_constant"]),
    (["--subject", "usermodels:good", "--claims", "zhang2019.*"], [c.id for c in TAU if c.scope == "theorem"]),
    (["--subject", "usermodels:good", "--claims", "zhang2019.*", "--claims", "zhang2019.forward_constant"],
     [c.id for c in TAU if c.scope == "theorem" or c.id == "zhang2019.forward_constant"]),  # and the one named
    (["--subject", "zhang2019.no_tau"], [c.id for c in TAU]),
    ([], list(registry.claims())),
    (["--scope", "reference-conformance"],
     [c.id for c in registry.claims().values() if c.scope == "reference-conformance"]),
    (["--subject", "examples.residual_mlp:adapter_basic"],  # meets only the shortcut-stack contract
     [c.id for c in registry.claims().values() if c.paper == "li2016"]),
])
def test_user_subjects_get_theorem_claims_of_their_family_by_default(argv: list[str], expected: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import resclaims.cli as cli

    seen: list[str] = []

    def record(claim, subject, **kwargs):
        seen.append(claim.id)
        return resclaims.Result(claim.id, str(subject), "holds", claim.scope)
    monkeypatch.setattr(cli, "run", record)
    assert main(["check", *argv]) == 0
    assert seen == expected


def test_check_writes_json_and_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["check", "--claims", CHEAP, "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["complete"] and payload["environment"]["profile"] == "ci"
    (result,) = payload["results"]
    assert result["claim"] == CHEAP and result["verdict"] == "holds" and result["seconds"] > 0
    assert "holds" in capsys.readouterr().out


def test_falsified_counterexample_and_replay(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--claims", CHEAP, "--subject", "zhang2019.no_tau"]) == 1
    text = capsys.readouterr().out
    assert "falsified on subject zhang2019.no_tau" in text and "replay:" in text
    setting = text.split("--setting '")[1].split("'")[0]
    shrunk = json.loads(setting)
    assert shrunk["depth"] == 4 and shrunk["block"] == "mlp" and shrunk["stages"] == 1  # the simplest
    assert main(["check", "--claims", CHEAP, "--subject", "zhang2019.no_tau", "--setting", setting]) == 1


def test_verify_raises_readable_assertion() -> None:
    with pytest.raises(AssertionError, match=r"(?s)falsified.*setting:.*evidence:.*replay:"):
        resclaims.verify(CHEAP, "zhang2019.no_tau")
    assert resclaims.verify(CHEAP).verdict == "holds"


def test_replay_is_bit_identical() -> None:
    setting = {"depth": 16, "width": 64, "c": 0.5, "seed": 3}
    a = resclaims.run(CHEAP, setting=setting)
    b = resclaims.run(CHEAP, setting=setting)
    assert a.evidence == b.evidence


def test_user_factory_without_generator_is_deterministic() -> None:
    setting = {"depth": 8, "width": 64, "c": 0.5, "seed": 1}
    a = resclaims.run(CHEAP, "usermodels:good", setting=setting)
    b = resclaims.run(CHEAP, "usermodels:good", setting=setting)
    assert a.verdict == "holds" and a.evidence == b.evidence


@pytest.mark.parametrize("spec, message", [
    ("usermodels:not_a_module", "not a torch.nn.Module"),
    ("usermodels:wrong_shape", "output has shape (4, 1, 8), expected (n, d)"),
    ("usermodels:nan_output", "not finite"),
    ("usermodels:no_blocks", "model lacks attribute blocks"),
    ("usermodels:missing_keyword", "does not accept keyword(s) tau"),
    ("usermodels:raises", "build raised RuntimeError"),
    ("usermodels:out_of_order", "the forward pass called blocks [3, 2, 1]"),
    ("usermodels:wrong_inputs", "must return a tensor with 4 rows"),
    ("usermodels:crashes_when_deep", "raised RuntimeError during zhang2019.forward_stable"),
    ("usermodels:stale_skip", "block 2 is called with more than the hidden state"),
])
def test_broken_subject_is_an_error_result(spec: str, message: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["check", "--claims", CHEAP, "--subject", spec, "--json", str(out)]) == 2
    (result,) = json.loads(out.read_text())["results"]
    assert result["verdict"] == "error" and message in result["summary"] and spec in result["summary"]
    with pytest.raises(SubjectError, match="subject"):
        resclaims.verify(CHEAP, spec)


def test_a_block_handed_its_own_input_as_an_extra_argument_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["check", "--claims", CHEAP, "--subject", "usermodels:own_skip_passed", "--json", str(out)]) == 0


@pytest.mark.parametrize("argv, message", [
    (["--subject", "nonexistent.module:f"], "cannot import module 'nonexistent.module'"),
    (["--subject", "usermodels:absent"], "has no attribute 'absent'"),
    (["--subject", "usermodels:NOT_CALLABLE"], "is neither a resclaims.Adapter nor callable"),
    (["--subject", "no_such_subject"], "unknown subject"),
    (["--claims", "nosuch.*"], "no claim matches 'nosuch.*'"),
    (["--setting", "{bad"], "not valid JSON"),
])
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--claims", CHEAP, *argv] if "--claims" not in argv else ["check", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_console_script_reports_without_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": FIXTURES}
    proc = subprocess.run([sys.executable, "-m", "resclaims.cli", "check", "--subject", "nonexistent.module:f"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_interrupted_run_keeps_partial_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import resclaims.cli as cli

    calls = []
    real = cli.run

    def interrupt_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(cli, "run", interrupt_second)
    out = tmp_path / "r.json"
    assert main(["check", "--claims", CHEAP, "--claims", "zhang2019.forward_constant", "--json", str(out)]) == 130
    payload = json.loads(out.read_text())
    assert not payload["complete"] and [r["claim"] for r in payload["results"]] == [CHEAP]


def test_profiles_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    from resclaims.profiles import UnknownProfile, resolve

    assert resolve().name == "ci"
    monkeypatch.setenv("RESCLAIMS_PROFILE", "dev")
    assert resolve().name == "dev" and resolve("thorough").name == "thorough"
    with pytest.raises(UnknownProfile):
        resolve("fast")


def test_detached_branch_is_a_falsification_naming_the_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    setting = '{"block": "mlp", "branch_depth": 1, "stages": 1, "input": "vector", "width": 64, "seed": 0}'
    assert main(["check", "--claims", "zhang2019.gradient_scale", "--subject", "zhang2019.detached_branch",
                 "--setting", setting]) == 1
    text = capsys.readouterr().out
    assert "falsified on subject zhang2019.detached_branch" in text
    assert "no gradient reaches block(s) 1-256 of 256" in text and "Traceback" not in text


def test_a_claim_outside_a_fixed_architecture_is_skipped_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    result = resclaims.engine.run("li2016.depth2_hessian_at_zero", "li2016.plain")
    assert result.verdict == "skipped" and "fixes shortcut_depth = 1" in result.summary
    assert main(["check", "--subject", "li2016.plain", "--claims", "li2016.deep*", "--profile", "smoke"]) == 0
    assert "1 skipped" in capsys.readouterr().out


def test_a_keyword_neither_taken_nor_declared_is_a_subject_error() -> None:
    result = resclaims.engine.run("li2016.deep_shortcut_flat", "usermodels:stack_without_depth_keyword")
    assert result.verdict == "error" and "fixed={'shortcut_depth'" in result.summary


def test_a_user_subject_meeting_no_family_contract_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--subject", "usermodels:not_a_module"]) == 2
    err = capsys.readouterr().err
    assert "meets the contract of no claim family" in err and "Traceback" not in err


def test_verify_on_a_claim_outside_the_subject_skips_under_pytest() -> None:
    with pytest.raises(resclaims.NotApplicable, match="fixes shortcut_depth = 1"):
        resclaims.verify("li2016.deep_shortcut_flat", "li2016.plain")


def _discarding(every: int, judged: bool = False) -> Claim:
    """forward_stable's family with a check that cannot judge seeds divisible by ``every``
    (``judged``: only those)."""
    def check(setting, subject, ctx):
        if (setting["seed"] % every == 0) != judged:
            raise Discarded("not converged")
        return {"seed": setting["seed"]}
    return Claim(**{**registry.get(CHEAP).__dict__, "id": "test.discarding", "check": check,
                    "settings": lambda scale, subject: st.fixed_dictionaries({"seed": st.integers(0, 1000)}),
                    "judge": lambda setting, ev, ctx: Judgement(True, 1.0, "judged"), "examples": ()})


def test_discarded_settings_are_counted_and_never_passes() -> None:
    some = run(_discarding(2), shrink=False)
    assert some.verdict == "holds" and some.examples > 0
    assert set(some.discarded) == {"not converged"} and some.discarded["not converged"] >= 1
    assert "discarded: not converged" in some.summary
    every = run(_discarding(1), shrink=False)
    assert every.verdict == "skipped" and "not judged: no drawn settings could be judged" in every.summary
    assert 1 <= every.discarded["not converged"] <= 3 * 4  # the search stops after 3 discards per example
    few = run(_discarding(13, judged=True), shrink=False)  # most discarded: the search stops after 3 x 4
    assert few.verdict == "holds" and sum(few.discarded.values()) == 12 and "search stopped" in few.summary
    replay = run(_discarding(1), setting={"seed": 4})
    assert replay.verdict == "skipped" and replay.discarded == {"not converged": 1}


def _falsified_above(bound: int, crash_below: int = 0) -> Claim:
    """A claim falsified by x >= ``bound`` whose check discards most x < 1000 (not multiples
    of 3) and, once it has falsified, crashes on x in [bound, crash_below): the shrinker
    meets discards and crashes."""
    seen = [False]

    def check(setting, subject, ctx):
        x = setting["x"]
        if x < 1000 and x % 3:
            raise Discarded("not converged")
        if seen[0] and bound <= x < crash_below:
            raise RuntimeError("the model crashed")
        seen[0] = seen[0] or x >= bound
        return {"x": x}
    return Claim(**{**registry.get(CHEAP).__dict__, "id": "test.falsified_above", "check": check,
                    "settings": lambda scale, subject: st.fixed_dictionaries({"x": st.integers(400, 2000)}),
                    "judge": lambda setting, ev, ctx: Judgement(ev["x"] < bound, bound - ev["x"], "x"),
                    "examples": ()})


@pytest.mark.parametrize("crash_below", [0, 1200], ids=["discards", "discards-and-crash"])
def test_a_falsified_claim_stays_falsified_when_shrinking_meets_discards_or_crashes(crash_below: int) -> None:
    """Hypothesis stops at the first counterexample and shrinks it; a smaller setting that is
    discarded, or that crashes the model, must not turn the verdict into holds or error."""
    result = run(_falsified_above(500, crash_below), profile="ci")
    assert result.verdict == "falsified", result.summary
    assert result.setting["x"] >= 500 and result.margin < 0  # a setting that was judged to falsify it


def test_each_setting_is_evaluated_once_per_search() -> None:
    """Hypothesis replays a failing setting before it reports it, and the shrinker may revisit
    one: those are answered from the first evaluation (evidence is a function of the setting),
    so a falsified expensive claim costs no extra example, and ``examples`` counts settings."""
    calls: list[int] = []

    def check(setting, subject, ctx):
        calls.append(setting["x"])
        return {"x": setting["x"]}
    claim = Claim(**{**registry.get(CHEAP).__dict__, "id": "test.once", "check": check, "examples": (),
                     "settings": lambda scale, subject: st.fixed_dictionaries({"x": st.integers(0, 100)}),
                     "judge": lambda setting, ev, ctx: Judgement(ev["x"] < 50, 50 - ev["x"], "x")})
    found = run(claim, shrink=False)
    assert found.verdict == "falsified" and found.setting["x"] >= 50
    assert len(calls) == len(set(calls)) == found.examples
    calls.clear()
    shrunk = run(claim, shrink=True)
    assert shrunk.verdict == "falsified" and shrunk.setting == {"x": 50}
    assert len(calls) == len(set(calls))


_DRAWS_AROUND_AN_IMPORT = '''
import importlib, json, sys
from hypothesis import given, settings, strategies as st
from resclaims import registry
from resclaims.claim import Claim, Judgement
from resclaims.engine import run
from resclaims.profiles import resolve
from resclaims.setting_check import example_settings

DRAWN = st.integers(0, 10 ** 6)


def plain():
    """The same strategy searched by Hypothesis without resclaims' engine."""
    seen = []
    def collect(x):
        seen.append(x)
    settings(max_examples=300, derandomize=True, database=None)(given(DRAWN)(collect))()
    return seen


def engine():
    seen = []
    def check(setting, subject, ctx):
        seen.append(setting["x"])
        return {}
    claim = Claim(**{**registry.get("zhang2019.forward_stable").__dict__, "id": "test.draws", "check": check,
                     "examples": (), "search": {"ci": 300}, "settings": lambda scale, subject: st.fixed_dictionaries({"x": DRAWN}),
                     "judge": lambda setting, ev, ctx: Judgement(True, 1.0, "judged")})
    run(claim, profile="ci", shrink=False)
    checked = example_settings(claim, registry.reference(claim.family), resolve("ci").scale, draws=300)
    return seen, [e["x"] for e in checked]


before = plain(), engine()
sys.path.insert(0, sys.argv[1])
importlib.import_module("project_constants")
after = plain(), engine()
print(json.dumps({"plain": before[0] != after[0], "engine": before[1] != after[1]}))
'''


def test_draws_do_not_depend_on_the_modules_a_process_imported(tmp_path: Path) -> None:
    """Hypothesis draws some values from constants in the source of the project modules a
    process has imported; a search's settings must not change when a user's model module
    gains a constant, or when a pytest worker happens to have imported another module first.
    In a fresh process: the same derandomized search before and after importing a module full
    of constants (plain Hypothesis, as the precondition that shows the effect; then the
    engine's search and the draws that check a ``--setting``)."""
    (tmp_path / "project_constants.py").write_text(
        "VALUES = (" + ", ".join(str(7919 * k + 13) for k in range(1, 120)) + ")\n")
    proc = subprocess.run([sys.executable, "-c", _DRAWS_AROUND_AN_IMPORT, str(tmp_path)], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    changed = json.loads(proc.stdout.strip().splitlines()[-1])
    from hypothesis.internal.conjecture import providers
    if not hasattr(providers, "_get_local_constants"):
        pytest.skip("this Hypothesis draws no constants from local modules")
    assert changed["plain"]  # the effect, without the pin: else this test shows nothing
    assert not changed["engine"]


def test_a_fixed_value_outside_the_familys_vocabulary_is_an_error_not_a_skip_of_everything() -> None:
    """skip = 'identiy' (a typo) once made every shamir2018 claim not applicable: exit 0,
    nothing checked.  The family's vocabulary makes it a subject error."""
    reference = registry.subjects()["shamir2018.reference"]
    typo = resclaims.Subject("typo", reference.family, resclaims.Adapter(
        build=reference.adapter.build, parts=reference.adapter.parts, fixed={"skip": "identiy"}))
    result = run("shamir2018.local_minima", typo, profile="smoke")
    assert result.verdict == "error"
    assert "fixed skip = 'identiy' is not one of the values family residual-unit knows: 'identity'" in result.summary
    for subject in registry.subjects().values():  # every registered subject speaks its family's vocabulary
        for keyword, values in subject.family.vocabulary.items():
            assert subject.adapter.fixed.get(keyword, values[0]) in values, subject.name
    for claim in registry.claims().values():  # and so does every claim's hypothesis
        for keyword, allowed in claim.requires.items():
            assert set(allowed) <= set(claim.family.vocabulary.get(keyword, allowed)), (claim.id, keyword)


def test_a_falsified_subject_that_drops_tau_is_told_so() -> None:
    """The verdict names the adapter slip (the model built at its own tau) beside the
    evidence; a subject that uses tau wrongly, but uses it, gets no such note."""
    setting = {"c": 0.25, "depth": 4, "seed": 0, "width": 64}
    slip = run("zhang2019.forward_stable", "usermodels:drops_tau", "ci", setting=setting)
    assert slip.verdict == "falsified"
    assert "does not change with tau (probe model, same seed, tau = 0.5 and 1.0)" in slip.summary
    wrong = run("zhang2019.forward_stable", "zhang2019.tau_on_shortcut", "ci", setting={**setting, "depth": 64})
    assert wrong.verdict == "falsified" and "note:" not in wrong.summary


@pytest.mark.parametrize("spec, expected", [("usermodels:good", []), ("usermodels:drops_tau", ["tau"]),
                                            ("usermodels:rejects_tau_one", [])])
def test_unresponsive_keywords(spec: str, expected: list[str]) -> None:
    subject = registry.subject_for(spec, registry.get("zhang2019.forward_stable").family)
    assert subject.unresponsive() == expected
