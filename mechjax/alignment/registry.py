"""Config builders for alignment: problem kind ``alignment``, the reward / mixture / policy / ideal-point mechanisms,
the ``estep`` and ``worst_type`` inner solvers, the classical ``alignment_borda`` reward, the
evaluator (section ``alignment_eval``) and the results tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import jax.numpy as jnp
import numpy as np

from mechjax import registry
from mechjax.alignment.config import AlignmentConfig, AlignmentTask
from mechjax.alignment.evaluate import AlignmentEvalConfig, evaluate_alignment
from mechjax.alignment.models import MixtureReward, PolicyLogits, RewardModel
from mechjax.alignment.problem import EStep, WorstType
from mechjax.alignment.social_choice import borda_scores
from mechjax.errors import ConfigError


@registry.register(registry.PROBLEMS, "alignment")
def build_alignment_problem(section: dict) -> AlignmentTask:
    return registry.from_section(AlignmentConfig, section, "problem").build()


def _require(problem, kind: str, name: str, task: str) -> None:
    if kind != "alignment":
        raise ConfigError(f"mechanism.name={name} needs problem.kind=alignment, got {kind!r}")
    if problem.config.task != task:
        raise ConfigError(f"mechanism.name={name} learns a {task}; problem.task={problem.config.task} "
                          f"(use mechanism=alignment_{problem.config.task})")


@dataclass(frozen=True)
class RewardNetConfig:
    """``mechanism=alignment_reward``: a reward model (tabular, or an MLP of response features).

    Attributes:
        name: always ``alignment_reward``.
        hidden: MLP width (with ``problem.use_features``).
        depth: MLP hidden layers.
        atoms: utility atoms of the categorical DPL head.
    """

    name: str = "alignment_reward"
    hidden: int = 32
    depth: int = 2
    atoms: int = 10

    def __post_init__(self):
        for field in ("hidden", "depth", "atoms"):
            if getattr(self, field) < 1:
                raise ConfigError(f"mechanism.{field} must be >= 1, got {getattr(self, field)}")
        if self.atoms < 2:
            raise ConfigError(f"mechanism.atoms must be >= 2, got {self.atoms}")


@registry.register(registry.MECHANISMS, "alignment_reward")
def build_reward(section: dict, problem: AlignmentTask, kind: str):
    _require(problem, kind, "alignment_reward", "reward")
    cfg = registry.from_section(RewardNetConfig, section, "mechanism")
    c = problem.config
    head = {"plackett_luce": "point"}.get(c.likelihood, c.likelihood)
    features = problem.population.features if c.use_features else None
    return lambda rngs: RewardModel(c.num_responses, head, features, cfg.hidden, cfg.depth, cfg.atoms, rngs=rngs)


@dataclass(frozen=True)
class MixtureNetConfig:
    """``mechanism=alignment_mixture``: T type rewards and weights, ``restarts`` random starts side by side."""

    name: str = "alignment_mixture"
    restarts: int = 4
    init_scale: float = 1.0

    def __post_init__(self):
        if self.restarts < 1:
            raise ConfigError(f"mechanism.restarts must be >= 1, got {self.restarts}")
        if not self.init_scale > 0:
            raise ConfigError(f"mechanism.init_scale must be > 0, got {self.init_scale}")


@registry.register(registry.MECHANISMS, "alignment_mixture")
def build_mixture(section: dict, problem: AlignmentTask, kind: str):
    _require(problem, kind, "alignment_mixture", "mixture")
    cfg = registry.from_section(MixtureNetConfig, section, "mechanism")
    c = problem.config
    return lambda rngs: MixtureReward(c.num_types, c.num_responses, cfg.restarts, cfg.init_scale, rngs=rngs)


@dataclass(frozen=True)
class IdealPointNetConfig:
    """``mechanism=alignment_ideal_point``: response embedding, prototypes and every user's weights.

    Attributes:
        name: always ``alignment_ideal_point``.
        dim: embedding dimension of the model (the truth's is ``problem.feature_dim``).
        init_scale: std of the initial embedding and prototypes.
        anchor: weight, inside the ``problem.entropy``-weighted penalty, of each prototype's squared
            distance to its nearest user's ideal point.
    """

    name: str = "alignment_ideal_point"
    dim: int = 2
    init_scale: float = 1.0
    anchor: float = 5.0

    def __post_init__(self):
        if self.dim < 1:
            raise ConfigError(f"mechanism.dim must be >= 1, got {self.dim}")
        if not self.anchor >= 0:
            raise ConfigError(f"mechanism.anchor must be >= 0, got {self.anchor}")
        if not self.init_scale > 0:
            raise ConfigError(f"mechanism.init_scale must be > 0, got {self.init_scale}")


@registry.register(registry.MECHANISMS, "alignment_ideal_point")
def build_ideal_point(section: dict, problem: AlignmentTask, kind: str):
    from mechjax.alignment.ideal_point import IdealPointModel

    _require(problem, kind, "alignment_ideal_point", "ideal_point")
    cfg = registry.from_section(IdealPointNetConfig, section, "mechanism")
    c = problem.config
    return lambda rngs: IdealPointModel(c.num_annotators, c.num_responses, c.num_types, cfg.dim, cfg.init_scale,
                                        anchor=cfg.anchor, rngs=rngs)


@dataclass(frozen=True)
class PolicyNetConfig:
    """``mechanism=alignment_policy``: softmax policy over the responses, starting at the reference."""

    name: str = "alignment_policy"


@registry.register(registry.MECHANISMS, "alignment_policy")
def build_policy(section: dict, problem: AlignmentTask, kind: str):
    _require(problem, kind, "alignment_policy", "policy")
    registry.from_section(PolicyNetConfig, section, "mechanism")
    ref = problem.problem.reference
    return lambda rngs: PolicyLogits(ref, rngs=rngs)


@dataclass(frozen=True)
class BordaRewardConfig:
    """``mechanism=alignment_borda``: the classical reward: each response's empirical Borda score
    (its share of won comparisons in the data, ties at 1/2 for never-compared pairs)."""

    name: str = "alignment_borda"


@registry.register(registry.CLASSICAL, "alignment_borda")
def build_borda(section: dict, problem: AlignmentTask, kind: str):
    _require(problem, kind, "alignment_borda", "reward")
    registry.from_section(BordaRewardConfig, section, "mechanism")
    k = problem.config.num_responses
    wins = np.zeros((k, k))
    rankings = problem.data.rankings
    for a in range(rankings.shape[1]):
        for b in range(a + 1, rankings.shape[1]):
            np.add.at(wins, (rankings[:, a], rankings[:, b]), 1.0)
    total = wins + wins.T
    probs = np.where(total > 0, wins / np.maximum(total, 1), 0.5)
    scores = jnp.asarray(borda_scores(probs), jnp.float32)[:, None]
    return lambda batch=None, training=False: scores


@dataclass(frozen=True)
class _EStepConfig:
    kind: str = "estep"
    hard: bool = False


@registry.register(registry.INNERS, "estep")
def build_estep(section: dict, problem) -> EStep:
    cfg = registry.from_section(_EStepConfig, section, "inner")
    return EStep(cfg.hard)


@dataclass(frozen=True)
class _WorstTypeConfig:
    kind: str = "worst_type"
    lr: float = 0.5
    steps: int = 5


@registry.register(registry.INNERS, "worst_type")
def build_worst_type(section: dict, problem) -> WorstType:
    cfg = registry.from_section(_WorstTypeConfig, section, "inner")
    if not cfg.lr > 0:
        raise ConfigError(f"inner.lr must be > 0, got {cfg.lr}")
    if cfg.steps < 1:
        raise ConfigError(f"inner.steps must be >= 1, got {cfg.steps}")
    if not isinstance(problem, AlignmentTask) or problem.config.task != "policy":
        raise ConfigError("inner=worst_type needs problem.kind=alignment with problem.task=policy")
    return WorstType(problem.config.num_types, float(problem.config.beta), cfg.lr, cfg.steps)


@registry.register_evaluator("alignment", section="alignment_eval", config_cls=AlignmentEvalConfig)
def evaluate(mechanism_fn, problem: AlignmentTask, section: Optional[dict]) -> dict:
    return evaluate_alignment(mechanism_fn, problem,
                              registry.from_section(AlignmentEvalConfig, dict(section or {}), "alignment_eval"))


@registry.register(registry.SUMMARY_ROWS, "alignment")
def summary_rows(summary: dict) -> list:
    """Console rows: the principle a reward implements, a mixture's recovery, a policy's values."""
    task = summary.get("task")
    if task == "reward":
        return [("Kendall tau vs Borda", summary.get("kendall_borda")),
                ("Kendall tau vs Copeland", summary.get("kendall_copeland")),
                ("Kendall tau vs expected utility", summary.get("kendall_expected_utility")),
                ("top = Borda winner", summary.get("top_is_borda_winner"))]
    if task == "ideal_point":
        return [("prototype reward error (relative RMS)", summary.get("prototype_relative_error")),
                ("prototype correlation (worst)", summary.get("prototype_min_correlation")),
                ("pair accuracy (training users)", summary.get("pair_accuracy")),
                ("pair accuracy of the true rewards", summary.get("oracle_pair_accuracy"))]
    if task == "mixture":
        return [("type reward error (RMS)", summary.get("reward_error")),
                ("weight error (max)", summary.get("weight_error")),
                ("assignment ARI", summary.get("assignment_ari"))]
    return [("worst-type value", summary.get("worst_type_value")), ("average value", summary.get("average_value")),
            ("exact max-min worst-type value", summary.get("maxmin_worst_type_value")),
            ("exact utilitarian average value", summary.get("utilitarian_average_value"))]


def load_callable(mechanism_fn, problem: AlignmentTask):
    """What ``mechjax.load(run_dir)`` hands users: rewards ``[K]``, ``(rewards [T, K], weights [T])``
    (best restart), a policy ``[K]``, or for the ideal-point model ``user rewards [U, K]`` (centred);
    it takes no input."""
    task = problem.config.task

    def call():
        out = mechanism_fn(None)
        if task == "ideal_point":
            r = np.asarray(out[0])
            return r - r.mean(-1, keepdims=True)
        if task == "reward":
            return np.asarray(out)[:, 0] if out.shape[1] <= 2 else np.asarray(out)
        if task == "mixture":
            from mechjax.alignment.fit import best_restart

            best, _, _ = best_restart(out[0], out[1], problem.problem.sample(None, len(problem.problem.data.weight)))
            r = np.asarray(out[0][best])
            return r - r.mean(-1, keepdims=True), np.exp(np.asarray(out[1][best]))
        return np.asarray(out)

    return call


registry.LOADERS["alignment"] = load_callable

from mechjax.alignment import pluralism_tables as _pluralism_tables  # noqa: E402,F401  (ideal point, loss design)
from mechjax.alignment import tables as _tables  # noqa: E402,F401  (registers the alignment results tables)
