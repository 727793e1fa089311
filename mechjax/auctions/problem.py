"""The auction problem: quasi-linear bidders, revenue objective, per-bidder regret.

A batch is the bidders' true values ``[batch, bidders, items]``. A mechanism maps bids to
``(allocations [batch, bidders, items], payments [batch, bidders])``. Bidder i's utility is
``sum_j v_ij a_ij - p_i``: additive values in the allocation probabilities, which for unit-demand
mechanisms (rows summing to at most one) is the expected value of the lottery she receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from mechjax.auctions.valuations import UniformValuations
from mechjax.core.types import Terms

AuctionFn = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def utilities(values: Float[Array, "*b n m"], allocations: Float[Array, "*b n m"],
              payments: Float[Array, "*b n"]) -> Float[Array, "*b n"]:
    """Quasi-linear utility of every bidder."""
    return jnp.sum(values * allocations, axis=-1) - payments


def deviation_profiles(values: Float[Array, "b n m"], misreports: Float[Array, "r b n m"]
                       ) -> Float[Array, "r b n n m"]:
    """``profiles[r, b, i]`` = the truthful bids of sample b with bidder i's row set to her misreport."""
    n = values.shape[1]
    eye = jnp.eye(n, dtype=values.dtype)[None, None, :, :, None]  # [1, 1, deviator, bidder, 1]
    return values[None, :, None] * (1.0 - eye) + misreports[:, :, :, None, :] * eye


def own_utilities(values: Float[Array, "b n m"], alloc: Float[Array, "r b n n m"],
                  pay: Float[Array, "r b n n"]) -> Float[Array, "r b n"]:
    """Deviator i's utility (at her true values) from the outcomes of the deviation profiles."""
    own_alloc = jnp.einsum("rbiim->rbim", alloc)
    own_pay = jnp.einsum("rbii->rbi", pay)
    return jnp.sum(values[None] * own_alloc, axis=-1) - own_pay


def truthful_and_deviation_outcomes(outcome_fn: AuctionFn, values: Float[Array, "b n m"],
                                    misreports: Float[Array, "r b n m"]):
    """``(alloc [b, n, m], pay [b, n], deviation utilities [r, b, n])`` from ONE call of the mechanism.

    The truthful profiles and the ``r * b * n`` deviation profiles go through the mechanism as one
    batch: the same numbers as two calls (every mechanism maps each profile on its own), but one
    pass through the network's layers instead of two, which is what the outer step pays for.
    """
    r, b, n, m = misreports.shape
    # sample-major order ([b, 1 + r n] profiles), so that a batch sharded across devices stays
    # sharded the same way and no profile has to move between devices
    deviations = jnp.moveaxis(deviation_profiles(values, misreports), 0, 1).reshape(b, r * n, n, m)
    profiles = jnp.concatenate([values[:, None], deviations], axis=1).reshape(b * (1 + r * n), n, m)
    alloc, pay = outcome_fn(profiles)
    alloc, pay = alloc.reshape(b, 1 + r * n, n, m), pay.reshape(b, 1 + r * n, n)
    own = own_utilities(values, jnp.moveaxis(alloc[:, 1:].reshape(b, r, n, n, m), 1, 0),
                        jnp.moveaxis(pay[:, 1:].reshape(b, r, n, n), 1, 0))
    return alloc[:, 0], pay[:, 0], own


@dataclass(frozen=True)
class AuctionProblem:
    """Revenue maximisation subject to (approximate) incentive compatibility.

    Attributes:
        valuations: the value distribution (also the report space: bids are clipped to it).
        optimal_revenue: the known optimum, if any (the evaluator flags revenue above it).
        optimal_revenue_source: where ``optimal_revenue`` comes from (paper or closed form).
    """

    valuations: UniformValuations
    optimal_revenue: Optional[float] = None
    optimal_revenue_source: Optional[str] = None

    @property
    def num_agents(self) -> int:
        return self.valuations.num_bidders

    def check_inner(self, kind: str) -> None:
        """Called by the config layer: misreports come from ``adversary``; ``none`` trains on revenue
        alone (DSIC-by-construction menus such as RochetNet), with no regret claimed."""
        if kind not in ("adversary", "none"):
            from mechjax.errors import ConfigError
            raise ConfigError(f"inner.kind={kind} does not apply to auctions; use inner=adversary or inner=none")

    @property
    def num_items(self) -> int:
        return self.valuations.num_items

    def sample(self, key, batch_size: int) -> Float[Array, "b n m"]:
        return self.valuations.sample(key, batch_size)

    @property
    def report_scale(self) -> Float[Array, "n m"]:
        """Width of each bidder's support per item: the adversary's natural step unit."""
        return self.valuations.high_array - self.valuations.low_array

    def project(self, reports):
        return self.valuations.clip(reports)

    def random_reports(self, key, values: Float[Array, "b n m"], restarts: int) -> Float[Array, "r b n m"]:
        return self.valuations.sample(key, restarts * values.shape[0]).reshape((restarts,) + values.shape)

    def deviation_utility(self, outcome_fn: AuctionFn, values: Float[Array, "b n m"],
                          misreports: Float[Array, "r b n m"]) -> Float[Array, "r b n"]:
        """Utility of bidder i at sample b when she alone bids ``misreports[r, b, i]``."""
        r, b, n, m = misreports.shape
        # sample-major order, as in truthful_and_deviation_outcomes (a sharded batch stays put)
        profiles = jnp.moveaxis(deviation_profiles(values, misreports), 0, 1).reshape(b * r * n, n, m)
        alloc, pay = outcome_fn(profiles)
        return own_utilities(values, jnp.moveaxis(alloc.reshape(b, r, n, n, m), 1, 0),
                             jnp.moveaxis(pay.reshape(b, r, n, n), 1, 0))

    def regret(self, outcome_fn: AuctionFn, values, misreports) -> Float[Array, "b n"]:
        """Per-sample, per-bidder regret against the best of the given misreports (>= 0)."""
        alloc, pay = outcome_fn(values)
        truthful = utilities(values, alloc, pay)
        best = self.deviation_utility(outcome_fn, values, misreports).max(axis=0)
        return jax.nn.relu(best - truthful)

    def loss_terms(self, outcome_fn: AuctionFn, values, misreports) -> Terms:
        """Negative revenue, and per-bidder regret against ``misreports`` (none: DSIC by construction)."""
        if misreports is None:  # inner=none: nothing searched, so no regret is claimed
            alloc, pay = outcome_fn(values)
            truthful = utilities(values, alloc, pay)
            revenue = jnp.mean(jnp.sum(pay, axis=-1))
            ir_violation = jnp.mean(jnp.sum(jax.nn.relu(-truthful), axis=-1))
            return Terms(-revenue, jnp.zeros((self.num_agents,)),
                         {"revenue": revenue, "ir_violation": ir_violation})
        alloc, pay, deviation = truthful_and_deviation_outcomes(outcome_fn, values, misreports)
        truthful = utilities(values, alloc, pay)
        revenue = jnp.mean(jnp.sum(pay, axis=-1))
        ir_violation = jnp.mean(jnp.sum(jax.nn.relu(-truthful), axis=-1))
        best = deviation.max(axis=0)
        regret = jax.nn.relu(best - truthful)  # [b, n]
        per_bidder = jnp.mean(regret, axis=0)
        return Terms(
            objective=-revenue,
            violations=per_bidder,
            metrics={"revenue": revenue, "regret": jnp.mean(per_bidder), "ir_violation": ir_violation},
        )
