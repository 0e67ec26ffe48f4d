"""The Ray executor against in-process, in one run (a script, not an asv benchmark: it
starts Ray instances):

    python benchmarks/bench_executor.py [--claims GLOB ...] [--profile thorough] [--seed N] [--json out.json]

One sweep (default: a thorough-profile sweep of six claims from four papers, with one
search seed, about 2 minutes in-process on one core; under thorough each claim's search
is one task) runs
in-process, then on a local Ray instance with 1 worker and with 2 workers, every one
with 1 torch thread per task (and in the driver) and the same seed, so the three runs
compute the same evidence; the in-process run is repeated at the end and its
mean is the baseline (the two show how steady the machine was, as does the load average
printed with each run).  It prints each run's wall time (``ray.init`` apart), the
overhead at 1 worker (Ray's wall over in-process's), the speedup at 2 (1 worker's wall
over 2's), the per-task seconds of each claim, and checks that the runs give the same
results.  Needs Ray (``pip install 'resclaims[ray]'``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import torch

# a thorough sweep of about 2 minutes on one core (1,000 settings; seed 0): zhang2019's thorough
# claims are left out, its cheapest (forward_stable) alone takes 570 s there
DEFAULT_CLAIMS = ["li2016.depth2_hessian_at_zero", "li2016.deep_shortcut_flat", "liu2019.closed_form",
                  "shamir2018.bound_everywhere", "wang2020.arccos_oracle", "wang2020.exact_legs"]


def _same(result: Any) -> dict[str, Any]:
    data = result.to_json()
    data.pop("seconds"), data.pop("costs")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", action="append", metavar="GLOB")
    parser.add_argument("--profile", default="thorough")
    parser.add_argument("--seed", type=int, default=0, help="the searches' seed (dev and thorough draw at random)")
    parser.add_argument("--json", metavar="PATH", help="write the measurements to PATH")
    args = parser.parse_args(argv)
    import ray

    from resclaims import registry
    from resclaims.engine import run
    from resclaims.executors import RayExecutor
    from resclaims.profiles import resolve

    torch.set_num_threads(1)
    claims = registry.select(args.claims or DEFAULT_CLAIMS)
    profile = resolve(args.profile)
    runs: dict[str, Any] = {}

    def in_process(name: str) -> None:
        start = time.perf_counter()
        results = [run(c, profile=profile, seed=args.seed) for c in claims]
        runs[name] = {"wall_s": time.perf_counter() - start, "results": [_same(r) for r in results],
                      "load": os.getloadavg()[0]}
        print(f"{name}: {runs[name]['wall_s']:.1f} s (load average {runs[name]['load']:.1f})", flush=True)

    in_process("in-process")
    for workers in (1, 2):
        executor = RayExecutor(num_cpus=workers, threads=1)
        with executor:
            start = time.perf_counter()
            results = list(executor.check(claims, None, profile, seed=args.seed))
            wall = time.perf_counter() - start
            described = executor.describe()
        tasks = described["tasks"]
        runs[f"ray-{workers}"] = {"wall_s": wall, "ray_init_s": executor.init_s, "workers": described["workers"],
                                  "load": os.getloadavg()[0], "on_driver": described["evaluated_on_driver"],
                                  "failed_tasks": described["failed_tasks"],
                                  "results": [_same(r) for r in results],
                                  "task_s": {c: {"tasks": t["tasks"], "mean": t["task_s_mean"], "max": t["task_s_max"],
                                                 "sum": sum(t["task_s"])} for c, t in tasks.items()}}
        print(f"ray, {workers} worker(s): {wall:.1f} s (ray.init {executor.init_s:.1f} s apart; "
              f"{sum(sum(t['task_s']) for t in tasks.values()):.1f} s in tasks; "
              f"{described['evaluated_on_driver']} settings on the driver; load average "
              f"{runs[f'ray-{workers}']['load']:.1f})", flush=True)
    in_process("in-process again")

    same = all(r["results"] == runs["in-process"]["results"] for r in runs.values())
    for name, r in runs.items():
        for mine, theirs in zip(r["results"], runs["in-process"]["results"]):
            if mine != theirs:
                print(f"{name}: {mine['claim']} differs from in-process in "
                      f"{[k for k in mine if mine[k] != theirs.get(k)]}")
        for failure in r.get("failed_tasks", []):
            print(f"{name}: task failed: {failure}")
    baseline = (runs["in-process"]["wall_s"] + runs["in-process again"]["wall_s"]) / 2
    overhead = runs["ray-1"]["wall_s"] / baseline - 1
    speedup = runs["ray-1"]["wall_s"] / runs["ray-2"]["wall_s"]
    print(f"\n{len(claims)} claims, profile {profile.name}, seed {args.seed}, 1 torch thread per task; "
          f"same results: {same}")
    print(f"overhead at 1 worker: {100 * overhead:+.1f}% (goal within 10%)")
    print(f"speedup at 2 workers: {speedup:.2f}x over 1 worker, "
          f"{baseline / runs['ray-2']['wall_s']:.2f}x over in-process")
    print("\nper-task seconds (1 worker): claim, tasks, mean, max")
    for claim, t in runs["ray-1"]["task_s"].items():
        print(f"  {claim:34} {t['tasks']:3d} {t['mean']:7.2f} {t['max']:7.2f}")
    if args.json:
        summary = {"claims": [c.id for c in claims], "profile": profile.name, "seed": args.seed, "same_results": same,
                   "overhead_1_worker": overhead, "speedup_2_workers": speedup,
                   "runs": {k: {key: v for key, v in r.items() if key != "results"} for k, r in runs.items()}}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
    assert not ray.is_initialized()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
