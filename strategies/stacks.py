"""Settings for residual stacks of shortcut depth n (the li2016 family): the
architecture (n, L, d, activation), the initialisation and the data, drawn within a
claim's hypotheses and shrinking towards the smallest readable case (L = 1, d = 2,
identity activation, whitened inputs).

A keyword the subject fixes (``Adapter.fixed``) is not drawn: its value is used; one
its ``build`` does not take is left out of the setting.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from hypothesis import strategies as st

from resclaims.claim import Setting
from resclaims.core.data import linear_regression
from resclaims.family import Subject

SEEDS = st.integers(0, 2 ** 31 - 1)
MIN_SIGMA = 1e-3   # the notes' assumption on A: sigma_min(A) > 1e-3 and cond(A) < 1e4
MAX_COND = 1e4


def moments(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A = Sxx - Sxy = E[x (x - y)^T], the d x d matrix the Hessian at zero is built from."""
    return x.T @ (x - y) / x.shape[0]


def well_conditioned(setting: Setting) -> bool:
    """The hypotheses on the data: sigma_min(A) > 1e-3 and cond(A) < 1e4."""
    s = torch.linalg.svdvals(moments(*data(setting)))
    return bool(s[-1] > MIN_SIGMA and s[0] / s[-1] < MAX_COND)


def data(setting: Setting) -> tuple[torch.Tensor, torch.Tensor]:
    """The setting's regression data (float64): ``samples`` inputs of dimension ``width``,
    whitened or not, a linear target plus noise (``noise``, default 0.1)."""
    return linear_regression(setting["samples"], setting["width"], setting["seed"],
                             whiten=setting.get("whiten", True), noise=setting.get("noise", 0.1),
                             near_identity=setting.get("target") == "near-identity")


def subject_keyword(subject: Subject, keyword: str, values: Sequence[Any]) -> st.SearchStrategy[Any] | None:
    """The subject's fixed value, else ``values`` when its build takes the keyword, else None."""
    if keyword in subject.adapter.fixed:
        return st.just(subject.adapter.fixed[keyword])
    if subject.adapter.accepts(keyword):
        return st.sampled_from(list(values))
    return None


def stack_settings(subject: Subject, shortcut_depths: Sequence[int], depths: Sequence[int] | None,
                   widths: Sequence[int], samples: Sequence[int] = (32, 64, 128, 256),
                   activations: Sequence[str] = ("identity", "tanh"), whiten: bool | None = None,
                   noise: float | None = None, **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Setting]:
    """Settings {"shortcut_depth", "depth", "width", "activation", "samples", "whiten",
    "seed", ...extra} for ``subject``, the data filtered to the hypotheses
    (:func:`well_conditioned`).  ``depths`` None: the claim sets its own ladder, so no
    depth is drawn.  ``whiten``/``noise`` None: drawn / the default."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        **({"depth": st.sampled_from(list(depths))} if depths else {}), "width": st.sampled_from(list(widths)),
        "samples": st.sampled_from(list(samples)),
        "whiten": st.booleans().map(lambda b: not b) if whiten is None else st.just(whiten),
        "seed": SEEDS, **extra}
    for keyword, values in (("shortcut_depth", shortcut_depths), ("activation", activations)):
        drawn = subject_keyword(subject, keyword, values)
        if drawn is not None:
            fields[keyword] = drawn
    if noise is not None:
        fields["noise"] = st.just(noise)
    return st.fixed_dictionaries(fields).filter(well_conditioned)
