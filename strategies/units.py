"""Settings for the residual unit of shamir2018: input dimension d, feature count m (drawn
with d != m allowed and likely, so a V used transposed cannot hide), the feature
network (depth 1 to 4, ReLU, tanh or sin), the convex loss and the data.

Data (``unit_data``, deterministic in the setting): x Gaussian or heavy-tailed (Student t
with 3 degrees of freedom, scaled to unit variance); for the squared and Huber losses
y = sin(beta^T x) + 0.3 |x_1| + 0.1 noise, for the logistic loss
y = sign(beta^T x + 0.5 x_1^2 - 0.5) with 10% of the labels flipped (so that, except
for a few small samples in high dimension, no linear predictor separates them).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from hypothesis import strategies as st
from torch import Tensor

from resclaims.claim import Setting
from resclaims.core.data import generator
from resclaims.family import Subject
from resclaims.strategies.stacks import subject_keyword

SEEDS = st.integers(0, 2 ** 31 - 1)


def unit_data(setting: Setting) -> tuple[Tensor, Tensor]:
    """(x (n, d), y (n,)) of the setting, float64."""
    n, d, seed = setting["samples"], setting["in_dim"], setting["seed"]
    g = generator(seed)
    if setting.get("inputs", "gaussian") == "gaussian":
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
    else:  # Student t(3) = N / sqrt(chi2_3 / 3), variance 3: scaled to 1
        chi2 = torch.randn(n, d, 3, generator=g, dtype=torch.float64).pow(2).sum(-1)
        x = torch.randn(n, d, generator=g, dtype=torch.float64) / torch.sqrt(chi2 / 3) / math.sqrt(3)
    beta = torch.randn(d, generator=g, dtype=torch.float64)
    beta = beta / beta.norm()
    if setting["loss"] == "logistic":
        y = torch.sign(x @ beta + 0.5 * x[:, 0] ** 2 - 0.5)
        y[y == 0] = 1.0
        flip = torch.rand(n, generator=g, dtype=torch.float64) < 0.1
        return x, torch.where(flip, -y, y)
    return x, torch.sin(x @ beta) + 0.3 * x[:, 0].abs() + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)


def unit_settings(subject: Subject, losses: Sequence[str] = ("squared", "logistic", "huber"),
                  dims: Sequence[int] = tuple(range(1, 9)), samples: Sequence[int] = (32, 64, 128, 256),
                  activations: Sequence[str] = ("tanh", "relu", "sin"), depths: Sequence[int] = (1, 2, 3, 4),
                  scale: st.SearchStrategy[float] | None = None, **extra: st.SearchStrategy
                  ) -> st.SearchStrategy[Setting]:
    """Settings {"in_dim", "features", "depth", "activation", "scale", "loss", "samples",
    "inputs", "seed", ...extra}; the model's own keywords (the feature network's depth and
    activation, the init ``scale``) only where ``build`` takes them, so a user's model
    that fixes its init is not said to cover init scales."""
    fields: dict[str, st.SearchStrategy] = {
        "in_dim": st.sampled_from(list(dims)), "features": st.sampled_from(list(dims)),
        "loss": st.sampled_from(list(losses)), "samples": st.sampled_from(list(samples)),
        "inputs": st.sampled_from(["gaussian", "heavy-tailed"]), "seed": SEEDS}
    if scale is not None and subject.adapter.accepts("scale"):
        fields["scale"] = scale  # drawn in this place: the references' draws are those of before
    fields.update(extra)
    for keyword, values in (("depth", depths), ("activation", activations)):
        drawn = subject_keyword(subject, keyword, values)
        if drawn is not None:
            fields[keyword] = drawn
    return st.fixed_dictionaries(fields)
