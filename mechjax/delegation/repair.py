"""The cap repair: a deterministic step that makes every realised delegation graph respect the cap.

A learned rule is a random policy ``D [b, n, n]``; the delegation graph it *deploys* is one draw
from it. Bounding expected weights (what training's constraint prices) does not bound a draw, so
the deployed rule passes every drawn graph through ``repair_delegates`` before it is resolved.

"Respects the cap" means, for a stochastic rule: in **every** realised delegation graph, every
caster holds at most ``cap`` votes (and then every expected weight is <= cap as well). That is the
quantity the evaluator measures (``realized_max_weight_max``) and the repair guarantees.

The repair (bottom-up, like GreedyCap's check but along chains):

* voters are visited from the lowest rank to the highest, where rank is the order ``allowed``
  delegates along (higher estimate first, ties by lower index), so everyone who delegates to a
  voter is visited before her and her held weight ``h`` (herself plus what she accepted) is final
  when she is visited;
* voter i keeps her drawn delegation to j only if it goes up (j ranks above i) and j would then
  hold ``h[j] + h[i] <= cap``; otherwise she casts herself, holding ``h[i]`` (<= cap);
* j's held weight only ever grows by accepted, checked additions, so every final caster holds at
  most ``cap`` votes, and no vote is lost (accepted delegations go up, so there are no cycles).

It is the identity on a drawn graph that goes up and already respects the cap (every held weight
is then at most its caster's weight). Among the delegators of an over-full proxy, the lower
ranked ones are accepted first: a voter told to cast herself costs the least accuracy when her
own competence estimate is high. The repair is deterministic given the drawn graph and the
estimates, jittable and batched over any leading axes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from mechjax.delegation.policy import sample_delegates
from mechjax.errors import DataError


def check_cap(cap, name: str = "cap") -> None:
    """Raises DataError naming ``name`` unless ``cap`` is a number >= 1 (a caster holds her own vote)."""
    if isinstance(cap, jax.core.Tracer):
        return
    values = np.asarray(cap, dtype=np.float64)
    bad = ~(values >= 1)
    if bad.any():
        raise DataError(f"{name} must be >= 1 (a caster holds at least her own vote), got {values[bad].flat[0]}")


def rank_of(estimate: Float[Array, "... n"]) -> Int[Array, "... n"]:
    """``[.., n]`` each voter's position in ``allowed``'s order: 0 for the highest estimate (ties by index)."""
    order = jnp.argsort(-estimate, axis=-1, stable=True)
    return jnp.argsort(order, axis=-1).astype(jnp.int32)  # the inverse permutation


def _repair_one(delegate, rank, cap):
    n = delegate.shape[-1]
    bottom_up = jnp.argsort(-rank)  # the lowest-ranked voter first

    def visit(state, i):
        held, target = state
        j = delegate[i]
        keep = (rank[j] < rank[i]) & (held[j] + held[i] <= cap)
        held = held.at[j].add(jnp.where(keep, held[i], 0))
        return (held, target.at[i].set(jnp.where(keep, j, i))), None

    init = (jnp.ones(n, jnp.int32), jnp.arange(n, dtype=jnp.int32))
    (_, target), _ = jax.lax.scan(visit, init, bottom_up)
    return target


_repair_batch = jax.jit(jax.vmap(_repair_one))  # one compilation per shape, also when called eagerly


def repair_delegates(delegates: Int[Array, "... n"], estimate: Float[Array, "... n"], cap: float):
    """Drawn delegation graphs made to respect the cap (see the module doc).

    Args:
        delegates: ``int [.., n]`` drawn graphs (``delegates[i] == i``: i casts); leading axes are
            broadcast against ``estimate``'s (e.g. ``[draws, b, n]`` with ``estimate [b, n]``).
        estimate: ``[.., n]`` the competence estimates that rank voters (as ``rules.allowed``).
        cap: the most votes any caster may hold (>= 1; weights are integers, so 5.5 acts as 5): a
            number, or one per graph (broadcast against ``delegates``' leading axes).

    Returns:
        ``(repaired int [.., n], rejected bool [.., n])``: ``repaired[i]`` is ``delegates[i]`` or
        ``i``; ``rejected[i]`` is True where i's drawn delegation was turned into casting. Every
        caster of ``repaired`` holds at most ``cap`` votes and no vote is lost in a cycle.

    Raises:
        DataError: ``cap`` < 1 (when concrete).
    """
    check_cap(cap)
    delegates = jnp.asarray(delegates).astype(jnp.int32)
    rank = jnp.broadcast_to(rank_of(jnp.asarray(estimate)), delegates.shape)
    n = delegates.shape[-1]
    flat_d, flat_r = delegates.reshape(-1, n), rank.reshape(-1, n)
    flat_cap = jnp.broadcast_to(jnp.asarray(cap, jnp.float32), delegates.shape[:-1]).reshape(-1)
    repaired = _repair_batch(flat_d, flat_r, flat_cap).reshape(delegates.shape)
    return repaired, repaired != delegates


def reference_repair(delegate, estimate, cap: float) -> np.ndarray:
    """Plain-Python :func:`repair_delegates` of one graph (a cross-check for the tests)."""
    d = [int(x) for x in np.asarray(delegate)]
    e = [float(x) for x in np.asarray(estimate, dtype=np.float32)]
    n = len(d)
    top_down = sorted(range(n), key=lambda i: (-e[i], i))
    rank = {v: r for r, v in enumerate(top_down)}
    held, out = [1] * n, list(range(n))
    for i in reversed(top_down):
        j = d[i]
        if rank[j] < rank[i] and held[j] + held[i] <= cap:
            held[j] += held[i]
            out[i] = j
    return np.array(out)


def capped_draws(key, policy: Float[Array, "b n n"], estimate: Float[Array, "b n"], cap: float, draws: int = 1):
    """The deployed rule: ``draws`` delegation graphs from ``policy``, each passed through the repair.

    Args:
        key: PRNG key.
        policy: ``[b, n, n]`` row-stochastic delegation policy (``D[i, i]``: i casts).
        estimate: ``[b, n]`` competence estimates (the order the repair visits voters in).
        cap: the most votes any caster may hold.
        draws: graphs per network.

    Returns:
        ``(repaired int [draws, b, n], rejected bool [draws, b, n])`` as :func:`repair_delegates`.
    """
    return repair_delegates(sample_delegates(key, policy, draws), estimate, cap)
