"""Ranked pairs, over all tie-breaking orders and resolute (see ``mechjax.voting.rules``)."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting.rules_base import NO_EDGE, Winners, edge_margins_batch_last, pairwise_margins, voting_rule

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
    if m <= BITMASK_MAX_CANDIDATES:
        return _ranked_pairs_tb_bitmasks(rankings, weights)
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


def _ranked_pairs_tb_bitmasks(rankings, weights) -> Winners:
    """``ranked_pairs_tb`` for up to ``BITMASK_MAX_CANDIDATES`` candidates, batch last throughout.

    The edges' margins are laid out ``[edges, batch]`` (see ``rules_base.positions_batch_last``). Each
    edge's place in the locking order is the number of edges going before it under a strict key
    (valid first, stronger first, then lower ``(x, y)`` index); the edge locked at each step is
    then written to its place by a scatter (one edge per place: the places are a permutation).
    ``optimization_barrier`` keeps XLA from fusing the margins' reduction into the pairwise
    comparisons, which would recompute it for every pair of edges (measured 3.5x slower).
    """
    m = rankings.shape[-1]
    edge_margin, src, dst = edge_margins_batch_last(rankings, weights)  # [e, b]: (x, y) lexicographic
    edges, batch = edge_margin.shape
    edge_margin = jax.lax.optimization_barrier(edge_margin)
    valid = edge_margin >= 0
    key = jnp.where(valid, -edge_margin, jnp.iinfo(jnp.int32).max // 2)  # valid first, stronger first
    index = np.arange(edges)[:, None]
    place = jnp.zeros_like(key)
    for e in range(edges):  # place[e'] = number of edges going before e': smaller key, or equal and lower index
        place = place + ((key[e][None] < key) | ((key[e][None] == key) & (e < index))).astype(jnp.int32)
    code = jnp.where(valid, 1 << 10, 0) + jnp.asarray(src * 32 + dst, jnp.int32)[:, None]  # valid, x, y
    columns = jnp.broadcast_to(jnp.arange(batch)[None], (edges, batch))
    at_step = jnp.zeros((edges, batch), jnp.int32).at[jax.lax.optimization_barrier(place), columns].set(
        code, unique_indices=True)  # [step, b]
    x, y, ok = (at_step >> 5) & 31, at_step & 31, at_step >= 1 << 10
    candidates = jnp.arange(m, dtype=jnp.int32)[:, None]
    bit = jnp.left_shift(1, candidates)  # [m, 1]

    def lock(reach, edge):  # reach[c, b]: bitmask of the candidates at or below c
        x, y, ok = (part[None] for part in edge)  # [1, b] each
        reach_y = jnp.where(candidates == y, reach, 0).sum(0, keepdims=True)
        add = ok & (((reach_y >> x) & 1) == 0)  # skip when x is already at or below y
        at_or_above_x = ((reach >> x) & 1) == 1
        return jnp.where(add & at_or_above_x, reach | reach_y, reach), None

    reach = jax.lax.scan(lock, jnp.broadcast_to(bit, (m, batch)), (x, y, ok))[0]
    below_someone = jnp.bitwise_or.reduce(reach & ~bit, axis=0, keepdims=True)  # [1, b]
    return (((below_someone >> candidates) & 1) == 0).T
