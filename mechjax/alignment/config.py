"""``problem=alignment/<preset>``: a generated annotator population and what to learn from it.

:class:`AlignmentConfig` validates every field (errors name ``problem.<field>``) and builds an
:class:`AlignmentTask`: the population (ground truth, kept for the evaluator), the judgements it
gave, and the trainer's Problem for the chosen ``task``:

* ``reward``: one reward model from all judgements (BTL for pairs, Plackett-Luce for rankings,
  ``likelihood=mean_variance|categorical`` for DPL on pairs);
* ``mixture``: EM over ``num_types`` reward types (inner solver ``estep``);
* ``policy``: a policy over the responses against the population's true type rewards,
  ``principle=egalitarian`` (inner solver ``worst_type``) or ``utilitarian``;
* ``ideal_point``: the ideal-point model (``num_types`` prototypes in a shared response embedding,
  each of the ``num_annotators`` users a mixture of them) on an ideal-point population
  (``feature_dim``-dimensional truth, user weights ``Dirichlet(user_concentration)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import jax
import numpy as np

from mechjax.alignment.data import PreferenceData
from mechjax.alignment.fit import _weighted, group_by_annotator
from mechjax.alignment.populations import UTILITY_MODELS, Population, random_population, sample_judgements
from mechjax.alignment.problem import LIKELIHOODS, MixtureProblem, PolicyProblem, PreferenceProblem
from mechjax.errors import ConfigError

TASKS = ("reward", "mixture", "policy", "ideal_point")
PRINCIPLES = ("egalitarian", "utilitarian")


@dataclass(frozen=True)
class AlignmentConfig:
    """A generated population and the learning task on it.

    Attributes:
        kind: always ``alignment``.
        task: ``reward``, ``mixture``, ``policy`` or ``ideal_point``.
        num_types: T latent annotator types (>= 1).
        num_responses: K responses (>= 2).
        utility: ``tabular``, ``linear`` or ``mlp`` (of ``feature_dim`` response features).
        feature_dim: d of the response features (linear/mlp).
        use_features: the reward model is an MLP of the features (else tabular).
        weights: fixed mixing weights ``[T]``, or null for Dirichlet(1) weights.
        rationality: Plackett-Luce / BTL inverse temperature of the judgements (>= 0).
        population_seed: seed of the population and of its judgements.
        num_annotators: annotators in the data set.
        judgements: judgements per annotator.
        k: responses shown per judgement (2 = pairs).
        hidden_context: every judgement draws a fresh type (the annotator id does not reveal it).
        likelihood: reward task: ``plackett_luce`` (BTL for pairs), ``mean_variance`` or ``categorical``.
        beta: policy task: KL weight to the uniform reference (>= 0).
        principle: policy task: ``egalitarian`` (max-min) or ``utilitarian``.
        l2: weight of the reward penalty that pins the free shift.
        user_concentration: ideal_point task: Dirichlet concentration of the users' true weights.
        spread: ideal_point task: std of the true prototypes (responses are N(0, I)).
        entropy: ideal_point task: weight of the users' mean weight entropy in the loss.
    """

    kind: str = "alignment"
    task: str = "reward"
    num_types: int = 2
    num_responses: int = 6
    utility: str = "tabular"
    feature_dim: int = 4
    use_features: bool = False
    weights: Optional[Sequence[float]] = None
    rationality: float = 2.0
    population_seed: int = 0
    num_annotators: int = 2000
    judgements: int = 1
    k: int = 2
    hidden_context: bool = False
    likelihood: str = "plackett_luce"
    beta: float = 0.5
    principle: str = "egalitarian"
    l2: float = 1e-4
    user_concentration: float = 0.3
    spread: float = 1.5
    entropy: float = 0.2

    def __post_init__(self):
        def bad(field, why):
            raise ConfigError(f"problem.{field} {why}, got {getattr(self, field)!r}")

        if self.task not in TASKS:
            bad("task", f"must be one of {TASKS}")
        if self.num_types < 1:
            bad("num_types", "must be >= 1")
        if self.num_responses < 2:
            bad("num_responses", "must be >= 2")
        if self.utility not in UTILITY_MODELS:
            bad("utility", f"must be one of {UTILITY_MODELS}")
        if self.feature_dim < 1:
            bad("feature_dim", "must be >= 1")
        if self.use_features and self.utility == "tabular":
            bad("use_features", "needs problem.utility=linear or mlp (tabular responses have no features)")
        if self.weights is not None:
            w = np.asarray(self.weights, float)
            if w.shape != (self.num_types,) or (w <= 0).any() or abs(w.sum() - 1) > 1e-6:
                bad("weights", f"must be {self.num_types} positive numbers summing to 1 (problem.num_types)")
        if not self.rationality >= 0:
            bad("rationality", "must be >= 0")
        if self.population_seed < 0:
            bad("population_seed", "must be >= 0")
        if self.num_annotators < 1:
            bad("num_annotators", "must be >= 1")
        if self.judgements < 1:
            bad("judgements", "must be >= 1")
        if not 2 <= self.k <= self.num_responses:
            bad("k", f"must be in [2, problem.num_responses={self.num_responses}]")
        if self.likelihood not in LIKELIHOODS:
            bad("likelihood", f"must be one of {LIKELIHOODS}")
        if self.likelihood != "plackett_luce" and self.k != 2:
            bad("likelihood", "mean_variance and categorical (DPL) take pairs: set problem.k=2")
        if self.beta < 0:
            bad("beta", "must be >= 0")
        if self.task == "policy" and self.beta == 0:
            bad("beta", "must be > 0 for a learned policy (beta = 0 is a linear program: alignment.maxmin_policy)")
        if self.principle not in PRINCIPLES:
            bad("principle", f"must be one of {PRINCIPLES}")
        if self.l2 < 0:
            bad("l2", "must be >= 0")
        if not self.user_concentration > 0:
            bad("user_concentration", "must be > 0")
        if not self.spread > 0:
            bad("spread", "must be > 0")
        if not self.entropy >= 0:
            bad("entropy", "must be >= 0")
        if self.task == "ideal_point":
            if self.utility != "tabular":
                bad("utility", "must stay tabular for task=ideal_point (its truth is an embedding of "
                               "problem.feature_dim dimensions)")
            if self.hidden_context:
                bad("hidden_context", "is not supported by task=ideal_point (users keep their ideal point)")
            if self.likelihood != "plackett_luce":
                bad("likelihood", "must be plackett_luce for task=ideal_point")

    def population(self) -> Population:
        return random_population(jax.random.key(self.population_seed), self.num_types, self.num_responses,
                                 self.utility, self.feature_dim, self.rationality,
                                 weights=None if self.weights is None else np.asarray(self.weights, float))

    def build(self) -> "AlignmentTask":
        if self.task == "ideal_point":
            return self._build_ideal_point()
        pop = self.population()
        if self.task == "policy":
            ref = np.full(self.num_responses, 1.0 / self.num_responses)
            problem = PolicyProblem(pop.rationality * pop.utilities, ref, float(self.beta), pop.weights, self.principle)
            return AlignmentTask(self, pop, None, problem)
        data = sample_judgements(pop, jax.random.key(self.population_seed + 1), self.num_annotators,
                                 self.judgements, self.k, self.hidden_context)
        if self.task == "reward":
            rankings, w = _weighted(data.rankings, None)
            problem = PreferenceProblem(rankings, w, self.likelihood, self.l2)
        else:
            grouped, _ = group_by_annotator(data.rankings, data.annotator)
            problem = MixtureProblem(self.num_types, self.num_responses, data=grouped, l2=self.l2)
        return AlignmentTask(self, pop, data, problem)

    def _build_ideal_point(self) -> "AlignmentTask":
        from mechjax.alignment.ideal_point import (
            UserRewardProblem,
            pad_judgements,
            random_ideal_point_population,
            sample_user_judgements,
        )

        pop = random_ideal_point_population(jax.random.key(self.population_seed), self.num_types, self.num_responses,
                                            self.feature_dim, self.num_annotators, self.user_concentration,
                                            self.rationality, self.spread)
        data = sample_user_judgements(pop, jax.random.key(self.population_seed + 1), np.arange(self.num_annotators),
                                      self.judgements, self.k)
        problem = UserRewardProblem(*pad_judgements(data.rankings, data.annotator), l2=float(self.entropy))
        return AlignmentTask(self, pop, data, problem)


@dataclass(frozen=True, eq=False)
class AlignmentTask:
    """The trainer's problem with the ground truth it was generated from (for the evaluator).

    Delegates ``num_agents``, ``sample`` and ``loss_terms`` to ``problem``.
    """

    config: AlignmentConfig
    population: object  # Population, or IdealPointPopulation for task=ideal_point
    data: Optional[PreferenceData]
    problem: object

    @property
    def num_agents(self) -> int:
        return self.problem.num_agents

    def sample(self, key, batch_size: int):
        return self.problem.sample(key, batch_size)

    def loss_terms(self, outcome_fn, batch, solution):
        return self.problem.loss_terms(outcome_fn, batch, solution)

    def check_inner(self, kind: str) -> None:
        wanted = {"mixture": ("estep",), "policy": ("worst_type",) if self.config.principle == "egalitarian" else ("none",),
                  "reward": ("none",), "ideal_point": ("none",)}[self.config.task]
        if kind not in wanted:
            raise ConfigError(f"problem.task={self.config.task} (principle={self.config.principle}) trains with "
                              f"inner={wanted[0]}, got inner.kind={kind!r}")
