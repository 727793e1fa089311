"""What every classical rule shares: eager validation, int32 overflow guards and fast statistics.

The statistics here (ballot positions, margins) compute the same numbers as
``mechjax.voting.profiles.positions`` / ``margins`` but without a sort: on a (loaded) 2-core CPU,
Borda on ``[4096, 11, 5]`` took ~50 ms with XLA's batched argsort and ~0.7 ms with the one-hot
form below (``benchmarks/peers_voting.py``). For many candidates the ``[.., m, m]`` one-hot
would cost more memory than the sort, so the sort is kept there.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

from mechjax.errors import DataError
from mechjax.voting.profiles import check_rankings, voter_weights

Winners = Bool[Array, "batch candidates"]
NO_EDGE = jnp.iinfo(jnp.int32).min // 4  # far below any margin, no overflow when added
INT32_MAX = int(np.iinfo(np.int32).max)
ONE_HOT_MAX_CANDIDATES = 32  # positions by one-hot comparison up to here, by argsort beyond


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


def voting_rule(max_candidates: int | None = None, scale: Callable[[int], int] = lambda m: 1):
    """Decorator: validates eagerly (shapes always), then dispatches to the jitted implementation.

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


def best(scores, maximise: bool = True) -> Winners:
    """Every candidate with the highest (or lowest) score: ``[..., candidates]`` -> bool mask."""
    target = scores.max(-1, keepdims=True) if maximise else scores.min(-1, keepdims=True)
    return scores == target


def ballot_positions(rankings: Int[Array, "batch voters candidates"]) -> Int[Array, "batch voters candidates"]:
    """``positions[b, v, c]``: the rank (0 = best) of candidate ``c`` on ballot ``(b, v)``.

    The inverse permutation of each ballot, as a sum over a one-hot comparison (XLA fuses it into
    one pass) instead of an argsort, whose batched CPU sort is two orders of magnitude slower.
    """
    m = rankings.shape[-1]
    if m > ONE_HOT_MAX_CANDIDATES:
        return jnp.argsort(rankings, axis=-1).astype(jnp.int32)
    is_candidate = rankings[..., :, None] == jnp.arange(m, dtype=rankings.dtype)[None, None, None, :]  # [b, v, rank, c]
    rank = jnp.arange(m, dtype=jnp.int32)[None, None, :, None]
    return jnp.where(is_candidate, rank, 0).sum(-2)


def positions_batch_last(rankings: Int[Array, "batch voters candidates"]) -> Int[Array, "voters candidates batch"]:
    """:func:`ballot_positions` laid out ``[voters, candidates, batch]``.

    The rules' per-ballot work runs on arrays whose last (contiguous) axis is the batch: with the
    candidates last, XLA's CPU loops vectorise over 5 or so entries; with the batch last, over
    thousands. Instant runoff on ``[4096, 11, 5]`` ran 2.5x faster this way (one core,
    ``benchmarks/peers_voting.py``).
    """
    m = rankings.shape[-1]
    if m > ONE_HOT_MAX_CANDIDATES:
        return jnp.transpose(jnp.argsort(rankings, axis=-1).astype(jnp.int32), (1, 2, 0))
    by_rank = jnp.transpose(rankings, (1, 2, 0))  # [v, rank, b]
    rank = jnp.arange(m, dtype=jnp.int32)
    is_candidate = by_rank[:, :, None, :] == rank.astype(rankings.dtype)[None, None, :, None]  # [v, rank, c, b]
    return jnp.where(is_candidate, rank[None, :, None, None], 0).sum(1)


def weights_batch_last(rankings, weights=None) -> Int[Array, "voters batch"]:
    """The ballot counts ``[voters, batch]`` as int32 (ones when ``weights`` is None)."""
    return voter_weights(rankings, weights).T


def weighted_sum_over_voters(weight, per_voter):
    """``sum_v weight[b, v] * per_voter[b, v, ...]`` in int32 (a fused reduction, not an int dot)."""
    w = weight.reshape(weight.shape + (1,) * (per_voter.ndim - weight.ndim))
    return (w * per_voter).sum(1)


def pair_margins_batch_last(rankings, weights=None):
    """``(margin [pairs, batch], x, y)``: the margin of ``(x[p], y[p])`` for every unordered pair
    ``x < y`` in lexicographic order, batch last (that of ``(y, x)`` is its negation).

    Counts each unordered pair once, the ballots with ``x`` above ``y``, ``s``, the margin being
    ``2 s - total``: 10 comparisons per ballot at 5 candidates instead of the 25 of
    :func:`pairwise_margins`.
    """
    m = rankings.shape[-1]
    pos, weight = positions_batch_last(rankings), weights_batch_last(rankings, weights)  # [v, c, b], [v, b]
    total = weight.sum(0)
    x, y = np.triu_indices(m, 1)
    margin = jnp.stack([2 * jnp.where(pos[:, i] < pos[:, j], weight, 0).sum(0) - total
                        for i, j in zip(x.tolist(), y.tolist())])
    return margin, x, y


def pairwise_margins(rankings, weights=None) -> Int[Array, "batch candidates candidates"]:
    """``margins[b, x, y]``: ballots with x above y minus ballots with y above x (weighted).

    Equal to ``mechjax.voting.profiles.margins``, computed as one fused reduction of
    ``sign(pos[y] - pos[x])`` over voters.
    """
    pos = ballot_positions(rankings)
    prefers = jnp.sign(pos[..., None, :] - pos[..., :, None])  # +1 where x (row) is above y
    return weighted_sum_over_voters(voter_weights(rankings, weights), prefers)
