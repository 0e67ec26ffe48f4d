"""What a run shows and writes: the terminal table, the catalog, and the results file.

The results file (``check --json``) is written atomically after every claim, so an
interrupted run keeps what it finished.  It is one JSON object, version ``SCHEMA``:

* ``schema`` (int): the version of this layout; it grows when a field changes meaning.
* ``complete`` (bool): false for a run that was interrupted (Ctrl-C, SIGTERM) or is
  still going.
* ``environment``: ``resclaims``, ``python``, ``torch`` and ``hypothesis`` versions,
  ``platform``, ``device``, ``profile``, ``torch_threads``, ``argv`` (the command's
  arguments, as ``resclaims.cli.main`` was given them); ``commit`` (the
  ``git rev-parse HEAD`` of the working directory's repository, null outside git) and
  ``dirty`` (tracked files changed since that commit; null outside git);
  ``hypothesis_seed``: ``"derandomized"`` when the profile derandomizes (the draws are
  fixed by the claim), else the integer seed every claim's search was given
  (``check --seed`` replays it); ``executor``: where settings were evaluated, ``name``
  ("in-process" or "ray") and ``workers`` (tasks run at once); for Ray also ``address``,
  ``nodes``, ``threads_per_task``, ``ray_init_s``, ``resumed_settings`` and per claim its
  ``tasks`` with their seconds (``task_s``, ``task_s_mean``, ``task_s_max``).
* ``results``: one object per claim and subject (:class:`resclaims.engine.Result`):
  ``claim``, ``subject``, ``verdict`` (holds, falsified, skipped, error), ``scope``,
  ``summary`` (the table's line), ``setting`` (the failing setting, else the one with
  the smallest margin), ``evidence``, ``margin`` (> 0 held with that much to spare, in
  ``unit``; "inf" when unbounded), ``unit``, ``p_value``, ``alpha`` (the per-example
  false-alarm rate), ``band`` (the [lo, hi] the claim allows), ``interval`` (the
  confidence interval judged against it), ``examples`` (settings judged), ``margins``
  (their margins, in order), ``discarded`` (counts by reason), ``profile``,
  ``hypothesis_seed`` (as above; null for a replayed setting), ``seconds`` and ``costs``
  (:mod:`resclaims.costs`).  Non-finite floats are the strings "inf", "-inf", "nan".
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
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
SCHEMA = 1  # the results file's layout (module docstring)


def environment(profile: str, device: str, hypothesis_seed: int | str = "derandomized",
                argv: Sequence[str] | None = None, executor: dict[str, Any] | None = None) -> dict[str, Any]:
    """Versions and machine facts that a result depends on, the commit of the working
    directory's repository, the seed Hypothesis used, ``argv``, the command's
    arguments (default ``sys.argv[1:]``), and the ``executor`` that evaluated the settings
    (default in-process, one worker; see the module docstring)."""
    import hypothesis
    import torch

    import resclaims

    commit, dirty = git_state()
    return {"resclaims": resclaims.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "hypothesis": hypothesis.__version__,
            "platform": platform.platform(), "device": device, "profile": profile,
            "torch_threads": torch.get_num_threads(),
            "argv": list(sys.argv[1:] if argv is None else argv),
            "commit": commit, "dirty": dirty, "hypothesis_seed": hypothesis_seed,
            "executor": executor or {"name": "in-process", "workers": 1}}


def git_state(cwd: Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git repository holding ``cwd`` (default: the working
    directory): HEAD's hash and whether tracked files differ from it; ``(None, None)``
    outside a repository or without git.  Never raises."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def payload(results: Sequence[Result], env: dict[str, Any], complete: bool) -> dict[str, Any]:
    """The results file's object (see the module docstring)."""
    return {"schema": SCHEMA, "results": [r.to_json() for r in results], "environment": env, "complete": complete}


def write_json(path: str | Path, results: Sequence[Result], env: dict[str, Any], complete: bool) -> None:
    """Write the results file (:func:`payload`) atomically."""
    atomic_write(path, json.dumps(payload(results, env, complete), indent=2, allow_nan=False))


def atomic_write(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file in ``path``'s folder, then rename it over
    ``path``: a reader sees the old file or the new one, never half of one.  The file
    gets the permissions a new file would (0o666 less the umask), not mkstemp's 0o600."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    """The process's umask, read once at import: from /proc where Linux shows it, else by
    setting it and restoring it (os.umask cannot only read; at import nothing else runs)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def load_results(path: str | Path) -> dict[str, Any]:
    """A results file written by ``check --json``; raises ValueError with one line
    saying what is wrong with it: not JSON, no "results" list, an entry that is not an
    object with string ``claim``/``subject``/``verdict``, an ``environment`` that is not
    an object, or a ``schema`` newer than this version writes (``SCHEMA``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a resclaims results file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{path} is not a resclaims results file (no \"results\" list)")
    schema = data.get("schema", SCHEMA)
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise ValueError(f"{path} is not a resclaims results file (\"schema\" is {json.dumps(schema)}, "
                         f"not an integer)")
    if schema > SCHEMA:
        raise ValueError(f"{path} has results schema {schema}, newer than this resclaims reads ({SCHEMA}); "
                         f"upgrade resclaims")
    if not isinstance(data.get("environment", {}), dict):
        raise ValueError(f"{path} is not a resclaims results file (\"environment\" is not an object)")
    if not isinstance(data.get("complete", True), bool):
        raise ValueError(f"{path} is not a resclaims results file (\"complete\" is not true or false)")
    for i, entry in enumerate(data["results"]):
        if not isinstance(entry, dict):
            raise ValueError(f"{path} is not a resclaims results file (results[{i}] is not an object)")
        bad = [key for key in ("claim", "subject", "verdict") if not isinstance(entry.get(key), str)]
        if bad:
            raise ValueError(f"{path} is not a resclaims results file (results[{i}] has no string "
                             f"{', '.join(bad)})")
    return data


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
    evidence and judgement seconds, the engine's rest, the total, the cores kept busy
    (CPU seconds over the total) and the peak RSS."""
    table = Table(header_style="bold")
    table.add_column("claim", no_wrap=True)
    table.add_column("subject")
    for name in ("construct s", "evidence s", "judge s", "other s", "total s", "cores", "peak MiB"):
        table.add_column(name, justify="right")
    for r in results:
        c = r.costs
        peak = f"{c.peak_rss_mib:.0f}" + (f" (+{c.peak_cuda_mib:.0f} GPU)" if c.peak_cuda_mib is not None else "")
        cores = f"{c.cpu_s / c.total_s:.1f}" if c.total_s > 0 else ""
        table.add_row(r.claim, r.subject, f"{c.construction_s:.2f}", f"{c.evidence_s:.2f}",
                      f"{c.judgement_s:.2f}", f"{c.other_s:.2f}", f"{c.total_s:.1f}", cores, peak)
    return table


def summary_line(results: Sequence[Result], seconds: float) -> str:
    counts = {v: sum(r.verdict == v for r in results) for v in STYLE}
    skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
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
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None if stream.isatty() else 160)
