"""Estimators DIML is compared with.

* ``trivial``: all payoffs equal; predicts uniform play and zero payoff differences.
* ``tabular_mle``: the DIML likelihood with one free parameter per payoff cell.
* ``parametric_mle``: the DIML likelihood over the correctly specified parametric family
  (``"congestion"``, ``"public_goods"``, ``"anonymous"``): the oracle of model knowledge.
* ``behaviour_cloning``: a policy fitted to actions without any model of learning, here the
  smoothed frequencies of each agent's action given the previous joint action. Its payoff
  estimate inverts a *static* logit response to the others' previous actions,
  ``u_i(a, a_-i) = log p_i(a | a_-i) / beta`` after removing the exploration mass; it ignores
  that learners respond to a discounted history rather than to the last step.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from mechjax.errors import ConfigError
from mechjax.inverse.dynamics import LogitQ, check_learner, validate_actions
from mechjax.inverse.fit import FitConfig, fit
from mechjax.inverse.games import MAX_DENSE_ENTRIES, DenseGame, TrivialGame, joint_action_strides

PARAMETRIC_FAMILIES = ("congestion", "public_goods", "anonymous")


def trivial(num_agents: int, num_actions: int) -> TrivialGame:
    """The estimator that predicts all payoffs equal."""
    return TrivialGame(int(num_agents), int(num_actions))


MLE_CONFIG = FitConfig(steps=1000, burn_in=24, learning_rate=1e-2, weight_decay=0.1)


def tabular_mle(actions, num_actions: int, learner, config: FitConfig | None = None, **overrides):
    """DIML's likelihood over unrestricted payoff tables (returns a ``LearnedGame``).

    ``config`` defaults to ``MLE_CONFIG`` (the benchmark's setting, chosen on development seeds).
    """
    return fit(actions, num_actions, learner, "tabular", config or MLE_CONFIG, **overrides)


def parametric_mle(actions, num_actions: int, learner, family: str, config: FitConfig | None = None,
                   **overrides):
    """DIML's likelihood over a correctly specified parametric family (returns a ``LearnedGame``).

    ``config`` defaults to ``MLE_CONFIG``.
    """
    if family not in PARAMETRIC_FAMILIES:
        raise ConfigError(f"family must be one of {PARAMETRIC_FAMILIES}, got {family!r}")
    return fit(actions, num_actions, learner, family, config or MLE_CONFIG, **overrides)


@dataclass(frozen=True, eq=False)
class BehaviourCloning:
    """Smoothed action frequencies given the previous joint action.

    Attributes:
        counts: ``[agents, A ** n, A]`` training counts of (previous joint action, own action).
        first: ``[agents, A]`` counts of the first action.
        smoothing: pseudo-count mass spread by each agent's marginal action frequencies.
    """

    counts: np.ndarray
    first: np.ndarray
    smoothing: float

    @property
    def num_agents(self) -> int:
        return self.counts.shape[0]

    @property
    def num_actions(self) -> int:
        return self.counts.shape[2]

    def _marginal(self):
        total = self.counts.sum(axis=1) + 1.0  # [n, A]
        return total / total.sum(-1, keepdims=True)

    def log_probs(self, actions: Int[Array, "episodes time agents"]) -> Float[Array, "episodes time agents"]:
        """Log-probability of every action: ``t = 0`` from first-action frequencies, then conditional."""
        actions = validate_actions(actions, self.num_actions, self.num_agents)
        actions = np.asarray(actions)
        n, num_actions = self.num_agents, self.num_actions
        marginal = self._marginal()
        cond = (self.counts + self.smoothing * marginal[:, None, :]) / (
            self.counts.sum(-1, keepdims=True) + self.smoothing)
        prev = (actions[:, :-1] * joint_action_strides(n, num_actions)).sum(-1)  # [E, T]
        agent = np.arange(n)
        later = np.log(cond[agent, prev[..., None], actions[:, 1:]])  # [E, T, n]
        first_p = (self.first + 1.0) / (self.first + 1.0).sum(-1, keepdims=True)
        start = np.log(first_p[agent, actions[:, 0]])[:, None]
        return jnp.asarray(np.concatenate([start, later], axis=1), jnp.float32)

    def nll(self, actions) -> float:
        """Negative log-likelihood per agent-step over ``t >= 1`` (as ``metrics.heldout_nll``)."""
        return float(-jnp.mean(self.log_probs(actions)[:, 1:]))

    def game(self, learner) -> DenseGame:
        """Payoffs from inverting a static logit response with ``learner``'s temperature and exploration.

        Counts are pooled over the agent's own previous action, so the policy conditions on
        ``a_-i`` only; payoff ``u_i(a, a_-i) = log(max(p - eps / A, tiny) / (1 - eps)) / beta``.
        """
        check_learner(learner)
        beta = learner.beta if isinstance(learner, LogitQ) else learner.eta
        n, num_actions = self.num_agents, self.num_actions
        marginal = self._marginal()
        tables = []
        for i in range(n):
            by_prev = self.counts[i].reshape((num_actions,) * n + (num_actions,))
            pooled = by_prev.sum(axis=i)  # [A]*(n-1) + [A]: others' previous actions, own action
            prob = (pooled + self.smoothing * marginal[i]) / (pooled.sum(-1, keepdims=True) + self.smoothing)
            mass = np.maximum(prob - learner.epsilon / num_actions, 1e-3 / num_actions) / (1.0 - learner.epsilon)
            tables.append(np.moveaxis(np.log(mass) / beta, -1, i))
        return DenseGame(jnp.asarray(np.stack(tables), jnp.float32))


def behaviour_cloning(actions: Int[Array, "episodes time agents"], num_actions: int,
                      smoothing: float = 1.0) -> BehaviourCloning:
    """Fits ``BehaviourCloning`` by counting (closed form, no training).

    Args:
        actions: ``[episodes, steps + 1, agents]`` observed joint actions.
        num_actions: A.
        smoothing: pseudo-count mass (> 0) for unseen (previous joint action, action) pairs.
    """
    actions = np.asarray(validate_actions(actions, num_actions))
    n = actions.shape[2]
    if not smoothing > 0:
        raise ConfigError(f"smoothing must be > 0, got {smoothing}")
    if num_actions ** (n + 1) * n > MAX_DENSE_ENTRIES:
        raise ConfigError(f"behaviour cloning tabulates {num_actions}**{n} previous joint actions: too many")
    prev = (actions[:, :-1] * joint_action_strides(n, num_actions)).sum(-1).reshape(-1)  # [E*T]
    current = actions[:, 1:].reshape(-1, n)
    counts = np.zeros((n, num_actions**n, num_actions))
    for i in range(n):
        np.add.at(counts[i], (prev, current[:, i]), 1.0)
    first = np.stack([np.bincount(actions[:, 0, i], minlength=num_actions) for i in range(n)]).astype(np.float64)
    return BehaviourCloning(counts, first, float(smoothing))
