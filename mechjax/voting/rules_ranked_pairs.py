"""Ranked pairs, over all tie-breaking orders and resolute (see ``mechjax.voting.rules``)."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting.rules_base import NO_EDGE, Winners, pairwise_margins, voting_rule

RANKED_PAIRS_MAX_CANDIDATES = 8  # enumerates all m! orders
BITMASK_MAX_CANDIDATES = 30  # resolute locking on int32 bitmasks up to here


@functools.lru_cache(maxsize=None)
def _orders(m: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(m))), np.int32)


def _stack_tops(margin, orders):
    """Which orders are stacks (Zavist-Tideman), as a top-candidate mask per profile.

    An order L is a stack iff for every x above y in L there is a path from x to y going down L
    whose margins are all >= margin(y, x); the widest such path is a Floyd-Warshall over the
    forward edges of L.
    """
    m = margin.shape[-1]
    mp = margin[:, orders[:, :, None], orders[:, None, :]]  # [b, o, i, j] in L's coordinates
    forward = np.triu(np.ones((m, m), bool), 1)
    widest = jnp.where(forward, mp, NO_EDGE)
    for k in range(m):
        widest = jnp.maximum(widest, jnp.minimum(widest[..., :, k, None], widest[..., None, k, :]))
    stack = jnp.where(forward, widest >= jnp.swapaxes(mp, -1, -2), True).all((-1, -2))  # [b, o]
    tops = np.arange(m)[None, :] == orders[:, :1]  # [o, m]
    return (stack[..., None] & tops[None]).any(-2)


@voting_rule(RANKED_PAIRS_MAX_CANDIDATES)
def ranked_pairs(rankings, weights=None) -> Winners:
    """Ranked pairs winners under *all* tie-breaking orders of equal margins (pref_voting ``ranked_pairs``).

    pref_voting locks edges of margin >= 0 (zero margins in both directions) strongest first,
    skipping those that close a cycle, once per ordering of equal-strength edges, and returns the
    top of every locked order. By Zavist and Tideman (1989) those tops are exactly the tops of
    *stacks*, so we enumerate all m! orders (in chunks, to bound memory) and keep stack tops.
    Exact up to ``RANKED_PAIRS_MAX_CANDIDATES``. ``ranked_pairs_tb`` is the resolute variant.
    """
    m = rankings.shape[-1]
    margin = pairwise_margins(rankings, weights)
    orders = _orders(m)
    chunk = int(max(1, min(len(orders), 2 ** 22 // (rankings.shape[0] * m * m))))
    pad = (-len(orders)) % chunk
    orders = np.concatenate([orders, np.repeat(orders[:1], pad, 0)]).reshape(-1, chunk, m)
    if len(orders) == 1:  # one chunk: no loop
        return _stack_tops(margin, orders[0])

    def body(tops, chunk_orders):
        return tops | _stack_tops(margin, chunk_orders), None

    start = jnp.zeros((rankings.shape[0], m), bool)
    return jax.lax.scan(body, start, jnp.asarray(orders))[0]


@voting_rule()
def ranked_pairs_tb(rankings, weights=None) -> Winners:
    """Resolute ranked pairs with candidate index order as tie-breaker (pref_voting ``ranked_pairs_tb``).

    Edges (x, y) with margin >= 0 are locked by decreasing margin; equal margins go in
    lexicographic order of (x, y). The winner is the top of the resulting linear order.
    """
    m = rankings.shape[-1]
    if m == 1:
        return jnp.ones(rankings.shape[::2], bool)
    margin = pairwise_margins(rankings, weights)
    src, dst = np.nonzero(~np.eye(m, dtype=bool))  # all ordered pairs, lexicographic
    edges = src.size
    edge_margin = margin[:, src, dst]  # [b, e]
    valid = edge_margin >= 0
    # Each edge's place in the locking order, by counting the edges that go before it (a sort
    # would be far slower on CPU): valid ones first, then stronger, then lower (x, y) index.
    key = jnp.where(valid, -edge_margin, jnp.iinfo(jnp.int32).max // 2)
    earlier = np.arange(edges)[:, None] < np.arange(edges)[None, :]  # [e', e]: e' has lower index
    goes_before = (key[:, :, None] < key[:, None, :]) | ((key[:, :, None] == key[:, None, :]) & earlier[None])
    place = goes_before.sum(1)  # [b, e]
    if m <= BITMASK_MAX_CANDIDATES:
        return _lock_bitmasks(place, valid, src, dst, m)
    src_hot, dst_hot = np.arange(m)[None] == src[:, None], np.arange(m)[None] == dst[:, None]  # [e, m]

    def lock(step, above):  # above[x, y]: x locked above y (transitively closed)
        this = place == step  # [b, e]: exactly one edge
        x = (this[:, :, None] & src_hot[None]).any(1)  # [b, m] one-hot
        y = (this[:, :, None] & dst_hot[None]).any(1)
        ok = (this & valid).any(-1)
        reverse = (above & y[:, :, None] & x[:, None, :]).any((1, 2))  # y already above x
        ups = (above & x[:, None, :]).any(-1) | x  # everything at or above x
        downs = (above & y[:, :, None]).any(-2) | y  # everything at or below y
        return above | ((ok & ~reverse)[:, None, None] & ups[:, :, None] & downs[:, None, :])

    # A loop, not unrolled: XLA would fuse the unrolled chain into one kernel that recomputes
    # earlier steps (compiling for 10x longer, running no faster).
    above = jax.lax.fori_loop(0, edges, lock, jnp.zeros(margin.shape, bool))
    return ~above.any(-2)


def _lock_bitmasks(place, valid, src, dst, m: int) -> Winners:
    """Locks edges in ``place`` order with ``reach[c]`` = bitmask of candidates at or below ``c``.

    Edge (x, y) is skipped when x is already at or below y; otherwise everything at or above x
    gains everything at or below y (transitive closure kept up to date). Returns the candidates
    below nobody.
    """
    edges = src.size
    step = np.arange(edges)[None, None, :]
    at_step = place[:, :, None] == step  # [b, e, step]: one edge per step
    x = jnp.where(at_step, src[None, :, None], 0).sum(1).T  # [step, b]
    y = jnp.where(at_step, dst[None, :, None], 0).sum(1).T
    ok = (at_step & valid[:, :, None]).any(1).T
    candidates = jnp.arange(m, dtype=jnp.int32)[None, :]
    bit = jnp.left_shift(1, candidates)

    def lock(reach, edge):  # reach: [b, m] int32
        x, y, ok = edge
        reach_y = jnp.where(candidates == y[:, None], reach, 0).sum(-1)  # [b]
        add = ok & (((reach_y >> x) & 1) == 0)
        at_or_above_x = ((reach >> x[:, None]) & 1) == 1
        return jnp.where(add[:, None] & at_or_above_x, reach | reach_y[:, None], reach), None

    start = jnp.broadcast_to(bit, (place.shape[0], m))
    reach = jax.lax.scan(lock, start, (x, y, ok))[0]
    below_someone = jnp.bitwise_or.reduce(reach & ~bit, axis=-1)  # [b]
    return ((below_someone[:, None] >> candidates) & 1) == 0
