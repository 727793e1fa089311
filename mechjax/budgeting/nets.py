"""A learned PB rule: a set network over voters and projects, and a budget-feasible selection.

The network is an exchangeable matrix network: every layer maps the ``[voters, projects]`` grid of
features through a shared MLP of (the entry, its row mean over projects, its column mean over
voters, the global mean), so permuting voters leaves the scores unchanged and permuting projects
permutes them (equivariant to both). Padding is masked out of every mean. Input features per
(voter, project): approval, cost (budget = 1), support share, log cost, log price per supporter in
equal shares, and (where the voter approves) the voter's log demand.

Feasibility:
* **training** (``training=True``): a relaxed knapsack selection ``x_p = sigmoid((s_p - tau) / T)``
  where the threshold ``tau`` is found by bisection so that the expected spend ``sum_p x_p c_p``
  equals ``min(budget, total cost)``: differentiable in the scores (through the threshold too, by
  the implicit function theorem), and within budget on average;
* **inference**: a hard greedy selection in decreasing score order, funding a project if it still
  fits. Feasible by construction: every output is within budget.
* ``straight_through``: training sees the hard selection's values with the relaxation's gradient,
  so the objective trained on is the inference rule's own.
"""

from __future__ import annotations

import flax.nnx as nnx
import jax
import jax.numpy as jnp


def _masked_mean(x, mask, axis):
    weight = jnp.expand_dims(mask, -1)
    return (x * weight).sum(axis) / jnp.maximum(weight.sum(axis), 1.0)


class ExchangeableLayer(nnx.Module):
    def __init__(self, dim_in: int, dim_out: int, rngs: nnx.Rngs):
        self.entry = nnx.Linear(dim_in, dim_out, rngs=rngs)
        self.row = nnx.Linear(dim_in, dim_out, use_bias=False, rngs=rngs)
        self.column = nnx.Linear(dim_in, dim_out, use_bias=False, rngs=rngs)
        self.pooled = nnx.Linear(dim_in, dim_out, use_bias=False, rngs=rngs)

    def __call__(self, h, voter_mask, project_mask):
        # h: [b, v, p, d]; row = one voter over projects, column = one project over voters
        grid = voter_mask[:, :, None] * project_mask[:, None, :]
        row = _masked_mean(h, project_mask[:, None, :] * jnp.ones_like(grid), 2)  # [b, v, d]
        column = _masked_mean(h, voter_mask[:, :, None] * jnp.ones_like(grid), 1)  # [b, p, d]
        pooled = _masked_mean(column, project_mask, 1)  # [b, d]
        out = (self.entry(h) + self.row(row)[:, :, None, :] + self.column(column)[:, None, :, :]
               + self.pooled(pooled)[:, None, None, :])
        return jax.nn.gelu(out) * grid[..., None]


def relaxed_selection(scores, costs, mask, temperature, iterations: int = 40):
    """``[b, p]`` in (0, 1): soft knapsack, expected spend = min(1, total cost) (budget = 1)."""
    total = (costs * mask).sum(-1)
    target = jnp.minimum(1.0, total)
    lo = jnp.min(jnp.where(mask > 0, scores, jnp.inf), -1) - 20 * temperature
    hi = jnp.max(jnp.where(mask > 0, scores, -jnp.inf), -1) + 20 * temperature

    def spend(tau):
        return (jax.nn.sigmoid((scores - tau[:, None]) / temperature) * costs * mask).sum(-1)

    def step(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        over = spend(mid) > target
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iterations, step, (lo, hi))
    tau = jax.lax.stop_gradient(hi)  # the threshold whose spend is at most the target
    # the threshold's gradient by the implicit function theorem: spend(s, tau(s)) = target gives
    # d tau / d s_q = w_q = sigma'_q c_q / sum_r sigma'_r c_r, so raising every score alike moves
    # the threshold with them and buys nothing (without it, the scores drift apart without bound)
    fixed = jax.lax.stop_gradient(scores)
    slope = jax.nn.sigmoid((fixed - tau[:, None]) / temperature)
    weight = slope * (1 - slope) * costs * mask
    weight = weight / jnp.maximum(weight.sum(-1, keepdims=True), 1e-12)
    tau = tau + (weight * (scores - fixed)).sum(-1)  # equal to tau; its gradient is the implicit one
    return jax.nn.sigmoid((scores - tau[:, None]) / temperature) * mask


def greedy_selection(scores, costs, mask):
    """``[b, p]`` 0/1: fund projects in decreasing score order while they fit (budget = 1)."""
    order = jnp.argsort(-jnp.where(mask > 0, scores, -jnp.inf), axis=-1)
    sorted_costs = jnp.take_along_axis(costs, order, -1)
    sorted_mask = jnp.take_along_axis(mask, order, -1)

    def step(left, item):
        cost, real = item
        take = (real > 0) & (cost <= left)
        return left - jnp.where(take, cost, 0.0), take

    _, taken = jax.lax.scan(step, jnp.ones(scores.shape[0], scores.dtype), (sorted_costs.T, sorted_mask.T))
    funded = jnp.zeros_like(scores).at[jnp.arange(scores.shape[0])[:, None], order].set(taken.T.astype(scores.dtype))
    return funded


class PBNet(nnx.Module):
    """Scores projects from a ``PBBatch`` (or anything with its fields) and selects within budget."""

    def __init__(self, dim: int = 32, depth: int = 2, temperature: float = 0.1, *, straight_through: bool = False,
                 rngs: nnx.Rngs):
        self.temperature = temperature
        self.straight_through = straight_through
        self.embed = ExchangeableLayer(6, dim, rngs)
        self.blocks = nnx.List([ExchangeableLayer(dim, dim, rngs) for _ in range(depth)])
        self.head = nnx.Linear(dim + 3, 1, rngs=rngs)

    def scores(self, batch):
        approvals, vmask, pmask, costs = batch.approvals, batch.voter_mask, batch.project_mask, batch.costs
        n = jnp.maximum(vmask.sum(-1), 1.0)
        support = jnp.einsum("bvp,bv->bp", approvals, vmask) / n[:, None]  # share of voters supporting
        # what MES looks at first: a project's cost per supporter in units of a voter's equal share
        # of the budget (cost / budget / (supporters / voters)); above 1 its supporters cannot pay
        # for it from their shares alone
        log_price = jnp.log(costs + 1e-3) - jnp.log(support + 1e-3)
        # each voter's demand: the total cost of the projects they support, in budgets
        demand = jnp.einsum("bvp,bp->bv", approvals, costs * pmask)
        b, v, p = approvals.shape

        def grid(x):
            return jnp.broadcast_to(x, (b, v, p))

        features = jnp.stack([approvals, grid(costs[:, None, :]), grid(support[:, None, :]),
                              grid(jnp.log(costs + 1e-3)[:, None, :]), grid(log_price[:, None, :]),
                              approvals * grid(jnp.log(demand + 1e-3)[:, :, None])], -1)
        h = self.embed(features, vmask, pmask)
        for block in self.blocks:
            h = h + block(h, vmask, pmask)
        column = _masked_mean(h, vmask[:, :, None] * jnp.ones((b, v, p)), 1)  # [b, p, d]
        return self.head(jnp.concatenate([column, costs[..., None], support[..., None], log_price[..., None]],
                                         -1))[..., 0]

    def __call__(self, batch, training: bool = False):
        scores = self.scores(batch)
        if not training:
            return greedy_selection(scores, batch.costs, batch.project_mask)
        relaxed = relaxed_selection(scores, batch.costs, batch.project_mask, self.temperature)
        if self.straight_through:  # the hard selection's values, the relaxation's gradient
            hard = greedy_selection(scores, batch.costs, batch.project_mask)
            return hard + relaxed - jax.lax.stop_gradient(relaxed)
        return relaxed
