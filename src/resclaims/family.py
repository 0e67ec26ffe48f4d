"""Subjects and the model families they belong to.

A *family* is a contract: the keywords a factory must accept and the attributes
the module it returns must expose.  A *subject* is one factory of a family:
a paper's reference model, a deliberately broken mutant, or a user's own code
given as ``module:function``.  The engine knows families only through this
contract; which family a claim needs is stated by the claim.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

Factory = Callable[..., nn.Module]


class SubjectError(Exception):
    """A subject cannot be used: it does not import, breaks its family's contract, or
    returns an unusable model.  Reported as an ``error`` result, never as a verdict."""


@dataclass(frozen=True)
class Family:
    """The contract a subject must meet for the claims that need this family.

    ``keywords``: keywords every factory accepts (besides the optional ``generator``
    and ``dtype``).  ``attributes``: names the built module must expose.
    ``probe``: small keyword values used to validate a subject cheaply.
    ``validate``: family-specific check of a built probe model; raises SubjectError.
    """

    name: str
    keywords: tuple[str, ...]
    attributes: tuple[str, ...]
    probe: dict[str, Any]
    validate: Callable[[nn.Module, dict[str, Any], torch.Tensor], None]
    doc: str = ""


@dataclass(frozen=True)
class Subject:
    """A named factory of one family.  ``mutant_of`` names the reference it breaks;
    ``killed_by`` lists the claim ids the kill matrix expects to falsify it."""

    name: str
    family: Family
    factory: Factory
    doc: str = ""
    mutant_of: str | None = None
    killed_by: tuple[str, ...] = field(default_factory=tuple)

    def build(self, seed: int, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu", **keywords: Any) -> nn.Module:
        """Build one model from ``seed``: randomness flows only through a
        ``torch.Generator`` seeded with it (or, for factories without a ``generator``
        keyword, through the global RNG inside ``torch.random.fork_rng``), on the CPU,
        so the same seed gives bit-identical weights on every device."""
        params = _parameters(self.factory)
        missing = [k for k in self.family.keywords if k not in params and not _has_var_kw(self.factory)]
        if missing:
            raise SubjectError(
                f"subject {self.name}: factory does not accept keyword(s) {', '.join(missing)} "
                f"required by family {self.family.name}")
        call = {k: keywords[k] for k in self.family.keywords}
        takes = lambda name: name in params or _has_var_kw(self.factory)  # noqa: E731
        if takes("dtype"):
            call["dtype"] = dtype
        try:
            if takes("generator"):
                gen = torch.Generator(device="cpu").manual_seed(seed)
                model = self.factory(generator=gen, **call)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    model = self.factory(**call)
        except SubjectError:
            raise
        except Exception as exc:  # a user's factory failing is a subject error, not a crash
            raise SubjectError(f"subject {self.name}: factory raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(model, nn.Module):
            raise SubjectError(
                f"subject {self.name}: factory returned {type(model).__name__}, not a torch.nn.Module")
        lacking = [a for a in self.family.attributes if not hasattr(model, a)]
        if lacking:
            raise SubjectError(
                f"subject {self.name}: model lacks attribute(s) {', '.join(lacking)} "
                f"required by family {self.family.name}")
        return model.to(device=device, dtype=dtype)

    def check_contract(self) -> None:
        """Build the family's probe model and run the family's validation on it."""
        model = self.build(seed=0, **self.family.probe)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(4, self.family.probe["in_dim"], generator=gen, dtype=torch.float64)
        try:
            self.family.validate(model, self.family.probe, x)
        except SubjectError as exc:
            raise SubjectError(f"subject {self.name}: {exc} (family {self.family.name}, "
                               f"probe {self.family.probe})") from None
        except Exception as exc:  # the model itself crashed on the probe input
            raise SubjectError(f"subject {self.name}: model raised {type(exc).__name__} on the "
                               f"probe input: {exc}") from None


def _parameters(factory: Factory) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _has_var_kw(factory: Factory) -> bool:
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False


def load_factory(spec: str) -> Factory:
    """Resolve ``'package.module:function'`` to a callable, or raise SubjectError
    with one line that says what is wrong."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SubjectError(f"subject {spec!r}: expected the form 'package.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise SubjectError(f"subject {spec}: cannot import module {module_name!r} "
                           f"({type(exc).__name__}: {exc})") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SubjectError(f"subject {spec}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SubjectError(f"subject {spec}: {attr!r} is not callable")
    return obj
