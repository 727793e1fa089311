"""Runoff rules: instant runoff and its resolute and parallel-universe variants (see ``mechjax.voting.rules``).

Each round counts first places among the candidates still standing. With up to
``BITMASK_MAX_CANDIDATES`` candidates a ballot is stored, per candidate, as the bitmask of the
candidates it ranks above that one: the ballot's vote goes to ``c`` iff ``c`` stands and no
candidate of that bitmask does, one comparison per (ballot, candidate) that XLA fuses with the
count over voters. Beyond, the standing candidate of smallest position is found by a minimum.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting.rules_base import Winners, positions_batch_last, voting_rule, weights_batch_last

IRV_PUT_MAX_CANDIDATES = 10  # subset DP over 2**m candidate sets
BITMASK_MAX_CANDIDATES = 30  # candidate sets as int32 bitmasks up to here
_BIG = jnp.iinfo(jnp.int32).max


def _above_bits(pos):
    """``above[v, c, b]``: bitmask of the candidates ballot ``(b, v)`` ranks above ``c``, from
    positions ``[v, c, b]`` (batch last)."""
    bit = jnp.left_shift(1, jnp.arange(pos.shape[1], dtype=jnp.int32))
    return jnp.where(pos[:, None, :, :] < pos[:, :, None, :], bit[None, None, :, None], 0).sum(2)


def _first_place_counter(rankings, weights):
    """``count(alive)``: first places per candidate when only ``alive`` candidates stand, batch last.

    Args:
        rankings: ``[b, voters, m]``.
        weights: optional ``[b, voters]`` ballot counts.

    Returns:
        A function from ``alive: bool [*sets, m, b or 1]`` (at least one candidate standing per
        set and profile) to ``int32 [*sets, m, b]`` weighted first-place counts (0 when not
        standing). The batch is the last axis throughout (see ``rules_base.positions_batch_last``).
    """
    m = rankings.shape[-1]
    pos, weight = positions_batch_last(rankings), weights_batch_last(rankings, weights)  # [v, c, b], [v, b]
    bit = jnp.left_shift(1, jnp.arange(m, dtype=jnp.int32))
    if m <= BITMASK_MAX_CANDIDATES:
        above = _above_bits(pos)

    def count(alive):
        sets = (None,) * (alive.ndim - 2)  # explicit broadcasting over the set axes
        standing = alive[..., None, :, :]  # [*sets, 1, m, b or 1]
        if m <= BITMASK_MAX_CANDIDATES:
            alive_bits = jnp.where(alive, bit[sets + (slice(None), None)], 0).sum(-2)  # [*sets, b or 1]
            top = standing & ((alive_bits[..., None, None, :] & above[sets]) == 0)  # [*sets, v, m, b]
        else:
            standing_pos = jnp.where(standing, pos[sets], m)  # m: below every real position
            top = standing & (standing_pos == standing_pos.min(-2, keepdims=True))
        return (weight[sets + (slice(None), None, slice(None))] * top).sum(-3)
    return count


@voting_rule(scale=lambda m: 2)
def instant_runoff(rankings, weights=None) -> Winners:
    """Instant runoff with simultaneous elimination (pref_voting ``instant_runoff``, algorithm "basic").

    Stop when a remaining candidate has a strict majority of first places; otherwise eliminate
    *all* remaining candidates with the fewest first places at once. If that would eliminate
    everyone left, they are all winners. (``instant_runoff_put`` is the parallel-universe variant.)
    """
    m = rankings.shape[-1]
    count, total = _first_place_counter(rankings, weights), weights_batch_last(rankings, weights).sum(0, keepdims=True)

    def round_(_, carry):  # each unfinished round removes >= 1 candidate, so m rounds suffice
        alive, winners, done = carry  # [m, b], [m, b], [1, b]
        scores = count(alive)
        majority = alive & (2 * scores > total)
        low = jnp.where(alive, scores, _BIG).min(0, keepdims=True)
        losers = alive & (scores == low)
        all_tied = (losers == alive).all(0, keepdims=True)
        has_majority = majority.any(0, keepdims=True)
        finished = has_majority | all_tied
        winners = jnp.where(done | ~finished, winners, jnp.where(has_majority, majority, alive))
        alive = jnp.where(done | finished, alive, alive & ~losers)
        return alive, winners, done | finished

    batch = rankings.shape[0]
    # a loop, not unrolled: as fast on CPU, and compiles in half the time (a quarter at 34 candidates)
    start = (jnp.ones((m, batch), bool), jnp.zeros((m, batch), bool), jnp.zeros((1, batch), bool))
    return jax.lax.fori_loop(0, m, round_, start)[1].T


@voting_rule(scale=lambda m: 2)
def instant_runoff_tb(rankings, weights=None) -> Winners:
    """Resolute instant runoff (pref_voting ``instant_runoff_tb`` with its default tie-breaker).

    One candidate is eliminated per round: among those with the fewest first places, the lowest
    index goes first (pref_voting's default ``tie_breaker = [0, 1, ...]``, "tie_breaker[0] is
    eliminated first"), until a strict majority winner or a single candidate remains.
    """
    m = rankings.shape[-1]
    count, total = _first_place_counter(rankings, weights), weights_batch_last(rankings, weights).sum(0, keepdims=True)
    index = jnp.arange(m, dtype=jnp.int32)[:, None]

    def round_(_, alive):  # alive: [m, b]
        scores = count(alive)
        finished = (alive & (2 * scores > total)).any(0, keepdims=True) | (alive.sum(0, keepdims=True) == 1)
        low = jnp.where(alive, scores, _BIG)
        lowest_tied = jnp.where(low == low.min(0, keepdims=True), index, m).min(0, keepdims=True)
        return jnp.where(finished, alive, alive & (index != lowest_tied))

    alive = jax.lax.fori_loop(0, m - 1, round_, jnp.ones((m, rankings.shape[0]), bool))  # <= m - 1 eliminations
    scores = count(alive)
    return (alive & (scores == jnp.where(alive, scores, -1).max(0, keepdims=True))).T


@voting_rule(IRV_PUT_MAX_CANDIDATES, scale=lambda m: 2)
def instant_runoff_put(rankings, weights=None) -> Winners:
    """Instant runoff with parallel-universe tie-breaking (pref_voting ``instant_runoff_put``).

    A strict-majority candidate wins; otherwise ``x`` wins if it wins after removing *some*
    candidate with the fewest first places. Computed for every candidate subset ``S`` at once:
    subsets are bitmasks ``0 .. 2^m - 1``; split at bit ``c``, the set axis pairs every ``S``
    holding ``c`` with ``S - c`` (no gathers), and winner sets are bitmasks too. Each pass makes
    sets one larger exact (singletons are, from their majority), so ``m - 1`` passes reach the
    full set. The counts, losers and winner bitmasks keep the batch last (see
    ``rules_base.positions_batch_last``).
    """
    m = rankings.shape[-1]
    batch = rankings.shape[0]
    subsets = np.arange(2 ** m)
    above = _above_bits(positions_batch_last(rankings))  # [v, c, b]
    weight = weights_batch_last(rankings, weights)  # [v, b]
    total = weight.sum(0, keepdims=True)

    def halves(c):  # the set axis split at bit c: [2^(m-1-c), 2 (bit c clear, set), 2^c, b]
        return (2 ** (m - 1 - c), 2, 2 ** c, batch)

    # counts[c][S]: first places of c in S, counted only for the 2^(m-1) sets S holding c (c's
    # vote is every ballot ranking no other member of S above c); _BIG for the others.
    majority = jnp.zeros((2 ** m, batch), jnp.int32)  # [2^m, b] bitmask of strict-majority winners
    counts = []
    for c in range(m):
        holding = subsets[(subsets >> c) & 1 == 1]  # ascending: the "set" half of halves(c)
        votes = (weight[None] * ((holding[:, None, None] & above[None, :, c, :]) == 0)).sum(1)  # [2^(m-1), b]
        wins = jnp.where(2 * votes > total, 1 << c, 0).reshape(halves(c)[:1] + halves(c)[2:])
        split = majority.reshape(halves(c))
        majority = jnp.stack([split[:, 0], split[:, 1] | wins], axis=1).reshape(2 ** m, batch)
        votes = votes.reshape(halves(c)[:1] + halves(c)[2:])
        counts.append(jnp.stack([jnp.full_like(votes, _BIG), votes], axis=1).reshape(2 ** m, batch))
    counts = jnp.stack(counts)  # [m, 2^m, b]
    losers = counts == counts.min(0, keepdims=True)  # [m, 2^m, b]; only read for sets holding the candidate

    # Batch last, and no gathers: for a set S holding c, S - {c} is S with bit c cleared, the same
    # row of the other half of halves(c).
    def widen(_, wins):  # wins[S, b]: bitmask of the winners of S, exact for sets up to some size
        put = jnp.zeros_like(wins)
        for c in range(m):
            without_c = wins.reshape(halves(c))[:, 0]  # wins(S - {c}) for the sets S holding c
            gained = jnp.where(losers[c].reshape(halves(c))[:, 1], without_c, 0)
            split = put.reshape(halves(c))
            put = jnp.stack([split[:, 0], split[:, 1] | gained], axis=1).reshape(2 ** m, batch)
        return jnp.where(majority != 0, majority, put)

    wins = jax.lax.fori_loop(0, m - 1, widen, majority)
    return ((wins[-1][:, None] >> jnp.arange(m, dtype=jnp.int32)[None, :]) & 1).astype(bool)
