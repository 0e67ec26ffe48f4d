"""Settings for the skip networks of wang2020: the form (additive, input-to-last-hidden,
two-layer), the deep branch's depth and width, the input dimension n, the sample size
and the input distribution, and the teacher.  Strategies draw seeds and numbers; tensors
are made from them here, deterministically.

Inputs (``inputs``): ``gaussian`` (N(0, S) with a random covariance S = A A^T / n,
A Gaussian), ``sphere`` (uniform on S^(n-1)), ``heavy-tailed`` (Student t with 3
degrees of freedom, scaled to unit variance); with ``bias`` the constant 1 is appended
(F&B's x-bar = (x, 1)), so the model's input dimension is n + 1.
Targets (``teacher_data``): a realizable teacher y = sum_j b_j relu(v_j . x-bar), k
units with unit rows v_j and b_j ~ N(0, 1): with the square loss and no penalty its
global minimum is 0, reached by any student with m >= k units.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from hypothesis import strategies as st
from torch import Tensor

from resclaims.claim import Setting
from resclaims.core.data import generator
from resclaims.family import Subject
from resclaims.models.wang2020 import SKIP_FORMS
from resclaims.strategies.stacks import subject_keyword

SEEDS = st.integers(0, 2 ** 31 - 1)
INPUTS = ("gaussian", "sphere", "heavy-tailed")


def model_in_dim(setting: Setting) -> int:
    """The model's input dimension: n, plus 1 for the bias coordinate."""
    return setting["in_dim"] + int(setting.get("bias", False))


def inputs(setting: Setting, samples: int | None = None, seed_offset: int = 0) -> Tensor:
    """x (N, n [+ 1]) of the setting, float64."""
    n, count = setting["in_dim"], samples or setting["samples"]
    g = generator(setting["seed"] + seed_offset)
    kind = setting.get("inputs", "sphere")
    if kind == "gaussian":
        a = torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n)
        x = torch.randn(count, n, generator=g, dtype=torch.float64) @ a.T
    elif kind == "sphere":
        x = torch.randn(count, n, generator=g, dtype=torch.float64)
        x = x / x.norm(dim=1, keepdim=True)
    elif kind == "heavy-tailed":  # Student t(3) = N / sqrt(chi2_3 / 3), variance 3: scaled to 1
        chi2 = torch.randn(count, n, 3, generator=g, dtype=torch.float64).pow(2).sum(-1)
        x = torch.randn(count, n, generator=g, dtype=torch.float64) / torch.sqrt(chi2 / 3) / math.sqrt(3)
    else:
        raise ValueError(f"unknown input distribution {kind!r}; choose one of {INPUTS}")
    if setting.get("bias", False):
        x = torch.cat([x, torch.ones(count, 1, dtype=torch.float64)], 1)
    return x


def teacher_data(setting: Setting) -> tuple[Tensor, Tensor]:
    """(x, y) with y = sum_j b_j relu(v_j . x) from ``setting["teacher"]`` = k units."""
    x = inputs(setting)
    g = generator(setting["seed"] + 1)
    v = torch.randn(setting["teacher"], x.shape[1], generator=g, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    b = torch.randn(setting["teacher"], generator=g, dtype=torch.float64)
    return x, torch.relu(x @ v.T) @ b


def skip_settings(subject: Subject, dims: Sequence[int] = tuple(range(2, 9)),
                  samples: Sequence[int] = (50, 100, 200, 500), forms: Sequence[str] = SKIP_FORMS,
                  input_kinds: Sequence[str] = INPUTS, biases: Sequence[bool] = (False, True), **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Setting]:
    """Settings {"in_dim", "bias", "samples", "inputs", "seed", "form", "depth", "hidden",
    ...extra}; the architecture keywords only where ``build`` takes them (a subject's own
    fixed form is kept)."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "in_dim": st.sampled_from(list(dims)), "bias": st.sampled_from(list(biases)), "samples": st.sampled_from(list(samples)),
        "inputs": st.sampled_from(list(input_kinds)), "seed": SEEDS, **extra}
    for keyword, values in (("form", forms), ("depth", (1, 2, 3)), ("hidden", (8, 16))):
        drawn = subject_keyword(subject, keyword, values)
        if drawn is not None:
            fields[keyword] = drawn
    return st.fixed_dictionaries(fields)
