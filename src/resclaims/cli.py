"""``resclaims list`` and ``resclaims check``.

``check --subject mypkg.nets:adapter`` runs the theorem claims on your model (add
``--scope all`` or name claims with ``--claims`` for the reference-conformance ones);
without ``--subject`` every claim runs on its family's reference.

Exit codes of ``check``: 0 every checked claim holds; 1 some claim is falsified;
2 a usage error (bad glob, subject, profile, device or setting) or a subject that
could not be used (an ``error`` result); 130 interrupted (partial JSON kept).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from contextlib import nullcontext
import json
import sys
import time
from typing import Sequence

from rich.console import Console

from resclaims import registry
from resclaims.claim import Claim
from resclaims.engine import Result, counterexample, run
from resclaims.family import Subject, SubjectError
from resclaims.profiles import PROFILES, UnknownProfile, resolve
from resclaims.report import (catalog_rows, catalog_table, console, environment, results_table,
                              summary_line, timings_table, write_json)


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resclaims", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="the catalog of claims (and subjects)")
    lst.add_argument("--json", action="store_true", help="print the catalog as JSON")
    lst.add_argument("--subjects", action="store_true",
                     help="list reference subjects, mutants and benign controls")
    chk = sub.add_parser("check", help="check claims against a subject")
    chk.add_argument("--claims", action="append", metavar="GLOB",
                     help="claim ids or globs, e.g. 'zhang2019.*' (repeatable; default: all)")
    chk.add_argument("--subject", metavar="NAME|module:adapter",
                     help="a registered subject or your own Adapter (or factory) (default: each claim's "
                          "reference)")
    chk.add_argument("--scope", choices=["theorem", "reference-conformance", "all"], default=None,
                     help="which claims to run: theorem claims (the default for your own subject), "
                          "reference-conformance claims (constants of the paper's exact model), or all "
                          "(the default for registered subjects and for explicit --claims)")
    chk.add_argument("--profile", choices=sorted(PROFILES), default=None,
                     help="smoke, ci (default), dev or thorough; also $RESCLAIMS_PROFILE")
    chk.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    chk.add_argument("--json", metavar="PATH", help="write results to PATH (atomically)")
    chk.add_argument("--setting", metavar="JSON", help="replay one setting (from a counterexample)")
    chk.add_argument("--timings", action="store_true",
                     help="show where each claim's time and memory went (construction, evidence, "
                          "judgement, peak RSS); the JSON always carries them")
    chk.add_argument("--no-shrink", action="store_true", help="report the first failing setting as found")
    return parser


def _list(args: argparse.Namespace) -> int:
    out = console()
    if args.subjects:
        rows = [{"name": s.name, "family": s.family.name, "role": s.role, "mutant_of": s.mutant_of,
                 "doc": s.doc, "killed_by": list(s.killed_by)} for s in registry.subjects().values()]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                out.print(f"{row['name']:32} {row['family']:12} {row['role']:10} {row['doc']}", markup=False)
        return 0
    claims = list(registry.claims().values())
    if args.json:
        print(json.dumps(catalog_rows(claims), indent=2))
    else:
        out.print(catalog_table(claims))
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        profile = resolve(args.profile)
        claims = registry.select(args.claims)
    except (UnknownProfile, registry.UnknownClaim) as exc:
        raise UsageError(str(exc)) from None
    user_subject = bool(args.subject) and ":" in args.subject
    scope = args.scope or ("theorem" if user_subject and not args.claims else "all")
    if scope != "all":
        claims = [c for c in claims if c.scope == scope]
        if not claims:
            raise UsageError(f"no {scope} claim among those selected (see `resclaims list`)")
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: torch.cuda.is_available() is False on this machine")
    setting = None
    if args.setting:
        try:
            setting = json.loads(args.setting)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--setting is not valid JSON: {exc}") from None
        if not isinstance(setting, dict) or len(claims) != 1:
            raise UsageError("--setting takes a JSON object and exactly one claim (--claims ID)")
    out, err = console(), console(stderr=True)
    if args.subject:
        claims = _claims_for_subject(args.subject, claims, bool(args.claims), err)
    env = environment(profile.name, args.device)
    results: list[Result] = []
    start = time.perf_counter()
    catalog = registry.claims()
    try:
        for i, claim in enumerate(claims, 1):
            with err.status(f"[{i}/{len(claims)}] {claim.id} ...") if err.is_terminal else nullcontext():
                result = run(claim, args.subject, profile=profile, device=args.device,
                             setting=setting, shrink=not args.no_shrink)
            results.append(result)
            err.print(f"[{i}/{len(claims)}] {claim.id}: {result.verdict} ({result.seconds:.1f} s)")
            if args.json:
                write_json(args.json, results, env, complete=False)
    except KeyboardInterrupt:
        if args.json:
            write_json(args.json, results, env, complete=False)
        err.print(f"interrupted after {len(results)} of {len(claims)} claims"
                  + (f"; partial results in {args.json}" if args.json else ""))
        return 130
    if args.json:
        write_json(args.json, results, env, complete=True)
    out.print(results_table(results, catalog))
    if args.timings:
        out.print(timings_table(results))
    for r in results:
        if r.verdict == "falsified":
            out.print(counterexample(r, catalog[r.claim], args.subject), markup=False)
        elif r.verdict == "error":
            err.print(f"error: {r.claim} on {r.subject}: {r.summary}", markup=False)
    out.print(summary_line(results, time.perf_counter() - start))
    if any(r.verdict == "error" for r in results):
        return 2
    return 1 if any(r.verdict == "falsified" for r in results) else 0


def _claims_for_subject(spec: str, claims: list[Claim], explicit: bool, err: Console) -> list[Claim]:
    """The claims ``--subject`` is checked against: a registered subject's family's; for
    a user's ``module:adapter``, those of every family whose contract the adapter meets
    (families it does not meet are named on stderr), or all named with ``--claims``."""
    if ":" not in spec:
        subject = registry.subjects().get(spec)
        if subject is None:
            raise UsageError(f"unknown subject {spec!r}: give a registered name "
                             f"(see `resclaims list --subjects`) or 'package.module:adapter'")
        mine = [c for c in claims if c.family is subject.family]
        if not mine:
            raise UsageError(f"no selected claim is about family {subject.family.name} of subject {spec}")
        return mine
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # `mypkg.nets:adapter` from the project root, like python -m
    try:
        adapter = registry.load_adapter(spec)  # fail fast, once, on a bad module:adapter
    except SubjectError as exc:
        raise UsageError(str(exc)) from None
    if explicit:
        return claims
    met, reasons = set(), []
    for family in {id(c.family): c.family for c in claims}.values():
        try:
            Subject(spec, family, adapter).check_contract()
            met.add(family.name)
        except SubjectError as exc:
            reasons.append(f"{family.name}: {exc}")
    if not met:
        raise UsageError(f"{spec} meets the contract of no claim family (" + "; ".join(reasons) + ")")
    for reason in reasons:
        err.print(f"skipping family {reason}", markup=False)
    return [c for c in claims if c.family.name in met]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resclaims`` command."""
    args = _parser().parse_args(argv)
    try:
        return _list(args) if args.command == "list" else _check(args)
    except UsageError as exc:
        print(f"resclaims: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
