"""resclaims.history on a small asv results directory written by asv's own writers
(``asv.results.Results.save``, ``asv.util.write_json``): three commits of two claims'
margins, a benchmark that is not a margin, a failed run, a skipped one, infinite margins."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from asv import util
from asv.results import Results
from asv.runner import BenchmarkResult
from matplotlib.figure import Figure

from resclaims import history, registry

FORWARD = "bench_conformance.track_margin_zhang2019__forward_stable"
MERGE = "bench_conformance.track_margin_wang2020__merge_inequality"
OTHER = "bench_core.Conformance.track_forward_ratio_L1024"
DAY = 86_400_000  # ms
UNITS = {FORWARD: history.UNIT, MERGE: history.UNIT, OTHER: "ratio"}


def record(results_dir: Path, commit: str, date: int, values: dict[str, float | None], machine: str = "ci") -> None:
    """One ``asv run --set-commit-hash <commit>``'s result file: ``values`` by benchmark
    (None: the run failed; NaN: skipped)."""
    results = Results({"machine": machine, "python": "3.11"}, {}, commit, date, "3.11", "existing-py", {})
    for name, value in values.items():
        results.add_result({"name": name, "params": [], "version": "1"},
                           BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0, stderr="",
                                           profile=None), duration=1.0)
    results.save(str(results_dir))


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    util.write_json(str(tmp_path / "benchmarks.json"),
                    {name: {"name": name, "params": [], "type": "track", "unit": unit, "version": "1"}
                     for name, unit in UNITS.items()}, api_version=2)
    util.write_json(str(tmp_path / "ci" / "machine.json"), {"machine": "ci"}, api_version=1)
    # written out of date order: load sorts by the commit's date
    record(tmp_path, "c" * 40, 3 * DAY, {FORWARD: -history.SENTINEL, MERGE: history.SENTINEL, OTHER: 2.7})
    record(tmp_path, "a" * 40, 1 * DAY, {FORWARD: 0.62, MERGE: None, OTHER: 2.7})
    record(tmp_path, "b" * 40, 2 * DAY, {FORWARD: -0.25, MERGE: math.nan})
    return tmp_path


def test_load_reads_margins_per_claim_in_date_order(results_dir: Path) -> None:
    points = history.load(results_dir)
    assert set(points) == {"zhang2019.forward_stable", "wang2020.merge_inequality"}
    forward = points["zhang2019.forward_stable"]
    assert [(p["commit"], p["date"], p["margin"]) for p in forward] == \
        [("aaaaaaaa", DAY, 0.62), ("bbbbbbbb", 2 * DAY, -0.25), ("cccccccc", 3 * DAY, -math.inf)]
    assert {p["unit"] for p in forward} == {history.UNIT} and {p["machine"] for p in forward} == {"ci"}
    assert [(p["commit"], p["margin"]) for p in points["wang2020.merge_inequality"]] == [("cccccccc", math.inf)]


def test_load_refuses_a_directory_without_asv_results(tmp_path: Path) -> None:
    util.write_json(str(tmp_path / "ci" / "machine.json"), {"machine": "ci"}, api_version=1)
    for where in (tmp_path, tmp_path / "missing"):
        with pytest.raises(ValueError, match="holds no asv results"):
            history.load(where)


def test_every_claim_has_a_benchmark_name_that_reads_back() -> None:
    for claim_id in registry.claims():
        assert history.claim_of(f"{history.MODULE}.{history.benchmark_name(claim_id)}") == claim_id
    assert history.claim_of(OTHER) is None and history.claim_of("bench_gate.track_margin_x__y") is None
    for ambiguous in ("a__b.c", "a_.b"):
        with pytest.raises(ValueError, match="no asv benchmark name"):
            history.benchmark_name(ambiguous)


def test_stored_margins_are_finite_and_read_back() -> None:
    assert [history.stored(m) for m in (math.inf, -math.inf, 0.5)] == [history.SENTINEL, -history.SENTINEL, 0.5]
    assert math.isnan(history.stored(math.nan))


def test_draw_shows_the_falling_margin_against_commits(results_dir: Path) -> None:
    fig = Figure()
    history.draw("zhang2019.forward_stable", history.load(results_dir)["zhang2019.forward_stable"], fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["aaaaaaaa", "bbbbbbbb", "cccccccc"]
    step = next(line for line in ax.get_lines() if line.get_label() == "margin")
    ys = list(step.get_ydata())
    assert ys[:2] == [0.62, -0.25] and ax.get_ylim()[0] < ys[2] < -0.25  # -inf: at the bottom edge
    assert step.get_drawstyle() == "steps-post"
    assert any(line.get_label() == "boundary (margin 0)" and list(line.get_ydata()) == [0, 0]
               for line in ax.get_lines())


def test_draw_without_points_says_so() -> None:
    fig = Figure()
    history.draw("zhang2019.forward_stable", [], fig)
    assert "no recorded margin" in [t.get_text() for t in fig.axes[0].texts]
