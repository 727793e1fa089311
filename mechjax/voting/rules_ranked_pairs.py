"""Ranked pairs, over all tie-breaking orders and resolute (see ``mechjax.voting.rules``)."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting.rules_base import NO_EDGE, Winners, pair_margins_batch_last, pairwise_margins, voting_rule

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

    Only one edge per unordered pair ``{x, y}`` can change the locked order: ``(x, y)`` when its
    margin is positive, and when it is zero the lexicographically first of ``(x, y)`` and
    ``(y, x)``, both valid and equally strong; the second then finds the pair already ordered
    (locked, or skipped because the other way round is already implied) and changes nothing.
    Edges of negative margin are never locked. So the pairs are locked, one edge each, by
    decreasing strength ``|margin|`` and then by the index of that edge: half the steps, a
    quarter of the ordering work, and no invalid edges.

    The margins are laid out ``[pairs, batch]`` (see ``rules_base.positions_batch_last``). Each
    pair's place in the locking order is the number of pairs going before it under that strict
    key; the edge locked at each step is then written to its place by a scatter (the places are a
    permutation). ``optimization_barrier`` keeps XLA from fusing the margins' reduction into the
    pairwise comparisons, which would recompute it for every two pairs (measured 3.5x slower).
    """
    m = rankings.shape[-1]
    margin, xs, ys = pair_margins_batch_last(rankings, weights)  # [p, b]: margin of (x, y), x < y
    pairs, batch = margin.shape
    margin = jax.lax.optimization_barrier(margin)
    forward = margin >= 0  # lock (x, y), else (y, x)
    strength = jnp.abs(margin)
    code = jnp.where(forward, (xs * 32 + ys)[:, None], (ys * 32 + xs)[:, None])  # the edge: x * 32 + y
    place = jnp.zeros_like(code)
    for p in range(pairs):  # place[q] = number of pairs going before q: stronger, or as strong and a lower edge
        place = place + ((strength[p][None] > strength)
                         | ((strength[p][None] == strength) & (code[p][None] < code))).astype(jnp.int32)
    columns = jnp.broadcast_to(jnp.arange(batch)[None], (pairs, batch))
    at_step = jnp.zeros((pairs, batch), jnp.int32).at[jax.lax.optimization_barrier(place), columns].set(
        code, unique_indices=True)  # [step, b]
    x, y = at_step >> 5, at_step & 31
    candidates = jnp.arange(m, dtype=jnp.int32)[:, None]
    bit = jnp.left_shift(1, candidates)  # [m, 1]

    def lock(reach, edge):  # reach[c, b]: bitmask of the candidates at or below c
        x, y = (part[None] for part in edge)  # [1, b] each
        reach_y = jnp.where(candidates == y, reach, 0).sum(0, keepdims=True)
        add = ((reach_y >> x) & 1) == 0  # skip when x is already at or below y
        at_or_above_x = ((reach >> x) & 1) == 1
        return jnp.where(add & at_or_above_x, reach | reach_y, reach), None

    reach = jax.lax.scan(lock, jnp.broadcast_to(bit, (m, batch)), (x, y))[0]
    below_someone = jnp.bitwise_or.reduce(reach & ~bit, axis=0, keepdims=True)  # [1, b]
    return (((below_someone >> candidates) & 1) == 0).T
