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

from mechjax.voting.profiles import voter_weights
from mechjax.voting.rules_base import Winners, ballot_positions, voting_rule

IRV_PUT_MAX_CANDIDATES = 10  # subset DP over 2**m candidate sets
BITMASK_MAX_CANDIDATES = 30  # candidate sets as int32 bitmasks up to here
_BIG = jnp.iinfo(jnp.int32).max


def _first_place_counter(rankings, weights):
    """``count(alive)``: first places per candidate when only ``alive`` candidates stand.

    Args:
        rankings: ``[b, voters, m]``.
        weights: optional ``[b, voters]`` ballot counts.

    Returns:
        A function from ``alive: bool [b or 1, *sets, m]`` (at least one candidate standing per
        row) to ``int32 [b, *sets, m]`` weighted first-place counts (0 when not standing).
    """
    m = rankings.shape[-1]
    pos, weight = ballot_positions(rankings), voter_weights(rankings, weights)
    if m <= BITMASK_MAX_CANDIDATES:
        bit = jnp.left_shift(1, jnp.arange(m, dtype=jnp.int32))[None, None, None, :]
        above = jnp.where(pos[..., None, :] < pos[..., :, None], bit, 0).sum(-1)  # [b, v, c]: bits above c

    def count(alive):
        sets = alive.ndim - 2
        expand = (slice(None),) + (None,) * sets  # insert the set axes after the batch axis
        w = weight[expand + (slice(None), None)]  # [b, *1, v, 1]
        standing = alive[..., None, :]  # [b or 1, *sets, 1, m]
        if m <= BITMASK_MAX_CANDIDATES:
            alive_bits = (alive * jnp.left_shift(1, jnp.arange(m, dtype=jnp.int32))[(None,) * (sets + 1)]).sum(-1)
            top = standing & ((alive_bits[..., None, None] & above[expand]) == 0)
        else:
            standing_pos = jnp.where(standing, pos[expand], m)  # m: below every real position
            top = standing & (standing_pos == standing_pos.min(-1, keepdims=True))
        return (w * top).sum(-2)
    return count
@voting_rule(scale=lambda m: 2)
def instant_runoff(rankings, weights=None) -> Winners:
    """Instant runoff with simultaneous elimination (pref_voting ``instant_runoff``, algorithm "basic").

    Stop when a remaining candidate has a strict majority of first places; otherwise eliminate
    *all* remaining candidates with the fewest first places at once. If that would eliminate
    everyone left, they are all winners. (``instant_runoff_put`` is the parallel-universe variant.)
    """
    m = rankings.shape[-1]
    count, total = _first_place_counter(rankings, weights), voter_weights(rankings, weights).sum(-1, keepdims=True)

    def round_(_, carry):  # each unfinished round removes >= 1 candidate, so m rounds suffice
        alive, winners, done = carry
        scores = count(alive)
        majority = alive & (2 * scores > total)
        low = jnp.where(alive, scores, _BIG).min(-1, keepdims=True)
        losers = alive & (scores == low)
        all_tied = (losers == alive).all(-1, keepdims=True)
        has_majority = majority.any(-1, keepdims=True)
        finished = has_majority | all_tied
        winners = jnp.where(done | ~finished, winners, jnp.where(has_majority, majority, alive))
        alive = jnp.where(done | finished, alive, alive & ~losers)
        return alive, winners, done | finished

    batch = rankings.shape[0]
    # a loop, not unrolled: as fast on CPU, and compiles in half the time (a quarter at 34 candidates)
    start = (jnp.ones((batch, m), bool), jnp.zeros((batch, m), bool), jnp.zeros((batch, 1), bool))
    return jax.lax.fori_loop(0, m, round_, start)[1]


@voting_rule(scale=lambda m: 2)
def instant_runoff_tb(rankings, weights=None) -> Winners:
    """Resolute instant runoff (pref_voting ``instant_runoff_tb`` with its default tie-breaker).

    One candidate is eliminated per round: among those with the fewest first places, the lowest
    index goes first (pref_voting's default ``tie_breaker = [0, 1, ...]``, "tie_breaker[0] is
    eliminated first"), until a strict majority winner or a single candidate remains.
    """
    m = rankings.shape[-1]
    count, total = _first_place_counter(rankings, weights), voter_weights(rankings, weights).sum(-1, keepdims=True)
    index = jnp.arange(m, dtype=jnp.int32)[None, :]

    def round_(_, alive):
        scores = count(alive)
        finished = (alive & (2 * scores > total)).any(-1, keepdims=True) | (alive.sum(-1, keepdims=True) == 1)
        low = jnp.where(alive, scores, _BIG)
        lowest_tied = jnp.where(low == low.min(-1, keepdims=True), index, m).min(-1, keepdims=True)
        return jnp.where(finished, alive, alive & (index != lowest_tied))

    alive = jax.lax.fori_loop(0, m - 1, round_, jnp.ones((rankings.shape[0], m), bool))  # <= m - 1 eliminations
    scores = count(alive)
    return alive & (scores == jnp.where(alive, scores, -1).max(-1, keepdims=True))


@voting_rule(IRV_PUT_MAX_CANDIDATES, scale=lambda m: 2)
def instant_runoff_put(rankings, weights=None) -> Winners:
    """Instant runoff with parallel-universe tie-breaking (pref_voting ``instant_runoff_put``).

    A strict-majority candidate wins; otherwise ``x`` wins if it wins after removing *some*
    candidate with the fewest first places. Computed for every candidate subset ``S`` at once:
    subsets are bitmasks ``0 .. 2^m - 1``, viewed as a ``[2] * m`` cube so that ``S - c`` for all
    ``S`` is a flip of one axis (no gathers), and winner sets are bitmasks too. Each pass makes
    sets one larger exact (singletons are, from their majority), so ``m - 1`` passes reach the
    full set.
    """
    m = rankings.shape[-1]
    batch = rankings.shape[0]
    subsets = np.arange(2 ** m)
    member = ((subsets[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)  # [2^m, m]
    counts = _first_place_counter(rankings, weights)(jnp.asarray(member)[None])  # [b, 2^m, m]
    total = voter_weights(rankings, weights).sum(-1)[:, None, None]
    bit = jnp.left_shift(1, jnp.arange(m, dtype=jnp.int32))[None, None, :]
    majority = jnp.where(member[None] & (2 * counts > total), bit, 0).sum(-1).T  # [2^m, b] bitmask
    low = jnp.where(member[None], counts, _BIG).min(-1, keepdims=True)
    losers = jnp.transpose(member[None] & (counts == low), (2, 1, 0))  # [m, 2^m, b]

    # Batch last: flips then move whole contiguous rows (batch first, XLA loops over axes of 2).
    def widen(_, wins):  # wins[S, b]: bitmask of the winners of S, exact for sets up to some size
        cube = wins.reshape((2,) * m + (batch,))  # axis j holds bit m - 1 - j of S
        put = jnp.zeros_like(wins)
        for c in range(m):
            without_c = jnp.flip(cube, m - 1 - c).reshape(2 ** m, batch)  # wins(S xor {c})
            put = put | jnp.where(losers[c], without_c, 0)
        return jnp.where(majority != 0, majority, put)

    wins = jax.lax.fori_loop(0, m - 1, widen, majority)
    return ((wins[-1][:, None] >> jnp.arange(m, dtype=jnp.int32)[None, :]) & 1).astype(bool)
