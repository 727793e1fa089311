"""Delegation mechanisms as policies: ``inputs -> D [b, n, n]``, a row-stochastic matrix where
``D[.., i, i]`` is the probability that voter i casts her vote and ``D[.., i, j]`` that she
delegates it to j. Deterministic rules give one-hot rows; learned rules give any distribution.

Voters only ever delegate *upward*: to a neighbour whose competence estimate is higher (ties by
lower index), which is what ``allowed`` encodes; delegation graphs are then acyclic and no vote is
lost. A neighbour is *approved* (Kahng, Mackenzie and Procaccia) when her estimate exceeds one's own
by more than ``alpha``.

* ``direct``: everyone casts.
* ``local_best``: a voter with at least ``threshold`` approved neighbours delegates to the most
  competent of them (a local rule: it sees only her neighbourhood).
* ``local_random``: a voter with an approved neighbour delegates with probability ``prob`` to one
  of them chosen uniformly (local).
* ``weighted``: a voter picks among herself and her approved neighbours with probability
  proportional to ``exp(estimate / temperature)`` (competence-weighted random delegation, local).
* ``greedy_cap``: non-local, with a weight cap. Voters decide in decreasing order of estimate;
  each delegates to her most competent approved neighbour who casts and still holds fewer than
  ``cap`` votes, or casts herself. Every delegation goes straight to a caster, so every caster
  holds at most ``cap`` votes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from mechjax.errors import DataError

RULE_NAMES = ("direct", "local_best", "local_random", "weighted", "greedy_cap")


class DelegationInputs(NamedTuple):
    """What a delegation mechanism sees (batch-first).

    Attributes:
        estimate: ``[b, n]`` competence estimates.
        adjacency: ``bool [b, n, n]`` the network.
    """

    estimate: Float[Array, "b n"]
    adjacency: Bool[Array, "b n n"]


def allowed(inputs: DelegationInputs) -> Bool[Array, "b n n"]:
    """``[b, n, n]``: i may delegate to j (a neighbour with a higher estimate; ties by lower index)."""
    e = inputs.estimate
    n = e.shape[-1]
    idx = jnp.arange(n)
    higher = (e[:, None, :] > e[:, :, None]) | ((e[:, None, :] == e[:, :, None]) & (idx[None, :] < idx[:, None])[None])
    return inputs.adjacency & higher


def approved(inputs: DelegationInputs, alpha: float) -> Bool[Array, "b n n"]:
    """``[b, n, n]``: j is a neighbour of i whose estimate exceeds i's by more than ``alpha``."""
    e = inputs.estimate
    return allowed(inputs) & (e[:, None, :] > e[:, :, None] + alpha)


def direct(inputs: DelegationInputs):
    b, n = inputs.estimate.shape
    return jnp.broadcast_to(jnp.eye(n), (b, n, n))


def local_best(inputs: DelegationInputs, alpha: float = 0.05, threshold: int = 1):
    ok = approved(inputs, alpha)
    n = ok.shape[-1]
    best = jnp.argmax(jnp.where(ok, inputs.estimate[:, None, :], -jnp.inf), -1)
    go = ok.sum(-1) >= threshold
    target = jnp.where(go, best, jnp.arange(n)[None])
    return jax.nn.one_hot(target, n)


def local_random(inputs: DelegationInputs, alpha: float = 0.05, prob: float = 0.5):
    ok = approved(inputs, alpha).astype(jnp.float32)
    n = ok.shape[-1]
    count = ok.sum(-1, keepdims=True)
    go = prob * (count > 0)
    return go * ok / jnp.maximum(count, 1.0) + (1.0 - go) * jnp.eye(n)[None]


def weighted(inputs: DelegationInputs, alpha: float = 0.05, temperature: float = 0.05):
    n = inputs.estimate.shape[-1]
    ok = approved(inputs, alpha) | jnp.eye(n, dtype=bool)[None]
    logits = jnp.where(ok, inputs.estimate[:, None, :] / temperature, -jnp.inf)
    return jax.nn.softmax(logits, -1)


def _greedy_cap_one(estimate, ok, cap):
    n = estimate.shape[0]
    order = jnp.argsort(-estimate, stable=True)

    def decide(state, i):
        weight, casts, target = state
        free = ok[i] & casts & (weight < cap)
        j = jnp.argmax(jnp.where(free, estimate, -jnp.inf))
        go = free.any()
        choice = jnp.where(go, j, i)
        weight = weight.at[choice].add(1)
        casts = casts.at[i].set(~go)
        return (weight, casts, target.at[i].set(choice)), None

    init = (jnp.zeros(n, jnp.int32), jnp.ones(n, bool), jnp.arange(n))
    (_, _, target), _ = jax.lax.scan(decide, init, order)
    return target


def greedy_cap_delegates(inputs: DelegationInputs, cap: int, alpha: float = 0.05):
    """``int [b, n]`` GreedyCap delegation graph (see the module doc); every caster holds <= cap votes."""
    if cap < 1:
        raise DataError(f"cap must be >= 1 (a caster holds her own vote), got {cap}")
    ok = approved(inputs, alpha)
    return jax.vmap(lambda e, a: _greedy_cap_one(e, a, cap))(inputs.estimate, ok)


def greedy_cap(inputs: DelegationInputs, cap: int = 10, alpha: float = 0.05):
    n = inputs.estimate.shape[-1]
    return jax.nn.one_hot(greedy_cap_delegates(inputs, cap, alpha), n)


def make_rule(name: str, alpha: float = 0.05, threshold: int = 1, prob: float = 0.5, temperature: float = 0.05,
              cap: float = 10):
    """``inputs -> D`` for rule ``name`` (one of ``RULE_NAMES``), with its settings bound."""
    if name not in RULE_NAMES:
        raise DataError(f"rule must be one of {RULE_NAMES}, got {name!r}")
    if alpha < 0:
        raise DataError(f"alpha must be >= 0, got {alpha}")
    if cap < 0:
        raise DataError(f"cap must be >= 0, got {cap}")
    if not 0 <= prob <= 1:
        raise DataError(f"prob must be in [0, 1], got {prob}")
    if not temperature > 0:
        raise DataError(f"temperature must be > 0, got {temperature}")
    if name == "direct":
        return direct
    if name == "local_best":
        return lambda x: local_best(x, alpha, threshold)
    if name == "local_random":
        return lambda x: local_random(x, alpha, prob)
    if name == "weighted":
        return lambda x: weighted(x, alpha, temperature)
    return lambda x: greedy_cap(x, max(int(cap), 1), alpha)
