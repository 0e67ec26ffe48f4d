"""The resclaims command: list the claims, check them against a model, compare two
runs, and write an HTML report.  The texts of --help are the documentation of the
commands; ``main`` is the console script's entry point."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console

from resclaims import registry
from resclaims.claim import Claim, Scale, Setting
from resclaims.compare import DEFAULT_SHRINK, compare, not_judged, restrict
from resclaims.engine import Progress, Result, counterexample, run, search_seed
from resclaims.family import SubjectError
from resclaims.junit import now, write_junit
from resclaims.profiles import PROFILES, Profile, UnknownProfile, resolve
from resclaims.report import (catalog_rows, catalog_table, console, environment, load_results, payload,
                              results_table, summary_line, timings_table, write_json)
from resclaims.setting_check import describe, example_settings, non_finite, setting_problems

DESCRIPTION = """\
Check theorems about residual networks against models.

Each claim is a theorem from a paper ("a branch scale tau ~ 1/sqrt(L) keeps the
forward pass stable"), checked by Hypothesis over drawn architectures, depths,
widths, scales and seeds, and judged by a statistical test with a declared
false-alarm budget.  A falsified claim comes with a shrunk setting and a command
that replays it."""

EXAMPLES = """\
examples:
  resclaims list                      the claims, their papers and thresholds
  resclaims check                     every claim on its paper's reference model
  resclaims check --subject mypkg.nets:adapter --json results.json --junit junit.xml
  resclaims compare baseline.json results.json
  resclaims report results.json -o report/

`resclaims check --help` lists the options of a check and its exit codes."""

CHECK_DESCRIPTION = """\
Check claims against a subject and print a table of verdicts.  For each claim,
Hypothesis draws settings (architecture, depth, width, scale, seed), the claim
computes evidence on models the subject builds, and a statistical test judges it.
A falsified claim prints its counterexample and a command that replays it.

Without --subject every claim runs on its paper's reference model.  With
--subject package.module:adapter (imported from the current directory, as with
python -m) the theorem claims of every family whose contract the adapter meets run
on your model (a --claims glob such as 'zhang2019.*' keeps to them); add --scope
all, or name claims by their exact ids, for the others."""

CHECK_EPILOG = """\
examples:
  resclaims check --subject mypkg.nets:adapter
  resclaims check --subject mypkg.nets:adapter --json results.json --junit junit.xml \\
      --report report/ --baseline baseline.json
  resclaims check --claims zhang2019.forward_stable --subject zhang2019.no_tau
  resclaims check --claims zhang2019.forward_stable --subject mypkg.nets:adapter \\
      --setting '{"c": 0.25, "depth": 4, "seed": 0}'        (replays one setting)

exit codes:
  0    every claim holds or does not apply, and no regression from --baseline
  1    a claim is falsified, or --baseline found a regression
  2    usage error (option, claim glob, subject, setting or output path), or a
       subject that could not be used (an error result)
  130  interrupted (Ctrl-C): the results so far are kept in --json and --junit
  143  terminated (SIGTERM): as for 130"""

COMPARE_DESCRIPTION = """\
Compare two results files of `resclaims check --json`, matched by claim and subject:
verdicts that changed, results that appeared or disappeared, and margins that shrank
by more than --shrink of the old margin (where both runs hold and the old margin is
finite and positive).

exit codes:
  0    no regression
  1    a verdict got worse (holds -> falsified or error), a margin shrank beyond --shrink,
       a result that held is missing from NEW, or NEW is incomplete (interrupted)
  2    a file is missing or is not a results file"""

REPORT_DESCRIPTION = """\
Write an HTML report (verdicts, evidence and each claim's figure) of one or more
results files of `resclaims check --json`, one page that opens offline; --history
adds each claim's margin over commits, as asv recorded it (benchmarks/bench_conformance.py;
give asv's results folder, e.g. .asv/results)."""


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM during a check: handled like Ctrl-C (partial results kept), exit 143."""


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="resclaims", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lst = sub.add_parser("list", help="the catalog of claims (and subjects)", description="The catalog of claims.")
    lst.add_argument("--json", action="store_true", help="print the catalog as JSON")
    lst.add_argument("--subjects", action="store_true",
                     help="list reference subjects, mutants and benign controls")
    chk = sub.add_parser("check", help="check claims against a subject", description=CHECK_DESCRIPTION,
                         epilog=CHECK_EPILOG, formatter_class=raw)
    chk.add_argument("--claims", action="append", metavar="GLOB",
                     help="claim ids or globs, e.g. 'zhang2019.*' (repeatable; default: all; on your own "
                          "subject a glob keeps to theorem claims, an exact id runs that claim)")
    chk.add_argument("--subject", metavar="NAME|module:adapter",
                     help="a registered subject or your own Adapter (or factory) (default: each claim's "
                          "reference)")
    chk.add_argument("--scope", choices=["theorem", "reference-conformance", "all"], default=None,
                     help="which claims to run: theorem claims (the default for your own subject, "
                          "globs included), reference-conformance claims (constants of the paper's exact "
                          "model), or all (the default for registered subjects and for claims named by "
                          "their exact ids)")
    chk.add_argument("--profile", choices=sorted(PROFILES), default=None,
                     help="smoke, ci (default), dev or thorough; also $RESCLAIMS_PROFILE")
    chk.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where models run (default cpu)")
    chk.add_argument("--setting", metavar="JSON", help="replay one setting (from a counterexample)")
    chk.add_argument("--seed", type=int, metavar="N",
                     help="seed the searches of the dev and thorough profiles (the JSON records the seed a "
                          "run used); ci and smoke are derandomized")
    chk.add_argument("--json", metavar="PATH", help="write results to PATH (atomically, after every claim)")
    chk.add_argument("--junit", metavar="PATH", help="write JUnit XML to PATH (atomically, after every claim)")
    chk.add_argument("--report", metavar="DIR", help="write an HTML report to DIR after the check")
    chk.add_argument("--baseline", metavar="OLD.json",
                     help=f"compare with an earlier results file, as `resclaims compare` does (--shrink "
                          f"{DEFAULT_SHRINK}), on the claims and subjects this check runs; a regression "
                          f"exits 1")
    chk.add_argument("--timings", action="store_true",
                     help="show where each claim's time and memory went (construction, evidence, "
                          "judgement, peak RSS); the JSON always carries them")
    chk.add_argument("--no-shrink", action="store_true", help="report the first failing setting as found")
    chk.add_argument("--executor", choices=["in-process", "ray"], default="in-process",
                     help="where settings are evaluated: in this process (default), or as Ray tasks, judged "
                          "here with the same verdicts and evidence (pip install 'resclaims[ray]')")
    chk.add_argument("--ray-address", metavar="ADDRESS",
                     help="with --executor ray: an existing cluster (`ray start --head` prints it); default: "
                          "a local Ray instance on this machine's cores")
    chk.add_argument("--task-threads", type=int, metavar="N",
                     help="with --executor ray: torch threads (and Ray CPUs) per task; default this process's, "
                          "which keeps evidence bit-identical to an in-process run")
    chk.add_argument("--resume", metavar="RESULTS.json",
                     help="with --executor ray: continue an interrupted run that wrote RESULTS.json (its "
                          "settings already judged, kept in RESULTS.json.evidence, are not evaluated again); "
                          "the results are written to RESULTS.json")
    cmp = sub.add_parser("compare", help="compare two results files (a CI gate)",
                         description=COMPARE_DESCRIPTION, formatter_class=raw)
    cmp.add_argument("old", metavar="OLD.json")
    cmp.add_argument("new", metavar="NEW.json")
    cmp.add_argument("--shrink", type=_fraction, default=DEFAULT_SHRINK, metavar="FRACTION",
                     help=f"the margin shrinkage, as a fraction of the old margin, that fails (default "
                          f"{DEFAULT_SHRINK})")
    rep = sub.add_parser("report", help="an HTML report of results files", description=REPORT_DESCRIPTION,
                         formatter_class=raw)
    rep.add_argument("results", nargs="+", metavar="RESULTS.json")
    rep.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write the report to")
    rep.add_argument("--history", metavar="ASV_RESULTS_DIR",
                     help="asv's results folder, for each claim's margin over commits")
    return parser


def _fraction(text: str) -> float:
    """argparse type of --shrink: a number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a fraction >= 0, not {text}")
    return value


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
    profile, claims, setting, baseline = _prepare(args)
    seed = search_seed(profile, args.seed if args.seed is not None or not args.resume else _resumed_seed(args.resume))
    executor = _executor(args)
    env = environment(profile.name, args.device, "derandomized" if seed is None else seed,
                      argv=getattr(args, "argv", None), executor=executor.describe() if executor else None)
    started = now()  # the JUnit suite's timestamp: when the run started, the same in every rewrite
    out, err = console(), console(stderr=True)
    catalog = registry.claims()
    results: list[Result] = []
    start = time.perf_counter()
    if executor is not None:
        try:
            executor.start()
        except Exception as exc:  # no cluster at --ray-address, a local instance that does not start
            raise UsageError(f"--executor ray: Ray did not start: {type(exc).__name__}: {exc}") from None

    def save(complete: bool) -> None:
        if executor is not None:
            env["executor"] = executor.describe()
        if args.json:
            write_json(args.json, results, env, complete)
        if args.junit:
            write_junit(args.junit, results, catalog, env, time.perf_counter() - start, complete, args.subject,
                        timestamp=started)

    try:
        with _sigterm_as_interrupt(), executor if executor is not None else nullcontext():
            stream = executor.check(claims, args.subject, profile, not args.no_shrink, seed) if executor else None
            for i, claim in enumerate(claims, 1):
                label = f"[{i}/{len(claims)}] {claim.id}"
                with err.status(f"{label} ...") if err.is_terminal else nullcontext() as status:
                    if stream is not None:
                        executor.progress = _cluster_progress(status, label) if status is not None else None
                        result = next(stream)
                    else:
                        result = run(claim, args.subject, profile=profile, device=args.device, setting=setting,
                                     shrink=not args.no_shrink, seed=seed,
                                     progress=_progress(status, label) if status is not None else None)
                results.append(result)
                err.print(f"{label}: {result.verdict} ({result.seconds:.1f} s)", markup=False)
                save(complete=False)
            save(complete=True)
    except KeyboardInterrupt as exc:
        save(complete=False)
        kept = " and ".join(p for p in (args.json, args.junit) if p)
        what, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"{what} after {len(results)} of {len(claims)} claims" + (f"; partial results in {kept}" if kept else ""),
              file=sys.stderr, flush=True)
        return code
    out.print(results_table(results, catalog))
    if args.timings:
        out.print(timings_table(results))
    for r in results:  # plain print: a counterexample's replay command must not be wrapped
        if r.verdict == "falsified":
            print(counterexample(r, catalog[r.claim], args.subject, args.device), flush=True)
        elif r.verdict == "error":
            print(f"error: {r.claim} on {r.subject}: {r.summary}", file=sys.stderr, flush=True)
        elif not_judged(r.verdict, r.discarded):  # say so beside the table
            print(f"not judged: {r.claim} on {r.subject}: {r.summary}", file=sys.stderr, flush=True)
    out.print(summary_line(results, time.perf_counter() - start))
    code = 2 if any(r.verdict == "error" for r in results) else int(any(r.verdict == "falsified" for r in results))
    if baseline is not None:  # only what this check selected: other claims and subjects did not disappear
        selected = {(r.claim, r.subject) for r in results}
        comparison = compare(restrict(baseline, selected), payload(results, env, complete=True))
        print("\n".join(comparison.lines()), flush=True)
        code = max(code, int(comparison.failed))
    if args.report:
        print(f"report: {_write_report([payload(results, env, complete=True)], Path(args.report))}")
    return code


def _prepare(args: argparse.Namespace) -> tuple[Profile, list[Claim], Setting | None, dict[str, Any] | None]:
    """Everything a check can refuse, refused before any claim runs: the profile, the
    claims and scope, the device, the output paths, the baseline, the seed, the subject
    and the setting."""
    if args.executor != "ray":
        for option in ("ray_address", "task_threads", "resume"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option.replace('_', '-')} goes with --executor ray")
    else:
        if args.setting:
            raise UsageError("--setting replays one setting in this process; drop --executor ray")
        if args.task_threads is not None and args.task_threads < 1:
            raise UsageError("--task-threads must be at least 1")
        if args.resume:
            if args.json and Path(args.json).resolve() != Path(args.resume).resolve():
                raise UsageError("--resume continues the results file it names: drop --json, or give it the "
                                 "same path")
            args.json = args.resume
            _writable_file("--resume", args.resume)
            if not Path(f"{args.resume}.evidence").is_file():
                raise UsageError(f"--resume {args.resume}: no {args.resume}.evidence beside it (the settings a "
                                 f"`check --executor ray --json {args.resume}` judged)")
    try:
        profile = resolve(args.profile)
        claims = registry.select(args.claims)
    except (UnknownProfile, registry.UnknownClaim) as exc:
        raise UsageError(str(exc)) from None
    user_subject = bool(args.subject) and ":" in args.subject
    if args.scope is None:
        claims = registry.by_default(claims, args.claims, user_subject)
        if not claims:
            raise UsageError("no theorem claim among those selected: add --scope all, or name the claims "
                             "by their exact ids (see `resclaims list`)")
    elif args.scope != "all":
        claims = [c for c in claims if c.scope == args.scope]
        if not claims:
            raise UsageError(f"no {args.scope} claim among those selected (see `resclaims list`)")
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: torch.cuda.is_available() is False on this machine")
    for option, path in (("--json", args.json), ("--junit", args.junit)):
        if path:
            _writable_file(option, path)
    if args.report:
        _writable_folder("--report", args.report)
    baseline = _load("--baseline", args.baseline) if args.baseline else None
    if args.seed is not None and profile.derandomize:
        raise UsageError(f"--seed: profile {profile.name} is derandomized (each claim fixes its draws); "
                         f"seeds apply to --profile dev or thorough")
    setting = None
    if args.setting:
        try:
            setting = json.loads(args.setting)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--setting is not valid JSON: {exc}") from None
        if not isinstance(setting, dict) or len(claims) != 1:
            raise UsageError("--setting takes a JSON object and exactly one claim (--claims ID)")
        if (problem := non_finite(setting)) is not None:
            raise UsageError(problem)
    if args.subject:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # `mypkg.nets:adapter` from the project root, like python -m
        claims = _claims_for_subject(args.subject, claims, bool(args.claims), console(stderr=True))
    if setting is not None:
        _check_setting(claims[0], args.subject, profile.scale, setting)
    return profile, claims, setting, baseline


def _check_setting(claim: Claim, spec: str | None, scale: Scale, setting: Setting) -> None:
    """Refuse a ``--setting`` whose keys or types do not fit the settings the claim's
    strategy draws for the subject."""
    try:
        examples = example_settings(claim, registry.subject_for(spec, claim.family, claim), scale)
    except Exception:  # an unusable subject: the run itself reports it, as an error result
        return
    problems = setting_problems(setting, examples)
    if problems:
        raise UsageError(describe(claim.id, problems, examples))


def _claims_for_subject(spec: str, claims: list[Claim], explicit: bool, err: Console) -> list[Claim]:
    """The claims ``--subject`` is checked against (:func:`registry.claims_for`; families a
    user's adapter does not meet are named on stderr), or all named with ``--claims``."""
    try:
        if ":" in spec and explicit:
            registry.load_adapter(spec)  # fail fast, once, on a bad module:adapter
            return claims
        mine, reasons = registry.claims_for(spec, claims)
    except SubjectError as exc:
        raise UsageError(str(exc)) from None
    for reason in reasons:
        err.print(f"skipping family {reason}", markup=False)
    return mine


def _writable_file(option: str, path: str) -> None:
    """Refuse an output file that cannot be written: a folder, or in a folder that is
    missing or read-only."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    _writable_parent(option, target)


def _writable_folder(option: str, path: str) -> None:
    """Refuse an output folder that cannot be written or created."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"{option} {path}: exists and is not a folder")
        if not os.access(target, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: folder is not writable")
    else:
        _writable_parent(option, target)


def _writable_parent(option: str, target: Path) -> None:
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {target}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {target}: folder {parent} is not writable")


def _load(option: str, path: str) -> dict[str, Any]:
    try:
        return load_results(path)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _executor(args: argparse.Namespace) -> Any:
    """The Ray executor ``--executor ray`` asks for (None in-process), its sidecar file
    fresh, or loaded with ``--resume``; Ray itself starts with the check."""
    if args.executor != "ray":
        return None
    from resclaims.executors import RayExecutor, sidecar_path  # Ray is imported only when asked for
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'resclaims[ray]'") from None
    sidecar = sidecar_path(args.json) if args.json else None
    executor = RayExecutor(address=args.ray_address, threads=args.task_threads, device=args.device, sidecar=sidecar)
    if args.resume:
        executor.resume(sidecar)
        print(f"resuming {args.resume}: {executor.resumed} settings already judged", file=sys.stderr, flush=True)
    elif sidecar is not None:
        sidecar.write_text("", encoding="utf-8")
    return executor


def _resumed_seed(path: str) -> int | None:
    """The search seed an interrupted run recorded (dev and thorough draw at random: a
    resumed run must draw what it drew)."""
    try:
        seed = json.loads(Path(path).read_text(encoding="utf-8")).get("environment", {}).get("hypothesis_seed")
    except (OSError, ValueError, AttributeError):
        return None
    return seed if isinstance(seed, int) else None


def _cluster_progress(status: Any, label: str) -> Any:
    """A spinner update for a Ray sweep: settings done out of planned (all claims), tasks
    running on the workers, and an estimate of the time left."""
    def show(done: int, planned: int, running: int, workers: int, left: float | None) -> None:
        eta = f", about {left:.0f} s left" if left is not None else ""
        status.update(f"{label}: {done}/{planned} settings done, {running} running on {workers} workers{eta}")
    return show


def _progress(status: Any, label: str) -> Progress:
    """A spinner update: examples judged out of planned, and an estimate of the time left."""
    start = time.perf_counter()

    def show(judged: int, planned: int) -> None:
        left = (time.perf_counter() - start) / max(judged, 1) * max(planned - judged, 0)
        status.update(f"{label}: {judged}/{planned} examples judged, about {left:.0f} s left")
    return show


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the body runs, SIGTERM raises Terminated (a KeyboardInterrupt) in the main
    thread, so a CI runner's cancel keeps the partial results like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _compare(args: argparse.Namespace) -> int:
    comparison = compare(_load("compare", args.old), _load("compare", args.new), args.shrink)
    print("\n".join(comparison.lines()))
    return int(comparison.failed)


def _report(args: argparse.Namespace) -> int:
    payloads = [_load("report", path) for path in args.results]
    _writable_folder("-o", args.output)
    history = None
    if args.history:
        if not Path(args.history).is_dir():
            raise UsageError(f"--history {args.history}: not a folder (give asv's results folder)")
        from resclaims.history import load  # imported when asked for, like the report
        try:
            history = load(Path(args.history))
        except ValueError as exc:  # a folder without asv results
            raise UsageError(f"--history {args.history}: {exc}") from None
        except OSError as exc:  # a file or folder in it that cannot be read
            where = f" ({exc.filename})" if exc.filename else ""
            raise UsageError(f"--history {args.history}: cannot read asv's results{where}: "
                             f"{exc.strerror or exc}") from None
    print(f"report: {_write_report(payloads, Path(args.output), history)}")
    return 0


def _write_report(payloads: list[dict[str, Any]], out_dir: Path,
                  history: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """The HTML report's index page, written by :mod:`resclaims.html_report` (imported
    here: matplotlib loads only when a report is asked for)."""
    from resclaims.html_report import write_report
    return write_report(payloads, out_dir, history=history)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list, "check": _check, "compare": _compare, "report": _report}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resclaims`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = argv  # recorded in the results file's environment
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"resclaims: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
