"""Power in a delegation outcome: maximum weight, Gini of weights, and the Banzhaf index of the
weighted majority game the casters play.

The game: casters with integer weights ``w``, quota ``q = floor(T / 2) + 1`` (a strict majority of
the ``T`` votes cast). Player i's Banzhaf value is the probability that she is a swing in a
uniformly random coalition of the others: ``q - w_i <= w(S) < q``. The exact computation keeps the
distribution of ``w(S)`` over coalitions of the first ``i`` players (prefix) and of the last
``n - 1 - i`` (suffix), each a dynamic program over weights, and sums the product over the
swing window: O(n T) time and memory, all in probabilities, so nothing cancels. Above
``EXACT_MAX_CELLS`` it samples coalitions instead (one coalition gives an unbiased swing
indicator for every player at once).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.delegation.accuracy import check_weight
from mechjax.errors import DataError

EXACT_MAX_CELLS = 2_000_000  # players x (total weight + 1) held by the exact dynamic program


def max_weight(weight):
    """``[..]``: the largest weight any voter holds."""
    return jnp.max(jnp.asarray(weight), -1)


def gini(weight):
    """``[..]``: Gini coefficient of the weights over all ``n`` voters (0: everyone votes directly).

    Delegators count with weight 0, so concentrating votes in fewer hands raises it; lost votes are
    simply absent. Mean absolute difference over all ordered pairs, divided by twice the mean.
    """
    w = jnp.asarray(weight, jnp.float32)
    n = w.shape[-1]
    diff = jnp.abs(w[..., :, None] - w[..., None, :]).sum((-1, -2))
    mean = w.mean(-1)
    return jnp.where(mean > 0, diff / (2.0 * n * n * jnp.maximum(mean, 1e-12)), 0.0)


def _prefix_distributions(weight, size):
    """``[n + 1, size]``: distribution of w(S) for S a uniform subset of players ``0..i-1``."""
    index = jnp.arange(size)

    def add(dist, w):
        src = index - w
        shifted = jnp.where(src >= 0, dist[jnp.maximum(src, 0)], 0.0)
        new = 0.5 * dist + 0.5 * shifted
        return new, new

    start = jnp.zeros(size, jnp.float32).at[0].set(1.0)
    _, rest = jax.lax.scan(add, start, weight)
    return jnp.concatenate([start[None], rest], 0)


def _banzhaf_exact_one(weight, size: int):
    weight = weight.astype(jnp.int32)
    n = weight.shape[0]
    total = weight.sum()
    quota = total // 2 + 1
    prefix = _prefix_distributions(weight, size)  # prefix[i]: players < i
    suffix = _prefix_distributions(weight[::-1], size)[::-1]  # suffix[i]: players >= i
    cdf = jnp.cumsum(suffix, -1)  # cdf[i, x] = P(w(players >= i) <= x)

    def cdf_at(row, x):
        return jnp.where(x < 0, 0.0, row[jnp.clip(x, 0, size - 1)])

    a = jnp.arange(size)

    def one(i):
        after = cdf[jnp.minimum(i + 1, n)] if n > 0 else cdf[0]
        # P(q - w_i <= A + B <= q - 1) with A from the prefix and B from the suffix of i
        hi = cdf_at(after, quota - 1 - a)
        lo = cdf_at(after, quota - weight[i] - 1 - a)
        return jnp.sum(prefix[i] * (hi - lo))

    return jax.vmap(one)(jnp.arange(n))


@functools.partial(jax.jit, static_argnames="size")
def _banzhaf_exact(weight, size: int):
    if weight.ndim == 1:
        return _banzhaf_exact_one(weight, size)
    return jax.vmap(lambda w: _banzhaf_exact_one(w, size))(weight)


def banzhaf_sampled(key, weight, samples: int = 20_000):
    """Sampled Banzhaf values ``[.., n]`` (unbiased; standard error <= 0.5 / sqrt(samples))."""
    check_weight(weight)
    w = jnp.asarray(weight, jnp.float32)
    total = w.sum(-1, keepdims=True)
    quota = jnp.floor(total / 2) + 1
    member = jax.random.bernoulli(key, 0.5, (samples,) + w.shape)
    coalition = jnp.sum(member * w[None], -1, keepdims=True)
    others = coalition - member * w[None]  # w(S \ {i}): S \ {i} is uniform over the others' subsets
    swing = (others < quota[None]) & (others + w[None] >= quota[None])
    return swing.mean(0)


def banzhaf(weight, method: str = "auto", key=None, samples: int = 20_000):
    """Banzhaf values (swing probabilities) of the weighted majority game, ``[.., n]``.

    Args:
        weight: ``[n]`` or ``[batch, n]`` non-negative integer weights; quota is a strict majority.
        method: ``exact`` (dynamic program), ``sample`` (Monte Carlo over coalitions), or ``auto``
            (exact when ``n * (T + 1) <= EXACT_MAX_CELLS``).
        key: PRNG key for ``sample`` (default ``jax.random.key(0)``).
        samples: coalitions drawn for ``sample``.

    Returns:
        Raw Banzhaf values (probability of being a swing); :func:`normalized` divides by their sum.
    """
    check_weight(weight)
    if method not in ("auto", "exact", "sample"):
        raise DataError(f"method must be auto, exact or sample, got {method!r}")
    w = np.asarray(weight).astype(np.int64)
    if w.ndim not in (1, 2):
        raise DataError(f"weight must have shape [n] or [batch, n], got {w.shape}")
    size = int(w.sum(-1).max()) + 1 if w.size else 1
    cells = w.shape[-1] * size
    if method == "auto":
        method = "exact" if cells <= EXACT_MAX_CELLS else "sample"
    if method == "sample":
        return banzhaf_sampled(jax.random.key(0) if key is None else key, w, samples)
    size = 1 << max(size - 1, 1).bit_length()  # round up: one compilation serves many totals
    return _banzhaf_exact(jnp.asarray(w, jnp.int32), size)


def normalized(values):
    """Banzhaf values divided by their sum (the normalised Banzhaf index), ``[.., n]``."""
    values = jnp.asarray(values)
    s = values.sum(-1, keepdims=True)
    return jnp.where(s > 0, values / jnp.maximum(s, 1e-30), 0.0)


def banzhaf_brute_force(weight) -> np.ndarray:
    """Reference: enumerate all 2^(n-1) coalitions of the others for every player (n <= 16)."""
    w = [int(x) for x in np.asarray(weight)]
    n = len(w)
    if n > 16:
        raise DataError(f"banzhaf_brute_force enumerates 2^n coalitions; n = {n} > 16")
    quota = sum(w) // 2 + 1
    swings = np.zeros(n)
    for mask in range(1 << n):
        s = sum(w[j] for j in range(n) if mask >> j & 1)
        for i in range(n):
            if not mask >> i & 1 and s < quota <= s + w[i]:
                swings[i] += 1
    return swings / (1 << (n - 1)) if n else swings
