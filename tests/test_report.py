"""The HTML report (:mod:`resclaims.html_report`) and the claims' figures.

The results come from ``tests/fixtures/report_results.json``, the whole catalog on the
references at the ``ci`` profile, written by ``resclaims check --json
tests/fixtures/report_results.json`` (minutes: too long for a test); a figure needs the
evidence keys of its claim's check, so rewrite the fixture when a claim's evidence
changes or a claim is added (the drawing test names a missing claim; a claim added since
may be merged in from its own ``check --claims ID --json`` run, as shamir2018.joint_minima was).
"""
from __future__ import annotations

import copy
import dataclasses
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from resclaims import figures, html_report, registry

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report_results.json"
PAYLOAD: dict[str, Any] = json.loads(FIXTURE.read_text())
BY_CLAIM = {r["claim"]: r for r in PAYLOAD["results"]}
PAGE_CLAIMS = ("zhang2019.forward_stable", "li2016.depth2_hessian_at_zero", "li2016.small_init_limit")


def _payload(*claims: str) -> dict[str, Any]:
    """The fixture's payload with the results of ``claims`` only."""
    return {**PAYLOAD, "results": [copy.deepcopy(BY_CLAIM[c]) for c in claims]}


def _images(page: str) -> list[str]:
    return re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)


def test_every_claim_has_a_figure() -> None:
    assert [c.id for c in registry.claims().values() if c.figure is None] == []


@pytest.mark.parametrize("claim_id", list(registry.claims()))
def test_figure_draws_from_a_result(claim_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each figure draws from its claim's result with every panel filled (nothing
    'unavailable'), a title, labelled axes and a legend; rendering it (where mathtext is
    parsed) raises nothing; on a result without evidence it says so instead of raising."""
    result = BY_CLAIM.get(claim_id)
    assert result is not None, f"{FIXTURE.name} has no result of {claim_id}: rewrite it (see the module docstring)"
    empty: list[str] = []
    monkeypatch.setattr(figures, "unavailable", lambda ax, why: empty.append(why))
    fig = Figure(figsize=(10, 4))
    registry.get(claim_id).figure(result, fig)
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    assert empty == [], f"{claim_id}: panels with nothing to draw: {empty}"
    assert fig.get_suptitle() or all(ax.get_title() for ax in fig.axes), f"{claim_id}: no title"
    assert all(ax.get_ylabel() or any(t.get_text() for t in ax.get_yticklabels()) for ax in fig.axes), \
        f"{claim_id}: an axis without a label"
    assert any(ax.get_legend() is not None for ax in fig.axes), f"{claim_id}: no legend"
    monkeypatch.undo()
    bare = Figure()
    registry.get(claim_id).figure({**result, "verdict": "error", "evidence": {}}, bare)
    bare.savefig(io.BytesIO(), format="png", dpi=20)


def test_page_has_a_section_per_result_and_needs_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(result: dict, fig: Figure) -> None:
        raise RuntimeError("this figure is broken")

    catalog = dict(registry.claims())
    broken = "li2016.small_init_limit"
    catalog[broken] = dataclasses.replace(catalog[broken], figure=boom)
    monkeypatch.setattr(registry, "claims", lambda: catalog)
    payload = _payload(*PAGE_CLAIMS)
    unknown = {**copy.deepcopy(BY_CLAIM["zhang2019.forward_constant"]), "claim": "gone2015.vanished"}
    payload["results"].append(unknown)
    page = html_report.write_report([payload], tmp_path / "report").read_text()
    sections = re.findall(r"<section id=\"result-\d+\"><h2>([^ <]+)", page)
    assert sections == [*PAGE_CLAIMS, "gone2015.vanished"]
    for claim_id in PAGE_CLAIMS:
        assert f"<li><a href=\"#result-{PAGE_CLAIMS.index(claim_id)}\">" in page
        assert html.escape(catalog[claim_id].statement) in page
    assert "RuntimeError: this figure is broken" in page
    assert "unknown to this version" in page
    assert html.escape(html_report.SCOPES["reference-conformance"]) in page
    assert PAYLOAD["environment"]["torch"] in page and "run 1 of 1" in page
    images = _images(page)
    assert len(images) == len(payload["results"])  # the broken one keeps its margins panel
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(?:src|href)\s*=\s*\"?(?:https?:)?//", page)
    assert not re.search(r"<link\b|<script\b[^>]*\bsrc=|@import|url\(", page)
    # the count is the script's to write, in a browser (see the browser test); served, the page
    # starts at 0/0 and its one script is the counting one
    assert page.count("<script") == 1 and f"<script>{html_report.SCRIPT}</script>" in page
    assert "data-figures-rendered" in html_report.SCRIPT


def _floats(value: Any, to: str) -> Any:
    """``value`` (a result's JSON) with every float, and every non-finite string, made ``to``."""
    if isinstance(value, dict):
        return {k: _floats(v, to) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v, to) for v in value]
    if isinstance(value, float) or value in ("inf", "-inf", "nan"):
        return to
    return value


def _degraded(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Copies of ``result`` a figure must draw from without raising: falsified (with
    negative, near-miss and infinite margins), every evidence float NaN, every one inf, and
    an older result without alpha, band, interval and margins."""
    falsified = {**copy.deepcopy(result), "verdict": "falsified", "margin": -0.5,
                 "margins": [0.25, -1e-3, "inf", -0.5, "-inf", "nan"]}
    older = {k: copy.deepcopy(v) for k, v in result.items() if k not in ("alpha", "band", "interval", "margins")}
    return {"falsified": falsified, "older": older,
            "nan": {**copy.deepcopy(result), "evidence": _floats(result.get("evidence") or {}, "nan")},
            "inf": {**copy.deepcopy(result), "evidence": _floats(result.get("evidence") or {}, "inf")}}


def _axes(fig: Any) -> list[Any]:
    """The axes of ``fig`` and of its subfigures."""
    return list(fig.axes) + [ax for sub in fig.subfigs for ax in _axes(sub)]


@pytest.mark.parametrize("claim_id", list(registry.claims()))
def test_figure_draws_from_degraded_results(claim_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's figure (the claim's beside the margins panel) draws, with no error in its
    section, from a falsified copy of the claim's result, from copies whose evidence floats
    are all NaN or all inf, and from an older result without alpha, band, interval or
    margins.  The figure is drawn, its limits and ticks placed, but not laid out or
    rasterised (4 figures a claim would take a minute): test_figure_draws_from_a_result
    renders each claim's figure in full."""
    result = BY_CLAIM.get(claim_id)
    if result is None:
        pytest.skip(f"{FIXTURE.name} has no result of {claim_id} (test_figure_draws_from_a_result names it)")
    def drawn(draw: Any, size: tuple[float, float]) -> str:   # html_report._png without the text's layout
        fig = Figure(figsize=size)
        draw(fig)
        for ax in _axes(fig):   # limits and ticks: where a value a log axis cannot show raises
            ax.get_xlim(), ax.get_ylim()
            ax.xaxis.get_majorticklocs(), ax.yaxis.get_majorticklocs()
        return "data:image/png;base64,"

    monkeypatch.setattr(html_report, "_png", drawn)
    claim = registry.get(claim_id)
    for name, degraded in _degraded(result).items():
        image, error = html_report._result_figure(degraded, claim)
        assert error is None, f"{claim_id}, {name} result: {error}"
        assert image is not None and image.startswith("data:image/png;base64,")


def test_page_escapes_what_the_results_say(tmp_path: Path) -> None:
    """Text from a results file never reaches the page as markup: not in a summary, a
    setting's value, an unknown claim's id, an environment value, band or discards."""
    attack = "<script>alert(1)</script>"
    known = {**copy.deepcopy(BY_CLAIM["zhang2019.forward_constant"]), "summary": f"summary {attack}",
             "setting": {"width": attack}, "band": attack, "discarded": {attack: 2, "other": attack}}
    unknown = {**copy.deepcopy(BY_CLAIM["zhang2019.forward_constant"]), "claim": f"gone{attack}.x",
               "verdict": attack, "subject": attack}
    payload = {**PAYLOAD, "environment": {**PAYLOAD["environment"], "argv": ["check", attack], "platform": attack},
               "results": [known, unknown]}
    page = html_report.write_report([payload], tmp_path).read_text()
    assert attack not in page
    assert "<script>" not in page.replace(f"<script>{html_report.SCRIPT}</script>", "")
    assert html.escape(attack) in page


def test_history_section_draws_each_claim(tmp_path: Path) -> None:
    """The real :func:`resclaims.history.draw` on points in write_report's documented format
    ({commit, date, margin, unit}: no machine), infinite and negative margins included."""
    points = [{"commit": f"{i:08x}", "date": 1_700_000_000_000 + i, "margin": margin, "unit": "x"}
              for i, margin in enumerate([0.5, -0.25, float("inf")])]
    history = {"zhang2019.forward_stable": points, "li2016.deep_shortcut_flat": points[:1]}
    page = html_report.write_report([_payload("zhang2019.forward_stable")], tmp_path, history).read_text()
    assert "Margins over commits" in page and "href=\"#history\"" in page
    assert "could not be drawn" not in page
    assert len(_images(page)) == 3
    assert re.findall(r"<h3>([^<]+)</h3><img alt=\"margin of", page) == list(history)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_page_figures_render_in_a_headless_browser(tmp_path: Path) -> None:
    """A page of PAGE_CLAIMS (three results: the whole fixture's page takes ~20 s to write)
    opened in headless Chromium: its script counts every <img> decoded."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium, chromium-browser or google-chrome on PATH")
    index = html_report.write_report([_payload(*PAGE_CLAIMS)], tmp_path / "report")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          index.as_uri()], check=False, capture_output=True, text=True, timeout=120).stdout
    n = len(PAGE_CLAIMS)
    assert f'data-figures-rendered="{n}/{n}"' in dom
