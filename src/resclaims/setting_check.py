"""Checking a setting given by hand (``check --setting``) against the claim's strategy,
before anything runs: a typo or a setting of another claim is refused with a line that
names the keys, instead of failing inside the claim as a subject error.

What a claim accepts is learnt from what its strategy draws for the subject (a few
derandomized draws, so the answer never changes between runs) and from its explicit
examples: keys in every one are required, keys in some are known, each key's JSON types
are those seen (an integer is a valid float), and a key whose values are all positive
(a size) or all non-negative (a seed) must be so too.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import settings as hsettings

from resclaims.claim import Claim, Scale, Setting
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

    collect()
    return drawn + [dict(e) for e in claim.examples]


def setting_problems(setting: Setting, examples: Sequence[Setting]) -> list[str]:
    """What is wrong with ``setting`` given settings the claim accepts (empty if nothing):
    unknown keys, missing keys, wrong JSON types, and non-positive sizes."""
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
    numbers = [v for v in seen if _kind(v) in ("an integer", "a float")]
    if kind in ("an integer", "a float") and numbers:
        if value <= 0 < min(numbers):
            return f"{key} must be positive (got {json.dumps(value)})"
        if value < 0 <= min(numbers):
            return f"{key} must not be negative (got {json.dumps(value)})"
    return None
