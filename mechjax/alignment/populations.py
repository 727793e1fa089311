"""Annotator populations with hidden types, and the judgements they give.

A :class:`Population` is T latent types with mixing weights; type ``t`` values response ``i`` at
``utilities[t, i]`` (tabular, or a linear / small-MLP function of response features, see
:func:`random_population`). A judgement shows ``k`` distinct responses drawn uniformly and ranks
them with Plackett-Luce noise at inverse temperature ``rationality`` (``k = 2``: Bradley-Terry-Luce),
using the annotator's type. Annotators keep their type for all their judgements; with
``hidden_context=True`` every judgement draws a fresh type (an unobserved variable the annotator id
does not reveal), which is the hidden-context setting of preference learning.

Exact quantities (no sampling): :func:`pair_probabilities` (the population's probability that
``i`` beats ``j`` in a shown pair) and :func:`ranking_probabilities` (every order of a shown subset).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment.data import PreferenceData
from mechjax.errors import ConfigError

UTILITY_MODELS = ("tabular", "linear", "mlp")


@dataclass(frozen=True)
class Population:
    """T annotator types over K responses.

    Attributes:
        utilities: ``[T, K]`` each type's utility of each response.
        weights: ``[T]`` mixing weights (positive, sum 1).
        rationality: Plackett-Luce / BTL inverse temperature (0 = uniformly random judgements).
        features: ``[K, d]`` response features the utilities were computed from, or None (tabular).
    """

    utilities: np.ndarray
    weights: np.ndarray
    rationality: float = 1.0
    features: Optional[np.ndarray] = None

    def __post_init__(self):
        u, w = np.asarray(self.utilities, np.float64), np.asarray(self.weights, np.float64)
        if u.ndim != 2 or u.shape[0] < 1:
            raise ConfigError(f"population.utilities must be [num_types >= 1, num_responses], got {u.shape}")
        if u.shape[1] < 2:
            raise ConfigError(f"population.num_responses must be >= 2, got {u.shape[1]}")
        if w.shape != (u.shape[0],) or (w <= 0).any() or abs(w.sum() - 1) > 1e-6:
            raise ConfigError(f"population.weights must be [{u.shape[0]}] positive and sum to 1, got {w.tolist()}")
        if not np.isfinite(u).all():
            raise ConfigError("population.utilities must be finite")
        if not self.rationality >= 0:
            raise ConfigError(f"population.rationality must be >= 0, got {self.rationality}")
        object.__setattr__(self, "utilities", u)
        object.__setattr__(self, "weights", w / w.sum())

    @property
    def num_types(self) -> int:
        return self.utilities.shape[0]

    @property
    def num_responses(self) -> int:
        return self.utilities.shape[1]


def check_sizes(num_types, num_responses, field: str = "") -> None:
    """ConfigError unless ``num_types >= 1`` and ``num_responses >= 2`` (integers)."""
    for name, value, low in (("num_types", num_types, 1), ("num_responses", num_responses, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{field}{name} must be an integer >= {low}, got {value!r}")


def random_population(key, num_types: int, num_responses: int, utility: str = "tabular",
                      feature_dim: int = 4, rationality: float = 1.0, concentration: float = 1.0,
                      weights=None) -> Population:
    """A random population.

    Args:
        key: PRNG key.
        num_types: T >= 1.
        num_responses: K >= 2.
        utility: ``tabular`` (i.i.d. N(0, 1) utilities), ``linear`` (features ``x ~ N(0, I_d)``,
            ``u_t = x . theta_t``) or ``mlp`` (``u_t = w2_t . tanh(W1_t x)``, 16 hidden units).
        feature_dim: d for ``linear`` and ``mlp``.
        rationality: inverse temperature of the judgements.
        concentration: Dirichlet concentration of the mixing weights (when ``weights`` is None).
        weights: fixed ``[T]`` mixing weights.
    """
    check_sizes(num_types, num_responses)
    if utility not in UTILITY_MODELS:
        raise ConfigError(f"utility must be one of {UTILITY_MODELS}, got {utility!r}")
    k_u, k_x, k_w, k_h = jax.random.split(key, 4)
    features = None
    if utility == "tabular":
        u = jax.random.normal(k_u, (num_types, num_responses))
    else:
        features = jax.random.normal(k_x, (num_responses, feature_dim))
        if utility == "linear":
            theta = jax.random.normal(k_u, (num_types, feature_dim)) / np.sqrt(feature_dim)
            u = theta @ features.T
        else:
            w1 = jax.random.normal(k_u, (num_types, 16, feature_dim)) / np.sqrt(feature_dim)
            w2 = jax.random.normal(k_h, (num_types, 16)) / 2.0
            u = jnp.einsum("th,tkh->tk", w2, jnp.tanh(jnp.einsum("thd,kd->tkh", w1, features)))
    if weights is None:
        weights = jax.random.dirichlet(k_w, jnp.full((num_types,), concentration))
        weights = np.maximum(np.asarray(weights, np.float64), 1e-3)
    return Population(np.asarray(u), np.asarray(weights) / np.sum(weights), rationality,
                      None if features is None else np.asarray(features))


def pair_probabilities(pop: Population) -> np.ndarray:
    """``P [K, K]``: probability that the population prefers ``i`` to ``j`` when shown the pair (diag 1/2)."""
    d = pop.rationality * (pop.utilities[:, :, None] - pop.utilities[:, None, :])
    return np.einsum("t,tij->ij", pop.weights, 1.0 / (1.0 + np.exp(-d)))


def ranking_probabilities(pop: Population, subset) -> tuple[np.ndarray, np.ndarray]:
    """Every order of the shown ``subset`` and the population's probability of each (Plackett-Luce).

    Returns:
        ``(orders int [k!, k], probs [k!])``.
    """
    subset = list(subset)
    orders = np.asarray(list(itertools.permutations(subset)))
    s = pop.rationality * pop.utilities[:, orders]  # [T, k!, k]
    tail = np.logaddexp.accumulate(s[..., ::-1], axis=-1)[..., ::-1]
    logp = (s - tail)[..., :-1].sum(-1)
    return orders, pop.weights @ np.exp(logp)


def _shown(key, n, num_responses, k):
    # k distinct responses, uniformly: the first k of a random permutation
    return jnp.argsort(jax.random.uniform(key, (n, num_responses)), axis=-1)[:, :k]


def _judge(key, utilities, types, shown, rationality):
    # Plackett-Luce by the Gumbel trick: sorting utility + Gumbel noise gives a PL ranking
    u = jnp.take_along_axis(utilities[types], shown, axis=-1)
    scores = rationality * u + jax.random.gumbel(key, shown.shape)
    order = jnp.argsort(-scores, axis=-1)
    return jnp.take_along_axis(shown, order, axis=-1).astype(jnp.int32)


def sample_judgements(pop: Population, key, num_annotators: int, judgements_per_annotator: int = 1,
                      k: int = 2, hidden_context: bool = False) -> PreferenceData:
    """Annotators draw a type from the mixing weights and give ``judgements_per_annotator`` judgements.

    Args:
        pop: the population.
        key: PRNG key.
        num_annotators: annotators (ids ``0..num_annotators-1``).
        judgements_per_annotator: judgements each gives (rows are annotator-major).
        k: responses shown per judgement (2: pairs with BTL noise; >= 3: Plackett-Luce rankings).
        hidden_context: draw a fresh type for every judgement (the id does not reveal it).

    Returns:
        :class:`PreferenceData` with ``types`` the type behind each judgement.
    """
    for name, value, low in (("num_annotators", num_annotators, 1),
                             ("judgements_per_annotator", judgements_per_annotator, 1), ("k", k, 2)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if k > pop.num_responses:
        raise ConfigError(f"k={k} responses per judgement but the population has {pop.num_responses}")
    rankings, types = _sample(key, jnp.asarray(pop.utilities, jnp.float32), jnp.asarray(np.log(pop.weights), jnp.float32),
                              float(pop.rationality), num_annotators, judgements_per_annotator, k, hidden_context)
    annotator = np.repeat(np.arange(num_annotators, dtype=np.int32), judgements_per_annotator)
    return PreferenceData(np.asarray(rankings), annotator, pop.num_responses, np.asarray(types))


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _sample(key, utilities, log_weights, rationality, num_annotators, per, k, hidden_context):
    k_type, k_shown, k_judge = jax.random.split(key, 3)
    n = num_annotators * per
    if hidden_context:
        types = jax.random.categorical(k_type, log_weights, shape=(n,))
    else:
        types = jnp.repeat(jax.random.categorical(k_type, log_weights, shape=(num_annotators,)), per)
    shown = _shown(k_shown, n, utilities.shape[1], k)
    return _judge(k_judge, utilities, types, shown, rationality), types
