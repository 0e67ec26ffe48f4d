"""Subjects, the adapters that make any model one, and the families they belong to.

A *family* is a contract: the keywords every subject's ``build`` accepts and a
validation of the model it returns.  A *subject* is a named :class:`Adapter` of a
family: a paper's reference model, a deliberately broken mutant, a harmless control,
or a user's own model code given as ``module:adapter`` (or ``module:factory``).
The engine knows families only through this contract; which family a claim needs is
stated by the claim.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from resclaims.core.data import generator, unit_sphere
from resclaims.costs import phase
from resclaims.core.ensemble import Drawn, NotChained, chained_output, input_of

Factory = Callable[..., nn.Module]
Role = Literal["reference", "mutant", "control"]


class SubjectError(Exception):
    """A subject cannot be used: it does not import, breaks its family's contract, or
    returns an unusable model.  Reported as an ``error`` result, never as a verdict."""


def attribute_blocks(model: nn.Module) -> Sequence[nn.Module]:
    """The default answer to "which modules are the residual blocks": ``model.blocks``."""
    if not hasattr(model, "blocks"):
        raise SubjectError("model lacks attribute blocks (give the adapter a `blocks` function)")
    return list(model.blocks)


@dataclass(frozen=True)
class Adapter:
    """How resclaims uses a model it did not write, without renaming anything in it.

    ``build(...)``: the model's own constructor, called with the keywords it accepts
    among those a claim asks for: always its family's (``Family.keywords``: ``depth``
    and ``tau`` for the tau family, ``depth``, ``width`` and ``init`` for the residual
    stacks of li2016, ...), and ``width``, ``generator``, ``dtype`` and architecture
    keys when it takes them.  A residual family's model has exactly ``depth`` blocks.
    ``blocks(model)``: those blocks, in the order the forward pass applies them
    (shapes may change at stage transitions).  Default: ``model.blocks``.
    ``inputs(n, generator)``: a batch of n inputs of the model's shape, e.g.
    ``torch.randn(n, 3, 32, 32, generator=generator)``.  Default: n points on the unit
    sphere of ``model.input_shape`` (or of R^in_dim).
    ``branch_parameters(model)``: the parameters training claims move (the W_l of the
    theory).  Default: every parameter of the blocks; a tau held by the network outside
    the blocks then stays at the value a claim asks for.
    ``fixed``: architecture keywords the model fixes rather than takes, with their values
    (``{"shortcut_depth": 2}``); a claim whose hypotheses need another value is skipped
    on this subject, and one that needs the keyword and finds it neither accepted nor
    fixed reports the subject as unusable.
    ``loss(output, target)``: the training loss of the user's code, where a claim's
    statement is about it; default: the loss the claim states.
    ``parts``: named accessors a family's claims need beyond the blocks (the family
    lists them, e.g. ``"first_layer"``), each ``model -> value``; default: the model's
    attribute of that name.
    ``draw(skeleton, generator)``: optional, for speed only: the parameters ``build``
    would draw from ``generator``, without building modules.  ``skeleton`` is the model
    ``build`` returns under ``torch.device("meta")`` (shapes, no storage); ``draw`` yields
    ``(name, tensor)`` for each of its parameters, in the order of
    ``skeleton.named_parameters()`` (stem, blocks, head), with exactly the values ``build``
    gives them; a yielded tensor may be drawn into again later (the caller copies it
    before taking the next).  Ensembles of many seeds then skip the per-seed builds and
    can stream a deep model block by block; without it, ``build`` is called once per seed.
    """

    build: Factory
    blocks: Callable[[nn.Module], Sequence[nn.Module]] = attribute_blocks
    inputs: Callable[[int, torch.Generator], Tensor] | None = None
    branch_parameters: Callable[[nn.Module], Sequence[Tensor]] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    loss: Callable[[Tensor, Tensor], Tensor] | None = None
    parts: Mapping[str, Callable[[nn.Module], Any]] = field(default_factory=dict)
    draw: Callable[[nn.Module, torch.Generator], Iterator[tuple[str, Tensor]]] | None = None

    def accepts(self, keyword: str) -> bool:
        """Whether ``build`` takes ``keyword`` (by name or through ``**kwargs``)."""
        try:
            params = inspect.signature(self.build).parameters
        except (TypeError, ValueError):
            return False
        return keyword in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@dataclass(frozen=True)
class Family:
    """The contract a subject must meet for the claims that need this family.

    ``keywords``: keywords every ``build`` accepts (besides optional ones it may take).
    ``probe``: small keyword values used to validate a subject cheaply.
    ``validate(model, blocks, x)``: family-specific check of a built probe model and its
    blocks on probe inputs ``x``; raises SubjectError.
    ``blocks``: whether the family's claims read residual blocks; a family that reads
    named parts instead (``Adapter.parts``) sets False, and its models need no blocks
    (validate then gets none, and the trained parameters default to all of them).
    ``vocabulary``: architecture keywords with a closed set of values (``"skip"``:
    ``("identity", "none", "tweaked")``, say); a subject that fixes one at another value
    breaks the contract, where a typo would otherwise make every claim not applicable
    and check nothing.
    ``responds_to``: keywords the model's output must depend on, each with a second
    probe value.  When a claim of the family is falsified, the engine builds the probe
    at that value too (same seed) and, if the output on the probe inputs is unchanged,
    says so beside the verdict (:meth:`Subject.unresponsive`): a subject that drops the
    keyword it is asked for is a common adapter slip, and the verdict alone does not
    name it.
    """

    name: str
    keywords: tuple[str, ...]
    probe: dict[str, Any]
    validate: Callable[[nn.Module, Sequence[nn.Module], Tensor], None]
    doc: str = ""
    blocks: bool = True
    vocabulary: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    responds_to: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Subject:
    """A named adapter of one family.  ``role``: the paper's ``reference``, a
    ``mutant`` (a realistic bug; ``killed_by`` lists the claims the kill matrix expects
    to falsify it) or a benign ``control`` (a harmless variant that no theorem claim may
    flag; ``killed_by`` lists the reference-conformance claims that pin the constant it
    changes).  ``mutant_of`` names the reference a mutant or control varies."""

    name: str
    family: Family
    adapter: Adapter
    doc: str = ""
    role: Role = "reference"
    mutant_of: str | None = None
    killed_by: tuple[str, ...] = field(default_factory=tuple)

    def build(self, seed: int, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu", **keywords: Any) -> nn.Module:
        """Build one model from ``seed``: randomness flows only through a
        ``torch.Generator`` seeded with it (or, for builders without a ``generator``
        keyword, through the global RNG inside ``torch.random.fork_rng``), on the CPU,
        so the same seed gives bit-identical weights on every device.  Of ``keywords``,
        the family's are required and the rest passed only where ``build`` takes them.
        Its time is charged to the ``construction`` phase (:mod:`resclaims.costs`)."""
        with phase("construction"):
            return self._build(seed, dtype, device, keywords)

    def _build(self, seed: int, dtype: torch.dtype, device: str | torch.device,
               keywords: dict[str, Any]) -> nn.Module:
        call = self._keywords(dtype, keywords)
        try:
            if self.adapter.accepts("generator"):
                model = self.adapter.build(generator=generator(seed), **call)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    model = self.adapter.build(**call)
        except SubjectError:
            raise
        except Exception as exc:  # a user's constructor failing is a subject error, not a crash
            raise SubjectError(f"subject {self.name}: build raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(model, nn.Module):
            raise SubjectError(
                f"subject {self.name}: build returned {type(model).__name__}, not a torch.nn.Module")
        return _moved(model, torch.device(device), dtype)

    def _keywords(self, dtype: torch.dtype, keywords: dict[str, Any]) -> dict[str, Any]:
        """The keywords ``build`` is called with: those it takes, and ``dtype``."""
        missing = [k for k in self.family.keywords if not self.adapter.accepts(k)]
        if missing:
            raise SubjectError(
                f"subject {self.name}: build does not accept keyword(s) {', '.join(missing)} "
                f"required by family {self.family.name}")
        call = {k: v for k, v in keywords.items() if self.adapter.accepts(k)}
        if self.adapter.accepts("dtype"):
            call["dtype"] = dtype
        return call

    def drawn(self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu",
              **keywords: Any) -> Drawn | None:
        """The models ``build(seed, ...)`` would give, as a skeleton and a per-seed draw
        of their parameters (:class:`~resclaims.core.ensemble.Drawn`), when the adapter
        has ``draw``; else None.  Draws use the same generator as ``build``, so the
        values are bit-identical."""
        draw = self.adapter.draw
        if draw is None or not self.adapter.accepts("generator"):
            return None
        call = self._keywords(dtype, keywords)
        try:
            with phase("construction"), torch.device("meta"):
                skeleton = self.adapter.build(generator=generator(0), **call).to(dtype=dtype)
            draw(skeleton, generator(0))  # a draw that refuses this skeleton (at the call) leaves it to build
        except Exception:  # noqa: BLE001 - a builder that cannot run on the meta device is built per seed
            return None
        target = torch.device(device)

        def draws(seed: int) -> Iterator[tuple[str, Tensor]]:
            for name, value in draw(skeleton, generator(seed)):
                yield name, value.to(target, dtype if value.is_floating_point() else value.dtype)
        return Drawn(skeleton, draws)

    def blocks(self, model: nn.Module) -> list[nn.Module]:
        """The residual blocks of ``model`` in order, as the adapter names them."""
        try:
            blocks = list(self.adapter.blocks(model))
        except SubjectError as exc:
            raise SubjectError(f"subject {self.name}: {exc}") from None
        except Exception as exc:
            raise SubjectError(f"subject {self.name}: blocks(model) raised {type(exc).__name__}: {exc}") from exc
        if not blocks or not all(isinstance(b, nn.Module) for b in blocks):
            raise SubjectError(f"subject {self.name}: blocks(model) must return a non-empty list of modules")
        return blocks

    def inputs(self, model: nn.Module, n: int, seed: int, dtype: torch.dtype = torch.float64,
               in_dim: int | None = None) -> Tensor:
        """n inputs for ``model`` from ``seed``: the adapter's ``inputs`` if given, else
        points x_i with ||x_i|| = 1 (as the theory assumes) of shape ``model.input_shape``
        or (in_dim,)."""
        if self.adapter.inputs is not None:
            x = self.adapter.inputs(n, generator(seed))
            if not isinstance(x, Tensor) or x.shape[0] != n:
                raise SubjectError(f"subject {self.name}: inputs({n}, generator) must return a tensor "
                                   f"with {n} rows")
            return x.to(dtype)
        shape = tuple(getattr(model, "input_shape", ())) or ((in_dim,) if in_dim else ())
        if not shape:
            raise SubjectError(f"subject {self.name}: the model has no `input_shape`; give the adapter "
                               f"an `inputs(n, generator)` function")
        return unit_sphere(n, shape, seed, dtype)

    def trained(self, model: nn.Module) -> list[Tensor]:
        """The parameters training claims move: the adapter's ``branch_parameters``, else
        every parameter of the blocks (of the model, for a family without blocks; a tensor
        listed twice counts once in the core)."""
        if self.adapter.branch_parameters is None:
            if not self.family.blocks:
                return list(model.parameters())
            return [p for b in self.blocks(model) for p in b.parameters()]
        chosen = list(self.adapter.branch_parameters(model))
        own = {id(p) for p in model.parameters()}
        if not chosen or any(id(p) not in own for p in chosen):
            raise SubjectError(f"subject {self.name}: branch_parameters(model) must return a non-empty "
                               f"list of the model's own parameters")
        return chosen

    def part(self, name: str, model: nn.Module) -> Any:
        """The model's part ``name``: the adapter's accessor, else the attribute of that name."""
        if name in self.adapter.parts:
            try:
                return self.adapter.parts[name](model)
            except Exception as exc:
                raise SubjectError(f"subject {self.name}: parts[{name!r}](model) raised {type(exc).__name__}: "
                                   f"{exc}") from exc
        if not hasattr(model, name):
            raise SubjectError(f"subject {self.name}: model lacks attribute {name} (give the adapter "
                               f"parts={{{name!r}: lambda model: ...}})")
        return getattr(model, name)

    def held_part(self, name: str, model: nn.Module) -> Tensor:
        """The model's own tensor that part ``name`` is: a parameter or buffer of ``model``,
        or a view of the whole of one (a Conv1d's ``conv.weight.view(-1)``, a Linear's
        ``fc.weight[0]``), found by its storage; what autograd differentiates and
        training moves.  SubjectError for anything else (a copy, part of a tensor, a
        tensor the model does not hold)."""
        part = self.part(name, model)
        tensors = [*model.parameters(), *model.buffers()]
        if isinstance(part, Tensor) and not part.is_meta:
            for tensor in tensors:
                if tensor is part:
                    return tensor
            for tensor in tensors:
                if (tensor.numel() == part.numel() and tensor.dtype == part.dtype and tensor.device == part.device
                        and tensor.is_contiguous() and part.is_contiguous()
                        and tensor.storage_offset() == part.storage_offset()
                        and tensor.untyped_storage().data_ptr() == part.untyped_storage().data_ptr()):
                    return tensor
        what = f"a tensor of shape {tuple(part.shape)}" if isinstance(part, Tensor) else type(part).__name__
        raise SubjectError(f"subject {self.name}: part {name!r} must be a parameter (or buffer) of the model, or a "
                           f"view of the whole of one such as conv.weight.view(-1); got {what} the model does "
                           f"not hold (a copy, or part of a tensor?)")

    def architecture(self, keyword: str) -> Any:
        """The value the subject fixes for ``keyword``, or None when ``build`` takes it."""
        if keyword in self.adapter.fixed:
            return self.adapter.fixed[keyword]
        if self.adapter.accepts(keyword):
            return None
        raise SubjectError(f"subject {self.name}: build does not take {keyword!r}; declare the "
                           f"model's value with Adapter(..., fixed={{{keyword!r}: ...}})")

    def check_contract(self) -> None:
        """Check the fixed architecture against the family's vocabulary, build the
        family's probe model and run the family's validation on it."""
        for keyword, values in self.family.vocabulary.items():
            value = self.adapter.fixed.get(keyword)
            if value is not None and value not in values:
                raise SubjectError(f"subject {self.name}: fixed {keyword} = {value!r} is not one of the values family "
                                   f"{self.family.name} knows: {', '.join(map(repr, values))}")
        model = self.build(seed=0, **self.family.probe)
        blocks = self.blocks(model) if self.family.blocks else []
        x = self.inputs(model, 4, 0, in_dim=self.family.probe.get("in_dim"))
        try:
            self.family.validate(model, blocks, x)
        except SubjectError as exc:
            raise SubjectError(f"subject {self.name}: {exc} (family {self.family.name}, "
                               f"probe {self.family.probe})") from None
        except Exception as exc:  # the model itself crashed on the probe input
            raise SubjectError(f"subject {self.name}: model raised {type(exc).__name__} on the "
                               f"probe input: {exc}") from None

    def unresponsive(self) -> list[str]:
        """The family's ``responds_to`` keywords whose second value leaves the probe
        model's output on the probe inputs bit-identical (same seed, same inputs).
        Subject errors and crashes count as responses: this only adds to a verdict."""
        found = []
        for keyword, other in self.family.responds_to.items():
            try:
                outputs = []
                for value in (self.family.probe[keyword], other):
                    model = self.build(seed=0, **{**self.family.probe, keyword: value})
                    x = self.inputs(model, 4, 0, in_dim=self.family.probe.get("in_dim"))
                    with torch.no_grad():
                        outputs.append(model(x))
            except Exception:  # noqa: BLE001 - a diagnosis never turns a verdict into an error
                continue
            if torch.equal(*outputs):
                found.append(keyword)
        return found


def _moved(model: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """``model.to(device, dtype)``, skipped when every tensor is already there: ``.to``
    visits every submodule, a cost per layer that a deep model pays for nothing."""
    tensors = [*model.parameters(), *model.buffers()]
    if all(t.device.type == device.type and (device.index is None or t.device.index == device.index)
           and (t.dtype == dtype or not t.is_floating_point()) for t in tensors):
        return model
    return model.to(device=device, dtype=dtype)


def scalar_output(model: nn.Module, blocks: Sequence[nn.Module], x: Tensor) -> None:
    """A family validator: the model maps a batch of n inputs to n scalar predictions."""
    out = model(x)
    if out.shape != (x.shape[0],):
        raise SubjectError(f"model maps inputs {tuple(x.shape)} to {tuple(out.shape)}, expected ({x.shape[0]},)")


def sequential_output(model: nn.Module, blocks: Sequence[nn.Module], x: Tensor, depth: int) -> Tensor:
    """``model(x)``, after checking the contract every residual family shares: ``blocks``
    has ``depth`` entries, the stem alone reaches block 1, and the forward pass applies
    the blocks once each, in order, with nothing in between (block l+1 receives exactly
    block l's output), and a block called with more than the hidden state (a skip taken
    from elsewhere) gives the same output without it.  Raises SubjectError saying which
    part fails."""
    if len(blocks) != depth:
        raise SubjectError(f"model has {len(blocks)} blocks for depth={depth}")
    with torch.no_grad():
        input_of(model, blocks[0], x)  # the stem alone must reach block 1
    try:
        return chained_output(model, blocks, x)
    except NotChained as why:
        raise SubjectError(str(why)) from None


def load_adapter(spec: str) -> Adapter:
    """Resolve ``'package.module:name'`` to an Adapter (an Adapter object, or a factory
    callable wrapped as one), or raise SubjectError with one line that says what is wrong."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SubjectError(f"subject {spec!r}: expected the form 'package.module:adapter'")
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
    return as_adapter(obj, spec)


def as_adapter(obj: Any, name: str) -> Adapter:
    """``obj`` as an Adapter: an Adapter itself, or a factory callable wrapped as one;
    anything else raises SubjectError naming the subject ``name``."""
    if isinstance(obj, Adapter):
        return obj
    if not callable(obj):
        raise SubjectError(f"subject {name} is neither a resclaims.Adapter nor callable")
    return Adapter(build=obj)
