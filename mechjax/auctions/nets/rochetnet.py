"""RochetNet (Duetting et al. 2019): one bidder chooses her favourite entry of a learned menu.

The mechanism is a menu of ``K`` lotteries ``(a_k, p_k)`` plus the null option (nothing, price
zero). A bidder who bids ``b`` receives the entry that maximises ``b . a_k - p_k``. Because the
menu does not depend on the bid, reporting the truth picks the entry that is best for the true
values: the mechanism is dominant-strategy incentive compatible and individually rational (the null
option guarantees utility >= 0) *by construction*, and trains with no adversary.

The argmax is not differentiable in the menu, so training replaces it with a softmax over the
menu's utilities at a small temperature; evaluation uses the exact argmax, which is what makes
the truthfulness exact.
"""

from __future__ import annotations

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.errors import ConfigError


class RochetNet(nnx.Module):
    """A menu of ``menu_size`` lotteries with prices, for one bidder and ``num_items`` items.

    Args:
        num_items: items m.
        demand: ``"additive"`` (each entry's allocation is a sigmoid, in ``[0, 1]^m``) or
            ``"unit"`` (a softmax over the items and a null item, so each entry sums to <= 1).
        menu_size: number of learned entries K (the null option comes on top).
        temperature: softmax temperature of the training relaxation, in units of the width of
            the bidder's support (mean over items).
        bid_low, bid_high: the bidder's support per item (``[items]`` or ``[1, items]``); they set
            the scale of prices and of the temperature.
        rngs: parameter initialisation.
    """

    def __init__(self, num_items: int, demand: str = "additive", menu_size: int = 1000,
                 temperature: float = 0.003, bid_low=0.0, bid_high=1.0, *, rngs: nnx.Rngs):
        if not isinstance(menu_size, int) or menu_size < 1:
            raise ConfigError(f"mechanism.menu_size must be a positive integer, got {menu_size!r}")
        if not temperature > 0:
            raise ConfigError(f"mechanism.temperature must be > 0, got {temperature}")
        if demand not in ("additive", "unit"):
            raise ConfigError(f"problem.demand must be additive or unit, got {demand!r}")
        low = np.broadcast_to(np.asarray(bid_low, np.float64).reshape(-1), (num_items,))
        high = np.broadcast_to(np.asarray(bid_high, np.float64).reshape(-1), (num_items,))
        self.m, self.demand = num_items, demand
        # Prices are learned as a fraction of the largest value the bidder can hold, so that one
        # optimiser step means the same on U[0,1] and on U[2,3].
        self.price_scale = float(high.sum()) if demand == "additive" else float(high.max())
        self.softmax_scale = 1.0 / (temperature * float(np.mean(high - low)))
        width = num_items + (1 if demand == "unit" else 0)
        self.allocation_logits = nnx.Param(2.0 * jax.random.normal(rngs.params(), (menu_size, width)))
        self.price_fractions = nnx.Param(jax.random.uniform(rngs.params(), (menu_size,)))

    def menu(self) -> tuple[Float[Array, "K m"], Float[Array, " K"]]:
        """The learned entries ``(allocations [K, items], prices [K])``, without the null option."""
        logits = self.allocation_logits[...]
        if self.demand == "additive":
            allocations = jax.nn.sigmoid(logits)
        else:
            allocations = jax.nn.softmax(logits, axis=-1)[:, :-1]
        return allocations, self.price_scale * self.price_fractions[...]

    def __call__(self, bids: Float[Array, "b 1 m"], *, training: bool = False):
        if bids.ndim != 3 or bids.shape[1] != 1 or bids.shape[2] != self.m:
            raise ConfigError(f"RochetNet serves 1 bidder and {self.m} items (problem.num_bidders must be 1); "
                              f"got bids of shape {bids.shape}")
        allocations, prices = self.menu()
        allocations = jnp.concatenate([allocations, jnp.zeros((1, self.m), allocations.dtype)])  # null option
        prices = jnp.concatenate([prices, jnp.zeros((1,), prices.dtype)])
        values = bids[:, 0, :]
        menu_utilities = values @ allocations.T - prices[None, :]  # [b, K + 1]
        if training:
            weights = jax.nn.softmax(menu_utilities * self.softmax_scale, axis=-1)
        else:
            weights = jax.nn.one_hot(jnp.argmax(menu_utilities, axis=-1), prices.shape[0], dtype=values.dtype)
        alloc = weights @ allocations
        pay = weights @ prices
        return alloc[:, None, :], pay[:, None]
