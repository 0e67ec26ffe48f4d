"""pytest integration (registered as the ``resclaims`` pytest11 entry point).

* ``--resclaims-profile NAME`` selects the profile for ``verify`` calls made in tests
  (it sets $RESCLAIMS_PROFILE for the session; the variable itself works too).
* The ``resclaims_profile`` fixture gives the resolved Profile.
* CPU threads are capped per xdist worker, so workers do not oversubscribe the cores.

A test of your own model is one line:  ``resclaims.verify("zhang2019.*-id", "pkg.mod:factory")``.
"""
from __future__ import annotations

import os

import pytest

from resclaims.profiles import ENV_VAR, PROFILES, Profile, resolve


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resclaims")
    group.addoption("--resclaims-profile", choices=sorted(PROFILES), default=None,
                    help=f"profile for resclaims checks (default: ${ENV_VAR} or 'ci')")


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--resclaims-profile")
    if chosen:
        os.environ[ENV_VAR] = chosen
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture
def resclaims_profile() -> Profile:
    """The profile resclaims checks in this session run under."""
    return resolve()
