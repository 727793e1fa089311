"""The strong attacker's kernels: one compiled function attacks a chunk of samples, tile by tile.

:func:`make_attack_chunk` builds ``chunk(key, index) -> (regret [chunk, bidders], ir [chunk],
steps [tiles])``, jitted once per evaluation; the host loop in :mod:`mechjax.auctions.evaluate` calls
it for chunk 0, 1, 2, ... and keeps running sums, so memory is bounded by the chunk size whatever the
number of samples. Inside a chunk, the samples are attacked in *tiles* of a few dozen samples under
``lax.map``. Tiling changes nothing in what is computed (every (sample, bidder, start) is ascended
independently: the same steps, starts and grid), only how much is computed at once. Why: on a CPU
the ascent is a chain of small matrix products, and with all starts of a 512-sample chunk at once
(10,752 deviation profiles per bidder) its activations spill out of the core's L2 cache; tiles of
about a thousand profiles ran 2-5x more samples x attack steps per second on this project's
2-core machine (numbers in benchmarks/RESULTS.md, "Evaluator"). Accelerators want the opposite,
so off the CPU a tile is the whole chunk.

Each tile's ascent is checked every ``attack.check_every`` steps and stops once it has settled:
the best deviation found for every sample and bidder of the tile rose by at most
``attack.settle_tol`` since the last check, and (for bidders with more than two items, where no grid
has sampled every region) no start is still drifting uphill (:func:`ascend_until_settled`). The
regret is the best utility any start reached at any check, so stopping can only lose what a
settled ascent would still have found in its remaining steps (measured in benchmarks/RESULTS.md,
"Evaluator"); ``attack.settle_tol=null`` runs every step. ``steps`` reports how many each tile ran.

A mechanism whose deviation utility has an exactly zero gradient at every start of a tile (menus
with an argmax, such as RochetNet at evaluation, or step-function auctions such as VCG) cannot
move under Adam, so its ascent is skipped; the attack on such mechanisms is its grid and its
starts, as it always was.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.auctions.problem import AuctionProblem, utilities
from mechjax.core.adversary import ascent_step

MAX_GRID_ITEMS = 2
# Values (floats) that one ascent step of a tile may create on a CPU. Measured optima (CPU time per
# sample x attack step, benchmarks/RESULTS.md) sat at 3.4M-6.7M for RegretNet 1x2 and 2x2 and for
# RegretFormer 2x2 alike, although their values per profile differ 12x: the step's working set
# then stays in the last-level cache.
CPU_TILE_FLOATS = 2**22


def misreport_grid(problem: AuctionProblem, points: int) -> jax.Array:
    """``[G, bidders, items]``: every bidder's grid of misreports over her own support."""
    m = problem.num_items
    t = jnp.asarray(list(itertools.product(np.linspace(0.0, 1.0, points), repeat=m)), jnp.float32)
    low, high = problem.valuations.low_array, problem.valuations.high_array
    return low[None] + t[:, None, :] * (high - low)[None]


def uses_grid(problem: AuctionProblem, attack) -> bool:
    """Whether the exhaustive grid runs (it does for bidders with at most two items)."""
    return attack.grid > 0 and problem.num_items <= MAX_GRID_ITEMS


def num_starts(problem: AuctionProblem, attack) -> int:
    """Gradient starts per (sample, bidder): truthful, random, and (with the grid) the best grid points."""
    return 1 + attack.restarts + (attack.grid_init if uses_grid(problem, attack) else 0)


def _jaxpr_floats(jaxpr) -> int:
    """Elements of every value an (open) jaxpr creates, nested jaxprs (jit, cond, scan) included."""
    total = 0
    for eqn in jaxpr.eqns:
        total += sum(int(np.prod(v.aval.shape)) for v in eqn.outvars if hasattr(v.aval, "shape"))
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    total += _jaxpr_floats(inner)
    return total


def floats_per_start(problem: AuctionProblem, mechanism: Callable) -> int:
    """Values one ascent step creates per (sample, start), all bidders' deviations together.

    Read off the traced gradient of the deviation utility at 2 and at 1 sample (their
    difference), so it needs no compilation and counts whatever the mechanism computes.
    """
    def count(batch):
        values = jnp.zeros((batch, problem.num_agents, problem.num_items), jnp.float32)
        grad = jax.grad(lambda x: problem.deviation_utility(mechanism, values, x).sum())
        return _jaxpr_floats(jax.make_jaxpr(grad)(values[None]).jaxpr)

    return max(1, count(2) - count(1))


def tile_size(problem: AuctionProblem, attack, chunk: int, per_start: int = 1,
              backend: str | None = None) -> int:
    """Samples attacked at once inside a chunk of ``chunk`` samples.

    ``attack.tile_size`` when set; otherwise, on a CPU, tiles whose ascent step creates about
    :data:`CPU_TILE_FLOATS` values (``per_start`` per sample and start, see
    :func:`floats_per_start`), balanced so that padding the last tile wastes little; on an
    accelerator the whole chunk.
    """
    if attack.tile_size:
        return min(attack.tile_size, chunk)
    if (backend or jax.default_backend()) != "cpu":
        return chunk
    target = max(1, CPU_TILE_FLOATS // (num_starts(problem, attack) * per_start))
    tiles = math.ceil(chunk / target)
    return math.ceil(chunk / tiles)


def ascend_until_settled(utility_fn: Callable, init: jax.Array, project: Callable, steps: int, lr: float,
                         scale, check_every: int, tol: float | None,
                         drift_guard: bool = True) -> tuple[jax.Array, jax.Array]:
    """Projected Adam ascent (:func:`~mechjax.core.adversary.ascend`'s steps) from ``init``
    ``[starts, ..., items]``, checked every ``check_every`` steps, stopping once it has settled.

    ``utility_fn`` maps misreports ``[starts, ..., items]`` to utilities ``[starts, ...]``, each
    depending on its own misreport only; the attack wants, for every entry of ``...`` (a sample and
    bidder), the best utility any start reaches. The ascent has *settled* at a check where that best
    rose by at most ``tol`` over the last ``check_every`` steps, and (with ``drift_guard``) no start
    is still drifting uphill: moved more than half the distance Adam can travel in those steps
    (``lr * check_every / 2``, in units of the support's width) while improving on its own best.
    The guard keeps a start that crosses a nearly flat region towards a better one from being cut
    off; the evaluator drops it when the exhaustive grid has already sampled every region. A
    settled ascent stops; otherwise it runs all ``steps``. ``tol=None`` never stops early.

    A start whose gradient is exactly zero at every start cannot move under Adam (a zero gradient
    gives zero moments and a zero step): such ascents (menus with an argmax, such as RochetNet at
    evaluation, or step-function auctions such as VCG) return their starts without running a step.

    Returns:
        ``(best, steps_run)``: the best utility each start reached at a check (the projected start
        and the final iterate included), ``[starts, ...]``, and the number of ascent steps run.
    """
    scale = jnp.asarray(1.0 if scale is None else scale)
    scale = scale.reshape((1,) * (init.ndim - scale.ndim) + scale.shape)  # explicit broadcasting

    def utility(z):
        return utility_fn(z * scale)

    def project_scaled(z):
        return project(z * scale) / scale

    tx, step = ascent_step(utility, project_scaled, lr)
    z0 = project_scaled(init / scale)
    blocks, rest = divmod(steps, check_every)
    reach = 0.5 * lr * check_every

    def run(z, state, length):
        (z, state), _ = jax.lax.scan(step, (z, state), None, length=length)
        return z, state

    def unsettled(carry):
        _, _, _, block, settled = carry
        return (block < blocks) & ~settled

    def block(carry):
        z, state, best, count, _ = carry
        moved, state = run(z, state, check_every)
        reached = utility(moved)
        settled = jnp.bool_(False)
        if tol is not None:
            settled = jnp.all(reached.max(axis=0) <= best.max(axis=0) + tol)
            if drift_guard:
                drifting = (jnp.max(jnp.abs(moved - z), axis=-1) > reach) & (reached > best)
                settled = settled & ~jnp.any(drifting)
        return moved, state, jnp.maximum(best, reached), count + 1, settled

    def finish(z, state, best):
        moved, _ = run(z, state, rest)
        return jnp.maximum(best, utility(moved)), jnp.int32(rest)

    def ascent(z):
        start = (z, tx.init(z), utility(z), jnp.int32(0), jnp.bool_(False))
        z, state, best, count, settled = jax.lax.while_loop(unsettled, block, start)
        steps_run = count * check_every
        if rest:
            best, more = jax.lax.cond(settled, lambda: (best, jnp.int32(0)), lambda: finish(z, state, best))
            steps_run = steps_run + more
        return best, steps_run

    gradient = jax.grad(lambda z: utility(z).sum())(z0)
    return jax.lax.cond(jnp.all(gradient == 0), lambda z: (utility(z), jnp.int32(0)), ascent, z0)


def _pad_rows(x: jax.Array, rows: int, axis: int) -> jax.Array:
    """``x`` with its ``axis`` padded to ``rows`` entries by repeating the last one (dropped later)."""
    extra = rows - x.shape[axis]
    if extra == 0:
        return x
    last = jax.lax.slice_in_dim(x, x.shape[axis] - 1, x.shape[axis], axis=axis)
    return jnp.concatenate([x, jnp.repeat(last, extra, axis=axis)], axis=axis)


def make_attack_chunk(problem: AuctionProblem, mechanism: Callable, attack, chunk: int,
                      backend: str | None = None) -> tuple[Callable, dict]:
    """The jitted attack on one chunk of fresh samples, and what it does.

    Args:
        problem: the auction problem (samples, deviation utilities, report space).
        mechanism: ``bids [batch, bidders, items] -> (allocations, payments)``, jittable.
        attack: an :class:`~mechjax.auctions.evaluate.AttackConfig`.
        chunk: samples per call.
        backend: the platform the tile size is chosen for (default: JAX's default backend).

    Returns:
        ``(attack_chunk, plan)``: ``attack_chunk(key, index) -> (regret [chunk, bidders], ir [chunk],
        steps [tiles])`` attacks the samples of chunk ``index`` (drawn from ``fold_in(key, index)``, so chunk i is the
        same whatever the number of chunks); ``plan`` says how (``grid_used``, ``tile_size``,
        ``tiles``, ``grid_block``).
    """
    n = problem.num_agents
    use_grid = uses_grid(problem, attack)
    grid = misreport_grid(problem, attack.grid) if use_grid else None
    on_cpu = (backend or jax.default_backend()) == "cpu"
    per_start = floats_per_start(problem, mechanism) if on_cpu and not attack.tile_size else 1
    tile = tile_size(problem, attack, chunk, per_start, backend)
    tiles = math.ceil(chunk / tile)
    # Grid points per step of the grid scan: about the values of one ascent step of a tile (a
    # forward pass creates fewer than a gradient, so this errs on the small side).
    grid_block = 1
    if use_grid:
        wanted = max(1, CPU_TILE_FLOATS // (tile * per_start)) if on_cpu else grid.shape[0]
        grid_block = min(grid.shape[0], wanted)
    plan = {"grid_used": use_grid, "tile_size": tile, "tiles": tiles, "grid_block": grid_block,
            "floats_per_start": per_start}

    def deviation(values, misreports):
        return problem.deviation_utility(mechanism, values, misreports)

    def grid_utilities(values):  # [G, tile, n]: every bidder's utility at every grid point
        g = grid.shape[0]
        blocks = math.ceil(g / grid_block)
        points = _pad_rows(grid, blocks * grid_block, 0).reshape(blocks, grid_block, *grid.shape[1:])

        def block_utilities(block):  # [grid_block, n, m] -> [grid_block, tile, n]
            return deviation(values, jnp.broadcast_to(block[:, None], (grid_block,) + values.shape))

        utils = jax.lax.map(block_utilities, points).reshape(blocks * grid_block, *values.shape[:2])
        return utils[:g]

    def attack_tile(args):
        values, random_starts = args  # [tile, n, m], [restarts, tile, n, m]
        alloc, pay = mechanism(values)
        truthful = utilities(values, alloc, pay)  # [tile, n]
        starts = [values[None]]
        best = jnp.full_like(truthful, -jnp.inf)
        if use_grid:
            grid_utils = grid_utilities(values)
            best = jnp.maximum(best, grid_utils.max(axis=0))
            if attack.grid_init:
                # top_k keeps the lower grid index first among ties, like a stable descending sort
                _, top = jax.lax.top_k(jnp.moveaxis(grid_utils, 0, -1), attack.grid_init)  # [tile, n, k]
                top = jnp.moveaxis(top, -1, 0)  # [k, tile, n]
                starts.append(grid[top, jnp.arange(n)[None, None, :]])  # [k, tile, n, m]
        if attack.restarts:
            starts.append(random_starts)
        init = jnp.concatenate(starts, axis=0)
        found, steps_run = ascend_until_settled(lambda x: deviation(values, x), init, problem.project, attack.steps,
                                                attack.lr, problem.report_scale, attack.check_every, attack.settle_tol,
                                                drift_guard=not use_grid)
        best = jnp.maximum(best, found.max(axis=0))
        regret = jax.nn.relu(best - truthful)
        ir = jax.nn.relu(-truthful).sum(axis=-1)
        return regret, ir, steps_run

    def attack_chunk(key, index):
        k_values, k_attack = jax.random.split(jax.random.fold_in(key, index))
        values = problem.sample(k_values, chunk)  # [chunk, n, m]
        if attack.restarts:
            random_starts = problem.random_reports(k_attack, values, attack.restarts)
        else:
            random_starts = jnp.zeros((0,) + values.shape, values.dtype)
        rows = tiles * tile
        values_t = _pad_rows(values, rows, 0).reshape(tiles, tile, *values.shape[1:])
        starts_t = jnp.moveaxis(_pad_rows(random_starts, rows, 1).reshape(
            random_starts.shape[0], tiles, tile, *values.shape[1:]), 1, 0)  # [tiles, restarts, tile, n, m]
        regret, ir, steps_run = jax.lax.map(attack_tile, (values_t, starts_t))
        return regret.reshape(rows, n)[:chunk], ir.reshape(rows)[:chunk], steps_run

    return jax.jit(attack_chunk), plan


def make_revenue_chunk(problem: AuctionProblem, mechanism: Callable, chunk: int) -> Callable:
    """``revenue_chunk(key, index) -> [chunk]``: the total payment of each sample of chunk ``index``."""

    def revenue_chunk(key, index):
        return mechanism(problem.sample(jax.random.fold_in(key, index), chunk))[1].sum(axis=-1)

    return jax.jit(revenue_chunk)
