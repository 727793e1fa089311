"""Social networks and competences to delegate on: graph families and literature instances.

Graphs are dense symmetric adjacency matrices ``bool [batch, n, n]`` with an empty diagonal (who
may delegate to whom); competences are ``float [batch, n]`` in [0, 1]. Every sampler is a pure
JAX function of a key, so the learned-delegation problem can draw fresh graphs inside ``jit``.

Families: ``complete``, ``erdos_renyi`` (each edge with probability ``edge_prob``), ``star``
(voter 0 is the hub), ``preferential_attachment`` (Barabasi-Albert: each new voter links to
``attach`` earlier voters chosen with probability proportional to degree, without repetition),
and ``random_delegations`` (delegation graphs with cycles, for testing resolution).

Instances after Kahng, Mackenzie and Procaccia (2021): ``star_instance`` (a competent hub that
every leaf approves: a local rule concentrates every vote in one hand) and ``experts_instance``
(a few experts in a crowd below one half on a complete graph: delegation is needed to decide
well, and one expert alone is not enough).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from mechjax.errors import DataError

FAMILIES = ("complete", "erdos_renyi", "star", "preferential_attachment")


class Instance(NamedTuple):
    """Voters on a network.

    Attributes:
        adjacency: ``bool [b, n, n]`` symmetric, empty diagonal.
        competence: ``float [b, n]`` true probabilities of voting correctly.
        estimate: ``float [b, n]`` what voters and mechanisms see of the competences.
    """

    adjacency: Bool[Array, "b n n"]
    competence: Float[Array, "b n"]
    estimate: Float[Array, "b n"]


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise DataError(f"n must be a positive integer, got {n!r}")


def complete(batch: int, n: int) -> Bool[Array, "b n n"]:
    """Complete graphs."""
    _check_n(n)
    return jnp.broadcast_to(~jnp.eye(n, dtype=bool), (batch, n, n))


def star(batch: int, n: int) -> Bool[Array, "b n n"]:
    """Stars with hub 0."""
    _check_n(n)
    hub = (jnp.arange(n) == 0)
    adj = (hub[:, None] | hub[None, :]) & ~jnp.eye(n, dtype=bool)
    return jnp.broadcast_to(adj, (batch, n, n))


def erdos_renyi(key, batch: int, n: int, edge_prob: float) -> Bool[Array, "b n n"]:
    """G(n, p) graphs: every pair linked independently with probability ``edge_prob``."""
    _check_n(n)
    if not 0 <= edge_prob <= 1:
        raise DataError(f"edge_prob must be in [0, 1], got {edge_prob}")
    upper = jax.random.bernoulli(key, edge_prob, (batch, n, n)) & jnp.triu(jnp.ones((n, n), bool), 1)[None]
    return upper | jnp.swapaxes(upper, -1, -2)


def _pa_one(key, n: int, attach: int):
    core = min(attach + 1, n)
    first = jnp.arange(n) < core
    adj = (first[:, None] & first[None, :]) & ~jnp.eye(n, dtype=bool)  # a clique seeds the process

    def grow(adj, t_key):
        t, k = t_key
        degree = adj.sum(-1).astype(jnp.float32)
        earlier = jnp.arange(n) < t
        # Gumbel top-k: ``attach`` distinct targets with probability proportional to degree
        score = jnp.where(earlier & (degree > 0), jnp.log(jnp.maximum(degree, 1e-9)) + jax.random.gumbel(k, (n,)), -jnp.inf)
        top = jax.lax.top_k(score, attach)[1]
        row = jnp.zeros(n, bool).at[top].set(jnp.isfinite(score[top]))
        row = row & (t >= core)
        return adj.at[t].set(adj[t] | row).at[:, t].set(adj[:, t] | row), None

    steps = jnp.arange(n)
    adj, _ = jax.lax.scan(grow, adj, (steps, jax.random.split(key, n)))
    return adj


def preferential_attachment(key, batch: int, n: int, attach: int = 2) -> Bool[Array, "b n n"]:
    """Barabasi-Albert graphs: a clique of ``attach + 1`` voters, then each voter links to ``attach``."""
    _check_n(n)
    if not isinstance(attach, int) or attach < 1:
        raise DataError(f"attach must be a positive integer, got {attach!r}")
    return jax.vmap(lambda k: _pa_one(k, n, attach))(jax.random.split(key, batch))


def sample_graphs(key, family: str, batch: int, n: int, edge_prob: float = 0.2, attach: int = 2):
    """Graphs of family ``family`` (one of ``FAMILIES``)."""
    if family == "complete":
        return complete(batch, n)
    if family == "star":
        return star(batch, n)
    if family == "erdos_renyi":
        return erdos_renyi(key, batch, n, edge_prob)
    if family == "preferential_attachment":
        return preferential_attachment(key, batch, n, attach)
    raise DataError(f"family must be one of {FAMILIES}, got {family!r}")


def random_delegations(key, batch: int, n: int, cast_prob: float = 0.2):
    """``int [batch, n]`` delegation graphs: each voter casts with ``cast_prob``, else picks a
    uniformly random other voter (so cycles are common); for testing resolution."""
    _check_n(n)
    k_cast, k_to = jax.random.split(key)
    other = jax.random.randint(k_to, (batch, n), 0, max(n - 1, 1))
    other = other + (other >= jnp.arange(n)[None])  # skip oneself
    cast = jax.random.uniform(k_cast, (batch, n)) < cast_prob
    return jnp.where(cast | (n == 1), jnp.arange(n)[None], other).astype(jnp.int32)


def star_instance(key, batch: int, n: int, hub: float = 0.75, low: float = 0.55, high: float = 0.65) -> Instance:
    """Kahng et al.'s harm for local rules: a hub of competence ``hub`` whom every leaf (competence
    ``U[low, high]``) approves. Direct voting tends to 1 as n grows; all leaves delegating to the
    hub leaves accuracy ``hub``. Estimates equal competences."""
    _check_n(n)
    p = jax.random.uniform(key, (batch, n), minval=low, maxval=high).at[:, 0].set(hub)
    return Instance(star(batch, n), p, p)


def experts_instance(key, batch: int, n: int, experts: int, expert: float = 0.8, low: float = 0.4,
                     high: float = 0.48) -> Instance:
    """A complete graph with ``experts`` voters of competence ``expert`` among voters of competence
    ``U[low, high]`` (below one half): direct voting tends to 0, one expert holding every vote
    gives ``expert``, spreading the votes over many experts tends to 1."""
    _check_n(n)
    if not 0 <= experts <= n:
        raise DataError(f"experts must be in [0, n={n}], got {experts}")
    p = jax.random.uniform(key, (batch, n), minval=low, maxval=high)
    p = jnp.where(jnp.arange(n)[None] < experts, expert, p)
    return Instance(complete(batch, n), p, p)
