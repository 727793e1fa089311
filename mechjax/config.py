"""Typed configuration: Hydra schemas, and the one function that turns a DictConfig into objects.

``build(cfg)`` validates every section and constructs the problem, mechanism, inner solver,
constraint, optimizer and trainer settings *before* anything is traced, so a bad value fails with
a :class:`~mechjax.errors.ConfigError` naming its field (``problem.num_items``, ``optim.lr`` ...).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import optax
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from mechjax import registry
from mechjax.core.trainer import TrainerConfig
from mechjax.errors import ConfigError


@dataclass(frozen=True)
class OptimConfig:
    """Outer optimiser.

    Attributes:
        name: ``adam`` or ``adamw`` or ``sgd``.
        lr: peak learning rate.
        schedule: ``constant``, ``cosine`` (decay to ``lr * final_fraction``) or ``step``
            (multiply by ``final_fraction`` at 3/4 of training).
        final_fraction: see ``schedule``.
        weight_decay: for adamw.
        grad_clip: global-norm clipping threshold; 0 disables.
    """

    name: str = "adam"
    lr: float = 1e-3
    schedule: str = "constant"
    final_fraction: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 0.0

    def __post_init__(self):
        if self.name not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"optim.name must be adam, adamw or sgd, got {self.name!r}")
        if not self.lr > 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.lr}")
        if self.schedule not in ("constant", "cosine", "step"):
            raise ConfigError(f"optim.schedule must be constant, cosine or step, got {self.schedule!r}")
        if not 0 < self.final_fraction <= 1:
            raise ConfigError(f"optim.final_fraction must be in (0, 1], got {self.final_fraction}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ConfigError("optim.grad_clip and optim.weight_decay must be >= 0")

    def build(self, total_steps: int) -> optax.GradientTransformation:
        if self.schedule == "cosine":
            lr = optax.cosine_decay_schedule(self.lr, total_steps, alpha=self.final_fraction)
        elif self.schedule == "step":
            lr = optax.piecewise_constant_schedule(self.lr, {int(0.75 * total_steps): self.final_fraction})
        else:
            lr = self.lr
        if self.name == "adam":
            tx = optax.adam(lr)
        elif self.name == "adamw":
            tx = optax.adamw(lr, weight_decay=self.weight_decay)
        else:
            tx = optax.sgd(lr)
        return optax.chain(optax.clip_by_global_norm(self.grad_clip), tx) if self.grad_clip else tx


def schema_of(cls) -> type:
    """A mutable twin of frozen dataclass ``cls`` for Hydra's ConfigStore (same fields, types, defaults).

    Hydra needs a mutable structured config to merge overrides into; validation stays in ``cls``.
    """
    hints = typing.get_type_hints(cls)
    return dataclasses.make_dataclass(
        cls.__name__ + "Schema", [(f.name, hints[f.name], dataclasses.field(default=f.default))
                                  for f in dataclasses.fields(cls)])


def register_schemas() -> None:
    """Registers the typed schemas with Hydra's ConfigStore (used by ``conf/`` defaults lists)."""
    cs = ConfigStore.instance()
    cs.store(group="trainer", name="schema", node=schema_of(TrainerConfig))
    cs.store(group="optim", name="schema", node=schema_of(OptimConfig))


@dataclass
class Experiment:
    """Everything a run needs, typed and validated."""

    kind: str  # problem kind: auction, voting, ...
    problem: Any
    mechanism: Any  # factory rngs -> nnx.Module (learned) or a plain function (classical)
    learned: bool
    inner: Any
    constraint: Any
    optimizer: Optional[optax.GradientTransformation]
    trainer: TrainerConfig
    optim: Optional[OptimConfig]
    seed: int
    cfg: dict = field(default_factory=dict)


def _section(cfg: dict, name: str) -> dict:
    value = cfg.get(name)
    if value is None:
        raise ConfigError(f"config section '{name}' is missing")
    if not isinstance(value, dict):
        raise ConfigError(f"config section '{name}' must be a mapping, got {value!r}")
    return dict(value)


def to_dict(cfg: DictConfig | dict) -> dict:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def build(cfg: DictConfig | dict, *, for_training: bool = True) -> Experiment:
    """Turns a composed config into typed, validated objects. Nothing is compiled here."""
    registry.import_domains()
    cfg = to_dict(cfg)
    seed = cfg.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    problem_section = _section(cfg, "problem")
    kind = problem_section.get("kind")
    problem = registry.lookup(registry.PROBLEMS, kind, "problem.kind")(problem_section)

    mech_section = _section(cfg, "mechanism")
    name = mech_section.get("name")
    if name in registry.CLASSICAL:
        mechanism, learned = registry.CLASSICAL[name](mech_section, problem, kind), False
    else:
        choices = sorted(set(registry.MECHANISMS) | set(registry.CLASSICAL))
        if name not in registry.MECHANISMS:
            raise ConfigError(f"mechanism.name: unknown choice {name!r}; expected one of {choices}")
        mechanism, learned = registry.MECHANISMS[name](mech_section, problem, kind), True

    trainer = registry.from_section(TrainerConfig, _section(cfg, "trainer"), "trainer")
    optim = registry.from_section(OptimConfig, _section(cfg, "optim"), "optim")
    inner_section = _section(cfg, "inner")
    inner = registry.lookup(registry.INNERS, inner_section.get("kind"), "inner.kind")(inner_section, problem)
    if hasattr(problem, "check_inner"):  # a problem may refuse an inner solver it cannot use
        problem.check_inner(inner_section.get("kind"))
    con_section = _section(cfg, "constraint")
    constraint = registry.lookup(registry.CONSTRAINTS, con_section.get("kind"), "constraint.kind")(con_section)
    return Experiment(kind=kind, problem=problem, mechanism=mechanism, learned=learned, inner=inner,
                      constraint=constraint, optimizer=optim.build(trainer.steps), trainer=trainer,
                      optim=optim, seed=seed, cfg=cfg)


# Core pieces every domain may choose.
from mechjax.core.adversary import Adversary  # noqa: E402
from mechjax.core.constraints import AugmentedLagrangian, RegretBudget, Unconstrained  # noqa: E402
from mechjax.core.types import NoInner  # noqa: E402


@registry.register(registry.INNERS, "adversary")
def _adversary(section: dict, problem) -> Adversary:
    for method in ("deviation_utility", "project", "random_reports"):
        if not hasattr(problem, method):
            raise ConfigError(f"inner.kind=adversary needs a problem with misreports; "
                              f"{type(problem).__name__} has no {method}()")
    return registry.from_section(Adversary, section, "inner", drop=("kind",), problem=problem)


@registry.register(registry.INNERS, "none")
def _no_inner(section: dict, problem) -> NoInner:
    registry.from_section(_Empty, section, "inner", drop=("kind",))
    return NoInner()


@dataclass(frozen=True)
class _Empty:
    pass


@registry.register(registry.CONSTRAINTS, "augmented_lagrangian")
def _alm(section: dict) -> AugmentedLagrangian:
    return registry.from_section(AugmentedLagrangian, section, "constraint", drop=("kind",))


@registry.register(registry.CONSTRAINTS, "regret_budget")
def _budget(section: dict) -> RegretBudget:
    return registry.from_section(RegretBudget, section, "constraint", drop=("kind",))


@registry.register(registry.CONSTRAINTS, "none")
def _none(section: dict) -> Unconstrained:
    registry.from_section(_Empty, section, "constraint", drop=("kind",))
    return Unconstrained()
