"""Ideal-point model of pluralistic preferences: T prototypes in a shared response embedding, each
user a mixture of them.

Responses sit at ``e_k`` in ``R^d``; prototype ``t`` is an ideal point ``p_t``; user ``u`` has weights
``w_u`` on the simplex and ideal point ``z_u = w_u @ P``, and values response ``k`` at
``r_u(k) = -|e_k - z_u|^2``. Up to a per-user constant (which no comparison sees),
``r_u = sum_t w_ut R_t`` with ``R_t(k) = -|e_k - p_t|^2`` the prototype rewards, so a user's
reward is a convex combination of T prototype rewards and a new user is T - 1 numbers.

* :class:`IdealPointPopulation` / :func:`random_ideal_point_population`: the generated truth.
* :class:`IdealPointModel`: the learned model (embedding, prototypes, every training user's
  weights), a mechanism of the shared trainer; :class:`UserRewardProblem` is its Problem
  (Plackett-Luce / BTL likelihood of each judgement under its user's reward).
* :class:`FrozenPrototypeUsers` and :class:`UserRewardTable`: few-shot adaptation to unseen users,
  fitting only each new user's mixture weights (embedding and prototypes frozen), or a reward
  table per user from scratch; both trained on :class:`UserRewardProblem` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment import likelihoods as lik
from mechjax.alignment.data import PreferenceData
from mechjax.alignment.populations import _shown
from mechjax.core.types import Terms
from mechjax.errors import ConfigError


def ideal_point_rewards(embedding, prototypes, weights):
    """``[U, K]``: ``-|e_k - w_u @ P|^2`` for ``embedding [K, d]``, ``prototypes [T, d]``, ``weights [U, T]``."""
    ideal = weights @ prototypes  # [U, d]
    diff = embedding[None, :, :] - ideal[:, None, :]
    return -jnp.sum(diff ** 2, -1)


@dataclass(frozen=True)
class IdealPointPopulation:
    """The generated truth.

    Attributes:
        embedding: ``[K, d]`` response positions.
        prototypes: ``[T, d]`` ideal points.
        user_weights: ``[U, T]`` each user's mixture (rows on the simplex).
        rationality: BTL / Plackett-Luce inverse temperature of the judgements.
    """

    embedding: np.ndarray
    prototypes: np.ndarray
    user_weights: np.ndarray
    rationality: float = 1.0

    @property
    def num_responses(self) -> int:
        return self.embedding.shape[0]

    @property
    def num_types(self) -> int:
        return self.prototypes.shape[0]

    @property
    def num_users(self) -> int:
        return self.user_weights.shape[0]

    def prototype_rewards(self) -> np.ndarray:
        """``[T, K]`` on the identified scale (rationality x reward), centred per prototype."""
        r = self.rationality * np.asarray(ideal_point_rewards(self.embedding, self.prototypes, np.eye(self.num_types)))
        return r - r.mean(-1, keepdims=True)

    def user_rewards(self) -> np.ndarray:
        """``[U, K]`` on the identified scale, centred per user."""
        r = self.rationality * np.asarray(ideal_point_rewards(self.embedding, self.prototypes, self.user_weights))
        return r - r.mean(-1, keepdims=True)


def random_ideal_point_population(key, num_types: int, num_responses: int, dim: int, num_users: int,
                                  concentration: float = 0.3, rationality: float = 1.0,
                                  spread: float = 1.0) -> IdealPointPopulation:
    """Responses ``e_k ~ N(0, I_d)``, prototypes ``p_t ~ N(0, spread^2 I_d)``, user weights
    ``Dirichlet(concentration)`` (below 1 most users lean towards one prototype, so the prototypes
    are the corners users sit near)."""
    for name, value, low in (("num_types", num_types, 1), ("num_responses", num_responses, 2), ("dim", dim, 1),
                             ("num_users", num_users, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if not concentration > 0:
        raise ConfigError(f"concentration must be > 0, got {concentration}")
    if not rationality >= 0:
        raise ConfigError(f"rationality must be >= 0, got {rationality}")
    if not spread > 0:
        raise ConfigError(f"spread must be > 0, got {spread}")
    k_e, k_p, k_w = jax.random.split(key, 3)
    embedding = np.asarray(jax.random.normal(k_e, (num_responses, dim)), np.float64)
    prototypes = spread * np.asarray(jax.random.normal(k_p, (num_types, dim)), np.float64)
    weights = np.asarray(jax.random.dirichlet(k_w, jnp.full((num_types,), concentration), (num_users,)), np.float64)
    return IdealPointPopulation(embedding, prototypes, weights, float(rationality))


def sample_user_judgements(pop: IdealPointPopulation, key, users, per_user: int, k: int = 2) -> PreferenceData:
    """``per_user`` judgements of ``k`` shown responses from each of ``users`` (ids into the population).

    Returns:
        :class:`PreferenceData` whose ``annotator`` holds the population's user ids (user-major rows).
    """
    users = np.asarray(users, np.int32)
    if per_user < 1 or not 2 <= k <= pop.num_responses:
        raise ConfigError(f"per_user must be >= 1 and k in [2, {pop.num_responses}], got {per_user}, {k}")
    annotator = np.repeat(users, per_user)
    rewards = jnp.asarray(pop.rationality * np.asarray(
        ideal_point_rewards(pop.embedding, pop.prototypes, pop.user_weights[users])), jnp.float32)
    k_shown, k_judge = jax.random.split(key)
    rows = np.repeat(np.arange(len(users)), per_user)
    shown = _shown(k_shown, len(rows), pop.num_responses, k)
    scores = jnp.take_along_axis(rewards[rows], shown, axis=-1) + jax.random.gumbel(k_judge, shown.shape)
    rankings = jnp.take_along_axis(shown, jnp.argsort(-scores, axis=-1), axis=-1)
    return PreferenceData(np.asarray(rankings, np.int32), annotator, pop.num_responses, None)


# ----------------------------------------------------------------------------- problem


class UserJudgements(NamedTuple):
    rankings: jax.Array  # [b, k]
    user: jax.Array  # [b] row of the mechanism's user table
    weight: jax.Array  # [b] 0 for padding


@dataclass(frozen=True, eq=False)
class UserRewardProblem:
    """Maximum likelihood of each judgement under its own user's reward (Plackett-Luce; BTL for pairs).

    The mechanism maps a batch to ``(rewards [U, K], penalty, ...)``: the rewards of all its users
    (a user table; U is small next to the judgements) and a scalar penalty. ``sample(key, n)`` returns the whole set when ``n`` is its size, else ``n``
    judgements drawn with replacement.

    Attributes:
        rankings: ``[N, k]`` judgements, best first.
        user: ``[N]`` row of each judgement's user in the mechanism's table.
        weight: ``[N]`` 1 for real judgements, 0 for padding.
        l2: weight of a penalty on the mechanism's ``penalty`` output (a prior; 0 for none).
    """

    rankings: np.ndarray
    user: np.ndarray
    weight: np.ndarray
    l2: float = 0.0

    num_agents = 1

    def sample(self, key, batch_size: int) -> UserJudgements:
        data = UserJudgements(jnp.asarray(self.rankings), jnp.asarray(self.user), jnp.asarray(self.weight, jnp.float32))
        if batch_size == len(self.rankings):
            return data
        index = jax.random.randint(key, (batch_size,), 0, len(self.rankings))
        return jax.tree.map(lambda x: x[index], data)

    def loss_terms(self, outcome_fn, batch: UserJudgements, solution) -> Terms:
        out = outcome_fn(batch)
        rewards, penalty = out[0], out[1]
        scores = jnp.take_along_axis(rewards[batch.user], batch.rankings, axis=-1)
        ll = lik.plackett_luce(scores)
        nll = -jnp.sum(batch.weight * ll) / jnp.maximum(jnp.sum(batch.weight), 1.0)
        return Terms(nll + self.l2 * penalty, jnp.zeros(1), {"nll": nll})


def pad_judgements(rankings, user) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pads to a multiple of the device count (the trainer shards the batch); ``(rankings, user, weight)``."""
    n = len(rankings)
    size = -(-n // jax.device_count()) * jax.device_count()
    fill = size - n
    rankings = np.concatenate([np.asarray(rankings, np.int32), np.repeat(np.asarray(rankings[:1], np.int32), fill, 0)])
    user = np.concatenate([np.asarray(user, np.int32), np.zeros(fill, np.int32)])
    return rankings, user, (np.arange(size) < n).astype(np.float32)


# ----------------------------------------------------------------------------- mechanisms


class Frozen(nnx.Variable):
    """Learned elsewhere, held fixed here."""


class IdealPointModel(nnx.Module):
    """``module(batch) -> (rewards [U, K], penalty, prototype rewards [T, K])``: the ideal-point model
    of U training users.

    ``penalty`` is the users' mean weight entropy plus ``anchor`` x the mean over prototypes of the
    squared distance to the nearest user's ideal point. Why: only the users' ideal points ``z_u``
    are identified (``r_u = -|e|^2 + 2 e.z_u + const``), and any simplex that contains them fits the
    judgements equally well (prototypes can drift outwards while the weights move inwards); low
    entropy and anchored corners pick the tightest one, the prototypes users actually lean towards
    (entropy alone let one prototype drift to 5x its distance on one seed of the table).

    Args:
        num_users: U.
        num_responses: K.
        num_types: T prototypes.
        dim: embedding dimension d.
        init_scale: std of the initial embedding and prototypes.
        features: optional ``[K, f]`` response features: the embedding is then a linear map of them.
        anchor: weight of the anchoring term in ``penalty`` (0: entropy only).
    """

    def __init__(self, num_users: int, num_responses: int, num_types: int, dim: int = 2, init_scale: float = 1.0,
                 features: Optional[np.ndarray] = None, anchor: float = 0.0, *, rngs: nnx.Rngs):
        self.anchor = anchor
        if features is None:
            self.features = None
            self.embedding = nnx.Param(init_scale * jax.random.normal(rngs.params(), (num_responses, dim)))
        else:
            self.features = Frozen(jnp.asarray(features, jnp.float32))
            self.embed = nnx.Linear(features.shape[1], dim, rngs=rngs)
        self.prototypes = nnx.Param(init_scale * jax.random.normal(rngs.params(), (num_types, dim)))
        self.user_logits = nnx.Param(jnp.zeros((num_users, num_types)))

    def response_embedding(self) -> jax.Array:
        return self.embedding.value if self.features is None else self.embed(self.features.value)

    def user_weights(self) -> jax.Array:
        return jax.nn.softmax(self.user_logits.value, axis=-1)

    def prototype_rewards(self) -> jax.Array:
        """``[T, K]`` (uncentred)."""
        t = self.prototypes.value.shape[0]
        return ideal_point_rewards(self.response_embedding(), self.prototypes.value, jnp.eye(t))

    def __call__(self, batch=None, training: bool = False):
        w = self.user_weights()
        entropy = jnp.mean(-jnp.sum(w * jnp.log(w + 1e-12), -1))
        penalty = entropy
        if self.anchor:
            ideal = w @ self.prototypes.value  # [U, d]
            gap = jnp.sum((self.prototypes.value[:, None, :] - ideal[None, :, :]) ** 2, -1)  # [T, U]
            penalty = penalty + self.anchor * jnp.mean(jnp.min(gap, -1))
        return (ideal_point_rewards(self.response_embedding(), self.prototypes.value, w), penalty,
                self.prototype_rewards())


class FrozenPrototypeUsers(nnx.Module):
    """``module(batch) -> (rewards [U, K], penalty)``: new users' mixture weights over frozen prototypes.

    Starts every user at ``prior_weights`` (default uniform; the training users' mean weights is the
    population's prior); ``penalty`` is the mean squared logit change from that start (a Gaussian
    prior, so one judgement cannot throw a user into a corner).
    """

    def __init__(self, embedding, prototypes, num_users: int, prior_weights=None, *, rngs: nnx.Rngs):
        t = np.shape(prototypes)[0]
        prior = np.full(t, 1.0 / t) if prior_weights is None else np.asarray(prior_weights, np.float64)
        self.embedding = Frozen(jnp.asarray(embedding, jnp.float32))
        self.prototypes = Frozen(jnp.asarray(prototypes, jnp.float32))
        self.prior_logits = Frozen(jnp.asarray(np.log(np.maximum(prior, 1e-6)), jnp.float32))
        self.user_logits = nnx.Param(jnp.broadcast_to(self.prior_logits.value[None, :], (num_users, t)))

    def __call__(self, batch=None, training: bool = False):
        w = jax.nn.softmax(self.user_logits.value, axis=-1)
        change = self.user_logits.value - self.prior_logits.value[None, :]
        return ideal_point_rewards(self.embedding.value, self.prototypes.value, w), jnp.mean(change ** 2)


class UserRewardTable(nnx.Module):
    """``module(batch) -> (rewards [U, K], penalty)``: a free reward per user and response, from scratch
    (zero start; ``penalty`` = mean squared reward, a Gaussian prior)."""

    def __init__(self, num_users: int, num_responses: int, *, rngs: nnx.Rngs):
        self.rewards = nnx.Param(jnp.zeros((num_users, num_responses)))

    def __call__(self, batch=None, training: bool = False):
        return self.rewards.value, jnp.mean(self.rewards.value ** 2)
