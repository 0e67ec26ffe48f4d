"""Discovery of claims (``resclaims.claims.<paper>.CLAIMS``) and subjects
(``resclaims.models.<module>.SUBJECTS``).  Adding a paper adds modules there; nothing
here names a paper."""
from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import sys
from functools import lru_cache
from types import ModuleType
from typing import Union

from resclaims.claim import Claim
from resclaims.family import Adapter, Factory, Family, Subject, SubjectError, as_adapter, load_adapter

SubjectSpec = Union[str, Adapter, Factory]
"""A subject as a user gives it: a registered name, ``'module:adapter'``, or the Adapter or
factory object itself."""


class UnknownClaim(LookupError):
    """A claim id or glob that matches nothing in the catalog."""


def _modules(package: str) -> list[ModuleType]:
    pkg = importlib.import_module(package)
    return [importlib.import_module(f"{package}.{info.name}")
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)]


@lru_cache(maxsize=1)
def claims() -> dict[str, Claim]:
    """Every claim in the catalog, by id, in module then definition order."""
    out: dict[str, Claim] = {}
    for module in _modules("resclaims.claims"):
        for claim in getattr(module, "CLAIMS", []):
            if claim.id in out:
                raise ValueError(f"duplicate claim id {claim.id} in {module.__name__}")
            out[claim.id] = claim
    return out


@lru_cache(maxsize=1)
def subjects() -> dict[str, Subject]:
    """Every reference subject and mutant, by name."""
    out: dict[str, Subject] = {}
    for module in _modules("resclaims.models"):
        for subject in getattr(module, "SUBJECTS", []):
            if subject.name in out:
                raise ValueError(f"duplicate subject name {subject.name} in {module.__name__}")
            out[subject.name] = subject
    return out


def select(patterns: list[str] | None) -> list[Claim]:
    """Claims whose id matches any of the glob ``patterns`` (all when None); raises
    UnknownClaim naming the pattern that matches nothing."""
    catalog = claims()
    if not patterns:
        return list(catalog.values())
    chosen: dict[str, Claim] = {}
    for pattern in patterns:
        hits = [c for cid, c in catalog.items() if fnmatch.fnmatchcase(cid, pattern)]
        if not hits:
            raise UnknownClaim(f"no claim matches {pattern!r} (see `resclaims list`)")
        chosen.update((c.id, c) for c in hits)
    return [c for c in catalog.values() if c.id in chosen]


def by_default(chosen: list[Claim], patterns: list[str] | None, user_subject: bool) -> list[Claim]:
    """The claims of ``chosen`` a check runs when no scope is asked for: every one on a
    registered subject; on a user's subject its theorem claims and those named by their
    exact ids (a glob such as 'zhang2019.*' selects a family, whose theorem claims are
    what a user's model is checked against; naming a reference-conformance claim is
    asking for it)."""
    if not user_subject:
        return chosen
    named = {p for p in patterns or () if not any(ch in p for ch in "*?[")}
    return [c for c in chosen if c.scope == "theorem" or c.id in named]


def get(claim_id: str) -> Claim:
    """The claim with this exact id."""
    __tracebackhide__ = True  # an unknown id in a user's test points at the test's line
    try:
        return claims()[claim_id]
    except KeyError:
        raise UnknownClaim(f"unknown claim {claim_id!r} (see `resclaims list`)") from None


def reference(family: Family, claim: Claim | None = None) -> Subject:
    """The reference subject of ``family``: the first registered for it that meets
    ``claim``'s hypotheses (a family may have several references, e.g. a ResNet and the
    baseline CNN a converse claim is about), else the first."""
    candidates = [s for s in subjects().values() if s.family is family and s.role == "reference"]
    if not candidates:
        raise SubjectError(f"no reference subject is registered for family {family.name}")
    meets = [s for s in candidates if claim is not None and claim.applies_to(s) is None]
    return (meets or candidates)[0]


def mutants() -> list[Subject]:
    """Every registered mutant (a realistic bug)."""
    return [s for s in subjects().values() if s.role == "mutant"]


def controls() -> list[Subject]:
    """Every registered benign control (a harmless variant no theorem claim may flag)."""
    return [s for s in subjects().values() if s.role == "control"]


def subject_for(spec: SubjectSpec | None, family: Family, claim: Claim | None = None) -> Subject:
    """Resolve ``--subject``: None gives the family's reference for ``claim``, a registered name gives
    that subject, ``module:adapter`` makes a user's Adapter (or bare factory) a subject
    of ``family``, and so does the Adapter or factory object itself (named by :func:`object_name`).
    A registered subject of another family raises SubjectError."""
    if spec is None:
        return reference(family, claim)
    if not isinstance(spec, str):
        name = object_name(spec)
        return Subject(name, family, as_adapter(spec, name), doc="user adapter")
    registered = subjects().get(spec)
    if registered is not None:
        if registered.family is not family:
            raise SubjectError(f"subject {spec} is of family {registered.family.name}, "
                               f"not {family.name}")
        return registered
    if ":" not in spec:
        raise SubjectError(f"unknown subject {spec!r}: give a registered name "
                           f"(see `resclaims list --subjects`) or 'package.module:adapter'")
    return Subject(spec, family, load_adapter(spec), doc="user adapter")


def object_name(obj: object) -> str:
    """The subject name of a user's Adapter or factory object, as ``module:name``: a
    factory's qualified name; an Adapter's module-level variable (so the name replays as
    ``--subject``), else its ``build``'s qualified name."""
    target = obj.build if isinstance(obj, Adapter) else obj
    module = getattr(target, "__module__", None) or type(target).__module__
    if isinstance(obj, Adapter):
        namespace = vars(sys.modules[module]) if module in sys.modules else {}
        bound = [attr for attr, value in namespace.items() if value is obj]
        if bound:
            return f"{module}:{bound[0]}"
    return f"{module}:{getattr(target, '__qualname__', type(target).__qualname__)}"


def claims_for(spec: str, claims: list[Claim]) -> tuple[list[Claim], list[str]]:
    """Of ``claims``, those ``spec`` is checked against, and why families were left out: a
    registered subject's family's claims; for a user's ``module:adapter``, those of every
    family whose contract the adapter meets (one reason per family it does not meet).
    Raises SubjectError when the subject is unknown or no claim is left."""
    if ":" not in spec:
        subject = subjects().get(spec)
        if subject is None:
            raise SubjectError(f"unknown subject {spec!r}: give a registered name "
                               f"(see `resclaims list --subjects`) or 'package.module:adapter'")
        mine = [c for c in claims if c.family is subject.family]
        if not mine:
            raise SubjectError(f"no selected claim is about family {subject.family.name} of subject {spec}")
        return mine, []
    adapter = load_adapter(spec)
    met, reasons = set(), []
    for family in {id(c.family): c.family for c in claims}.values():
        try:
            Subject(spec, family, adapter).check_contract()
            met.add(family.name)
        except SubjectError as exc:
            reasons.append(f"{family.name}: {exc}")
    if not met:
        raise SubjectError(f"{spec} meets the contract of no claim family (" + "; ".join(reasons) + ")")
    return [c for c in claims if c.family.name in met], reasons
