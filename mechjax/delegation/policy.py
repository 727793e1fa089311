"""Random delegation policies: expected weights exactly, accuracy by drawing delegation graphs.

A policy ``D [b, n, n]`` (row-stochastic, ``D[i, i]`` = cast) induces random delegation graphs, one
independent choice per voter. The *expected* weight of every voter is exact: with ``Q`` the
off-diagonal (delegation) part, ``v = (I - Q^T)^{-1} 1`` is the expected number of voters whose
chain passes through j, and j keeps the fraction ``D[j, j]`` of it. This needs every chain to end
(the upward policies of ``rules`` are acyclic). Accuracy is exact for each drawn graph (the
weighted-majority dynamic program) and averaged over ``draws`` graphs per instance (exact for
deterministic policies, whose draws all coincide).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mechjax.delegation.accuracy import correct_weight_distribution, majority_accuracy_from_distribution
from mechjax.delegation.power import gini
from mechjax.delegation.resolve import _resolve_one


def expected_weight(policy, method: str = "solve"):
    """``[b, n]`` expected votes each voter casts under ``policy [b, n, n]`` (differentiable).

    ``method="solve"`` solves the linear system; ``"iterate"`` runs ``v <- 1 + Q^T v`` n times,
    exact for acyclic policies (``Q`` is then nilpotent) and free of LAPACK calls, which is what
    the training step uses.
    """
    n = policy.shape[-1]
    eye = jnp.eye(n, dtype=policy.dtype)
    delegation = policy * (1.0 - eye)[None]
    if method == "iterate":
        ones = jnp.ones(policy.shape[:-1], policy.dtype)
        visits = jax.lax.fori_loop(0, n, lambda _, v: ones + jnp.einsum("bij,bi->bj", delegation, v), ones)
    else:
        visits = jnp.linalg.solve(eye[None] - jnp.swapaxes(delegation, -1, -2),
                                  jnp.ones(policy.shape[:-1] + (1,), policy.dtype))[..., 0]
    return visits * jnp.diagonal(policy, axis1=-2, axis2=-1)


def sample_delegates(key, policy, draws: int):
    """``int [draws, b, n]`` delegation graphs drawn from ``policy [b, n, n]``."""
    logits = jnp.log(jnp.maximum(policy, 1e-30))
    return jax.random.categorical(key, logits[None], axis=-1, shape=(draws,) + policy.shape[:-1]).astype(jnp.int32)


def weights_of(delegates):
    """``int [.., n]`` weights of delegation graphs ``[.., n]`` (resolution, vmapped over leading axes)."""
    flat = delegates.reshape(-1, delegates.shape[-1])
    return jax.vmap(lambda d: _resolve_one(d, False))(flat).weight.reshape(delegates.shape)


def draw_accuracy(weights, competence):
    """``[draws, b]`` exact accuracy of each drawn graph (``weights [draws, b, n]``)."""
    n = weights.shape[-1]
    comp = jnp.broadcast_to(competence[None], weights.shape)
    dist = correct_weight_distribution(weights, comp, n)
    return majority_accuracy_from_distribution(dist, weights.sum(-1))


class PolicyReport(NamedTuple):
    """Per-instance measures of a policy (all ``[b]``)."""

    accuracy: jax.Array  # mean over draws of the exact accuracy
    expected_max_weight: jax.Array  # max_j E[weight_j]
    realized_max_weight: jax.Array  # E[max_j weight_j]
    gini: jax.Array  # E[Gini of the weights]
    casters: jax.Array  # E[number of casters]


@functools.partial(jax.jit, static_argnames="draws")
def evaluate_policy(key, policy, competence, draws: int = 32) -> PolicyReport:
    """Measures ``policy [b, n, n]`` on voters of true ``competence [b, n]`` (one compiled program per
    shape; op by op, dozens of small programs were compiled per shape)."""
    delegates = sample_delegates(key, policy, draws)
    weights = weights_of(delegates)
    acc = draw_accuracy(weights, competence)
    return PolicyReport(
        accuracy=acc.mean(0),
        expected_max_weight=expected_weight(policy).max(-1),
        realized_max_weight=weights.max(-1).astype(jnp.float32).mean(0),
        gini=gini(weights).mean(0),
        casters=(weights > 0).sum(-1).astype(jnp.float32).mean(0),
    )
