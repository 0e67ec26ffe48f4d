"""The HTML report: one self-contained page, ``index.html``, from results files.

The page needs no network: every figure is a PNG (matplotlib's Agg renderer) embedded as
a ``data:`` URI, the style sheet and the one script are inline, and no font is fetched.
It shows, for each results file (``check --json``), the environment of the run and a
count of the verdicts, a table of contents coloured by verdict, then one section per
result: the claim's metadata from the registry (statement, citation, scope, kind,
provenance, thresholds) and the result's own fields (verdict, margin with its unit,
p-value, alpha, band, interval, examples, discards, setting, summary), with the figure
the claim draws (``Claim.figure``) beside the margin of every judged setting
(:func:`resclaims.figures.margins`).  A claim this version does not know gets a section
from its JSON alone; a figure that raises leaves its error text in its section.  With a
history (claim id -> margins by commit), a last section draws each claim's margin over
commits (:func:`resclaims.history.draw`).

On load, the inline script writes ``data-figures-rendered="K/N"`` on ``<body>``: K of
the N ``<img>`` elements decoded (``complete`` and ``naturalWidth > 0``), for a headless
browser to check.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from resclaims import figures, registry
from resclaims.claim import Claim

Result = dict[str, Any]
VERDICTS = ("holds", "falsified", "error", "skipped")
COLOURS = {"holds": "#2ca02c", "falsified": "#d62728", "error": "#e6a100", "skipped": "#8c8c8c"}
SCOPES = {"theorem": "theorem",
          "reference-conformance": "reference conformance: a constant calibrated on the paper's own model, "
                                   "not the theorem"}
ENVIRONMENT = ("resclaims", "torch", "python", "hypothesis", "profile", "device", "commit", "dirty",
               "hypothesis_seed", "torch_threads", "platform", "argv")
WIDE = (13.0, 4.6)      # inches: the claim's figure (about 3/4) beside the margins panel
NARROW = (5.0, 3.6)     # the margins panel alone
DPI = 100

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1360px; padding: 0 16px 48px; color: #1a1a1a; line-height: 1.4; }
h1 { margin: 20px 0 4px; } h2 { margin: 0 0 8px; font-size: 1.25em; }
header, section, nav { border-bottom: 1px solid #ddd; padding: 12px 0 16px; }
table.kv { border-collapse: collapse; font-size: 0.92em; }
table.kv th { text-align: left; vertical-align: top; padding: 2px 14px 2px 0; color: #555; font-weight: 600;
              white-space: nowrap; }
table.kv td { padding: 2px 0; vertical-align: top; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: white; font-weight: 600;
         font-size: 0.85em; }
.tag { font-size: 0.7em; font-weight: 600; color: #555; border: 1px solid #999; border-radius: 4px;
       padding: 1px 6px; vertical-align: middle; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 6px; }
nav ol { columns: 2; font-size: 0.92em; margin: 4px 0; }
nav a { text-decoration: none; color: #1a1a1a; } nav a:hover { text-decoration: underline; }
pre { background: #f5f5f5; padding: 6px 8px; overflow-x: auto; font-size: 0.85em; margin: 2px 0; }
img { max-width: 100%; height: auto; display: block; margin-top: 10px; }
.note { background: #fff6d5; border-left: 4px solid #e6a100; padding: 4px 10px; margin: 6px 0; }
.failed { background: #fde8e8; border-left: 4px solid #d62728; padding: 4px 10px; margin: 6px 0;
          white-space: pre-wrap; font-family: monospace; font-size: 0.85em; }
.summary { font-family: monospace; font-size: 0.9em; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var images = document.getElementsByTagName("img"), done = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { done++; }
  }
  document.body.setAttribute("data-figures-rendered", done + "/" + images.length);
});
"""


def write_report(payloads: Sequence[dict], out_dir: Path, history: Mapping[str, Sequence[dict]] | None = None
                 ) -> Path:
    """Write ``out_dir/index.html`` (creating ``out_dir``) for the results files
    ``payloads`` (each ``{"results": [...], "environment": {...}, "complete": bool}``, as
    ``check --json`` writes it) and, when given, ``history`` (claim id -> points
    ``{"commit", "date" (ms), "margin", "unit"}`` and optionally ``"machine"``, one line per
    machine, as :func:`resclaims.history.load` gives them); returns the page's path."""
    catalog = registry.claims()
    results = [r for p in payloads for r in p.get("results", [])]
    parts = [_header(payloads, results), _contents(results, history)]
    parts += [_section(i, r, catalog.get(r.get("claim", ""))) for i, r in enumerate(results)]
    if history:
        parts.append(_history(history))
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>resclaims report</title><style>{STYLE}</style></head>\n"
            f"<body data-figures-rendered=\"0/0\">\n{''.join(parts)}\n<script>{SCRIPT}</script>\n</body></html>\n")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _e(value: Any) -> str:
    return html.escape(str(value))


def _badge(verdict: str) -> str:
    return f"<span class=\"badge\" style=\"background:{COLOURS.get(verdict, '#555')}\">{_e(verdict)}</span>"


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; the values are HTML already."""
    return "<table class=\"kv\">" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _count(results: Sequence[Result]) -> str:
    counts = {v: sum(r.get("verdict") == v for r in results) for v in VERDICTS}
    return f"{len(results)} results: " + ", ".join(f"{_badge(v)} {n}" for v, n in counts.items() if n)


def _header(payloads: Sequence[dict], results: Sequence[Result]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = []
    for i, payload in enumerate(payloads, 1):
        env = payload.get("environment") or {}
        keys = [k for k in ENVIRONMENT if env.get(k) is not None] + sorted(k for k in env if k not in ENVIRONMENT)
        rows = [(k, _e(" ".join(map(str, env[k])) if k == "argv" and isinstance(env[k], list) else env[k]))
                for k in keys]
        if not payload.get("complete", True):
            rows.append(("complete", "<b>no</b>: an interrupted or unfinished run; its results are partial"))
        runs.append(f"<h3>run {i} of {len(payloads)}: {_count(payload.get('results', []))}</h3>{_rows(rows)}")
    return (f"<header><h1>resclaims report</h1><p>written {_e(when)}; {_count(results)}</p>"
            f"{''.join(runs)}</header>\n")


def _anchor(i: int) -> str:
    return f"result-{i}"


def _contents(results: Sequence[Result], history: Mapping[str, Sequence[dict]] | None) -> str:
    items = [f"<li><a href=\"#{_anchor(i)}\"><span class=\"dot\" style=\"background:"
             f"{COLOURS.get(r.get('verdict', ''), '#555')}\"></span>{_e(r.get('claim', '?'))}"
             f" on {_e(r.get('subject', '?'))}: {_e(r.get('verdict', '?'))}</a></li>" for i, r in enumerate(results)]
    if history:
        items.append("<li><a href=\"#history\">Margins over commits</a></li>")
    return f"<nav><h2>Contents</h2><ol>{''.join(items)}</ol></nav>\n"


def _value(value: Any) -> str:
    """A finite float from the JSON to 4 significant digits; anything else ('inf', ints) as it is."""
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)


def _section(i: int, result: Result, claim: Claim | None) -> str:
    """The result's section: heading, facts, and its figure (or why it could not be drawn)."""
    note = "" if claim is not None else (
        "<p class=\"note\">This claim is unknown to this version of resclaims: the section is drawn from the "
        "result's JSON alone (no statement, citation or figure).</p>")
    scope = result.get("scope") or (claim.scope if claim else "")
    tag = " <span class=\"tag\">reference conformance</span>" if scope == "reference-conformance" else ""
    image, error = _result_figure(result, claim)
    failed = f"<div class=\"failed\">the figure could not be drawn: {_e(error)}</div>" if error else ""
    img = f"<img alt=\"figure of {_e(result.get('claim', '?'))}\" src=\"{image}\">" if image else ""
    return (f"<section id=\"{_anchor(i)}\"><h2>{_e(result.get('claim', '?'))} {_badge(result.get('verdict', '?'))}"
            f"{tag}</h2>{note}{_rows(_facts(result, claim, scope))}{failed}{img}</section>\n")


def _facts(result: Result, claim: Claim | None, scope: str) -> list[tuple[str, str]]:
    """The rows of a result's table: the claim's metadata (when known) and the result's fields."""
    rows: list[tuple[str, str]] = []
    if claim is not None:
        rows += [("statement", _e(claim.statement)), ("citation", _e(claim.cite)), ("covers", _e(claim.covers))]
    rows.append(("scope", _e(SCOPES.get(scope, scope))))
    if claim is not None:
        rows += [("kind", _e(claim.kind)), ("provenance", _e(claim.provenance))]
    rows += [("subject", _e(result.get("subject", "?"))), ("verdict", _badge(result.get("verdict", "?")))]
    if result.get("margin") is not None:
        unit = f" ({_e(result['unit'])})" if result.get("unit") else ""
        rows.append(("margin", f"{_e(_value(result['margin']))}{unit}"))
    for key, shown in (("p_value", "p-value"), ("alpha", "alpha (per example)")):
        if result.get(key) is not None:
            rows.append((shown, _e(_value(result[key]))))
    for key in ("band", "interval"):
        pair = result.get(key)
        if isinstance(pair, list) and len(pair) == 2:
            rows.append((key, _e(f"[{_value(pair[0])}, {_value(pair[1])}]")))
        elif pair is not None:   # not the [lo, hi] this version writes: shown as it is
            rows.append((key, _e(pair)))
    discarded = result.get("discarded") or {}
    reasons = discarded.items() if isinstance(discarded, dict) else []
    total = sum(n for _, n in reasons if isinstance(n, (int, float)) and not isinstance(n, bool))
    rows.append(("examples", f"{_e(result.get('examples', 0))} judged, {_e(_value(total))} discarded"
                 + "".join(f"<br>{_e(n)} &times; {_e(why)}" for why, n in reasons)
                 + ("" if isinstance(discarded, dict) else f"<br>{_e(discarded)}")))
    rows.append(("profile", _e(result.get("profile", "?"))))
    if result.get("seconds") is not None:
        rows.append(("seconds", _e(_value(result["seconds"]))))
    rows.append(("setting", f"<pre>{_e(json.dumps(result.get('setting')))}</pre>"))
    rows.append(("summary", f"<span class=\"summary\">{_e(result.get('summary', ''))}</span>"))
    if claim is not None:
        rows.append(("thresholds", _e(claim.thresholds)))
    return rows


def _png(draw: Callable[[Figure], None], size: tuple[float, float]) -> str:
    """``draw`` on a fresh Figure of ``size`` inches, rendered by Agg, as a data: URI."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)  # Agg whatever the session's backend: no display is needed
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _error(exc: Exception) -> str:
    """The exception in one line, with where it was raised."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno} in {where.name})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _result_figure(result: Result, claim: Claim | None) -> tuple[str | None, str | None]:
    """(image, error): the claim's figure beside the margins panel; the margins panel alone
    when the claim has no figure or its figure raised (error says why); no image when even
    that fails."""
    error = None
    if claim is not None and claim.figure is not None:
        draw = claim.figure

        def both(fig: Figure) -> None:
            left, right = fig.subfigures(1, 2, width_ratios=(3, 1))
            figures.margins(right.subplots(), result)
            draw(result, left)
        try:
            return _png(both, WIDE), None
        except Exception as exc:  # a broken figure must not lose the page
            error = _error(exc)
    try:
        return _png(lambda fig: figures.margins(fig.subplots(), result), NARROW), error
    except Exception as exc:  # nor a result whose JSON the margins panel cannot read
        return None, "; ".join(e for e in (error, _error(exc)) if e)


def _history(history: Mapping[str, Sequence[dict]]) -> str:
    blocks = "".join(_history_figure(claim_id, points) for claim_id, points in history.items())
    return f"<section id=\"history\"><h2>Margins over commits</h2>{blocks}</section>\n"


def _history_figure(claim_id: str, points: Sequence[dict]) -> str:
    """One claim's margin over commits (:func:`resclaims.history.draw`), or the error text."""
    from resclaims import history

    try:
        image = _png(lambda fig: history.draw(claim_id, points, fig), (10.0, 3.4))
    except Exception as exc:  # a broken history figure must not lose the page
        return f"<h3>{_e(claim_id)}</h3><div class=\"failed\">the figure could not be drawn: {_e(_error(exc))}</div>"
    return f"<h3>{_e(claim_id)}</h3><img alt=\"margin of {_e(claim_id)} over commits\" src=\"{image}\">"
