"""Running a claim against a subject through Hypothesis, and ``verify``.

strategy draws a setting -> the claim's check builds models from the subject and
computes evidence -> the claim's judge gives a verdict -> this module reports.
A falsified claim ends Hypothesis' search; Hypothesis then shrinks the setting and
the smallest failing setting, its evidence and its margin become the result.
"""
from __future__ import annotations

import json
import math
import random
import shlex
import unittest
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Literal

import hypothesis
import torch
from hypothesis import given, reject, target
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from hypothesis import settings as hsettings

from resclaims import recording, registry
from resclaims.costs import Costs, measure, phase
from resclaims.claim import Claim, Context, Discarded, Evidence, Judgement, OutsideHypotheses, Setting
from resclaims.constant_pool import pinned_constants
from resclaims.family import Subject, SubjectError
from resclaims.profiles import Profile, resolve

Verdict = Literal["holds", "falsified", "skipped", "error"]
Progress = Callable[[int, int], None]  # (settings judged, settings planned), after each judged setting
# Evidence and judgement of one setting, as evaluate_setting gives them; an executor may serve them from elsewhere
Evaluator = Callable[[Claim, Subject, Setting, Context], tuple[Evidence, Judgement]]
DISCARDS_PER_EXAMPLE = 3  # a search stops after this many discarded settings per example it asks for


@dataclass
class Result:
    """The outcome of one claim on one subject.  ``setting``/``evidence``/``summary`` are
    those of the failing setting when falsified, else of the setting with the smallest
    margin; ``examples`` counts the settings evaluated; ``discarded`` counts, by reason,
    the drawn settings the claim could not judge (:class:`~resclaims.claim.Discarded`);
    ``costs`` says where the time and memory went (:mod:`resclaims.costs`); ``margins`` are the
    margins of the settings the search judged, in order, up to the first falsifying one
    (shrinking is not included), for the report's figure of the margin over examples.
    ``skipped``: the subject fixes an architecture outside the claim's hypotheses, or the claim could
    judge none of the settings drawn for it (``summary`` says which).
    ``hypothesis_seed``: "derandomized" when the profile fixes the draws, else the seed the search
    was given; None when no search ran (a replayed setting, a skip, an unusable subject)."""

    claim: str
    subject: str
    verdict: Verdict
    scope: str = ""
    evidence: Evidence = field(default_factory=dict)
    seconds: float = 0.0
    setting: Setting | None = None
    summary: str = ""
    margin: float | None = None
    examples: int = 0
    profile: str = ""
    costs: Costs = field(default_factory=Costs)
    discarded: dict[str, int] = field(default_factory=dict)
    margins: list[float] = field(default_factory=list)
    p_value: float | None = None
    alpha: float | None = None
    band: tuple[float, float] | None = None
    interval: tuple[float, float] | None = None
    unit: str = ""
    hypothesis_seed: int | str | None = None

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


class NotApplicable(unittest.SkipTest):
    """``verify`` on a subject outside the claim's hypotheses, or on which the claim could
    judge no setting (a ``skipped`` result); pytest reports the test as skipped, with the
    reason."""


class _Falsified(Exception):
    def __init__(self, setting: Setting, evidence: Evidence, judgement: Judgement) -> None:
        super().__init__(judgement.summary)
        self.setting, self.evidence, self.judgement = setting, evidence, judgement


def evaluate(claim: Claim, subject: Subject, setting: Setting, ctx: Context) -> tuple[Evidence, Judgement]:
    """Evidence and verdict for one setting (no Hypothesis): the replay path."""
    return evaluate_setting(claim, subject, setting, ctx)


def evaluate_setting(claim: Claim, subject: Subject, setting: Setting, ctx: Context) -> tuple[Evidence, Judgement]:
    """Evidence and verdict for one setting: the claim's check, then its judge."""
    with phase("evidence"):
        evidence = claim.check(setting, subject, ctx)
    with phase("judgement"):
        return evidence, claim.judge(setting, evidence, ctx)


def run(claim: Claim | str, subject: Subject | str | None = None, profile: Profile | str | None = None,
        device: str = "cpu", setting: Setting | None = None, shrink: bool = True,
        progress: Progress | None = None, seed: int | None = None,
        evaluator: Evaluator | None = None) -> Result:
    """Check ``claim`` on ``subject`` (default: the claim family's reference) and return a
    Result; subject problems become an ``error`` result, never an exception.  ``progress``
    is called with (settings judged, settings planned) after each setting the search
    judges; ``seed`` seeds the search of a profile that does not derandomize (default: a
    fresh one, or pytest's ``--hypothesis-seed``), and is recorded in the Result.
    ``evaluator`` gives the search each drawn setting's evidence and judgement in place of
    :func:`evaluate_setting` (an executor serving them from results computed elsewhere,
    :mod:`resclaims.executors`); a replayed ``setting`` is always evaluated here."""
    with measure() as costs, exact_matmuls():
        result = _run(claim, subject, profile, device, setting, shrink, progress, seed, evaluator)
    result.costs = costs
    result.seconds = costs.total_s
    return result


@contextmanager
def exact_matmuls() -> Iterator[None]:
    """TF32 off for the body (CUDA matmuls and cuDNN convolutions in float32 would
    otherwise round inputs to 10 mantissa bits): evidence is computed at the precision
    its dtype promises, on every device; the previous settings are restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _run(claim: Claim | str, subject: Subject | str | None, profile: Profile | str | None,
         device: str, setting: Setting | None, shrink: bool, progress: Progress | None, seed: int | None,
         evaluator: Evaluator | None = None) -> Result:
    claim = registry.get(claim) if isinstance(claim, str) else claim
    prof = profile if isinstance(profile, Profile) else resolve(profile)
    name = subject.name if isinstance(subject, Subject) else (subject or "reference")
    try:
        subj = subject if isinstance(subject, Subject) else registry.subject_for(subject, claim.family, claim)
        name = subj.name
        subj.check_contract()
        reason = claim.applies_to(subj)
        if reason is not None:
            return Result(claim.id, name, "skipped", claim.scope,
                          summary=reason, profile=prof.name)
        ctx = Context(device=device, alpha=per_example_alpha(claim, prof), scale=prof.scale)
        if setting is not None:
            try:
                evidence, judgement = evaluate(claim, subj, setting, ctx)
            except Discarded as why:
                return Result(claim.id, name, "skipped", claim.scope, setting=dict(setting), profile=prof.name,
                              summary=f"this setting cannot be judged: {why}", discarded={str(why): 1})
            return _diagnosed(_result(claim, name, prof, setting, evidence, judgement, 1), subj)
        seed = search_seed(prof, seed)
        result = _search(claim, subj, prof, ctx, shrink, progress, seed, evaluator or evaluate_setting)
        result.hypothesis_seed = "derandomized" if seed is None else seed
        return _diagnosed(result, subj)
    except SubjectError as exc:
        return Result(claim.id, name, "error", claim.scope,
                      summary=str(exc), profile=prof.name)
    except OutsideHypotheses as why:
        return Result(claim.id, name, "skipped", claim.scope, summary=f"not applicable: {why}", profile=prof.name)
    except Exception as exc:  # a model that crashes mid-check must not end the whole run
        return Result(claim.id, name, "error", claim.scope,
                      summary=f"subject {name} raised {type(exc).__name__} during {claim.id}: {exc}",
                      profile=prof.name)


def search_seed(prof: Profile, seed: int | None = None) -> int | None:
    """The seed a search under ``prof`` uses: None when the profile derandomizes (the
    draws are then fixed by the claim), else ``seed``, pytest's ``--hypothesis-seed``, or
    a fresh random one."""
    if prof.derandomize:
        return None
    if seed is not None:
        return seed
    forced = getattr(hypothesis.core, "global_force_seed", None)
    return forced if isinstance(forced, int) else random.getrandbits(32)


def _search(claim: Claim, subject: Subject, prof: Profile, ctx: Context, shrink: bool,
            progress: Progress | None, seed: int | None, evaluator: Evaluator = evaluate_setting) -> Result:
    closest: list[tuple[Setting, Evidence, Judgement]] = []
    count = [0]
    discarded: Counter[str] = Counter()
    margins: list[float] = []
    searching = [True]  # False once a setting is falsified: the shrinker's settings are not recorded
    falsified: list[tuple[Setting, Evidence, Judgement]] = []  # the latest setting judged to falsify the claim
    judged: dict[str, tuple[Evidence, Judgement] | str] = {}  # canonical setting -> its outcome (or discard reason)
    limit = DISCARDS_PER_EXAMPLE * prof.max_examples(claim.cost, claim.search)
    planned = len(claim.examples_for(subject)) + prof.max_examples(claim.cost, claim.search)

    def evaluate(claim: Claim, subject: Subject, setting: Setting, ctx: Context) -> tuple[Evidence, Judgement]:
        """The module's evaluate, counting discarded settings.  It shadows that name so that
        ``one`` keeps its source text: Hypothesis derandomizes from a digest of the test
        function's source, and a change there would change every claim's drawn settings."""
        if searching[0] and sum(discarded.values()) >= limit:  # checked first: cheap for Hypothesis' replays
            count[0] -= 1  # ``one`` counts before the call: examples are the settings judged
            raise _Exhausted()
        key = json.dumps(setting, sort_keys=True, default=repr)
        if key in judged:  # evidence is a function of the setting: Hypothesis' final replay of a failure
            count[0] -= 1  # and the shrinker's revisits are answered from the first evaluation
            known = judged[key]
            if isinstance(known, str):
                reject()
            return known
        try:
            evidence, judgement = evaluator(claim, subject, setting, ctx)
        except Discarded as why:
            count[0] -= 1
            discarded[str(why)] += 1
            judged[key] = str(why)
            reject()  # raises: Hypothesis draws another setting
        # a revisited setting that holds cannot become ``closest`` (its margin is not smaller than
        # itself): only a falsifying setting's evidence is kept, so memory does not grow with examples
        judged[key] = (evidence if not judgement.holds else {}), judgement
        if not judgement.holds:
            falsified[:] = [(dict(setting), evidence, judgement)]
        if searching[0]:
            margins.append(judgement.margin)
            searching[0] = judgement.holds
            if progress is not None:
                progress(count[0], planned)
        return evidence, judgement

    def one(setting: Setting) -> None:
        count[0] += 1
        evidence, judgement = evaluate(claim, subject, setting, ctx)
        if prof.target and math.isfinite(judgement.margin):
            target(-judgement.margin, label=f"violation of {claim.id}")
        if not judgement.holds:
            raise _Falsified(setting, evidence, judgement)
        if not closest or judgement.margin < closest[0][2].margin:
            closest[:] = [(setting, evidence, judgement)]

    test = given(claim.settings(prof.scale, subject))(one)
    for explicit in reversed(claim.examples_for(subject)):
        test = hypothesis.example(explicit)(test)
    test = hsettings(**prof.hypothesis_settings(claim.cost, shrink, claim.search))(test)
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    try:
        with pinned_constants():  # draws independent of the modules this process imported
            test()
    except _Falsified as f:
        return _result(claim, subject.name, prof, f.setting, f.evidence, f.judgement, count[0], discarded, margins)
    except Exception as exc:
        if falsified:  # the shrinker ended on another exception (a crash at a smaller setting): the claim stays
            setting, evidence, judgement = falsified[0]  # falsified, by the last setting that falsified it
            return _result(claim, subject.name, prof, setting, evidence, judgement, count[0], discarded, margins)
        if not isinstance(exc, (Unsatisfiable, FailedHealthCheck, _Exhausted)) or not discarded:
            raise
        if closest:  # the search stopped early: the verdict rests on the settings judged, and says so
            setting, evidence, judgement = closest[0]
            asked = prof.max_examples(claim.cost, claim.search)
            if count[0] < asked:
                judgement = judgement.restate(f"{judgement.summary} (search stopped: only {count[0]} of {asked} "
                                              f"examples judged)")
            return _result(claim, subject.name, prof, setting, evidence, judgement, count[0], discarded, margins)
        # the subject is usable; the claim could not judge it (nothing for or against it): not an error
        return Result(claim.id, subject.name, "skipped", claim.scope, profile=prof.name, discarded=dict(discarded),
                      examples=count[0], summary=f"not judged: {'no' if not count[0] else 'too few'} drawn settings "
                                                 f"could be judged ({count[0]} judged; {_discards(discarded)})")
    setting, evidence, judgement = closest[0]
    return _result(claim, subject.name, prof, setting, evidence, judgement, count[0], discarded, margins)


class _Exhausted(Exception):
    """A search stopped after DISCARDS_PER_EXAMPLE discarded settings per example asked for."""


def _discards(discarded: Counter[str]) -> str:
    return "; ".join(f"{n} discarded: {why}" for why, n in discarded.most_common())


def _diagnosed(result: Result, subject: Subject) -> Result:
    """A falsified result, with what :meth:`Subject.unresponsive` finds added to its
    summary; any other result as it is."""
    if result.verdict != "falsified":
        return result
    ignored = subject.unresponsive()
    if ignored:
        probe = subject.family.probe
        tried = ", ".join(f"{k} = {probe[k]!r} and {subject.family.responds_to[k]!r}" for k in ignored)
        result.summary += (f"; note: the subject's output does not change with {' or '.join(ignored)} "
                           f"(probe model, same seed, {tried}): it may drop the value it is asked for, or its "
                           f"branches output zero at init")
    return result


def per_example_alpha(claim: Claim, prof: Profile) -> float:
    """The false-alarm rate of one example: the claim's budget over the examples the
    profile runs (its explicit examples included, also where a subject does not take them:
    one alpha per claim and profile, conservative), Bonferroni."""
    return claim.budget / (len(claim.examples) + prof.max_examples(claim.cost, claim.search))


def _result(claim: Claim, subject: str, prof: Profile, setting: Setting, evidence: Evidence, judgement: Judgement,
            examples: int, discarded: Counter[str] | None = None, margins: list[float] | None = None) -> Result:
    summary = judgement.summary + (f" [{_discards(discarded)}]" if discarded else "")
    return Result(claim.id, subject, "holds" if judgement.holds else "falsified", claim.scope,
                  evidence=jsonable(evidence),
                  setting=dict(setting), summary=summary, margin=judgement.margin,
                  examples=examples, profile=prof.name, discarded=dict(discarded or {}), margins=list(margins or []),
                  p_value=judgement.p_value, alpha=per_example_alpha(claim, prof), band=judgement.band,
                  interval=judgement.interval, unit=judgement.unit)


def jsonable(value: Any) -> Any:
    """Evidence as plain JSON values: tensors and arrays become lists, non-finite
    floats become the strings 'inf', '-inf', 'nan'."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def counterexample(result: Result, claim: Claim, subject_spec: str | None = None, device: str = "cpu") -> str:
    """The text a person acts on when a claim is falsified: what was claimed, the
    (shrunk) setting, the evidence and margin, and how to replay it bit-identically: a
    shell command (quoted for a POSIX shell, to run from the directory the check ran
    in) and a Python call, each on one line."""
    spec = subject_spec or result.subject
    setting = json.dumps(result.setting, sort_keys=True)
    options = f" --profile {result.profile}" if result.profile else ""
    options += f" --device {device}" if device != "cpu" else ""
    keywords = (f", profile={result.profile!r}" if result.profile else "") + \
        (f", device={device!r}" if device != "cpu" else "")
    evidence = "\n".join(f"    {k}: {_short(v)}" for k, v in result.evidence.items())
    return (
        f"{claim.id} falsified on subject {result.subject}\n"
        f"  theorem: {claim.statement}\n"
        f"  source:  {claim.cite} [{claim.scope}, {claim.provenance}, {claim.kind}]\n"
        f"  covers:  {claim.covers}\n"
        f"  setting: {setting}\n"
        f"  verdict: {result.summary} (margin {result.margin:.3g})\n"
        f"  evidence:\n{evidence}\n"
        f"  replay:  resclaims check --claims {claim.id} --subject {shlex.quote(spec)}{options} "
        f"--setting {shlex.quote(setting)}\n"
        f"       or  resclaims.verify({claim.id!r}, {spec!r}{keywords}, setting={result.setting!r})"
    )


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verify(claim: Claim | str, subject: Subject | registry.SubjectSpec | None = None,
           profile: Profile | str | None = None, device: str = "cpu", setting: Setting | None = None) -> Result:
    """Check ``claim`` on ``subject`` (a registered name, ``'module:adapter'``, a Subject, or
    your Adapter or factory object) and return the Result if it holds.  Raises
    AssertionError with a readable counterexample if it is falsified, SubjectError if
    the subject cannot be used, and NotApplicable (a skip under pytest) if the subject
    fixes an architecture outside the claim's hypotheses or no setting could be judged
    (every one drawn discarded).  Under pytest the failure
    points at the calling test's line (this frame is hidden) and every Result is
    recorded for the resclaims plugin (:mod:`resclaims.recording`)."""
    __tracebackhide__ = True
    claim = registry.get(claim) if isinstance(claim, str) else claim
    result = run(claim, subject, profile=profile, device=device, setting=setting)
    recording.record(result)
    if result.verdict == "error":
        raise SubjectError(result.summary)
    if result.verdict == "skipped":
        raise NotApplicable(result.summary)
    if result.verdict == "falsified":
        raise AssertionError(counterexample(result, claim, device=device))
    return result
