"""What a run shows and writes: the terminal table, the catalog, and the JSON file
(written atomically after every claim, so an interrupted run keeps what it finished)."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from resclaims.claim import Claim
from resclaims.engine import Result

STYLE = {"holds": "green", "falsified": "bold red", "skipped": "dim", "error": "bold yellow"}
SCOPE_LABEL = {"theorem": "theorem", "reference-conformance": "ref. conformance"}


def environment(profile: str, device: str) -> dict[str, Any]:
    """Versions and machine facts that a result depends on."""
    import hypothesis
    import torch

    import resclaims

    return {"resclaims": resclaims.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "hypothesis": hypothesis.__version__,
            "platform": platform.platform(), "device": device, "profile": profile,
            "torch_threads": torch.get_num_threads(), "argv": sys.argv[1:]}


def write_json(path: str | Path, results: Sequence[Result], env: dict[str, Any], complete: bool) -> None:
    """Write ``{"results": [...], "environment": {...}, "complete": bool}`` atomically:
    to a temporary file in the same folder, then renamed over ``path``."""
    target = Path(path)
    payload = {"results": [r.to_json() for r in results], "environment": env, "complete": complete}
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def results_table(results: Sequence[Result], claims: dict[str, Claim]) -> Table:
    """claim | scope | paper and section | subject | verdict | key evidence | seconds."""
    table = Table(show_lines=False, header_style="bold")
    for name in ("claim", "scope", "paper", "subject", "verdict", "evidence", "s"):
        table.add_column(name, justify="right" if name == "s" else "left",
                         overflow="fold", no_wrap=name in ("claim", "verdict"))
    for r in results:
        claim = claims.get(r.claim)
        table.add_row(r.claim, SCOPE_LABEL.get(r.scope, r.scope), claim.cite.short() if claim else "", r.subject,
                      f"[{STYLE[r.verdict]}]{r.verdict}[/]", escape(r.summary), f"{r.seconds:.1f}")
    return table


def timings_table(results: Sequence[Result]) -> Table:
    """Where each claim's time and memory went (``check --timings``): construction,
    evidence and judgement seconds, the engine's rest, the total and the peak RSS."""
    table = Table(header_style="bold")
    table.add_column("claim", no_wrap=True)
    table.add_column("subject")
    for name in ("construct s", "evidence s", "judge s", "other s", "total s", "peak MiB"):
        table.add_column(name, justify="right")
    for r in results:
        c = r.costs
        peak = f"{c.peak_rss_mib:.0f}" + (f" (+{c.peak_cuda_mib:.0f} GPU)" if c.peak_cuda_mib is not None else "")
        table.add_row(r.claim, r.subject, f"{c.construction_s:.2f}", f"{c.evidence_s:.2f}",
                      f"{c.judgement_s:.2f}", f"{c.other_s:.2f}", f"{c.total_s:.1f}", peak)
    return table


def summary_line(results: Sequence[Result], seconds: float) -> str:
    counts = {v: sum(r.verdict == v for r in results) for v in STYLE}
    skipped = f", {counts['skipped']} not applicable" if counts["skipped"] else ""
    return (f"{len(results)} claims: {counts['holds']} hold, {counts['falsified']} falsified, "
            f"{counts['error']} errors{skipped} ({seconds:.0f} s)")


def catalog_rows(claims: Sequence[Claim]) -> list[dict[str, str]]:
    """The catalog as plain rows (for ``list --json`` and the table)."""
    return [{"id": c.id, "scope": c.scope, "paper": str(c.cite), "theorem": c.cite.where, "kind": c.kind,
             "provenance": c.provenance, "family": c.family.name, "covers": c.covers,
             "statement": c.statement, "thresholds": c.thresholds} for c in claims]


def catalog_table(claims: Sequence[Claim]) -> Table:
    table = Table(header_style="bold", show_lines=True)
    for name in ("claim", "scope", "paper", "kind", "provenance", "statement (covers)"):
        table.add_column(name, overflow="fold")
    for c in claims:
        table.add_row(c.id, SCOPE_LABEL[c.scope], c.cite.short(), c.kind, c.provenance,
                      f"{c.statement} ({c.covers})")
    return table


def console(stderr: bool = False) -> Console:
    """A rich console that degrades to plain text when not on a terminal."""
    return Console(stderr=stderr, highlight=False, soft_wrap=False,
                   width=None if sys.stdout.isatty() else 160)
