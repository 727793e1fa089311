"""Typed configuration: Hydra schemas, and the one function that turns a DictConfig into objects.

``build(cfg)`` validates every section and constructs the problem, mechanism, inner solver,
constraint, optimizer and trainer settings *before* anything is traced, so a bad value fails with
a :class:`~mechjax.errors.ConfigError` naming its field (``problem.num_items``, ``optim.lr`` ...).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

import jax
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
        decay_mask: which parameters adamw's weight decay shrinks: ``all``, or ``matrices`` (those
            with >= 2 dimensions: kernels and payoff tables, not biases or scalar parameters).
    """

    name: str = "adam"
    lr: float = 1e-3
    schedule: str = "constant"
    final_fraction: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    decay_mask: str = "all"

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
        if self.decay_mask not in ("all", "matrices"):
            raise ConfigError(f"optim.decay_mask must be all or matrices, got {self.decay_mask!r}")

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
            mask = None if self.decay_mask == "all" else _matrices
            tx = optax.adamw(lr, weight_decay=self.weight_decay, mask=mask)
        else:
            tx = optax.sgd(lr)
        return optax.chain(optax.clip_by_global_norm(self.grad_clip), tx) if self.grad_clip else tx


def _matrices(params):
    return jax.tree.map(lambda p: p.ndim >= 2, params)


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


# The sections every experiment has, and the top-level flags (with their types); the evaluator
# sections (``attack``, ``voting_eval``, ...) come from ``registry.EVALUATOR_SECTIONS``.
CORE_SECTIONS = ("problem", "mechanism", "inner", "constraint", "optim", "trainer")
TOP_LEVEL_FLAGS: dict[str, Any] = {
    "seed": int,
    "progress": bool,  # progress bars (training and evaluation)
    "plots": bool,  # figures in the run directory
    "distributed": bool,  # jax.distributed.initialize() first (multi-host runs)
    "debug": bool,  # full tracebacks from experiments/*.py (also: MECHJAX_DEBUG=1)
    "run_dir": Optional[str],  # experiments/evaluate.py: the trained run to evaluate
    "hydra": dict,
}


def check_top_level(cfg: dict) -> None:
    """Refuses unknown top-level keys (``+foo=1``, ``+trainr.steps=5``) and mistyped flags."""
    from mechjax.validate import convert
    registry.import_domains()
    sections = set(CORE_SECTIONS) | set(registry.EVALUATOR_SECTIONS.values())
    known = sections | set(TOP_LEVEL_FLAGS)
    for key, value in cfg.items():
        if key in TOP_LEVEL_FLAGS:
            convert(value, TOP_LEVEL_FLAGS[key], key)
        elif key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{key}: unknown top-level key{hint}; the top-level keys are sections "
                              f"{sorted(sections)} and flags {sorted(TOP_LEVEL_FLAGS)}")


def check_evaluator_sections(cfg: dict) -> None:
    """Parses every evaluator section present (not only the problem kind's): no setting is ignored."""
    registry.import_domains()
    for kind, name in registry.EVALUATOR_SECTIONS.items():
        if cfg.get(name) is not None:
            registry.from_section(registry.EVALUATOR_CONFIGS[kind], _section(cfg, name), name)


def build(cfg: DictConfig | dict, *, for_training: bool = True) -> Experiment:
    """Turns a composed config into typed, validated objects. Nothing is compiled here."""
    registry.import_domains()
    cfg = to_dict(cfg)
    check_top_level(cfg)
    seed = cfg.get("seed", 0)
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    check_evaluator_sections(cfg)
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
from mechjax.core.types import MisreportProblem, NoInner  # noqa: E402


@registry.register(registry.INNERS, "adversary")
def _adversary(section: dict, problem) -> Adversary:
    if not isinstance(problem, MisreportProblem):  # the declared interface, checked by its methods
        missing = [m for m in ("deviation_utility", "project", "random_reports") if not hasattr(problem, m)]
        raise ConfigError(f"inner.kind=adversary needs a problem with misreports (core.types.MisreportProblem); "
                          f"{type(problem).__name__} has no {', '.join(f'{m}()' for m in missing)}")
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
