"""Valuation distributions for auctions: independent uniform values per (bidder, item).

Every setting in the RegretNet family that the library ships is a product of uniforms, so one
class covers them: U[0,1], U[2,3] and the asymmetric U[4,16] x U[4,7]. ``demand`` says how a
bidder values a bundle: ``additive`` (sum of item values) or ``unit`` (at most one item wanted).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from mechjax.errors import ConfigError

DEMANDS = ("additive", "unit")


@dataclass(frozen=True)
class UniformValuations:
    """Independent values ``v[i, j] ~ U[low[i, j], high[i, j]]``.

    Attributes:
        low: ``[bidders, items]`` lower bounds (nested tuples so the object is hashable).
        high: ``[bidders, items]`` upper bounds.
        demand: ``"additive"`` or ``"unit"``.
    """

    low: tuple[tuple[float, ...], ...]
    high: tuple[tuple[float, ...], ...]
    demand: str = "additive"

    def __post_init__(self):
        lo, hi = np.asarray(self.low, float), np.asarray(self.high, float)
        if lo.ndim != 2 or lo.shape != hi.shape:
            raise ConfigError(f"problem.low/high must both be [bidders, items], got {lo.shape} and {hi.shape}")
        if lo.shape[0] < 1 or lo.shape[1] < 1:
            raise ConfigError(f"problem needs >= 1 bidder and >= 1 item, got shape {lo.shape}")
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi <= lo).any():
            raise ConfigError("problem.high must exceed problem.low for every (bidder, item)")
        if (lo < 0).any():
            raise ConfigError("problem.low must be >= 0 (values are non-negative)")
        if self.demand not in DEMANDS:
            raise ConfigError(f"problem.demand must be one of {DEMANDS}, got {self.demand!r}")

    @classmethod
    def iid(cls, num_bidders: int, num_items: int, low: float = 0.0, high: float = 1.0,
            demand: str = "additive") -> "UniformValuations":
        """All values i.i.d. U[low, high]."""
        row = tuple([float(low)] * num_items)
        row_hi = tuple([float(high)] * num_items)
        return cls(tuple([row] * num_bidders), tuple([row_hi] * num_bidders), demand)

    @classmethod
    def per_item(cls, num_bidders: int, lows, highs, demand: str = "additive") -> "UniformValuations":
        """Item j has values U[lows[j], highs[j]] for every bidder (e.g. U[4,16] x U[4,7])."""
        return cls(tuple([tuple(map(float, lows))] * num_bidders),
                   tuple([tuple(map(float, highs))] * num_bidders), demand)

    @property
    def num_bidders(self) -> int:
        return len(self.low)

    @property
    def num_items(self) -> int:
        return len(self.low[0])

    @property
    def low_array(self) -> Float[Array, "bidders items"]:
        return jnp.asarray(self.low, jnp.float32)

    @property
    def high_array(self) -> Float[Array, "bidders items"]:
        return jnp.asarray(self.high, jnp.float32)

    def sample(self, key: PRNGKeyArray, batch_size: int) -> Float[Array, "batch bidders items"]:
        """Draws ``[batch, bidders, items]`` values."""
        u = jax.random.uniform(key, (batch_size, self.num_bidders, self.num_items))
        low, high = self._bounds(u)
        return low + u * (high - low)

    def _bounds(self, like: Array) -> tuple[Array, Array]:
        """``low``, ``high`` with leading unit axes to the rank of ``like`` (explicit broadcasting)."""
        lead = (1,) * (like.ndim - 2)
        low, high = self.low_array, self.high_array
        return low.reshape(lead + low.shape), high.reshape(lead + high.shape)

    def clip(self, reports: Float[Array, "... bidders items"]) -> Float[Array, "... bidders items"]:
        """Projects reports onto the support (the report space is the value box)."""
        low, high = self._bounds(reports)
        return jnp.clip(reports, low, high)

    def cdf(self, values: Float[Array, "... bidders items"]) -> Float[Array, "... bidders items"]:
        low, high = self._bounds(values)
        return jnp.clip((values - low) / (high - low), 0.0, 1.0)

    def virtual_value(self, values: Float[Array, "... bidders items"]) -> Float[Array, "... bidders items"]:
        """Myerson's virtual value ``v - (1 - F(v)) / f(v)``; for U[a, b] it is ``2v - b``."""
        return 2.0 * values - self._bounds(values)[1]
