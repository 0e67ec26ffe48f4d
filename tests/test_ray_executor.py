"""The Ray executor (``check --executor ray``) on one local Ray instance with 2 CPUs: the
same results as in-process for a claim and for a whole family at the dev profile, a
family's kill matrix through Ray, a worker killed mid-sweep, and ``--resume``.  Skipped
where Ray is not installed; CI installs it and runs them.

The tests share one instance (a module fixture) and one xdist worker (their group: two
workers would start two instances on CI's two cores; the group is honoured under
pytest 8, which the test extra pins)."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

ray = pytest.importorskip("ray")

from resclaims import registry  # noqa: E402
from resclaims.cli import main  # noqa: E402
from resclaims.engine import Result, run  # noqa: E402
from resclaims.executors import RayExecutor, load_sidecar, sidecar_path  # noqa: E402
from resclaims.profiles import resolve  # noqa: E402
from test_kill_matrix import KILLS, SPARES, spare_verdict  # noqa: E402

CLAIM = "zhang2019.forward_stable"
MUTANT = "zhang2019.no_tau"  # killed by CLAIM: a falsified cell, shrunk on the driver
FAMILY = "shamir2018"  # the family run whole at dev, and whose kill matrix runs through Ray (~1 CPU-min)
DEV_SEED = 20261127

pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def in_process() -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(CLAIM, None): same(run(CLAIM, profile="ci")), (CLAIM, MUTANT): same(run(CLAIM, MUTANT, profile="ci"))}


def same(result: Result) -> dict[str, Any]:
    """A result less what depends on where and when it ran (its seconds and costs)."""
    data = result.to_json()
    data.pop("seconds"), data.pop("costs")
    return data


def ray_results(subject: str | None, **options: Any) -> tuple[list[Result], RayExecutor]:
    with RayExecutor(**options) as executor:
        results = list(executor.check([registry.get(CLAIM)], subject, resolve("ci")))
    return results, executor


def test_same_results_as_in_process(local_ray: None, in_process: dict) -> None:
    (result,), executor = ray_results(None)
    assert same(result) == in_process[(CLAIM, None)]
    assert result.verdict == "holds" and result.examples >= 4
    assert executor.workers == 2 // executor.threads and len(executor.task_seconds[CLAIM]) == result.examples
    assert executor.on_driver == 0  # every setting a task


def test_a_falsified_cell_is_shrunk_on_the_driver_to_the_in_process_counterexample(local_ray: None,
                                                                                   in_process: dict) -> None:
    (result,), _ = ray_results(MUTANT)
    assert result.verdict == "falsified"
    assert same(result) == in_process[(CLAIM, MUTANT)]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _evaluating_workers() -> list[int]:
    """Pids of the Ray workers of this process's local instance (children of its raylet,
    itself a child of this process) running a resclaims task now: Ray titles them
    ``ray::resclaims.evaluate``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::resclaims.evaluate") and \
                        _parent(_parent(int(entry.name))) == os.getpid():
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finding the worker to kill reads Linux's /proc")
def test_a_worker_killed_mid_task_costs_a_retry_not_the_run(local_ray: None, in_process: dict) -> None:
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and not killed:
            for pid in _evaluating_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.005)
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        (result,), executor = ray_results(None)
    finally:
        stop.set()
        thread.join()
    assert killed, "no worker was caught running a task"
    assert same(result) == in_process[(CLAIM, None)]
    assert executor.on_driver == 0 and not executor.failed  # Ray retried the task: no setting fell back here


def test_resume_skips_settings_already_judged(local_ray: None, in_process: dict, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = ["check", "--claims", CLAIM, "--profile", "ci", "--executor", "ray"]
    assert main([*argv, "--json", str(out)]) == 0
    first = json.loads(out.read_text())
    assert first["complete"] and first["environment"]["executor"]["name"] == "ray"
    assert first["environment"]["executor"]["tasks"][CLAIM]["tasks"] >= 4
    kept = load_sidecar(sidecar_path(out))
    assert len(kept) == first["results"][0]["examples"]
    # an interrupted run: the results file says incomplete, the sidecar has one setting less
    lines = sidecar_path(out).read_text().splitlines()
    sidecar_path(out).write_text("\n".join(lines[:-1]) + "\n")
    out.write_text(json.dumps({**first, "results": [], "complete": False}))
    assert main([*argv, "--resume", str(out)]) == 0
    second = json.loads(out.read_text())
    assert second["complete"] and second["environment"]["executor"]["resumed_settings"] == len(lines) - 1
    assert second["environment"]["executor"]["tasks"][CLAIM]["tasks"] == 1  # only the missing one
    for data in (first, second):
        result = data["results"][0]
        result.pop("seconds"), result.pop("costs")
        assert result == in_process[(CLAIM, None)]


def test_a_family_at_dev_gives_the_same_verdicts_and_evidence_through_ray(local_ray: None, tmp_path: Path) -> None:
    """``check --executor ray --profile dev`` over a whole family, against the same command
    in-process: the dev profile draws at random, so both runs take one ``--seed``."""
    argv = ["check", "--claims", f"{FAMILY}.*", "--profile", "dev", "--seed", str(DEV_SEED), "--no-shrink"]
    results = {}
    for executor in ("in-process", "ray"):
        out = tmp_path / f"{executor}.json"
        assert main([*argv, "--executor", executor, "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        assert data["complete"] and data["environment"].get("executor", {}).get("name", "in-process") == executor
        results[executor] = data["results"]
    executor_record = data["environment"]["executor"]  # the Ray run's
    assert not executor_record["failed_tasks"]  # each claim's tasks ran on its own reference (a bug once)
    assert executor_record["evaluated_on_driver"] <= sum(sum(r["discarded"].values()) for r in results["ray"])
    assert len(results["ray"]) == len([c for c in registry.claims().values() if c.paper == FAMILY]) >= 6
    for ours, theirs in zip(results["ray"], results["in-process"]):
        for data in (ours, theirs):
            data.pop("seconds"), data.pop("costs")
        assert ours == theirs
        assert ours["verdict"] == "holds" and ours["examples"] >= 2, ours["summary"]


def test_a_familys_kill_matrix_through_ray(local_ray: None) -> None:
    """The family's cells of the kill matrix (tests/test_kill_matrix.py), each subject's
    claims as one sweep: every mutant falsified by each claim its ``killed_by`` names (ci),
    no theorem claim flagging a benign control (smoke)."""
    with RayExecutor() as executor:
        for cells, profile, expected in ((KILLS, "ci", lambda s, c: "falsified"), (SPARES, "smoke", spare_verdict)):
            by_subject: dict[str, list[str]] = {}
            for subject, claim_id in cells:
                if subject.startswith(f"{FAMILY}."):
                    by_subject.setdefault(subject, []).append(claim_id)
            assert by_subject, f"{FAMILY} has no {profile} cells"
            for subject, claim_ids in by_subject.items():
                claims = [registry.get(c) for c in claim_ids]
                for claim, result in zip(claims, executor.check(claims, subject, resolve(profile), shrink=False)):
                    assert result.verdict == expected(subject, claim.id), \
                        f"{claim.id} on {subject} through Ray: {result.verdict}: {result.summary}"
    assert executor.on_driver == 0 and not executor.failed  # every setting was a task


def test_a_targeting_profile_runs_each_claims_search_as_one_task(local_ray: None) -> None:
    """Under ``thorough`` Hypothesis feeds margins back into its draws, so settings are not
    planned: each claim's search is one task, and gives the in-process result: the worker
    imports fewer modules than the driver, which must not change its draws (the engine
    pins Hypothesis' pool of constants from local modules)."""
    claims, profile = [registry.get("wang2020.kernel_sandwich"), registry.get("wang2020.merge_inequality")], \
        resolve("thorough")
    with RayExecutor() as executor:
        results = list(executor.check(claims, None, profile, seed=DEV_SEED))
    for result, claim in zip(results, claims):
        here = run(claim, profile=profile, seed=DEV_SEED)
        assert (result.verdict, result.setting, result.margin, result.examples, result.evidence) == \
            (here.verdict, here.setting, here.margin, here.examples, here.evidence)
        assert result.verdict == "holds"
        assert result.examples > 100 and result.hypothesis_seed == DEV_SEED
    assert {c.id: len(executor.task_seconds[c.id]) for c in claims} == {c.id: 1 for c in claims}
    assert executor.on_driver == 0 and not executor.failed


def test_ray_options_are_refused_without_ray_executor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--claims", CLAIM, "--resume", "x.json"]) == 2
    assert "goes with --executor ray" in capsys.readouterr().err
