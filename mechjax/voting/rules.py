"""Classical voting rules, batched and jittable: ``rule(rankings, weights=None) -> winners``.

``rankings`` is ``int [batch, voters, candidates]`` (best first), ``weights`` optional ``int
[batch, voters]`` ballot counts, and ``winners`` a ``bool [batch, candidates]`` mask of the winner
*set*, ties kept. Each rule reproduces one pref_voting (1.18) function exactly, named in its
docstring; the test suite cross-checks every rule against it on random profiles.
``lowest_index`` / ``random_winner`` / ``uniform_lottery`` turn a winner set into one winner or a
lottery.

Eager calls validate their input (DataError) before compiling; calls inside ``jit`` only check
shapes (and the number of voters). All arithmetic is int32, so ties are exact; a rule refuses
weights whose total would overflow its int32 scores (``check_weight_totals``) rather than elect
the wrong candidate.
"""

from __future__ import annotations

import functools
import itertools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from mechjax.errors import ConfigError, DataError
from mechjax.voting.profiles import check_rankings, margins, positions, voter_weights

Winners = Bool[Array, "batch candidates"]
_NEG = jnp.iinfo(jnp.int32).min // 4  # "no edge"; far below any margin, no overflow when added
KEMENY_MAX_CANDIDATES = 12  # subset DP: memory ~ batch * 2**m * m
RANKED_PAIRS_MAX_CANDIDATES = 8  # enumerates all m! orders
IRV_PUT_MAX_CANDIDATES = 10  # subset DP over 2**m candidate sets


INT32_MAX = int(np.iinfo(np.int32).max)


def check_weight_totals(rankings, weights=None, scale: int = 1, rule: str = "the rules") -> None:
    """Raises DataError naming ``weights`` unless ``scale * total ballot count`` fits int32.

    The rules count in int32 (exact ties); a rule whose largest intermediate is ``scale`` times a
    profile's total ballot count (Borda: ``m - 1``; Kemeny: ``m (m - 1) / 2``; runoffs: 2 for the
    majority test) would wrap around and elect the wrong candidate beyond that. Without weights the
    total is the (static) number of voters, checked even under ``jit``; weights are checked when
    concrete, each before summing so that int64 sums cannot overflow either.

    Args:
        rankings: ``[batch, voters, candidates]``.
        weights: optional ``[batch, voters]`` ballot counts (already checked by ``check_rankings``).
        scale: the rule's largest score as a multiple of the total count.
        rule: the rule's name, for the message.
    """
    bound = INT32_MAX // max(int(scale), 1)
    if weights is None:
        voters = jnp.shape(rankings)[1]
        if voters > bound:
            raise DataError(f"weights: {voters} voters (one ballot each) exceed {bound}, the most "
                            f"{rule} can count in int32 without overflow")
        return
    if isinstance(weights, jax.core.Tracer):
        return
    w = np.asarray(weights)
    biggest = w.max() if w.size else 0
    if not biggest <= bound:  # also catches inf
        raise DataError(f"weights: a ballot count of {biggest} exceeds {bound}, the most {rule} "
                        f"can count in int32 without overflow")
    totals = w.astype(np.float64).sum(-1) if w.dtype.kind == "f" else w.astype(np.int64).sum(-1)
    if (totals > bound).any():
        b = int(np.argmax(totals > bound))
        raise DataError(f"weights: profile {b} counts {int(totals[b])} ballots in all, more than "
                        f"{bound}, the most {rule} can count in int32 without overflow")


def _rule(max_candidates: int | None = None, scale: Callable[[int], int] = lambda m: 1):
    """Validates eagerly (shapes always), then dispatches to the jitted implementation.

    ``scale(m)`` is the rule's largest intermediate as a multiple of the total ballot count.
    """
    def wrap(impl):
        jitted = jax.jit(impl)

        @functools.wraps(impl)
        def rule(rankings, weights=None):
            check_rankings(rankings, weights)
            m = jnp.shape(rankings)[-1]
            if max_candidates is not None and m > max_candidates:
                raise DataError(f"rankings has {m} candidates; {impl.__name__} is exact only up to "
                                f"{max_candidates}")
            check_weight_totals(rankings, weights, scale(m), impl.__name__)
            return jitted(rankings, weights)
        return rule
    return wrap


def _best(scores, maximise: bool = True) -> Winners:
    target = scores.max(-1, keepdims=True) if maximise else scores.min(-1, keepdims=True)
    return scores == target


# ----------------------------------------------------------------------------- scoring rules

@_rule()
def plurality(rankings, weights=None) -> Winners:
    """Most first places (pref_voting ``plurality``)."""
    m = rankings.shape[-1]
    firsts = jax.nn.one_hot(rankings[..., 0], m, dtype=jnp.int32)
    return _best(jnp.einsum("bv,bvc->bc", voter_weights(rankings, weights), firsts))


@_rule(scale=lambda m: m - 1)
def borda(rankings, weights=None) -> Winners:
    """Highest Borda score, m-1 points for a first place down to 0 (pref_voting ``borda``)."""
    m = rankings.shape[-1]
    points = m - 1 - positions(rankings)
    return _best(jnp.einsum("bv,bvc->bc", voter_weights(rankings, weights), points))


# ----------------------------------------------------------------------------- margin-based rules

@_rule()
def condorcet(rankings, weights=None) -> Winners:
    """The Condorcet winner (strict majority over every other candidate), or no candidate at all.

    Matches pref_voting ``Profile.condorcet_winner()`` (not the ``condorcet`` voting method, which
    returns every candidate when there is no Condorcet winner). With one candidate it wins.
    """
    margin = margins(rankings, weights)
    return (margin > 0).sum(-1) == rankings.shape[-1] - 1


@_rule()
def copeland(rankings, weights=None) -> Winners:
    """Most pairwise wins minus losses (pref_voting ``copeland``; ties count 0)."""
    return _best(jnp.sign(margins(rankings, weights)).sum(-1))


@_rule()
def maximin(rankings, weights=None) -> Winners:
    """Smallest worst pairwise defeat margin (pref_voting ``minimax``).

    pref_voting scores a candidate by the largest margin of any candidate *beating* it (0 when
    undefeated); the zero diagonal of the margin matrix gives that clipping for free.
    """
    return _best(margins(rankings, weights).max(-2), maximise=False)


@_rule()
def schulze(rankings, weights=None) -> Winners:
    """Beat path (pref_voting ``beat_path``, Floyd-Warshall): undefeated by strongest paths.

    Edges are strictly positive margins, path strength the smallest margin on it; ``x`` loses if
    some ``y`` has a stronger path to ``x`` than ``x`` has to ``y``.
    """
    margin = margins(rankings, weights)
    strength = jnp.where(margin > 0, margin, _NEG)
    for k in range(rankings.shape[-1]):  # the diagonal never improves a path, so no masking
        strength = jnp.maximum(strength, jnp.minimum(strength[..., :, k, None], strength[..., None, k, :]))
    beaten = strength > jnp.swapaxes(strength, -1, -2)  # beaten[x, y]: x's path to y is stronger
    return ~beaten.any(-2)


# ----------------------------------------------------------------------------- subset tables

@functools.lru_cache(maxsize=None)
def _subset_tables(m: int):
    """Membership of every candidate subset and, per size, the subsets and their one-smaller parents."""
    subsets = np.arange(2 ** m)
    member = (subsets[:, None] >> np.arange(m)) & 1  # [2^m, m]
    sizes = member.sum(-1)
    levels = []
    for k in range(1, m + 1):
        level = subsets[sizes == k]
        parent = level[:, None] ^ (1 << np.arange(m))[None, :]  # S minus c (garbage when c not in S)
        levels.append((level, parent, member[level].astype(bool)))
    return member.astype(np.int32), levels


@_rule(KEMENY_MAX_CANDIDATES, scale=lambda m: m * (m - 1) // 2)
def kemeny(rankings, weights=None) -> Winners:
    """Kemeny-Young winners: tops of every ranking maximising the sum of agreeing margins.

    Same set as pref_voting ``kemeny_young`` (which enumerates all m! rankings), computed exactly by
    dynamic programming over candidate subsets: the best ranking of a set ``S`` puts some ``c``
    first and then a best ranking of ``S - c``, so ``best(S) = max_c margin(c, S - c) + best(S - c)``
    in ``O(2^m m^2)`` instead of ``O(m! m^2)``. Exact up to ``KEMENY_MAX_CANDIDATES``.
    """
    m = rankings.shape[-1]
    member, levels = _subset_tables(m)
    margin = margins(rankings, weights)
    gain = jnp.einsum("bcd,sd->bsc", margin, jnp.asarray(member))  # margin of c over the set s
    best = jnp.zeros(gain.shape[:2], jnp.int32)
    for level, parent, inside in levels:
        value = gain[:, level, :] + best[:, np.where(inside, parent, 0)]
        best = best.at[:, level].set(jnp.where(inside, value, _NEG).max(-1))
    full = 2 ** m - 1
    top_value = gain[:, full, :] + best[:, full ^ (1 << np.arange(m))]
    return top_value == best[:, full, None]


# ----------------------------------------------------------------------------- runoff rules

def _plurality_among(pos, weight, alive):
    """First-place counts when only ``alive`` candidates stand; pos ``[..., voters, m]``."""
    masked = jnp.where(alive[..., None, :], pos, jnp.iinfo(jnp.int32).max)
    top = jnp.argmin(masked, axis=-1)
    return jnp.einsum("bv,b...vc->b...c", weight,
                      jax.nn.one_hot(top, pos.shape[-1], dtype=jnp.int32))


@_rule(scale=lambda m: 2)
def instant_runoff(rankings, weights=None) -> Winners:
    """Instant runoff with simultaneous elimination (pref_voting ``instant_runoff``, algorithm "basic").

    Stop when a remaining candidate has a strict majority of first places; otherwise eliminate
    *all* remaining candidates with the fewest first places at once. If that would eliminate
    everyone left, they are all winners. (``instant_runoff_put`` is the parallel-universe variant.)
    """
    m = rankings.shape[-1]
    pos, weight = positions(rankings), voter_weights(rankings, weights)
    total = weight.sum(-1, keepdims=True)
    batch = rankings.shape[0]

    def step(_, carry):
        alive, winners, done = carry
        scores = _plurality_among(pos, weight, alive)
        majority = alive & (2 * scores > total)
        low = jnp.where(alive, scores, jnp.iinfo(jnp.int32).max).min(-1, keepdims=True)
        losers = alive & (scores == low)
        all_tied = (losers == alive).all(-1, keepdims=True)
        has_majority = majority.any(-1, keepdims=True)
        finished = has_majority | all_tied
        new_winners = jnp.where(has_majority, majority, alive)
        winners = jnp.where(done, winners, jnp.where(finished, new_winners, winners))
        alive = jnp.where(done | finished, alive, alive & ~losers)
        return alive, winners, done | finished

    start = (jnp.ones((batch, m), bool), jnp.zeros((batch, m), bool), jnp.zeros((batch, 1), bool))
    return jax.lax.fori_loop(0, m, step, start)[1]


@_rule(scale=lambda m: 2)
def instant_runoff_tb(rankings, weights=None) -> Winners:
    """Resolute instant runoff (pref_voting ``instant_runoff_tb`` with its default tie-breaker).

    One candidate is eliminated per round: among those with the fewest first places, the lowest
    index goes first (pref_voting's default ``tie_breaker = [0, 1, ...]``, "tie_breaker[0] is
    eliminated first"), until a strict majority winner or a single candidate remains.
    """
    m = rankings.shape[-1]
    pos, weight = positions(rankings), voter_weights(rankings, weights)
    total = weight.sum(-1, keepdims=True)
    big = jnp.iinfo(jnp.int32).max

    def step(_, alive):
        scores = _plurality_among(pos, weight, alive)
        finished = (alive & (2 * scores > total)).any(-1, keepdims=True) | (alive.sum(-1, keepdims=True) == 1)
        low = jnp.where(alive, scores, big)
        loser = jax.nn.one_hot(jnp.argmin(low, axis=-1), m, dtype=bool)  # argmin: lowest index
        return jnp.where(finished, alive, alive & ~loser)

    alive = jax.lax.fori_loop(0, m, step, jnp.ones((rankings.shape[0], m), bool))
    scores = _plurality_among(pos, weight, alive)
    return alive & (scores == jnp.where(alive, scores, -1).max(-1, keepdims=True))


@_rule(IRV_PUT_MAX_CANDIDATES, scale=lambda m: 2)
def instant_runoff_put(rankings, weights=None) -> Winners:
    """Instant runoff with parallel-universe tie-breaking (pref_voting ``instant_runoff_put``).

    A strict-majority candidate wins; otherwise ``x`` wins if it wins after removing *some*
    candidate with the fewest first places. Computed for all candidate subsets bottom-up.
    """
    m = rankings.shape[-1]
    member, levels = _subset_tables(m)
    pos, weight = positions(rankings), voter_weights(rankings, weights)
    total = weight.sum(-1)[:, None, None]
    alive = jnp.asarray(member, bool)  # [2^m, m]
    scores = _plurality_among(pos[:, None], weight, alive[None])  # [b, 2^m, m]
    wins = jnp.zeros(scores.shape, bool)
    for level, parent, inside in levels:
        s = scores[:, level, :]
        majority = inside[None] & (2 * s > total)
        low = jnp.where(inside, s, jnp.iinfo(jnp.int32).max).min(-1, keepdims=True)
        losers = inside[None] & (s == low)  # [b, L, m]
        # A singleton always has a majority, so every smaller set already has winners here.
        after = wins[:, np.where(inside, parent, 0), :]  # [b, L, m (removed), m]
        put = (losers[..., None] & after).any(-2)
        wins = wins.at[:, level, :].set(jnp.where(majority.any(-1, keepdims=True), majority, put))
    return wins[:, 2 ** m - 1, :]


# ----------------------------------------------------------------------------- ranked pairs

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
    widest = jnp.where(forward, mp, _NEG)
    for k in range(m):
        widest = jnp.maximum(widest, jnp.minimum(widest[..., :, k, None], widest[..., None, k, :]))
    stack = jnp.where(forward, widest >= jnp.swapaxes(mp, -1, -2), True).all((-1, -2))  # [b, o]
    tops = jax.nn.one_hot(orders[:, 0], m, dtype=bool)  # [o, m]
    return (stack[..., None] & tops[None]).any(-2)


@_rule(RANKED_PAIRS_MAX_CANDIDATES)
def ranked_pairs(rankings, weights=None) -> Winners:
    """Ranked pairs winners under *all* tie-breaking orders of equal margins (pref_voting ``ranked_pairs``).

    pref_voting locks edges of margin >= 0 (zero margins in both directions) strongest first,
    skipping those that close a cycle, once per ordering of equal-strength edges, and returns the
    top of every locked order. By Zavist and Tideman (1989) those tops are exactly the tops of
    *stacks*, so we enumerate all m! orders (in chunks, to bound memory) and keep stack tops.
    Exact up to ``RANKED_PAIRS_MAX_CANDIDATES``. ``ranked_pairs_tb`` is the resolute variant.
    """
    m = rankings.shape[-1]
    margin = margins(rankings, weights)
    orders = _orders(m)
    chunk = int(max(1, min(len(orders), 2 ** 22 // (rankings.shape[0] * m * m))))
    pad = (-len(orders)) % chunk
    orders = np.concatenate([orders, np.repeat(orders[:1], pad, 0)]).reshape(-1, chunk, m)

    def body(tops, chunk_orders):
        return tops | _stack_tops(margin, chunk_orders), None

    start = jnp.zeros((rankings.shape[0], m), bool)
    return jax.lax.scan(body, start, jnp.asarray(orders))[0]


@_rule()
def ranked_pairs_tb(rankings, weights=None) -> Winners:
    """Resolute ranked pairs with candidate index order as tie-breaker (pref_voting ``ranked_pairs_tb``).

    Edges (x, y) with margin >= 0 are locked by decreasing margin; equal margins go in
    lexicographic order of (x, y). The winner is the top of the resulting linear order.
    """
    m = rankings.shape[-1]
    if m == 1:
        return jnp.ones(rankings.shape[::2], bool)
    margin = margins(rankings, weights)
    src, dst = np.nonzero(~np.eye(m, dtype=bool))  # all ordered pairs, lexicographic
    edge_margin = margin[:, src, dst]  # [b, e]
    valid = edge_margin >= 0
    # Sort key: margin descending, then (x, y) lexicographic; invalid edges last.
    rank_key = jnp.where(valid, -edge_margin, jnp.iinfo(jnp.int32).max // 2)
    order = jnp.lexsort((np.arange(src.size)[None].repeat(margin.shape[0], 0), rank_key), axis=-1)
    eye = jnp.eye(m, dtype=bool)

    def lock(e, above):  # above[x, y]: x locked above y (transitively closed)
        idx = order[:, e]
        x, y = jnp.asarray(src)[idx], jnp.asarray(dst)[idx]
        ok = jnp.take_along_axis(valid, idx[:, None], 1)[:, 0]
        reverse = above[jnp.arange(above.shape[0]), y, x]
        add = ok & ~reverse
        ups = above[jnp.arange(above.shape[0]), :, x] | eye[x]  # everything at or above x
        downs = above[jnp.arange(above.shape[0]), y, :] | eye[y]  # everything at or below y
        return above | (add[:, None, None] & ups[:, :, None] & downs[:, None, :])

    above = jax.lax.fori_loop(0, src.size, lock, jnp.zeros(margin.shape, bool))
    return ~above.any(-2)


# ----------------------------------------------------------------------------- single winners

def lowest_index(winners: Winners) -> Winners:
    """Resolute tie-break: the winner with the lowest candidate index (one-hot mask)."""
    return jax.nn.one_hot(jnp.argmax(winners, axis=-1), winners.shape[-1], dtype=bool) & winners.any(-1, keepdims=True)


def random_winner(key: PRNGKeyArray, winners: Winners) -> Winners:
    """Resolute tie-break: one winner drawn uniformly from each winner set (one-hot mask)."""
    logits = jnp.where(winners, 0.0, -jnp.inf)
    pick = jax.random.categorical(key, logits, axis=-1)
    return jax.nn.one_hot(pick, winners.shape[-1], dtype=bool) & winners.any(-1, keepdims=True)


def uniform_lottery(winners: Winners) -> Float[Array, "batch candidates"]:
    """The winner set as a uniform lottery (all-zero row for an empty set)."""
    w = winners.astype(jnp.float32)
    return w / jnp.maximum(w.sum(-1, keepdims=True), 1.0)


def random_dictatorship(rankings, weights=None) -> Float[Array, "batch candidates"]:
    """The lottery that elects a uniformly drawn voter's top choice (ballot counts as weights).

    Anonymous, neutral and strategyproof in expected utility (a voter's ballot only moves its own
    share, which its sincere top maximises): a classical baseline for learned strategyproof rules.
    Returns winner probabilities, not a mask; it is in ``LOTTERIES``, not ``RULES``.
    """
    check_rankings(rankings, weights)
    check_weight_totals(rankings, weights, 1, "random_dictatorship")
    m = jnp.shape(rankings)[-1]
    w = jnp.ones(jnp.shape(rankings)[:2]) if weights is None else jnp.asarray(weights, jnp.float32)
    tops = jnp.einsum("bv,bvc->bc", w, jax.nn.one_hot(jnp.asarray(rankings)[..., 0], m))
    return tops / jnp.maximum(w.sum(-1, keepdims=True), 1e-9)


LOTTERIES: dict[str, Callable] = {"random_dictatorship": random_dictatorship}

RULES: dict[str, Callable] = {
    "plurality": plurality, "borda": borda, "copeland": copeland, "maximin": maximin,
    "kemeny": kemeny, "instant_runoff": instant_runoff, "instant_runoff_put": instant_runoff_put,
    "instant_runoff_tb": instant_runoff_tb, "schulze": schulze, "ranked_pairs": ranked_pairs,
    "ranked_pairs_tb": ranked_pairs_tb,
    "condorcet": condorcet,
}


def get_rule(name: str) -> Callable:
    """The rule called ``name`` (a key of ``RULES``); ConfigError naming ``voting.rule`` otherwise."""
    if name not in RULES:
        raise ConfigError(f"voting.rule must be one of {sorted(RULES)}, got {name!r}")
    return RULES[name]
