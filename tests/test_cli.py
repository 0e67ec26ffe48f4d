"""The command line as a CI gate: the results file's schema, JUnit XML, compare and
--baseline, the report's wiring, unwrapped replay commands, --help, refusals before any
work, SIGTERM, and progress.  Claims run under the smoke profile or not at all."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import textwrap
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

import resclaims.cli as cli
from resclaims import registry
from resclaims.claim import Claim, Judgement
from resclaims.compare import compare
from resclaims.engine import Result, counterexample, run, search_seed
from resclaims.junit import junit_xml
from resclaims.profiles import PROFILES
from resclaims.report import SCHEMA, git_state
from resclaims.setting_check import example_settings

CHEAP = "zhang2019.forward_stable"
ROOT = Path(__file__).parent.parent
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the installed resclaims and its script
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
LONG_SETTING = {"block": "conv", "branch_depth": 2, "c": 0.35, "depth": 8, "image": 8, "input": "image",
                "seed": 5912228, "stages": 3, "width": 4}


def _fake_run(verdicts: dict[str, str], margin: float = 1.0):
    """A stand-in for ``cli.run``: each claim gets the verdict named (default holds) at once."""
    def fake(claim: Claim, subject: Any, **kwargs: Any) -> Result:
        return Result(claim.id, str(subject or "reference"), verdicts.get(claim.id, "holds"), claim.scope,  # type: ignore[arg-type]
                      setting={"seed": 0}, summary="fake", margin=margin, unit="nats", profile="ci")
    return fake


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("resclaims: error: "), err
    return err[0]


def _git_repo(path: Path) -> str:
    """A git repository at ``path`` with one (empty) commit; its HEAD's hash."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c",
                               "commit.gpgsign=false", *args], cwd=path, check=True, capture_output=True,
                              text=True).stdout.strip()
    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "init")
    return git("rev-parse", "HEAD")


def test_results_file_and_junit_carry_schema_commit_seed_and_statistics(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    head = _git_repo(tmp_path)
    monkeypatch.chdir(tmp_path)  # the commit recorded is the working directory's, wherever the tests run
    out, xml = tmp_path / "r.json", tmp_path / "junit.xml"
    argv = ["check", "--claims", CHEAP, "--profile", "smoke", "--json", str(out), "--junit", str(xml)]
    assert cli.main(argv) == 0
    payload = json.loads(out.read_text())
    env = payload["environment"]
    assert payload["schema"] == SCHEMA and payload["complete"]
    assert env["commit"] == head and env["dirty"] is False  # untracked outputs do not make it dirty
    assert env["hypothesis_seed"] == "derandomized" and env["argv"] == argv  # main's argv, not pytest's
    (result,) = payload["results"]
    assert result["hypothesis_seed"] == "derandomized" and result["p_value"] is not None
    assert {"p_value", "alpha", "band", "interval", "unit", "margin"} <= set(result)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(xml.stat().st_mode) == 0o666 & ~umask
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "1" and suite.get("failures") == "0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))  # JUnit's: no timezone
    case = suite.find("testcase")
    assert case is not None and case.get("classname") == "resclaims.zhang2019"
    assert case.get("name") == f"{CHEAP} on zhang2019.reference"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert {"margin", "unit", "p_value", "alpha", "scope", "examples"} <= set(props) and props["scope"] == "theorem"


def test_git_state_is_null_outside_a_repository_and_never_fails(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert git_state(tmp_path) == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_state(ROOT) == (None, None)


def test_junit_has_a_testcase_per_verdict_with_the_counterexample() -> None:
    claims = registry.claims()
    results = [Result(CHEAP, "zhang2019.no_tau", "falsified", "theorem", setting={"depth": 4, "seed": 0},
                      summary="10/10 seeds leave [0.5, 2.26]", margin=-0.9, profile="ci", band=(0.5, float("inf"))),
               Result(CHEAP, "mypkg:bad", "error", "theorem", summary="subject mypkg:bad raised \x1b[31mValueError"),
               Result("li2016.deep_shortcut_flat", "li2016.plain", "skipped", "theorem", summary="not applicable"),
               Result("li2016.deep_shortcut_flat", "li2016.reference", "holds", "theorem", margin=float("inf"))]
    root = ET.fromstring(junit_xml(results, claims, {"profile": "ci", "commit": None}, 3.5, complete=False))
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "3.500"}
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == ["resclaims.zhang2019"] * 2 + ["resclaims.li2016"] * 2
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message") == results[0].summary
    assert "replay:  resclaims check" in (failure.text or "") and "--setting '{\"depth\": 4" in (failure.text or "")
    assert cases[1].find("error") is not None and cases[2].find("skipped") is not None
    assert not cases[3].findall("failure") + cases[3].findall("error") + cases[3].findall("skipped")
    props = {p.get("name"): p.get("value") for p in cases[0].iter("property")}
    assert props["band"] == '[0.5, "inf"]' and props["margin"] == "-0.9"
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}
    assert suite_props == {"profile": "ci", "complete": "false"}


def test_junit_cleans_every_attribute_and_stamps_the_start_given() -> None:
    results = [Result("p\x01q.c", "mypkg:\x1b[31mbad", "holds", "theorem", summary="ok", unit="n\x00ats",
                      margin=1.0)]
    env = {"profile": "ci\x07", "started": "2001-02-03T04:05:06"}
    text = junit_xml(results, {}, env, 1.0, complete=True, timestamp="2024-01-02T03:04:05")
    suite = ET.fromstring(text).find("testsuite")  # parses: no control character is left anywhere
    assert suite is not None and suite.get("timestamp") == "2024-01-02T03:04:05"
    case = suite.find("testcase")
    assert case is not None and case.get("classname") == "resclaims.p?q"
    assert case.get("name") == "p?q.c on mypkg:?[31mbad"
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["unit"] == "n?ats"
    assert {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}["profile"] == "ci?"
    stamped = ET.fromstring(junit_xml(results, {}, env, 1.0, complete=True)).find("testsuite")
    assert stamped is not None and stamped.get("timestamp") == "2001-02-03T04:05:06"  # the environment's, if any


def test_interrupt_and_terminate_keep_partial_json_and_junit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for signal_like, code, word in ((KeyboardInterrupt, 130, "interrupted"), (cli.Terminated, 143, "terminated")):
        fake, calls = _fake_run({}), []

        def second_stops(claim: Claim, subject: Any, **kwargs: Any) -> Result:
            calls.append(claim.id)
            if len(calls) == 2:
                raise signal_like()
            return fake(claim, subject, **kwargs)
        monkeypatch.setattr(cli, "run", second_stops)
        monkeypatch.setattr(cli, "now", lambda: "2000-01-01T00:00:00")  # stamped once, at the start
        out, xml = tmp_path / f"{word}.json", tmp_path / f"{word}.xml"
        argv = ["check", "--claims", "zhang2019.*", "--json", str(out), "--junit", str(xml)]
        assert cli.main(argv) == code
        assert not json.loads(out.read_text())["complete"] and len(json.loads(out.read_text())["results"]) == 1
        suite = ET.parse(xml).getroot().find("testsuite")
        assert suite is not None and suite.get("tests") == "1" and suite.get("timestamp") == "2000-01-01T00:00:00"
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"{word} after 1 of ")


def _results_file(path: Path, rows: list[tuple[str, str, Any]], profile: str = "ci", complete: bool = True) -> Path:
    path.write_text(json.dumps({"schema": SCHEMA, "complete": complete, "environment": {"profile": profile},
                                "results": [{"claim": c, "subject": "s", "verdict": v, "margin": m, "unit": "u",
                                             "summary": ""} for c, v, m in rows]}))
    return path


def test_compare_lists_changes_and_fails_on_regressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _results_file(tmp_path / "old.json", [("p.worse", "holds", 1.0), ("p.better", "falsified", -1.0),
                                                ("p.shrank", "holds", 1.0), ("p.kept", "holds", 1.0),
                                                ("p.inf", "holds", "inf"), ("p.gone", "holds", 1.0)])
    new = _results_file(tmp_path / "new.json", [("p.worse", "error", None), ("p.better", "holds", 0.5),
                                                ("p.shrank", "holds", 0.4), ("p.kept", "holds", 0.6),
                                                ("p.inf", "holds", 2.0), ("p.new", "holds", 1.0)], profile="dev")
    comparison = compare(json.loads(old.read_text()), json.loads(new.read_text()), shrink=0.5)
    kinds = {c.claim: c.kind for c in comparison.changes}
    assert kinds == {"p.worse": "worse", "p.better": "changed", "p.shrank": "shrank", "p.inf": "unmeasured",
                     "p.new": "appeared", "p.gone": "disappeared"}
    assert {c.claim for c in comparison.regressions} == {"p.worse", "p.shrank", "p.gone"}  # p.gone held
    assert cli.main(["compare", str(old), str(new)]) == 1
    text = capsys.readouterr().out
    assert "shrank 60%, more than 50%" in text and "profile ci, the new run dev" in text
    assert ("3 regression(s): 1 verdict(s) worse, 1 margin(s) shrank by more than 50%, 1 held result(s) "
            "disappeared") in text
    assert cli.main(["compare", str(old), str(new), "--shrink", "0.7"]) == 1  # p.worse still fails
    assert cli.main(["compare", str(old), str(old)]) == 0 and "no regression" in capsys.readouterr().out
    assert cli.main(["compare", str(old), str(tmp_path / "absent.json")]) == 2
    assert "cannot read results file" in _one_line_error(capsys)


def test_a_claim_no_longer_judged_is_a_regression_and_a_skip_outside_the_hypotheses_is_not() -> None:
    old = {"complete": True, "results": [{"claim": c, "subject": "s", "verdict": "holds", "margin": 1.0}
                                         for c in ("p.unjudged", "p.outside")]}
    new = {"complete": True, "results": [
        {"claim": "p.unjudged", "subject": "s", "verdict": "skipped", "discarded": {"did not converge": 8}},
        {"claim": "p.outside", "subject": "s", "verdict": "skipped", "discarded": {}}]}
    assert {c.claim: c.kind for c in compare(old, new).changes} == {"p.unjudged": "worse", "p.outside": "changed"}


def test_a_held_result_missing_from_new_or_an_incomplete_new_run_is_a_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _results_file(tmp_path / "old.json", [("p.held", "holds", 1.0), ("p.failed", "falsified", -1.0)])
    only_failed = _results_file(tmp_path / "a.json", [("p.failed", "falsified", -1.0)])
    only_held = _results_file(tmp_path / "b.json", [("p.held", "holds", 1.0)])
    partial = _results_file(tmp_path / "c.json", [("p.held", "holds", 1.0), ("p.failed", "falsified", -1.0)],
                            complete=False)
    assert cli.main(["compare", str(old), str(only_failed)]) == 1
    assert "disappeared p.held on s: was holds" in capsys.readouterr().out
    assert cli.main(["compare", str(old), str(only_held)]) == 0  # a falsified result that went is no regression
    assert "disappeared p.failed on s: was falsified" in capsys.readouterr().out
    assert cli.main(["compare", str(old), str(partial)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [ln for ln in lines if "incomplete" in ln and not ln.startswith("compared")] == [
        "regression: the new run is incomplete (interrupted): it cannot pass the gate; rerun it to the end"]
    assert lines[-1].endswith("1 regression(s): 0 verdict(s) worse, 0 margin(s) shrank by more than 50%, "
                              "the new run is incomplete")
    assert cli.main(["compare", str(partial), str(old)]) == 0  # an incomplete baseline is only a note
    assert "note: the baseline is incomplete" in capsys.readouterr().out


@pytest.mark.parametrize("payload, message", [
    ({"results": [3]}, "results[0] is not an object"),
    ({"results": [{"claim": "p.c", "subject": 1}]}, "results[0] has no string subject, verdict"),
    ({"results": [], "environment": ["profile", "ci"]}, "\"environment\" is not an object"),
    ({"results": [], "schema": SCHEMA + 1}, f"has results schema {SCHEMA + 1}, newer than this resclaims reads"),
    ({"results": [], "schema": "1"}, "\"schema\" is \"1\", not an integer"),
    ({"results": [], "complete": "no"}, "\"complete\" is not true or false"),
])
def test_a_malformed_results_file_is_refused_in_one_line(payload: dict, message: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    good = _results_file(tmp_path / "good.json", [("p.c", "holds", 1.0)])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    assert cli.main(["compare", str(good), str(bad)]) == 2
    assert message in _one_line_error(capsys)
    assert cli.main(["report", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert message in _one_line_error(capsys)


def test_check_with_a_baseline_folds_regressions_into_the_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _results_file(tmp_path / "b.json", [(CHEAP, "holds", 1.0)])
    payload = json.loads(baseline.read_text())
    payload["results"][0]["subject"] = "reference"
    baseline.write_text(json.dumps(payload))
    monkeypatch.setattr(cli, "run", _fake_run({}, margin=0.9))
    assert cli.main(["check", "--claims", CHEAP, "--baseline", str(baseline)]) == 0
    monkeypatch.setattr(cli, "run", _fake_run({}, margin=0.1))
    assert cli.main(["check", "--claims", CHEAP, "--baseline", str(baseline)]) == 1
    assert "margin 1 -> 0.1 nats (shrank 90%" in capsys.readouterr().out


def test_check_compares_only_what_it_selected_with_the_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A full baseline and a check of one claim: the other claims, and the same claim on
    another subject, did not disappear."""
    full = _results_file(tmp_path / "full.json", [(CHEAP, "holds", 1.0), ("zhang2019.gd_depth_free", "holds", 1.0),
                                                  ("li2016.deep_shortcut_flat", "holds", 1.0)])
    payload = json.loads(full.read_text())
    for row in payload["results"]:
        row["subject"] = "reference"
    payload["results"].append({**payload["results"][0], "subject": "mypkg:other"})
    full.write_text(json.dumps(payload))
    monkeypatch.setattr(cli, "run", _fake_run({}))
    capsys.readouterr()
    assert cli.main(["check", "--claims", CHEAP, "--baseline", str(full)]) == 0
    out = capsys.readouterr().out
    assert "disappeared" not in out and "compared 1 result(s) with the baseline: no regression" in out


@pytest.fixture
def report_stubs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Stand-ins for resclaims.html_report and resclaims.history: the calls they got."""
    calls: list[tuple[Any, ...]] = []

    def write_report(payloads: list[dict], out_dir: Path, history: Any = None) -> Path:
        calls.append(("write_report", payloads, out_dir, history))
        return out_dir / "index.html"

    def load(path: Path) -> dict[str, list[dict]]:
        calls.append(("load", path))
        return {"zhang2019.forward_stable": [{"commit": "abc"}]}
    monkeypatch.setitem(sys.modules, "resclaims.html_report", types.SimpleNamespace(write_report=write_report))
    monkeypatch.setitem(sys.modules, "resclaims.history", types.SimpleNamespace(load=load))
    return calls


def test_report_command_and_check_report_call_the_report_writer(tmp_path: Path, report_stubs: list,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    results = _results_file(tmp_path / "r.json", [(CHEAP, "holds", 1.0)])
    asv = tmp_path / "asv"
    asv.mkdir()
    assert cli.main(["report", str(results), str(results), "-o", str(tmp_path / "out"), "--history", str(asv)]) == 0
    assert [c[0] for c in report_stubs] == ["load", "write_report"]
    _, payloads, out_dir, history = report_stubs[1]
    assert len(payloads) == 2 and out_dir == tmp_path / "out" and history == {CHEAP: [{"commit": "abc"}]}
    assert f"report: {tmp_path / 'out' / 'index.html'}" in capsys.readouterr().out
    monkeypatch.setattr(cli, "run", _fake_run({}))
    assert cli.main(["check", "--claims", CHEAP, "--report", str(tmp_path / "check-report")]) == 0
    (payload,), history = report_stubs[2][1], report_stubs[2][3]
    assert payload["complete"] and payload["results"][0]["claim"] == CHEAP and history is None
    assert cli.main(["report", str(results), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "none")]) == 2


def test_an_unreadable_history_is_refused_in_one_line(tmp_path: Path, report_stubs: list,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def unreadable(path: Path) -> dict:
        raise PermissionError(13, "Permission denied", str(path / "machine" / "abc.json"))
    monkeypatch.setitem(sys.modules, "resclaims.history", types.SimpleNamespace(load=unreadable))
    results = _results_file(tmp_path / "r.json", [(CHEAP, "holds", 1.0)])
    assert cli.main(["report", str(results), "-o", str(tmp_path / "out"), "--history", str(tmp_path)]) == 2
    assert _one_line_error(capsys) == (f"resclaims: error: --history {tmp_path}: cannot read asv's results "
                                       f"({tmp_path / 'machine' / 'abc.json'}): Permission denied")
    assert not [c for c in report_stubs if c[0] == "write_report"]


def test_every_help_is_plain_text_with_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    texts = {}
    for argv in ([], ["check"], ["compare"], ["report"], ["list"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*argv, "--help"])
        assert exit_.value.code == 0
        texts[" ".join(argv)] = capsys.readouterr().out
    assert all("``" not in text and ":mod:" not in text for text in texts.values())
    assert "examples:" in texts[""] and "resclaims check --subject mypkg.nets:adapter" in texts[""]
    codes = texts["check"].split("exit codes:")[1]
    assert all(re.search(rf"^  {code} ", codes, re.M) for code in (0, 1, 2, 130, 143))
    assert "  resclaims check --subject mypkg.nets:adapter --json results.json --junit junit.xml \\\n" in texts["check"]
    assert "exit codes:" in texts["compare"]


def test_output_paths_are_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("a claim ran"))
    (tmp_path / "file").write_text("")
    cases = [(["--json", str(tmp_path)], "is a folder"), (["--junit", str(tmp_path / "no" / "j.xml")], "does not exist"),
             (["--report", str(tmp_path / "file")], "exists and is not a folder"),
             (["--report", str(tmp_path / "no" / "report")], "does not exist"),
             (["--baseline", str(tmp_path / "file")], "not a resclaims results file"),
             (["--seed", "3"], "--seed: profile ci is derandomized")]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((["--json", str(locked / "r.json")], "is not writable"))
    for argv, message in cases:
        assert cli.main(["check", "--claims", CHEAP, *argv]) == 2
        assert message in _one_line_error(capsys)


@pytest.mark.parametrize("setting, message", [
    ({"L": -5}, "--setting for zhang2019.forward_stable: unknown key L; missing keys block, branch_depth, c, depth, "
                "input, seed, stages, width (its settings look like {"),
    ({"block": "mlp", "branch_depth": 1, "input": "vector", "stages": 1, "width": 64, "depth": "4", "c": 0.25,
      "seed": 0}, "depth must be an integer, not a string (\"4\")"),
    ({"block": "mlp", "branch_depth": 1, "input": "vector", "stages": 1, "width": 64, "depth": 4.0, "c": 0.25,
      "seed": 0}, "depth must be an integer, not a float (4.0)"),
    ({"block": "mlp", "branch_depth": True, "input": "vector", "stages": 1, "width": 64, "depth": 4, "c": 0.25,
      "seed": 0}, "branch_depth must be an integer, not a boolean (true) (its settings look like"),
])
def test_a_setting_that_does_not_fit_the_claim_is_refused_naming_the_keys(setting: dict, message: str,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("a claim ran"))
    assert cli.main(["check", "--claims", CHEAP, "--setting", json.dumps(setting)]) == 2
    assert message in _one_line_error(capsys)


@pytest.mark.parametrize("text, shown", [
    ('{"c": NaN, "depth": 4}', "c (NaN)"),
    ('{"c": 0.25, "depth": Infinity, "seed": [1, -Infinity]}', "depth (Infinity), seed ([1, -Infinity])"),
    ('{"c": 1e999}', "c (Infinity)"),
])
def test_a_setting_with_nan_or_infinity_is_refused_in_one_line(text: str, shown: str,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "run", lambda *a, **k: pytest.fail("a claim ran"))
    assert cli.main(["check", "--claims", CHEAP, "--setting", text]) == 2
    assert _one_line_error(capsys) == f"resclaims: error: --setting: numbers must be finite, not NaN or Infinity: " \
                                      f"{shown}"


def test_a_setting_is_not_bounded_by_the_signs_its_draws_had(monkeypatch: pytest.MonkeyPatch) -> None:
    """c is positive in every draw, yet 0.0 is a valid setting (a shrunk counterexample's
    replay line may hold one); a negative seed too: only keys and types are checked."""
    claim = registry.get(CHEAP)
    drawn = example_settings(claim, registry.subject_for(None, claim.family, claim), PROFILES["ci"].scale)
    assert all(d["c"] > 0 for d in drawn)
    seen = []

    def fake(claim: Claim, subject: Any, **kwargs: Any) -> Result:
        seen.append(kwargs["setting"])
        return _fake_run({})(claim, subject)
    monkeypatch.setattr(cli, "run", fake)
    setting = {**drawn[0], "c": 0.0, "seed": -1}
    assert cli.main(["check", "--claims", CHEAP, "--setting", json.dumps(setting)]) == 0
    assert seen == [setting]


def test_a_setting_that_fits_runs_and_an_integer_is_a_valid_float(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(cli, "run", lambda claim, subject, **k: seen.append(k["setting"]) or _fake_run({})(claim, subject))
    setting = {"block": "conv", "branch_depth": 2, "input": "image", "stages": 3, "width": 4, "image": 8, "depth": 8,
               "c": 1, "seed": 0}
    assert cli.main(["check", "--claims", CHEAP, "--setting", json.dumps(setting)]) == 0
    assert seen == [setting]


def test_a_counterexample_replays_from_a_user_project_on_one_unwrapped_line(tmp_path: Path) -> None:
    """A user's adapter with a long module path, checked from the project root with no
    TTY and COLUMNS=80: the replay line is one line, and run verbatim by a POSIX shell
    from the same folder it falsifies the claim again."""
    package = tmp_path / "my_model_package" / "with_a_rather_long_subpackage_name"
    package.mkdir(parents=True)
    for folder in (package.parent, package):
        (folder / "__init__.py").write_text("")
    (package / "residual_networks.py").write_text(textwrap.dedent("""
        import torch
        from resclaims.models.zhang2019 import tau_resnet

        def unscaled_branch_factory(depth, width, tau, in_dim, out_dim):
            return tau_resnet(depth, 1.0, width, generator=torch.default_generator, in_dim=in_dim, out_dim=out_dim)
    """))
    spec = "my_model_package.with_a_rather_long_subpackage_name.residual_networks:unscaled_branch_factory"
    env = {**ENV, "COLUMNS": "80"}
    first = subprocess.run(["resclaims", "check", "--claims", CHEAP, "--subject", spec,
                            "--profile", "smoke", "--no-shrink"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert first.returncode == 1, first.stderr
    (line,) = [ln for ln in first.stdout.splitlines() if ln.startswith("  replay:")]
    command = line.split("replay:", 1)[1].strip()
    assert len(line) > 160 and command.startswith(f"resclaims check --claims {CHEAP} --subject {spec} --profile smoke")
    setting = json.loads(shlex.split(command)[-1])
    replay = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert replay.returncode == 1, replay.stderr
    assert f"setting: {json.dumps(setting, sort_keys=True)}" in replay.stdout


def test_the_replay_command_quotes_any_setting_for_a_posix_shell() -> None:
    setting = {"name": "it's \"quoted\" $HOME `x`", "depth": 4}
    result = Result(CHEAP, "zhang2019.reference", "falsified", "theorem", setting=setting, margin=-1.0,
                    profile="smoke")
    text = counterexample(result, registry.get(CHEAP), "my pkg:adapter", device="cuda")
    shell, python = [ln.split(None, 1)[1] for ln in text.splitlines() if ln.lstrip().startswith(("replay:", "or "))]
    argv = shlex.split(shell)
    assert argv[argv.index("--subject") + 1] == "my pkg:adapter" and json.loads(argv[-1]) == setting
    assert argv[argv.index("--profile") + 1] == "smoke" and argv[argv.index("--device") + 1] == "cuda"
    assert python.startswith("resclaims.verify(") and eval(python.split("setting=", 1)[1][:-1]) == setting


def _counting_claim() -> Claim:
    """A claim with no model: its margin is the drawn number, so the search is the cost."""
    return Claim(**{**registry.get(CHEAP).__dict__, "id": "test.counting", "examples": ({"x": 500},),
                    "settings": lambda scale, subject: st.fixed_dictionaries({"x": st.integers(0, 10 ** 6)}),
                    "check": lambda setting, subject, ctx: {"x": setting["x"]},
                    "judge": lambda setting, ev, ctx: Judgement(True, 1.0 + ev["x"], "judged")})


def test_random_profiles_record_and_replay_their_seed_and_progress_is_reported() -> None:
    claim, calls = _counting_claim(), []
    assert search_seed(PROFILES["ci"], 7) is None and search_seed(PROFILES["dev"], 7) == 7
    a = run(claim, profile="dev", seed=12345, shrink=False, progress=lambda judged, planned: calls.append((judged, planned)))
    b = run(claim, profile="dev", seed=12345, shrink=False)
    c = run(claim, profile="dev", shrink=False)
    assert a.hypothesis_seed == b.hypothesis_seed == 12345 and a.margins == b.margins
    assert isinstance(c.hypothesis_seed, int) and c.margins != a.margins
    assert run(claim, profile="smoke", shrink=False).hypothesis_seed == "derandomized"
    planned = 1 + PROFILES["dev"].examples[claim.cost]
    assert calls == [(i, planned) for i in range(1, planned + 1)]


def test_progress_line_shows_examples_and_time_left() -> None:
    shown = []
    show = cli._progress(types.SimpleNamespace(update=shown.append), "[1/3] x.y")
    show(2, 4)
    assert re.fullmatch(r"\[1/3\] x\.y: 2/4 examples judged, about \d+ s left", shown[0])


def test_sigterm_keeps_a_valid_partial_json_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "resclaims.cli", "check", "--profile", "smoke", "--claims", CHEAP,
                             "--claims", "zhang2019.gd_depth_free", "--json", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 240
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the check ended before it could be terminated"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    payload = json.loads(out.read_text())
    assert not payload["complete"] and [r["claim"] for r in payload["results"]] == [CHEAP]
    assert err.strip().splitlines()[-1] == f"terminated after 1 of 2 claims; partial results in {out}"


def test_the_github_actions_example_runs_a_check_this_version_accepts() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    commands = [step["run"] for step in workflow["jobs"]["theorems"]["steps"] if "resclaims check" in step.get("run", "")]
    (command,) = commands
    args = cli._parser().parse_args(shlex.split(command)[1:])
    assert (args.subject, args.json, args.junit, args.report, args.baseline) == (
        "mypkg.nets:adapter", "results.json", "junit.xml", "report/", "baseline.json")


def test_a_resumed_random_profile_run_takes_the_seed_it_recorded(tmp_path: Path) -> None:
    from resclaims.cli import _resumed_seed
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"environment": {"hypothesis_seed": 1234}, "results": [], "complete": False}))
    assert _resumed_seed(str(results)) == 1234
    results.write_text(json.dumps({"environment": {"hypothesis_seed": "derandomized"}}))
    assert _resumed_seed(str(results)) is None
    assert _resumed_seed(str(tmp_path / "missing.json")) is None
