"""Log-likelihoods of judgements under reward models (all jittable, batch-first).

* Plackett-Luce: a ranking ``(a_1, ..., a_k)`` of the shown responses has probability
  ``prod_s exp(r[a_s]) / sum_{l >= s} exp(r[a_l])``; for ``k = 2`` this is Bradley-Terry-Luce.
* Distributional preference learning (DPL), pairs only: each response has a *distribution* of
  utility; ``P(a > b) = P(U_a > U_b)`` (+ half the tie mass). ``mean_variance``: ``U_a ~ N(mu_a,
  sigma_a^2)`` so ``P = Phi((mu_a - mu_b) / sqrt(sigma_a^2 + sigma_b^2))``; ``categorical``: ``U_a``
  on fixed atoms ``0 < 1/(n-1) < ... < 1`` with probabilities ``p_a``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr
from jaxtyping import Array, Float, Int


def plackett_luce(scores: Float[Array, "... k"]) -> Float[Array, "..."]:
    """Log-probability of the order ``scores[..., 0] > scores[..., 1] > ...`` (scores of the shown responses)."""
    # the tail log-sum-exps by a static backward recursion: k is small, and XLA's CPU cumlogsumexp
    # (a reduce-window) and even jnp.logaddexp are ~10x slower here than the plain max trick
    k = scores.shape[-1]
    tail = scores[..., k - 1]
    total = jnp.zeros_like(tail)
    for j in range(k - 2, -1, -1):
        top = jnp.maximum(scores[..., j], tail)
        tail = top + jnp.log(jnp.exp(scores[..., j] - top) + jnp.exp(tail - top))
        total = total + scores[..., j] - tail
    return total


def ranking_loglik(rewards: Float[Array, " responses"], rankings: Int[Array, "judgements k"]) -> Float[Array, " judgements"]:
    """Plackett-Luce log-likelihood of each judgement under rewards ``[K]``."""
    return plackett_luce(rewards[rankings])


def mean_variance_pairs(mean: Float[Array, " responses"], log_std: Float[Array, " responses"],
                        pairs: Int[Array, "judgements 2"]) -> Float[Array, " judgements"]:
    """log P(winner > loser) for ``pairs [n, 2]`` (winner first) under independent Gaussians."""
    var = jnp.exp(2.0 * log_std)
    a, b = pairs[:, 0], pairs[:, 1]
    z = (mean[a] - mean[b]) / jnp.sqrt(var[a] + var[b] + 1e-6)
    return jnp.log(jnp.clip(ndtr(z), 1e-12, 1.0))


def categorical_pairs(logits: Float[Array, "responses atoms"], pairs: Int[Array, "judgements 2"]) -> Float[Array, " judgements"]:
    """log P(winner > loser) + half the tie mass, utilities on ``n`` fixed ascending atoms."""
    p = jax.nn.softmax(logits, axis=-1)
    pa, pb = p[pairs[:, 0]], p[pairs[:, 1]]
    below = jnp.cumsum(pb, axis=-1) - pb  # P(U_b < atom i)
    win = jnp.sum(pa * (below + 0.5 * pb), axis=-1)
    return jnp.log(jnp.clip(win, 1e-12, 1.0))


def categorical_moments(logits: Float[Array, "responses atoms"]) -> tuple[Float[Array, " responses"], Float[Array, " responses"]]:
    """Mean and variance of each response's categorical utility on atoms ``linspace(0, 1, n)``."""
    p = jax.nn.softmax(logits, axis=-1)
    atoms = jnp.linspace(0.0, 1.0, logits.shape[-1])
    mean = p @ atoms
    return mean, p @ atoms ** 2 - mean ** 2


def explained_variance(mean: Float[Array, " responses"], var: Float[Array, " responses"]) -> tuple[Float[Array, ""], Float[Array, " responses"]]:
    """The r^2 diagnostic of hidden context.

    Returns:
        ``(r2, r2_per_response)``: ``r2 = Var_a(mu) / (Var_a(mu) + E_a[sigma^2])`` over responses
        (1 when the response explains all utility variation), and per response ``Var_a(mu) /
        (Var_a(mu) + sigma_a^2)`` (low where annotators disagree about that response).
    """
    between = jnp.var(mean)
    return between / (between + jnp.mean(var)), between / (between + var)
