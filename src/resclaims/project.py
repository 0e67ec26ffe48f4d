"""The ``[tool.resclaims]`` table of a project's pyproject.toml: the claims pytest checks
on which subjects, under which profile (the pytest plugin collects one item per claim
and subject)::

    [tool.resclaims]
    subjects = ["mynets.nets:adapter"]  # registered names or module:adapter (required)
    claims = ["zhang2019.*"]            # globs, as `resclaims check --subject --claims` (default: as without)
    profile = "ci"                      # below --resclaims-profile and $RESCLAIMS_PROFILE
    device = "cpu"                      # or "cuda"
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resclaims import registry
from resclaims.claim import Claim
from resclaims.profiles import PROFILES

_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*resclaims\s*\]", re.MULTILINE)
DEVICES = ("cpu", "cuda")


class ProjectError(ValueError):
    """A malformed ``[tool.resclaims]`` table (one line, naming the file)."""


@dataclass(frozen=True)
class Project:
    """The table's values; ``profile`` None leaves the choice to the usual order."""

    subjects: tuple[str, ...]
    claims: tuple[str, ...] = ()
    profile: str | None = None
    device: str = "cpu"

    def claims_of(self, subject: str) -> list[Claim]:
        """The claims checked on ``subject``: those the globs select (all of them by
        default; for a user's ``module:adapter`` its theorem claims and those named by
        their exact ids: :func:`registry.by_default`), of the subject's
        family or, for a user's adapter, of every family whose contract it meets.
        Raises UnknownClaim for a glob that matches nothing, SubjectError for a subject
        that cannot be used."""
        chosen = registry.by_default(registry.select(list(self.claims) or None), list(self.claims), ":" in subject)
        return registry.claims_for(subject, chosen)[0]


def read(pyproject: Path) -> Project | None:
    """The ``[tool.resclaims]`` table of ``pyproject``, or None when it has none (the
    file is parsed only when it has such a header).  Raises ProjectError."""
    text = pyproject.read_text(encoding="utf-8")
    if not _HEADER.search(text):
        return None
    try:
        table = _toml_loads(text)["tool"]["resclaims"]
    except Exception as exc:
        raise ProjectError(f"{pyproject}: cannot read [tool.resclaims]: {exc}") from None
    return _project(table, f"{pyproject} [tool.resclaims]")


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        try:
            import tomli as tomllib
        except ImportError:
            raise ProjectError("reading [tool.resclaims] on Python 3.10 needs tomli (pip install tomli)") from None
    return tomllib.loads(text)


def _project(table: dict[str, Any], where: str) -> Project:
    unknown = sorted(set(table) - {"subjects", "claims", "profile", "device"})
    if unknown:
        raise ProjectError(f"{where}: unknown key(s) {', '.join(unknown)} (subjects, claims, profile, device)")
    subjects, claims = table.get("subjects"), table.get("claims", [])
    if not _strings(subjects) or not subjects:
        raise ProjectError(f"{where}: subjects must be a non-empty list of subject names or 'module:adapter'")
    if not _strings(claims):
        raise ProjectError(f"{where}: claims must be a list of claim ids or globs")
    profile, device = table.get("profile"), table.get("device", "cpu")
    if profile is not None and profile not in PROFILES:
        raise ProjectError(f"{where}: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if device not in DEVICES:
        raise ProjectError(f"{where}: device must be one of {', '.join(DEVICES)}")
    return Project(tuple(subjects), tuple(claims), profile, device)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
