"""pytest integration (registered as the ``resclaims`` pytest11 entry point).

* A test of your own model is one line: ``resclaims.verify("zhang2019.forward_stable",
  make_resnet)`` (or ``"pkg.mod:adapter"``); a falsified claim fails at that line with the
  counterexample.  Each verified claim's margin, unit and p-value go into the test's
  ``user_properties`` (so ``--junitxml`` carries them) as
  ``resclaims.<claim>[<subject>].margin`` etc. (one key per claim and subject).
* A ``[tool.resclaims]`` table in the rootdir's pyproject.toml (:mod:`resclaims.project`)
  adds one item per claim and subject, ``pyproject.toml::<claim>[<subject>]``, marked
  ``resclaims`` and with the claim's paper (``-m zhang2019``, ``-k forward_stable``).  They
  are collected with the rootdir, beside ``testpaths`` when pytest runs without arguments,
  or with ``pytest pyproject.toml``; the rootdir is then on ``sys.path``, as the working
  directory is for ``resclaims check``.
* ``--resclaims-profile NAME`` selects the profile (it sets $RESCLAIMS_PROFILE for the
  session); else $RESCLAIMS_PROFILE, else the table's ``profile``, else ``ci``.  The report
  header names it; the ``resclaims_profile`` fixture gives it.
* ``--resclaims-statistics`` (or Hypothesis' ``--hypothesis-show-statistics``, whose own
  section stays empty: the engine's searches are not pytest tests) prints, for each claim
  run in the session, the examples judged, the settings discarded by reason, and the time.
* CPU threads are capped per xdist worker, so workers do not oversubscribe the cores.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from resclaims import recording, registry
from resclaims.claim import COSTS, Claim
from resclaims.engine import Result, verify
from resclaims.family import SubjectError
from resclaims.profiles import ENV_VAR, PROFILES, Profile, UnknownProfile, resolve
from resclaims.project import Project, ProjectError, read


@dataclass
class _Session:
    """What the plugin changed for the session, to undo at its end."""

    project: Project | None
    saved_profile: str | None
    added_path: str | None = None


_SESSION = pytest.StashKey[_Session]()
_RUNS = pytest.StashKey[list[dict[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resclaims")
    group.addoption("--resclaims-profile", choices=sorted(PROFILES), default=None,
                    help=f"profile for resclaims checks (default: ${ENV_VAR}, [tool.resclaims] profile, or 'ci')")
    group.addoption("--resclaims-statistics", action="store_true", default=False,
                    help="after the run, show each resclaims claim run: examples judged, discarded, time")


def pytest_configure(config: pytest.Config) -> None:
    pyproject = config.rootpath / "pyproject.toml"
    try:
        project = read(pyproject) if pyproject.is_file() else None
    except ProjectError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = _Session(project, os.environ.get(ENV_VAR))
    config.stash[_SESSION] = state
    chosen = config.getoption("--resclaims-profile") or (state.saved_profile is None and project and project.profile)
    if chosen:
        os.environ[ENV_VAR] = chosen
    try:
        resolve()
    except UnknownProfile as exc:
        raise pytest.UsageError(f"${ENV_VAR}: {exc}") from None
    config.addinivalue_line("markers", "resclaims: a claim checked on a subject, from [tool.resclaims]")
    if project is not None:
        for paper in sorted({c.paper for c in registry.claims().values()}):
            config.addinivalue_line("markers", f"{paper}: a resclaims claim of paper {paper}")
        if str(config.rootpath) not in sys.path:
            state.added_path = str(config.rootpath)
            sys.path.insert(0, state.added_path)
        if config.args_source is pytest.Config.ArgsSource.TESTPATHS:
            config.args.append(str(pyproject))  # a plain `pytest` collects the table beside its testpaths
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_SESSION, None)
    if state is None:
        return
    if state.saved_profile is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = state.saved_profile
    if state.added_path in sys.path:
        sys.path.remove(state.added_path)


def pytest_report_header(config: pytest.Config) -> str:
    prof = resolve()
    project = config.stash[_SESSION].project
    examples = ", ".join(f"{prof.examples[cost]} {cost}" for cost in COSTS)
    return (f"resclaims: profile {prof.name} (max examples {examples}; "
            f"{'derandomized' if prof.derandomize else 'random'}), device {project.device if project else 'cpu'}")


@pytest.fixture
def resclaims_profile() -> Profile:
    """The profile resclaims checks in this session run under."""
    return resolve()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if parent.config.stash[_SESSION].project is not None and file_path == parent.config.rootpath / "pyproject.toml":
        return ClaimsFile.from_parent(parent, path=file_path)
    return None


class ClaimsFile(pytest.File):
    """The rootdir's pyproject.toml: one item per claim and subject of its table.  A
    subject or glob that cannot be resolved is a collection error of one line; a claim
    outside the architecture a subject fixes, or one that could judge no setting, is skipped
    with the reason."""

    def collect(self) -> Iterator[ClaimItem]:
        project = self.config.stash[_SESSION].project
        assert project is not None  # collected only when there is a table
        for subject in project.subjects:
            try:
                claims = project.claims_of(subject)
            except (SubjectError, registry.UnknownClaim) as exc:
                raise self.CollectError(f"[tool.resclaims]: {exc}") from None
            for claim in claims:
                item = ClaimItem.from_parent(self, name=f"{claim.id}[{subject}]", claim=claim, subject=subject,
                                             device=project.device)
                reason = claim.applies_to(registry.subject_for(subject, claim.family, claim))
                if reason is not None:
                    item.add_marker(pytest.mark.skip(reason=reason))
                yield item


class ClaimItem(pytest.Item):
    """``verify(claim, subject)`` as a test: a falsified claim fails with the
    counterexample, and a subject that breaks during the check is an error of one line."""

    def __init__(self, *, claim: Claim, subject: str, device: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim, self.subject, self.device = claim, subject, device
        self.add_marker("resclaims")
        self.add_marker(claim.paper)

    def runtest(self) -> None:
        verify(self.claim, self.subject, device=self.device)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (AssertionError, SubjectError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.claim.id} on {self.subject}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Record the Results of the test's ``verify`` calls: margins into its user_properties,
    statistics onto its report."""
    with recording.collecting() as results:
        try:
            return (yield)
        finally:
            item.user_properties.extend(_properties(results))
            item.stash[_RUNS] = [_statistics(r) for r in results]


def _properties(results: list[Result]) -> Iterator[tuple[str, object]]:
    for r in results:
        for name in ("margin", "unit", "p_value"):
            value = getattr(r, name)
            if value not in (None, ""):
                yield f"resclaims.{r.claim}[{r.subject}].{name}", value  # one per claim and subject


def _statistics(result: Result) -> dict[str, Any]:
    costs = result.costs
    return {"claim": result.claim, "subject": result.subject, "profile": result.profile, "verdict": result.verdict,
            "examples": result.examples, "discarded": result.discarded, "seconds": result.seconds,
            "phases": {"construction": costs.construction_s, "evidence": costs.evidence_s,
                       "judgement": costs.judgement_s}}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """The call's report carries the statistics (plain values: they cross to the xdist
    controller), and marks a subject error of a collected item as an error."""
    report = yield
    if call.when == "call" and item.stash.get(_RUNS, None):
        report.resclaims_runs = item.stash[_RUNS]
    if isinstance(item, ClaimItem) and call.excinfo is not None and call.excinfo.errisinstance(SubjectError):
        report.resclaims_subject_error = True
    return report


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    if getattr(report, "resclaims_subject_error", False):
        return "error", "E", "ERROR"
    return None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not (config.getoption("--resclaims-statistics") or config.getoption("hypothesis_show_statistics", False)):
        return
    terminalreporter.section("resclaims statistics")
    for reports in terminalreporter.stats.values():
        for report in reports:
            for run in getattr(report, "resclaims_runs", ()):
                terminalreporter.write_line("\n".join(_describe(report.nodeid, run)) + "\n")


def _describe(nodeid: str, run: dict[str, Any]) -> Iterator[str]:
    yield f"{nodeid}:"
    yield f"  {run['claim']} on {run['subject']} (profile {run['profile']}): {run['verdict']}"
    discarded = run["discarded"]
    yield f"    - {run['examples']} example(s) judged, {sum(discarded.values())} setting(s) discarded"
    for why, n in sorted(discarded.items(), key=lambda item: -item[1]):
        yield f"        {n} discarded: {why}"
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in run["phases"].items())
    yield f"    - {run['seconds']:.2f} s ({phases})"
