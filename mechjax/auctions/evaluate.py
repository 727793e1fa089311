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

Cost: the samples are attacked in chunks of ``batch_size`` by one compiled function
(:mod:`mechjax.auctions.evaluate_attack`), whose results are folded into running sums on the host,
so any number of samples runs in the memory of one chunk. ``benchmarks/bench_evaluate.py``
compares its throughput (samples x attack steps per second) with training's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

import jax
import numpy as np

from mechjax import progress
from mechjax.auctions.evaluate_attack import (  # noqa: F401
    MAX_GRID_ITEMS,
    make_attack_chunk,
    make_revenue_chunk,
    misreport_grid,
    num_starts,
    uses_grid,
)
from mechjax.auctions.problem import AuctionProblem
from mechjax.errors import ConfigError

# Revenue needs one forward pass per sample, so its chunks are this many attack chunks long.
REVENUE_CHUNK_FACTOR = 8
# Key offset of the revenue samples (kept apart from the attacked chunks 0, 1, 2, ...).
REVENUE_KEY = 2**31 - 1


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
        batch_size: samples per compiled chunk; memory is bounded by one chunk whatever
            ``num_samples`` is.
        tile_size: samples attacked at once inside a chunk (a speed setting only: the attack is
            the same); None picks about 1k deviation profiles per ascent step on a CPU and the
            whole chunk on an accelerator.
        check_every: ascent steps between checks of whether a tile's ascent has settled.
        settle_tol: a tile's ascent stops at a check where the best deviation of none of its
            samples and bidders rose by more than this since the last check (and, without the
            grid, no start is still drifting uphill); ``steps`` is then a maximum. None runs every
            step. The summary reports the steps run (``attack.steps_run_mean``, ``_max``).
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
    tile_size: Optional[int] = None
    check_every: int = 10
    settle_tol: Optional[float] = 1e-6
    seed: int = 2024
    allow_weak: bool = False

    def __post_init__(self):
        for name in ("steps", "num_samples", "revenue_samples", "batch_size", "check_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"attack.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("restarts", "grid", "grid_init"):
            if getattr(self, name) < 0:
                raise ConfigError(f"attack.{name} must be >= 0, got {getattr(self, name)}")
        if self.tile_size is not None and self.tile_size < 1:
            raise ConfigError(f"attack.tile_size must be >= 1 (or null: automatic), got {self.tile_size}")
        if self.grid == 1:
            raise ConfigError("attack.grid must be 0 (off) or >= 2")
        if not self.lr > 0:
            raise ConfigError(f"attack.lr must be > 0, got {self.lr}")
        if self.settle_tol is not None and not (np.isfinite(self.settle_tol) and self.settle_tol >= 0):
            raise ConfigError(f"attack.settle_tol must be a finite number >= 0 (or null: run every step), "
                              f"got {self.settle_tol}")
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


class _RunningStats:
    """Count, mean, M2 and max of a stream of ``[rows, k]`` chunks, in float64 (Chan et al.'s merge)."""

    def __init__(self, width: int):
        self.count = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.max = np.full(width, -np.inf)

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float64).reshape(len(rows), -1)
        k = len(rows)
        mean = rows.mean(axis=0)
        m2 = ((rows - mean[None]) ** 2).sum(axis=0)
        total = self.count + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * k / total)
        self.count = total
        self.max = np.maximum(self.max, rows.max(axis=0))

    def stderr(self) -> np.ndarray:
        if self.count < 2:
            return np.zeros_like(self.mean)
        return np.sqrt(self.m2 / (self.count - 1) / self.count)


def _chunks(total: int, chunk: int) -> list[int]:
    """How many samples of each chunk count: full chunks, then the rest (a prefix of the last one)."""
    return [min(chunk, total - start) for start in range(0, total, chunk)]


def attack_plan(problem: AuctionProblem, mechanism: Callable, attack: AttackConfig) -> dict:
    """What :func:`evaluate_auction` will do to ``mechanism``: chunks, tiles, grid (for benchmarks)."""
    chunk = min(attack.batch_size, attack.num_samples)
    _, plan = make_attack_chunk(problem, mechanism, attack, chunk)
    return {**plan, "chunk": chunk, "chunks": len(_chunks(attack.num_samples, chunk)),
            "starts": num_starts(problem, attack)}


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
        ``attack`` (the settings, with ``grid_used`` and the ``tile_size`` used).
    """
    chunk = min(attack.batch_size, attack.num_samples)
    attack_chunk, plan = make_attack_chunk(problem, mechanism, attack, chunk)
    key = jax.random.key(attack.seed)
    regret_stats, ir_stats = _RunningStats(problem.num_agents), _RunningStats(1)
    steps_run = []  # ascent steps of every tile
    with progress.bar(attack.num_samples, "evaluate: attack", "sample") as bar:
        for i, used in enumerate(_chunks(attack.num_samples, chunk)):
            regret, ir, steps = attack_chunk(key, np.int32(i))
            regret_stats.add(np.asarray(regret)[:used])
            ir_stats.add(np.asarray(ir)[:used])
            steps_run.extend(np.asarray(steps).tolist())
            bar.update(used)
            bar.set_postfix(regret=f"{regret_stats.mean.mean():.3g}", refresh=False)
    revenue_chunk = min(attack.batch_size * REVENUE_CHUNK_FACTOR, attack.revenue_samples)
    revenue_fn = make_revenue_chunk(problem, mechanism, revenue_chunk)
    revenue_key = jax.random.fold_in(key, REVENUE_KEY)
    revenue_stats = _RunningStats(1)
    with progress.bar(attack.revenue_samples, "evaluate: revenue", "sample") as bar:
        for i, used in enumerate(_chunks(attack.revenue_samples, revenue_chunk)):
            revenue_stats.add(np.asarray(revenue_fn(revenue_key, np.int32(i)))[:used])
            bar.update(used)
    per_bidder = regret_stats.mean
    summary = {
        "revenue": float(revenue_stats.mean[0]),
        "revenue_stderr": float(revenue_stats.stderr()[0]),
        "regret": float(per_bidder.mean()),
        "regret_per_bidder": [float(r) for r in per_bidder],
        "regret_max_per_bidder": [float(r) for r in regret_stats.max],
        "regret_max": float(regret_stats.max.max()),
        "ir_violation": float(ir_stats.mean[0]),
        "num_samples": int(regret_stats.count),
        "revenue_samples": int(revenue_stats.count),
        "attack": {**asdict(attack), "grid_used": bool(plan["grid_used"]), "strength": attack.strength,
                   "tile_size": plan["tile_size"], "steps_run_mean": float(np.mean(steps_run)),
                   "steps_run_max": int(np.max(steps_run))},
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


def settle_text(a: dict) -> str:
    """How the summary's attacker stopped its ascents (empty for summaries written before it could)."""
    if "settle_tol" not in a:
        return ""
    if a["settle_tol"] is None:
        return "; every ascent ran all its steps"
    return (f"; an ascent stopped once settled (checked every {a.get('check_every')} steps: no sample's best "
            f"deviation rose by more than {a['settle_tol']:g})")


def revenue_excess_bound(optimal_revenue: float, regret: float) -> float:
    """How far above ``optimal_revenue`` a single-bidder mechanism with expected ``regret`` can earn.

    ``min_d [OPT d / (1 - d) + regret / d]`` over d in (0, 1) (see the module docstring).
    """
    if regret <= 0:
        return 0.0
    d = np.linspace(1e-4, 0.5, 20001)
    return float(np.min(optimal_revenue * d / (1 - d) + regret / d))
