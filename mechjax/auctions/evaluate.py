"""Honest regret: a stronger attacker than training used, and a gradient-free bound where possible.

For every evaluation sample and bidder the attacker takes the best of

* an exhaustive grid over her misreports (when she has at most two items), at ``grid`` points per
  item spanning her support: a regret estimate that does not depend on gradients;
* projected Adam ascent for ``steps`` steps from the truthful report, from ``restarts`` random
  reports and from the ``grid_init`` best grid points.

Where the optimal revenue is known and there is one bidder (the 1x2 settings), revenue above it by
more than the measured regret can explain is proof of a missed deviation, and is flagged. The bound:
offer the bidder the mechanism's own menu with every price discounted by a factor (1 - d). Her
choice v' satisfies ``v.a(v') - (1-d) p(v') >= v.a(v) - (1-d) p(v)`` and, by the definition of regret,
``v.a(v') - p(v') <= v.a(v) - p(v) + regret(v)``; subtracting, ``p(v') >= p(v) - regret(v) / d``. The
discounted menu is truthful, so ``OPT >= (1 - d) (REV - r / d)`` for every d in (0, 1), where r is the
expected regret: ``REV <= OPT + min_d [OPT d / (1 - d) + r / d]`` (about ``2 sqrt(OPT r)``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechjax import progress
from mechjax.auctions.problem import AuctionProblem, utilities
from mechjax.core.adversary import ascend
from mechjax.errors import ConfigError

MAX_GRID_ITEMS = 2


@dataclass(frozen=True)
class AttackConfig:
    """Settings of the evaluation attacker (all recorded in ``summary.json``).

    Attributes:
        steps: gradient ascent steps per start.
        restarts: random starting points per (sample, bidder), besides truthful and grid starts.
        lr: Adam step size, relative to the width of the bidder's support.
        grid: points per item of the exhaustive grid (only for <= 2 items); 0 disables it.
        grid_init: best grid points used as extra gradient starts.
        num_samples: samples attacked (regret, IR).
        revenue_samples: samples for revenue alone (a forward pass each, so many more are cheap).
        batch_size: samples evaluated at once (bounds memory).
        seed: evaluation seed (fixed, so runs are compared on the same samples).
        allow_weak: permit an attacker weaker than 4x the training one (for studying the gap).
    """

    steps: int = 300
    restarts: int = 16
    lr: float = 0.02
    grid: int = 41
    grid_init: int = 4
    num_samples: int = 4096
    revenue_samples: int = 131072
    batch_size: int = 512
    seed: int = 2024
    allow_weak: bool = False

    def __post_init__(self):
        for name in ("steps", "num_samples", "revenue_samples", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"attack.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("restarts", "grid", "grid_init"):
            if getattr(self, name) < 0:
                raise ConfigError(f"attack.{name} must be >= 0, got {getattr(self, name)}")
        if self.grid == 1:
            raise ConfigError("attack.grid must be 0 (off) or >= 2")
        if not self.lr > 0:
            raise ConfigError(f"attack.lr must be > 0, got {self.lr}")
        if self.seed < 0:
            raise ConfigError(f"attack.seed must be >= 0, got {self.seed}")

    @property
    def strength(self) -> int:
        """Gradient evaluations per (sample, bidder): steps x starts."""
        return self.steps * (1 + self.restarts + self.grid_init)

    def check_stronger_than(self, train_steps: int, train_restarts: int) -> None:
        """Refuses an evaluation attacker less than 4x as strong (steps x starts) as training's."""
        if self.allow_weak:
            return
        needed = 4 * train_steps * train_restarts
        if self.strength < needed:
            raise ConfigError(
                f"attack.steps x starts = {self.strength} is less than 4x the training attacker "
                f"({train_steps} steps x {train_restarts} restarts); raise attack.steps/attack.restarts "
                f"or set attack.allow_weak=true to study the gap deliberately")


def misreport_grid(problem: AuctionProblem, points: int) -> jax.Array:
    """``[G, bidders, items]``: every bidder's grid of misreports over her own support."""
    m = problem.num_items
    t = jnp.asarray(list(itertools.product(np.linspace(0.0, 1.0, points), repeat=m)), jnp.float32)
    low, high = problem.valuations.low_array, problem.valuations.high_array
    return low[None] + t[:, None, :] * (high - low)[None]


def _make_batch_attack(problem: AuctionProblem, mechanism: Callable, attack: AttackConfig):
    use_grid = attack.grid > 0 and problem.num_items <= MAX_GRID_ITEMS
    grid = misreport_grid(problem, attack.grid) if use_grid else None

    def deviation(values, misreports):
        return problem.deviation_utility(mechanism, values, misreports)

    def attack_batch(values, key):
        alloc, pay = mechanism(values)
        truthful = utilities(values, alloc, pay)  # [b, n]
        starts = [values[None]]
        best = jnp.full_like(truthful, -jnp.inf)
        if use_grid:
            # Grid points one at a time under lax.map: memory stays at one profile batch.
            grid_utils = jax.lax.map(
                lambda g: deviation(values, jnp.broadcast_to(g, values.shape)[None])[0], grid)  # [G, b, n]
            best = jnp.maximum(best, grid_utils.max(axis=0))
            if attack.grid_init:
                top = jnp.argsort(-grid_utils, axis=0)[: attack.grid_init]  # [k, b, n]
                starts.append(grid[top, jnp.arange(values.shape[1])[None, None, :]])  # [k, b, n, m]
        if attack.restarts:
            starts.append(problem.random_reports(key, values, attack.restarts))
        init = jnp.concatenate(starts, axis=0)
        found = ascend(lambda x: deviation(values, x), init, problem.project, attack.steps, attack.lr,
                       problem.report_scale)
        best = jnp.maximum(best, deviation(values, found).max(axis=0))
        regret = jax.nn.relu(best - truthful)
        ir = jax.nn.relu(-truthful).sum(axis=-1)
        return regret, ir

    return jax.jit(attack_batch), use_grid


def _revenues(mechanism: Callable, problem: AuctionProblem, key, num_samples: int, batch_size: int,
              bar=None) -> np.ndarray:
    batch_size = min(batch_size, num_samples)
    total = jax.jit(lambda k: mechanism(problem.sample(k, batch_size))[1].sum(axis=-1))
    out = []
    for i in range(max(1, num_samples // batch_size)):
        out.append(np.asarray(total(jax.random.fold_in(key, i))))
        if bar is not None:
            bar.update(len(out[-1]))
    return np.concatenate(out)


def evaluate_auction(mechanism: Callable, problem: AuctionProblem, attack: AttackConfig = AttackConfig()) -> dict:
    """Revenue, regret and IR of ``mechanism`` under the strong attacker.

    Args:
        mechanism: ``bids [batch, bidders, items] -> (allocations, payments)``, jittable.
        problem: the auction problem (value distribution and known optimum).
        attack: attacker settings.

    Returns:
        A JSON-ready dict: ``revenue``, ``revenue_stderr``, ``regret`` (mean over bidders of the
        expected regret), ``regret_per_bidder``, ``regret_max_per_bidder``, ``regret_max``,
        ``ir_violation``, ``revenue_exceeds_optimum`` (None when the optimum is unknown),
        ``attack`` (the settings, with ``grid_used``).
    """
    if attack.num_samples % attack.batch_size and attack.num_samples > attack.batch_size:
        raise ConfigError("attack.num_samples must be a multiple of attack.batch_size")
    batch_size = min(attack.batch_size, attack.num_samples)
    attack_batch, use_grid = _make_batch_attack(problem, mechanism, attack)
    key = jax.random.key(attack.seed)
    regrets, irs = [], []
    batches = max(1, attack.num_samples // batch_size)
    with progress.bar(batches * batch_size, "evaluate: attack", "sample") as bar:
        for i in range(batches):
            k_values, k_attack = jax.random.split(jax.random.fold_in(key, i))
            values = problem.sample(k_values, batch_size)
            regret, ir = attack_batch(values, k_attack)
            regrets.append(np.asarray(regret))
            irs.append(np.asarray(ir))
            bar.update(batch_size)
    regret, ir = np.concatenate(regrets), np.concatenate(irs)
    with progress.bar(attack.revenue_samples, "evaluate: revenue", "sample") as bar:
        revenue = _revenues(mechanism, problem, jax.random.fold_in(key, 2**31 - 1), attack.revenue_samples,
                            attack.batch_size * 8, bar)
    per_bidder = regret.mean(axis=0)
    summary = {
        "revenue": float(revenue.mean()),
        "revenue_stderr": float(revenue.std(ddof=1) / math.sqrt(len(revenue))) if len(revenue) > 1 else 0.0,
        "regret": float(per_bidder.mean()),
        "regret_per_bidder": [float(r) for r in per_bidder],
        "regret_max_per_bidder": [float(r) for r in regret.max(axis=0)],
        "regret_max": float(regret.max()),
        "ir_violation": float(ir.mean()),
        "num_samples": int(len(regret)),
        "revenue_samples": int(len(revenue)),
        "attack": {**asdict(attack), "grid_used": bool(use_grid), "strength": attack.strength},
        "optimal_revenue": problem.optimal_revenue,
        "optimal_revenue_source": getattr(problem, "optimal_revenue_source", None),
        "revenue_excess_bound": None,
        "revenue_exceeds_optimum": None,
    }
    if problem.optimal_revenue is not None and problem.num_agents == 1:
        bound = revenue_excess_bound(problem.optimal_revenue, float(per_bidder[0]))
        summary["revenue_excess_bound"] = bound
        slack = bound + 3.0 * summary["revenue_stderr"]
        summary["revenue_exceeds_optimum"] = bool(summary["revenue"] > problem.optimal_revenue + slack)
    return summary


def revenue_excess_bound(optimal_revenue: float, regret: float) -> float:
    """How far above ``optimal_revenue`` a single-bidder mechanism with expected ``regret`` can earn.

    ``min_d [OPT d / (1 - d) + regret / d]`` over d in (0, 1) (see the module docstring).
    """
    if regret <= 0:
        return 0.0
    d = np.linspace(1e-4, 0.5, 20001)
    return float(np.min(optimal_revenue * d / (1 - d) + regret / d))
