"""Test configuration: one CPU thread per xdist worker (reduction order then does not
depend on the machine), and the resclaims profile from --resclaims-profile / env."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from resclaims import registry

if "PYTEST_XDIST_WORKER" in os.environ or os.environ.get("CI"):
    torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))  # user-model fixtures: `usermodels:...`
sys.path.insert(0, str(Path(__file__).parent.parent))  # the examples: `examples.cifar_resnet:adapter`


@pytest.fixture
def restore_threads():
    """The torch thread count as it was, after a test that sets it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def grouped(claim_id: str, subject: str, *values: str) -> Any:
    """pytest.param(*values), kept in one xdist worker with the other tests on ``subject``
    whose claims share evidence (``Claim.shares``: computed once per process).  Effective
    with pytest 8 only (the test extra pins it): pytest-xdist 3.8 appends the group to
    ``item._nodeid``, which pytest 9 no longer reads, so there the mark is ignored and the
    shared evidence is computed once per worker that needs it.  Measured on CI with the
    same tests: 881 s with pytest 8 and the groups, 861 s of pytest alone with pytest 9."""
    shares = registry.get(claim_id).shares
    return pytest.param(*values, marks=[pytest.mark.xdist_group(f"{shares}:{subject}")] if shares else [])
