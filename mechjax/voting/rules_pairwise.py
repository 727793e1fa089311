"""Margin-based rules: Condorcet, Copeland, maximin, Schulze and Kemeny (see ``mechjax.voting.rules``).

Each starts from the pairwise majority margins of ``rules_base.pairwise_margins`` (one fused
reduction over voters) and stays in int32, so ties are exact.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting.rules_base import INT32_MAX, NO_EDGE, Winners, best, pairwise_margins, voting_rule

KEMENY_MAX_CANDIDATES = 12  # subset DP: memory ~ batch * 2**m * m


@voting_rule()
def condorcet(rankings, weights=None) -> Winners:
    """The Condorcet winner (strict majority over every other candidate), or no candidate at all.

    Matches pref_voting ``Profile.condorcet_winner()`` (not the ``condorcet`` voting method, which
    returns every candidate when there is no Condorcet winner). With one candidate it wins.
    """
    margin = pairwise_margins(rankings, weights)
    return (margin > 0).sum(-1) == rankings.shape[-1] - 1


@voting_rule()
def copeland(rankings, weights=None) -> Winners:
    """Most pairwise wins minus losses (pref_voting ``copeland``; ties count 0)."""
    return best(jnp.sign(pairwise_margins(rankings, weights)).sum(-1))


@voting_rule()
def maximin(rankings, weights=None) -> Winners:
    """Smallest worst pairwise defeat margin (pref_voting ``minimax``).

    pref_voting scores a candidate by the largest margin of any candidate *beating* it (0 when
    undefeated); the zero diagonal of the margin matrix gives that clipping for free.
    """
    return best(pairwise_margins(rankings, weights).max(-2), maximise=False)


@voting_rule()
def schulze(rankings, weights=None) -> Winners:
    """Beat path (pref_voting ``beat_path``, Floyd-Warshall): undefeated by strongest paths.

    Edges are strictly positive margins, path strength the smallest margin on it; ``x`` loses if
    some ``y`` has a stronger path to ``x`` than ``x`` has to ``y``.
    """
    margin = pairwise_margins(rankings, weights)
    strength = jnp.where(margin > 0, margin, NO_EDGE)
    for k in range(rankings.shape[-1]):  # the diagonal never improves a path, so no masking
        strength = jnp.maximum(strength, jnp.minimum(strength[..., :, k, None], strength[..., None, k, :]))
    beaten = strength > jnp.swapaxes(strength, -1, -2)  # beaten[x, y]: x's path to y is stronger
    return ~beaten.any(-2)


KEMENY_ENUMERATE_MAX_CANDIDATES = 6  # score all m! rankings by one matmul up to here, subset DP beyond
_F32_EXACT = 2 ** 24  # float32 adds integers below this exactly, in any order


@functools.lru_cache(maxsize=None)
def _ranking_signs(m: int) -> tuple[int, np.ndarray]:
    """For every ranking (grouped by top candidate), +1 where it puts x above y, for pairs ``x < y``.

    Returns ``(pairs, signs [m * m, m!])`` float32, ``signs`` zero except on the ``pairs`` rows
    ``x * m + y`` with ``x < y`` (so the flat margin matrix multiplies it without a gather);
    rankings ``m!`` in lexicographic order, so the ``(m - 1)!`` rankings with top candidate ``c``
    are the ``c``-th block.
    """
    xs, ys = np.triu_indices(m, 1)
    orders = np.array(list(itertools.permutations(range(m))), np.int64).reshape(-1, m)
    place = np.argsort(orders, axis=-1)  # place[o, c]: c's position in ranking o
    signs = np.zeros((m * m, len(orders)), np.float32)
    signs[xs * m + ys] = np.where(place[:, xs] < place[:, ys], 1.0, -1.0).T
    return len(xs), signs


def _kemeny_by_enumeration(margin, bound: int) -> Winners:
    """Kemeny winners by scoring every ranking: ``[b, pairs] @ [pairs, m!]`` in exact float32.

    A ranking's score is the sum over pairs of +-margin. float32 sums integers below 2**24
    exactly (HIGHEST precision keeps accelerators from rounding to TF32/bf16), so when
    ``pairs * bound`` reaches that, margins are split into a low 12-bit part and the rest, each
    scored exactly and recombined in int32 (wrap-around is harmless: the true score fits int32).
    """
    m = margin.shape[-1]
    pairs, signs = _ranking_signs(m)
    flat = margin.reshape(margin.shape[0], m * m)
    parts = [flat] if bound * pairs < _F32_EXACT else [flat & 4095, flat >> 12]
    stacked = jnp.concatenate(parts, 0).astype(jnp.float32)  # [parts * b, m * m]: one matmul
    scored = jnp.matmul(stacked, signs, precision=jax.lax.Precision.HIGHEST).astype(jnp.int32)
    score = scored[:margin.shape[0]]
    if len(parts) == 2:
        score = score + (scored[margin.shape[0]:] << 12)
    best_with_top = score.reshape(score.shape[0], m, -1).max(-1)  # [b, c]
    return best(best_with_top)


def _bit(candidate: int, m: int) -> np.ndarray:
    """Membership of ``candidate`` in every subset, shaped ``[1, *[2] * m, 1]`` (rows, cube, batch)."""
    shape = [1] * (m + 2)
    shape[1 + candidate] = 2
    return np.arange(2).reshape(shape)


def _kemeny_by_subsets(margin) -> Winners:
    """Kemeny winners by dynamic programming over candidate subsets (see ``kemeny``).

    Batch last: a flip then moves whole contiguous rows (with the batch first, XLA loops over
    axes of length 2, about 3x slower).
    """
    batch, m = margin.shape[0], margin.shape[-1]
    by_pair = jnp.transpose(margin, (1, 2, 0))  # [c, d, b]
    # gain[c, S, b] = margin of c over the members of S (c itself adds its zero diagonal)
    gain = sum(by_pair[:, d].reshape((m,) + (1,) * m + (batch,)) * _bit(d, m) for d in range(m))
    inside = np.concatenate([np.broadcast_to(_bit(c, m), (1,) + (2,) * m + (1,)) for c in range(m)]).astype(bool)

    def relax(best_of):  # best_of[S, b] -> (best ranking of S with c first)[c, S, b]
        rest = jnp.stack([jnp.flip(best_of, c) for c in range(m)])  # best(S - c)
        return jnp.where(inside, gain + rest, NO_EDGE)

    best_of = jax.lax.fori_loop(0, m - 1, lambda _, b: relax(b).max(0),
                                jnp.zeros((2,) * m + (batch,), jnp.int32))
    return best(relax(best_of)[(slice(None),) + (1,) * m].T)  # the full set: [b, c]


@voting_rule(KEMENY_MAX_CANDIDATES, scale=lambda m: m * (m - 1) // 2)
def kemeny(rankings, weights=None) -> Winners:
    """Kemeny-Young winners: tops of every ranking maximising the sum of agreeing margins.

    Same set as pref_voting ``kemeny_young``, which enumerates all m! rankings. Up to
    ``KEMENY_ENUMERATE_MAX_CANDIDATES`` we do too, scoring them all with one exact matmul; beyond,
    by dynamic programming over candidate subsets: the best ranking of a set ``S`` puts some ``c``
    first and then a best ranking of ``S - c``, so ``best(S) = max_c margin(c, S - c) + best(S - c)``
    in ``O(2^m m^2)`` instead of ``O(m! m^2)``. Subsets are the corners of a ``[2] * m`` cube (one
    axis per candidate), so ``S - c`` for every ``S`` at once is the cube flipped along axis ``c``
    (no gathers); relaxing every subset from the previous values makes sets one larger exact, so
    ``m`` relaxations reach the full set. Exact up to ``KEMENY_MAX_CANDIDATES``.
    """
    margin = pairwise_margins(rankings, weights)
    m = margin.shape[-1]
    if m <= KEMENY_ENUMERATE_MAX_CANDIDATES:
        # |margin| <= total ballots, and check_weight_totals keeps total * pairs within int32
        bound = rankings.shape[1] if weights is None else INT32_MAX // max(m * (m - 1) // 2, 1)
        return _kemeny_by_enumeration(margin, bound)
    return _kemeny_by_subsets(margin)
