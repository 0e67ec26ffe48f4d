"""Checking a setting given by hand (``check --setting``) against the claim's strategy,
before anything runs: a typo or a setting of another claim is refused with a line that
names the keys, instead of failing inside the claim as a subject error.

What a claim accepts is learnt from what its strategy draws for the subject (a few
derandomized draws, so the answer never changes between runs) and from its explicit
examples: keys in every one are required, keys in some are known, and each key's JSON
types are those seen (an integer is a valid float).  Values are not bounded by what the
draws showed (a claim may accept 0.0 where its few draws were positive, and shrinking
moves numbers toward 0), but a number must be finite: JSON's NaN and Infinity literals,
which Python's json accepts, are refused.
"""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import settings as hsettings

from resclaims.claim import Claim, Scale, Setting
from resclaims.constant_pool import pinned_constants
from resclaims.family import Subject

DRAWS = 8


def example_settings(claim: Claim, subject: Subject, scale: Scale, draws: int = DRAWS) -> list[Setting]:
    """Up to ``draws`` settings the claim's strategy gives for ``subject`` (derandomized:
    the same every time; nothing is evaluated), then the claim's explicit examples."""
    drawn: list[Setting] = []

    @hsettings(max_examples=draws, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
               verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))
    @given(claim.settings(scale, subject))
    def collect(setting: Setting) -> None:
        drawn.append(dict(setting))

    with pinned_constants():
        collect()
    return drawn + [dict(e) for e in claim.examples_for(subject)]


def setting_problems(setting: Setting, examples: Sequence[Setting]) -> list[str]:
    """What is wrong with ``setting`` given settings the claim accepts (empty if nothing):
    unknown keys, missing keys and wrong JSON types."""
    known = {k for e in examples for k in e}
    required = set.intersection(*(set(e) for e in examples)) if examples else set()
    problems = []
    if unknown := sorted(set(setting) - known):
        problems.append(f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    if missing := sorted(required - set(setting)):
        problems.append(f"missing key{'s' * (len(missing) > 1)} {', '.join(missing)}")
    for key in sorted(set(setting) & known):
        seen = [e[key] for e in examples if key in e]
        problem = _value_problem(key, setting[key], seen)
        if problem:
            problems.append(problem)
    return problems


def non_finite(setting: Setting) -> str | None:
    """The one line that refuses a setting holding a NaN or infinite number (at any
    depth), else None: nothing a claim draws is one, and it would reach the model."""
    bad = sorted(key for key, value in setting.items() if not _finite(value))
    if not bad:
        return None
    shown = ", ".join(f"{key} ({json.dumps(setting[key])})" for key in bad)
    return f"--setting: numbers must be finite, not NaN or Infinity: {shown}"


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def describe(claim_id: str, problems: Sequence[str], examples: Sequence[Setting]) -> str:
    """The one line that refuses a setting."""
    looks = f" (its settings look like {json.dumps(examples[0], sort_keys=True)})" if examples else ""
    return f"--setting for {claim_id}: {'; '.join(problems)}{looks}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _value_problem(key: str, value: Any, seen: Sequence[Any]) -> str | None:
    kinds = {_kind(v) for v in seen}
    kind = _kind(value)
    if kind not in kinds and not (kind == "an integer" and "a float" in kinds):
        return f"{key} must be {' or '.join(sorted(kinds))}, not {kind} ({json.dumps(value)})"
    return None
