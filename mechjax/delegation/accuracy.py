"""Truth-tracking: the exact probability that a weighted majority decides a binary issue correctly.

Each caster j votes correctly with probability ``competence[j]``, independently, with ``weight[j]``
votes. The correct side's weight ``C = sum_j weight[j] X_j`` has a distribution on ``0..T``
(``T = sum_j weight[j]``), computed exactly by a dynamic program over casters: adding caster j
mixes the distribution with itself shifted by ``weight[j]``. The majority is correct when
``C > T / 2``; a tie (``C = T / 2``) is broken by a fair coin, so it counts one half. With no
votes at all (``T = 0``) the decision is a coin flip: accuracy 1/2.

Monte Carlo (``accuracy_monte_carlo``) exists only as a cross-check, with its standard error.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.errors import DataError


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_competence(competence, name: str = "competence") -> None:
    """Raises DataError naming ``name`` unless every entry is a finite number in [0, 1]."""
    if not _concrete(competence):
        return
    p = np.asarray(competence, dtype=np.float64)
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        raise DataError(f"{name}{list(where)} = {float(p[where])} is not a probability: competences must be in [0, 1]")


def check_weight(weight, name: str = "weight") -> None:
    """Raises DataError naming ``name`` unless every entry is a non-negative integer (any dtype)."""
    if not _concrete(weight):
        return
    w = np.asarray(weight, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0) | (w != np.round(w))
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        raise DataError(f"{name}{list(where)} = {float(w[where])}: weights must be non-negative integers")


def correct_weight_distribution(weight, competence, max_total: int):
    """``[.., max_total + 1]``: P(the correct side holds exactly c votes), c = 0..max_total.

    ``weight`` must sum to at most ``max_total`` (integer-valued, any dtype); jittable and
    differentiable in ``competence``.
    """
    weight = jnp.asarray(weight).astype(jnp.int32)
    competence = jnp.asarray(competence, jnp.float32)
    lead = weight.shape[:-1]
    dist0 = jnp.zeros(lead + (max_total + 1,), jnp.float32).at[..., 0].set(1.0)
    index = jnp.arange(max_total + 1).reshape((1,) * len(lead) + (max_total + 1,))

    def add_caster(dist, wp):
        w, p = wp
        # shift by w: the entries past the running total are zero, so nothing real falls off the end
        src = index - w[..., None]
        shifted = jnp.where(src >= 0, jnp.take_along_axis(dist, jnp.maximum(src, 0), -1), 0.0)
        return (1.0 - p[..., None]) * dist + p[..., None] * shifted, None

    dist, _ = jax.lax.scan(add_caster, dist0, (jnp.moveaxis(weight, -1, 0), jnp.moveaxis(competence, -1, 0)))
    return dist


def majority_accuracy_from_distribution(dist, total):
    """P(correct) from the correct-weight distribution ``[.., T+1]`` and totals ``[..]`` (ties half)."""
    total = jnp.asarray(total)[..., None]
    twice = 2 * jnp.arange(dist.shape[-1]).reshape((1,) * (total.ndim - 1) + (dist.shape[-1],))
    score = jnp.where(twice > total, 1.0, jnp.where(twice == total, 0.5, 0.0))
    return jnp.sum(dist * score, -1)


def accuracy(weight: Float[Array, "... n"], competence: Float[Array, "... n"], max_total: int | None = None):
    """Exact probability that the weighted majority is correct (ties count one half).

    Args:
        weight: ``[n]`` or ``[batch, n]`` non-negative integer vote weights (e.g. from ``resolve``).
        competence: same shape, each caster's probability of voting correctly, in [0, 1].
        max_total: static bound on the total weight (default ``n``, which resolution never exceeds;
            give it explicitly when calling under ``jit`` with larger weights).

    Returns:
        ``[]`` or ``[batch]`` probabilities.

    Raises:
        DataError: competences outside [0, 1], negative or fractional weights, or mismatched
            shapes (checked when the inputs are concrete).
    """
    check_weight(weight)
    check_competence(competence)
    weight, competence = jnp.asarray(weight), jnp.asarray(competence)
    if weight.shape != competence.shape:
        raise DataError(f"weight {weight.shape} and competence {competence.shape} must have the same shape")
    if max_total is None:
        max_total = weight.shape[-1]
        if _concrete(weight) and weight.size and int(np.asarray(weight).sum(-1).max()) > max_total:
            max_total = int(np.asarray(weight).sum(-1).max())
    total = weight.astype(jnp.int32).sum(-1)
    return majority_accuracy_from_distribution(correct_weight_distribution(weight, competence, max_total), total)


def accuracy_monte_carlo(key, weight, competence, samples: int = 10_000):
    """Monte Carlo estimate of :func:`accuracy` and its standard error (a cross-check only).

    Args:
        key: PRNG key.
        weight, competence: ``[.., n]`` as for :func:`accuracy`.
        samples: independent draws of the casters' votes per instance.

    Returns:
        ``(estimate [..], standard_error [..])``.
    """
    check_weight(weight)
    check_competence(competence)
    weight = jnp.asarray(weight, jnp.float32)
    competence = jnp.asarray(competence, jnp.float32)
    correct = jax.random.uniform(key, (samples,) + competence.shape) < competence[None]
    c = jnp.sum(correct * weight[None], -1)
    total = weight.sum(-1)[None]
    score = jnp.where(2 * c > total, 1.0, jnp.where(2 * c == total, 0.5, 0.0))
    mean = score.mean(0)
    return mean, score.std(0) / np.sqrt(samples)
