"""Installed, everything lives under the one import name ``resclaims``: a user's own
top-level ``models``/``claims``/``strategies`` packages stay importable beside it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import importlib.util, models, claims, strategies
assert (models.MARK, claims.MARK, strategies.MARK) == ("user",) * 3
import resclaims.models.zhang2019, resclaims.claims.zhang2019, resclaims.strategies.architectures
assert resclaims.models.__name__ == "resclaims.models"
print("ok")
"""


def test_user_top_level_packages_coexist(tmp_path: Path) -> None:
    for name in ("models", "claims", "strategies"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text('MARK = "user"\n')
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
