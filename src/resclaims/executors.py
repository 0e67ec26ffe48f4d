"""Where settings are evaluated: in-process (the default, :func:`resclaims.engine.run`)
or as Ray tasks (``check --executor ray``), judged on the driver either way.

The Ray executor never changes the search: it *prefetches*.  While a claim holds,
Hypothesis' generate phase draws the same settings whatever their evidence, so

1. a planning pass runs the claim's search with an evaluator that records each drawn
   setting and returns a passing stand-in (no evidence computed): the settings the
   search will ask for, in order;
2. each planned setting becomes a Ray task (``evaluate_setting`` on a worker, with the
   driver's torch thread count), whose (evidence, judgement), or Discarded reason,
   comes back pickled, tensors and all;
3. the ordinary in-process search then runs unchanged, its evaluator served from those
   results (waiting for a task still running) and evaluating here only what was not
   planned: the shrinker's settings and the replacements of discarded draws (planning
   is repeated with the results known so far, up to ``ROUNDS`` times, to send those to
   the cluster too).

The verdicts, counterexamples and margins are therefore those of the in-process run by
construction (profiles that do not target: ``ci``, ``dev``).  The settings of all claims
are planned and submitted up front; claims are judged in order while the cluster works
ahead.  Every finished setting is appended
to a sidecar file (``RESULTS.json.evidence``, one JSON line per setting with its pickled
outcome) as it arrives; ``--resume`` loads it, and the settings in it are not sent again.

Under a profile that targets (``thorough``) settings cannot be planned: Hypothesis feeds
the margins back into what it draws (measured on shamir2018.bound_everywhere, seed 0: a
plan agrees with the search for its first 15 settings only; planned whole, a thorough
sweep spent 196 s in tasks for 107 s of search and took 2.1x the in-process wall at
1 worker).  There each claim's whole search, shrinking included, is one task
(``_search_task``, the in-process ``run`` on a worker with the driver's seed), and
claims run side by side.  Its draws are the driver's: the engine pins Hypothesis' pool of
constants from local modules (:mod:`resclaims.constant_pool`), which a worker, importing
fewer modules than the driver, would otherwise fill differently.
"""
from __future__ import annotations

import base64
import json
import math
import os
import pickle
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from resclaims import registry
from resclaims.claim import Claim, Context, Discarded, Evidence, Judgement, Setting
from resclaims.engine import Result, evaluate_setting, exact_matmuls, run, search_seed
from resclaims.family import Subject
from resclaims.profiles import Profile

ROUNDS = 4  # planning passes per claim (the first for every claim up front)
GPU_SHARE = {"cheap": 0.25, "medium": 0.5, "expensive": 1.0}  # of one GPU per task, by claim cost
STAND_IN = Judgement(True, math.inf, "planned")  # what a planning pass tells the search about an unknown setting
# A task's outcome: ("judged", evidence, judgement), ("discarded", reason) or ("raised", message)
Outcome = tuple[Any, ...]
ClusterProgress = Callable[[int, int, int, int, float | None], None]  # done, planned, running, workers, s left


class RayUnavailable(RuntimeError):
    """``--executor ray`` without Ray installed (``pip install resclaims[ray]``)."""


def setting_key(claim: Claim, subject: Any, profile: Profile, device: str, setting: Setting) -> str:
    """A setting's identity across runs: canonical JSON of the claim, the subject (as given),
    the profile, the device and the setting."""
    name = subject if subject is None or isinstance(subject, str) else getattr(subject, "name", repr(subject))
    return json.dumps([claim.id, name, profile.name, device, setting], sort_keys=True, default=repr)


def _evaluate_task(claim_id: str, subject: Any, setting: Setting, ctx: Context, threads: int) -> tuple[Outcome, float]:
    """One setting on a Ray worker: evidence and judgement with ``threads`` torch threads
    (the driver's, so that reductions add up in the same order) and exact matmuls."""
    import torch
    start = time.perf_counter()
    torch.set_num_threads(threads)
    claim = registry.get(claim_id)
    try:
        subj = _worker_subject(claim, subject)
        with exact_matmuls():
            evidence, judgement = evaluate_setting(claim, subj, setting, ctx)
        outcome: Outcome = ("judged", evidence, judgement)
    except Discarded as why:
        outcome = ("discarded", str(why))
    except Exception as exc:  # evaluated again on the driver, where it raises as in-process
        outcome = ("raised", f"{type(exc).__name__}: {exc}")
    return outcome, time.perf_counter() - start


def _search_task(claim_id: str, subject: Any, profile: str, device: str, shrink: bool, seed: int | None,
                 threads: int) -> tuple[Outcome, float]:
    """One claim's whole search on a Ray worker (profiles that target): the Result of the
    in-process ``run`` with the driver's seed and thread count."""
    import torch
    start = time.perf_counter()
    torch.set_num_threads(threads)
    result = run(claim_id, subject, profile=profile, device=device, shrink=shrink, seed=seed)
    if result.verdict == "error":  # a subject unusable here (not importable, out of GPU memory): the driver runs it
        return ("raised", result.summary), time.perf_counter() - start
    return ("searched", result), time.perf_counter() - start


def _warm_up() -> None:
    """Import what a task needs (torch, the claims), once per worker, while the driver plans."""
    registry.claims()


_SUBJECTS: dict[tuple[str, str], Subject] = {}


def _worker_subject(claim: Claim, subject: Any) -> Subject:
    """The subject on a worker: a Subject shipped as is, a name or ``module:adapter`` resolved
    (once per worker process and claim) as the driver resolved it.  Per claim: with no
    subject named, each claim runs on the first reference meeting its hypotheses, which
    differs between claims of one family."""
    if isinstance(subject, Subject):
        return subject
    key = (claim.id, str(subject))
    if key not in _SUBJECTS:
        _SUBJECTS[key] = registry.subject_for(subject, claim.family, claim)
    return _SUBJECTS[key]


@dataclass
class _Task:
    key: str
    claim: str
    setting: Setting
    ref: Any = None
    submitted: float = 0.0


@dataclass
class RayExecutor:
    """Settings as Ray tasks, judged here.  ``address``: an existing cluster (``ray start
    --head`` prints it), else a local instance with ``num_cpus`` CPUs (default: all) is
    started and stopped with the executor.  ``threads``: torch threads per task (default:
    the driver's, which keeps evidence bit-identical to the in-process run; each task asks
    Ray for that many CPUs).  With ``device="cuda"`` a task asks for a share of a GPU by the
    claim's cost (``GPU_SHARE``).  ``sidecar``: the file finished settings are appended to,
    and read back from by ``resume``.  A task whose worker dies is retried up to
    ``max_retries`` times by Ray."""

    address: str | None = None
    num_cpus: int | None = None
    threads: int | None = None
    device: str = "cpu"
    sidecar: str | Path | None = None
    max_retries: int = 3
    progress: ClusterProgress | None = None
    init_s: float = 0.0
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    task_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    resumed: int = 0
    on_driver: int = 0  # settings the search asked for that no task had computed (shrinking; whole searches)
    failed: list[str] = field(default_factory=list)  # tasks that raised, or failed after Ray's retries
    _pending: dict[Any, _Task] = field(default_factory=dict)  # ObjectRef -> task
    _by_key: dict[str, _Task] = field(default_factory=dict)
    _planned: int = 0
    _workers: int = 0
    _nodes: int = 0
    _started: bool = False
    _ray: Any = None
    _remote: Any = None
    _remote_search: Any = None

    def start(self) -> "RayExecutor":
        """Connect to the cluster, or start a local instance (once)."""
        if self._remote is not None:
            return self
        try:
            import ray
        except ImportError:
            raise RayUnavailable("--executor ray needs Ray: pip install 'resclaims[ray]'") from None
        import torch
        self._ray = ray
        if self.threads is None:
            self.threads = torch.get_num_threads()
        if not ray.is_initialized():
            start = time.perf_counter()
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
            self.init_s = time.perf_counter() - start
            self._started = True
        self._remote = ray.remote(max_retries=self.max_retries, retry_exceptions=False)(_evaluate_task)
        # a whole search retried is a whole search repeated: once, then the driver runs it
        self._remote_search = ray.remote(max_retries=min(1, self.max_retries), retry_exceptions=False)(_search_task)
        if self.device != "cuda":
            warm = ray.remote(num_cpus=self.threads)(_warm_up)
            for _ in range(max(1, self.workers)):
                warm.remote()
        return self

    def stop(self) -> None:
        """Cancel what is still queued; shut Ray down if this executor started it."""
        if self._ray is None:
            return
        for ref in list(self._pending):
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        if self._started:
            self._ray.shutdown()
            self._started = False
        self._remote = None

    def __enter__(self) -> "RayExecutor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what the results file records ---------------------------------------------------

    @property
    def workers(self) -> int:
        """Tasks the cluster runs at once: its CPUs over the CPUs a task asks for (its GPUs
        for cuda)."""
        if self._ray is None or not self._ray.is_initialized():
            return self._workers  # as last seen
        resources = self._ray.cluster_resources()
        if self.device == "cuda":
            self._workers = int(resources.get("GPU", 0) / GPU_SHARE["expensive"])
        else:
            self._workers = int(resources.get("CPU", 0) // max(1, self.threads or 1))
        return self._workers

    def describe(self) -> dict[str, Any]:
        """The results file's ``environment.executor``: name, address, workers, nodes, threads
        per task, ray.init seconds, and per claim the tasks' count and seconds."""
        if self._ray is not None and self._ray.is_initialized():
            self._nodes = sum(1 for n in self._ray.nodes() if n.get("Alive"))
        tasks = {claim: {"tasks": len(s), "task_s_mean": sum(s) / len(s), "task_s_max": max(s),
                         "task_s": [round(x, 4) for x in s]} for claim, s in self.task_seconds.items() if s}
        return {"name": "ray", "address": self.address or "local", "workers": self.workers, "nodes": self._nodes,
                "threads_per_task": self.threads, "ray_init_s": round(self.init_s, 3),
                "resumed_settings": self.resumed, "evaluated_on_driver": self.on_driver,
                "failed_tasks": self.failed[:20], "tasks": tasks}

    # -- the sweep --------------------------------------------------------------------------

    def resume(self, path: str | Path) -> int:
        """Load the finished settings of an earlier run's sidecar file; the number loaded."""
        self.outcomes.update(load_sidecar(path))
        self.resumed = len(self.outcomes)
        return self.resumed

    def check(self, claims: Sequence[Claim], subject: Any, profile: Profile, shrink: bool = True,
              seed: int | None = None) -> Iterator[Result]:
        """The Result of each claim, in order, as the in-process ``run`` gives it; its
        ``seconds`` are the wall time from the previous claim's result to its own (waiting
        for its tasks included), its ``costs`` those of the driver's search (of the worker's,
        under a profile that targets)."""
        if profile.target:
            yield from self._whole_searches(claims, subject, profile, shrink, seed)
            return
        for claim in claims:  # every claim's first plan, submitted before any is judged
            self._plan(claim, subject, profile, seed)
        for claim in claims:
            start = time.perf_counter()
            for _ in range(ROUNDS - 1):
                if not self._plan(claim, subject, profile, seed, wait=True):
                    break
            result = run(claim, subject, profile=profile, device=self.device, shrink=shrink, seed=seed,
                         evaluator=self._serving(claim, subject, profile))
            for ref, task in list(self._pending.items()):  # settings the search no longer needs
                if task.claim == claim.id:
                    self._ray.cancel(ref)
                    del self._pending[ref]
                    self._by_key.pop(task.key, None)
                    self._planned -= 1
            self._collect(0)
            result.seconds = time.perf_counter() - start
            yield result

    def _whole_searches(self, claims: Sequence[Claim], subject: Any, profile: Profile, shrink: bool,
                        seed: int | None) -> Iterator[Result]:
        """Each claim's search as one task, all submitted up front, the Results yielded in
        order; one whose task failed after Ray's retries runs here.  ``seed`` is resolved here,
        so that every worker searches with it and the sidecar records it."""
        seed = search_seed(profile, seed)
        keys = {}
        for claim in claims:
            keys[claim.id] = setting_key(claim, subject, profile, self.device, {"search": seed, "shrink": shrink})
            if keys[claim.id] not in self.outcomes and keys[claim.id] not in self._by_key:
                shipped = subject if subject is None or isinstance(subject, (str, Subject)) else \
                    registry.subject_for(subject, claim.family, claim)
                self._send(self._remote_search, "resclaims.search", keys[claim.id], claim, {"search": seed},
                           claim.id, shipped, profile.name, self.device, shrink, seed, self.threads)
        for claim in claims:
            start = time.perf_counter()
            self._wait_for(keys[claim.id])
            outcome = self.outcomes.get(keys[claim.id])
            if outcome is None or outcome[0] != "searched":
                self.on_driver += 1
                result = run(claim, subject, profile=profile, device=self.device, shrink=shrink, seed=seed)
                if result.verdict != "error":  # as for tasks: an error is not kept for --resume
                    self._keep(keys[claim.id], ("searched", result))
            else:
                result = outcome[1]
            result.seconds = time.perf_counter() - start
            yield result

    def _plan(self, claim: Claim, subject: Any, profile: Profile, seed: int | None, wait: bool = False) -> int:
        """A planning pass: submit the settings the search would draw that are neither known
        nor running; known ones are told to the search (waiting for running ones if ``wait``),
        unknown ones get STAND_IN.  Returns the number submitted."""
        new = 0

        def record(claim: Claim, subj: Subject, setting: Setting, ctx: Context) -> tuple[Evidence, Judgement]:
            nonlocal new
            key = setting_key(claim, subject, profile, self.device, setting)
            if key in self._by_key and wait:
                self._wait_for(key)
            if key in self.outcomes:
                return _unpack(self.outcomes[key])
            if key not in self._by_key:
                self._submit(key, claim, subject, subj, setting, ctx)
                new += 1
            return {}, STAND_IN

        run(claim, subject, profile=profile, device=self.device, shrink=False, seed=seed, evaluator=record)
        return new

    def _serving(self, claim: Claim, subject: Any, profile: Profile) -> Callable[..., tuple[Evidence, Judgement]]:
        """The real search's evaluator: a task's result, else evaluated here (and kept)."""
        def serve(claim: Claim, subj: Subject, setting: Setting, ctx: Context) -> tuple[Evidence, Judgement]:
            key = setting_key(claim, subject, profile, self.device, setting)
            self._wait_for(key)
            outcome = self.outcomes.get(key)
            if outcome is not None and outcome[0] != "raised":
                return _unpack(outcome)
            self.on_driver += 1
            try:
                evidence, judgement = evaluate_setting(claim, subj, setting, ctx)
            except Discarded as why:
                self._keep(key, ("discarded", str(why)))
                raise
            self._keep(key, ("judged", evidence, judgement))
            return evidence, judgement
        return serve

    def _submit(self, key: str, claim: Claim, subject: Any, subj: Subject, setting: Setting, ctx: Context) -> None:
        shipped = subject if subject is None or isinstance(subject, str) else subj
        self._send(self._remote, "resclaims.evaluate", key, claim, setting, claim.id, shipped, dict(setting), ctx,
                   self.threads)

    def _send(self, remote: Any, name: str, key: str, claim: Claim, label: Setting, *args: Any) -> None:
        """Submit ``remote(*args)`` as the task for ``key``: the driver's threads as its CPUs,
        or a share of a GPU by the claim's cost under ``--device cuda``."""
        options: dict[str, Any] = {"num_cpus": self.threads, "name": name}
        if self.device == "cuda":
            options.update(num_cpus=1, num_gpus=GPU_SHARE[claim.cost])
        ref = remote.options(**options).remote(*args)
        task = _Task(key, claim.id, dict(label), ref, time.perf_counter())
        self._pending[ref] = task
        self._by_key[key] = task
        self._planned += 1

    def _wait_for(self, key: str) -> None:
        while key in self._by_key:
            self._collect(None)

    def _collect(self, timeout: float | None) -> None:
        """Take in finished tasks (at least one unless ``timeout`` runs out): keep their
        outcomes, append them to the sidecar, report progress."""
        if not self._pending:
            return
        ready, _ = self._ray.wait(list(self._pending), num_returns=len(self._pending), timeout=timeout) \
            if timeout == 0 else self._ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        for ref in ready:
            task = self._pending.pop(ref)
            try:
                outcome, seconds = self._ray.get(ref)
            except Exception as exc:  # retries exhausted: the driver evaluates it (and raises as in-process)
                outcome, seconds = ("raised", f"{type(exc).__name__}: {exc}"), time.perf_counter() - task.submitted
            self._by_key.pop(task.key, None)
            self.task_seconds[task.claim].append(seconds)
            if outcome[0] != "raised":
                self._keep(task.key, outcome)
            else:
                self.failed.append(f"{task.claim} {json.dumps(task.setting, default=repr)}: {outcome[1]}"[:500])
        if self.progress is not None and ready:
            done = sum(len(s) for s in self.task_seconds.values())
            workers = max(1, self.workers)
            running = min(len(self._pending), workers)
            mean = done and sum(sum(s) for s in self.task_seconds.values()) / done
            self.progress(done, self._planned, running, workers, mean * len(self._pending) / workers if done else None)

    def _keep(self, key: str, outcome: Outcome) -> None:
        self.outcomes[key] = outcome
        if self.sidecar is not None:
            with open(self.sidecar, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "outcome": base64.b64encode(pickle.dumps(outcome)).decode()})
                             + "\n")
                handle.flush()


def _unpack(outcome: Outcome) -> tuple[Evidence, Judgement]:
    """A kept outcome as the search takes it: (evidence, judgement), or Discarded raised."""
    if outcome[0] == "discarded":
        raise Discarded(outcome[1])
    if outcome[0] == "raised":  # only while planning: the real search evaluates it again, here
        return {}, STAND_IN
    return outcome[1], outcome[2]


def sidecar_path(results: str | Path) -> Path:
    """Where the finished settings of the run writing ``results`` are kept."""
    return Path(f"{results}.evidence")


def load_sidecar(path: str | Path) -> dict[str, Outcome]:
    """The outcomes kept in a sidecar file (a torn last line is skipped).  It holds pickles:
    resume only from files you wrote."""
    outcomes: dict[str, Outcome] = {}
    if not os.path.exists(path):
        return outcomes
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
                outcomes[entry["key"]] = pickle.loads(base64.b64decode(entry["outcome"]))
            except (ValueError, KeyError, pickle.UnpicklingError, EOFError):
                continue
    return outcomes
