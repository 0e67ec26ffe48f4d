"""Installed, everything lives under the one import name ``resclaims``."""
from __future__ import annotations

import importlib.metadata as md


def test_no_generic_top_level_names() -> None:
    files = md.distribution("resclaims").files or []
    tops = {f.parts[0] for f in files if f.suffix == ".py" or f.name == "__init__.py"}
    assert not tops & {"claims", "models", "strategies", "tests", "benchmarks"}


def test_subpackages_import_under_resclaims() -> None:
    import resclaims.claims.zhang2019
    import resclaims.models.zhang2019
    import resclaims.strategies.architectures  # noqa: F401
