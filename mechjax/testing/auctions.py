"""Reusable property checks for auction mechanisms.

Any ``mechanism: bids [batch, bidders, items] -> (allocations, payments [batch, bidders])``
(a baseline, or a trained network wrapped as ``lambda bids: module(bids, training=False)``) can be
checked for feasibility, individual rationality and truthfulness against an exact grid of
misreports. The checks raise ``AssertionError`` with what failed and where.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.auctions.evaluate import misreport_grid
from mechjax.auctions.problem import AuctionProblem, utilities
from mechjax.auctions.valuations import UniformValuations

Mechanism = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def assert_feasible(bids: Float[Array, "batch bidders items"], allocations: Float[Array, "batch bidders items"],
                    payments: Float[Array, "batch bidders"], demand: str, atol: float = 1e-6) -> None:
    """Shapes match, values are finite, allocations lie in [0, 1], and every item is sold at most once.

    For ``demand="unit"`` every bidder also receives at most one item in total.
    """
    allocations, payments = np.asarray(allocations), np.asarray(payments)
    assert allocations.shape == bids.shape, f"allocations {allocations.shape} != bids {bids.shape}"
    assert payments.shape == bids.shape[:2], f"payments {payments.shape} != [batch, bidders] {bids.shape[:2]}"
    assert np.isfinite(allocations).all() and np.isfinite(payments).all(), "non-finite outcome"
    assert allocations.min() >= -atol and allocations.max() <= 1 + atol, (
        f"allocations outside [0, 1]: [{allocations.min()}, {allocations.max()}]")
    per_item = allocations.sum(axis=1)
    worst = np.unravel_index(np.argmax(per_item), per_item.shape)
    assert per_item.max() <= 1 + atol, f"item sold {per_item.max()} times at (sample, item) {worst}"
    if demand == "unit":
        per_bidder = allocations.sum(axis=2)
        worst = np.unravel_index(np.argmax(per_bidder), per_bidder.shape)
        assert per_bidder.max() <= 1 + atol, (
            f"unit-demand bidder gets {per_bidder.max()} items at (sample, bidder) {worst}")


def assert_individually_rational(mechanism: Mechanism, values: Float[Array, "batch bidders items"],
                                 atol: float = 1e-5) -> None:
    """Every bidder's utility at truthful bids is >= -atol."""
    utility = np.asarray(utilities(values, *mechanism(values)))
    worst = np.unravel_index(np.argmin(utility), utility.shape)
    assert utility.min() >= -atol, f"utility {utility.min()} < 0 at (sample, bidder) {worst}"


def grid_regret(mechanism: Mechanism, valuations: UniformValuations, values: Float[Array, "batch bidders items"],
                points_per_item: int = 21, chunk: int = 64) -> Float[Array, "batch bidders"]:
    """Exact best gain over a grid of misreports, per sample and bidder (>= 0); no gradients.

    Bidder ``i`` of sample ``b`` tries every point of a regular grid over her report box
    ``[low_i, high_i]``, corners included (the others bid truthfully);
    the result is ``max(0, best utility - truthful utility)``. A lower bound on true regret, exact
    for the grid; ``points_per_item ** items`` misreports, evaluated ``chunk`` at a time.
    """
    problem = AuctionProblem(valuations)
    grid = misreport_grid(problem, points_per_item)  # [R, n, m]: each bidder's grid over her own box

    @jax.jit
    def run(values):
        truthful = utilities(values, *mechanism(values))

        def utility_at(misreport):  # [n, m]: one grid point for every bidder
            tiled = jnp.broadcast_to(misreport, (1,) + values.shape)
            return problem.deviation_utility(mechanism, values, tiled)[0]

        best = jax.lax.map(utility_at, grid, batch_size=chunk).max(axis=0)
        return jax.nn.relu(best - truthful)

    return run(values)


def assert_truthful_on_grid(mechanism: Mechanism, valuations: UniformValuations,
                            values: Float[Array, "batch bidders items"], points_per_item: int = 21,
                            atol: float = 1e-5) -> None:
    """No bidder gains more than ``atol`` by any misreport on the grid (see :func:`grid_regret`)."""
    regret = np.asarray(grid_regret(mechanism, valuations, values, points_per_item))
    worst = np.unravel_index(np.argmax(regret), regret.shape)
    assert regret.max() <= atol, (
        f"bidder {worst[1]} of sample {worst[0]} gains {regret.max()} by misreporting "
        f"(values {np.asarray(values)[worst[0]].tolist()})")


def revenue_and_standard_error(mechanism: Mechanism, values: Float[Array, "batch bidders items"]
                               ) -> tuple[float, float]:
    """Monte Carlo revenue (mean total payment) and its standard error over the batch."""
    revenue = np.asarray(mechanism(values)[1], np.float64).sum(axis=1)
    return float(revenue.mean()), float(revenue.std(ddof=1) / np.sqrt(revenue.size))


def assert_permutation_equivariant(mechanism: Mechanism, bids: Float[Array, "batch bidders items"], key,
                                   items_too: bool = True, atol: float = 1e-5) -> None:
    """Permuting bidders (and items) of the bids permutes allocations and payments the same way.

    Three random permutations from ``key``; ``items_too=False`` permutes bidders only (for
    mechanisms that are equivariant over bidders but not items).
    """
    alloc, pay = mechanism(bids)
    for trial in range(3):
        k_bidders, k_items = jax.random.split(jax.random.fold_in(key, trial))
        bidders = np.asarray(jax.random.permutation(k_bidders, bids.shape[1]))
        items = np.asarray(jax.random.permutation(k_items, bids.shape[2])) if items_too else np.arange(bids.shape[2])
        alloc_p, pay_p = mechanism(bids[:, bidders][:, :, items])
        np.testing.assert_allclose(alloc_p, alloc[:, bidders][:, :, items], atol=atol,
                                   err_msg=f"allocation not equivariant (bidders {bidders}, items {items})")
        np.testing.assert_allclose(pay_p, pay[:, bidders], atol=atol,
                                   err_msg=f"payments not equivariant (bidders {bidders}, items {items})")
