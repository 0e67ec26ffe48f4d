"""The Ray executor (``check --executor ray``) on one local Ray instance with 2 CPUs: the
same results as in-process, a kill-matrix cell through Ray, a worker killed mid-sweep,
and ``--resume``.  Skipped where Ray is not installed; kept few and cheap (CI runs them).

The four checks run in one test, in order, on one instance: pytest-xdist's
``xdist_group`` does not keep tests in one worker under pytest 9 (xdist 3.8 sets the
group on ``item._nodeid``, which pytest 9 no longer reads), and two workers would
start two instances on CI's two cores."""
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

CLAIM = "zhang2019.forward_stable"
MUTANT = "zhang2019.no_tau"  # killed by CLAIM: a falsified cell, shrunk on the driver


@pytest.fixture()
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def same(result: Result) -> dict[str, Any]:
    """A result less what depends on where and when it ran (its seconds and costs)."""
    data = result.to_json()
    data.pop("seconds"), data.pop("costs")
    return data


def test_on_a_local_ray_instance(local_ray: None, tmp_path: Path) -> None:
    in_process = {(CLAIM, None): same(run(CLAIM, profile="ci")), (CLAIM, MUTANT): same(run(CLAIM, MUTANT, profile="ci"))}
    same_results_as_in_process(in_process)
    kill_matrix_cell_through_ray(in_process)
    if Path("/proc/self/stat").exists():  # finding the worker to kill reads Linux's /proc
        a_worker_killed_mid_task_costs_a_retry_not_the_run(in_process)
    resume_skips_settings_already_judged(in_process, tmp_path)


def ray_results(subject: str | None, **options: Any) -> tuple[list[Result], RayExecutor]:
    with RayExecutor(**options) as executor:
        results = list(executor.check([registry.get(CLAIM)], subject, resolve("ci")))
    return results, executor


def same_results_as_in_process(in_process: dict) -> None:
    (result,), executor = ray_results(None)
    assert same(result) == in_process[(CLAIM, None)]
    assert result.verdict == "holds" and result.examples >= 4
    assert executor.workers == 2 // executor.threads and len(executor.task_seconds[CLAIM]) == result.examples
    assert executor.on_driver == 0  # every setting a task


def kill_matrix_cell_through_ray(in_process: dict) -> None:
    """A mutant is falsified through Ray with the in-process counterexample (shrunk here)."""
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


def a_worker_killed_mid_task_costs_a_retry_not_the_run(in_process: dict) -> None:
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


def resume_skips_settings_already_judged(in_process: dict, tmp_path: Path) -> None:
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


def test_ray_options_are_refused_without_ray_executor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--claims", CLAIM, "--resume", "x.json"]) == 2
    assert "goes with --executor ray" in capsys.readouterr().err
