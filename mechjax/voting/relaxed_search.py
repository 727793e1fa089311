"""Single-voter manipulation found by gradient over relaxed ballots, reported on real ballots only.

The exhaustive search (``manipulation``) scores all ``m!`` ballots of every voter, which stops at
``m = MAX_CANDIDATES``. Above that, this search looks for a voter's best misreport in four stages,
all jitted and run on chunks of profiles:

1. **structured ballots**, scored exactly: the truthful ballot, its reverse, and for every ordered
   pair of candidates ``(c, d)`` the sincere ranking with ``c`` moved to the top and ``d`` to the
   bottom (``m (m - 1)`` ballots covering the classical compromising and burying moves);
2. **gradient ascent** of the voter's expected utility over relaxed ballots (doubly-stochastic
   candidate x position matrices ``sinkhorn(logits / temperature)``, Adam on the logits) from the
   smoothed truthful ballot, the best structured ballot and random logits, while the temperature
   anneals geometrically so that the relaxed ballots are driven towards permutation matrices;
3. **rounding**: at a few snapshots along every ascent each relaxed ballot is rounded to a real
   ballot twice (candidates sorted by expected position; greedy assignment of the largest entries)
   and the rounded ballots are scored exactly;
4. **local search** on real ballots: best-improvement hill climbing over all ``m (m - 1) / 2``
   swaps of two positions, from the best structured ballot and every restart's best rounded one.

Only real ballots scored by the mechanism itself are ever reported, so every gain is a real
manipulation (a lower bound on the exhaustive search's gain, never more); how much the search misses
is measured against the exhaustive search in ``experiments/voting_relaxed_attack.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from mechjax.errors import ConfigError, DataError
from mechjax.voting.axioms import chunk_indices
from mechjax.voting.manipulation import ManipulationResult
from mechjax.voting.nets import Ballots, ballots_from_rankings
from mechjax.voting.profiles import check_rankings

SMOOTHED_LOGIT = 3.0  # a real ballot as logits: its permutation entries this much above the rest


@dataclass(frozen=True)
class RelaxedSearch:
    """Settings of the search (hashable: one compilation per mechanism and settings).

    Attributes:
        steps: Adam steps per ascent (0: structured ballots and local search only).
        restarts: ascents per voter (the first from the truthful ballot, the second from the best
            structured ballot, the rest from random logits).
        lr: Adam step size on the logits.
        temperature: ``(start, end)`` of the geometric annealing of the Sinkhorn temperature.
        sinkhorn_iterations: log-domain Sinkhorn iterations per relaxed ballot.
        snapshots: points along each ascent at which the relaxed ballots are rounded and scored.
        local_rounds: rounds of best-improvement swap search (0: none).
        structured: score the compromising/burying ballots and start from the best of them.
        chunk_size: mechanism evaluations per compiled batch (bounds memory).
    """

    steps: int = 100
    restarts: int = 4
    lr: float = 0.1
    temperature: tuple[float, float] = (1.0, 0.05)
    sinkhorn_iterations: int = 20
    snapshots: int = 4
    local_rounds: int = 4
    structured: bool = True
    chunk_size: int = 2048

    def __post_init__(self):
        for name in ("steps", "local_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"relaxed_search.{name} must be an integer >= 0, got {value!r}")
        for name in ("restarts", "sinkhorn_iterations", "snapshots", "chunk_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"relaxed_search.{name} must be an integer >= 1, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"relaxed_search.lr must be > 0, got {self.lr!r}")
        if len(self.temperature) != 2 or not all(t > 0 for t in self.temperature):
            raise ConfigError(f"relaxed_search.temperature must be (start, end) with both > 0, "
                              f"got {self.temperature!r}")


class _Election(NamedTuple):
    ballots: Ballots  # sincere ballots [c, n, m, m]
    utilities: Float[Array, "c n m"]


def _log_sinkhorn(scores, iterations: int):
    """Doubly-stochastic ``[..., m, m]`` from real scores (log domain: stable at low temperature)."""
    def step(_, z):
        z = z - jax.nn.logsumexp(z, axis=-1, keepdims=True)
        return z - jax.nn.logsumexp(z, axis=-2, keepdims=True)

    return jnp.exp(jax.lax.fori_loop(0, iterations, step, scores))


def _deviation_utility(mechanism, election: _Election, misreports) -> Float[Array, "k c n"]:
    return deviation_utility(mechanism, election.ballots, election.utilities, misreports)


def deviation_utility(mechanism, ballots: Ballots, utilities, misreports) -> Float[Array, "k c n"]:
    """Expected utility of voter i when she alone reports ``misreports[k, c, i]`` ([k, c, n, m, m],
    real or relaxed ballots) and everyone else keeps her ballot in ``ballots``."""
    ranks, weights, mask = ballots
    k, c, n, m, _ = misreports.shape
    deviator = jnp.eye(n, dtype=bool)[None, None, :, :, None, None]  # [1, 1, deviator, voter, 1, 1]
    lied = jnp.where(deviator, misreports[:, :, :, None], ranks[None, :, None])  # [k, c, n, n, m, m]
    tile = lambda x: jnp.broadcast_to(x[None, :, None], (k, c, n) + x.shape[1:]).reshape((k * c * n,) + x.shape[1:])
    probs = mechanism(Ballots(lied.reshape(k * c * n, n, m, m), tile(weights), tile(mask)))
    return jnp.einsum("kcim,cim->kci", probs.reshape(k, c, n, m), utilities)


def _one_hot_ballots(rankings):
    """Position matrices ``[..., m, m]`` of real rankings ``[..., m]``."""
    return jax.nn.one_hot(jnp.argsort(rankings, axis=-1), rankings.shape[-1], dtype=jnp.float32)


def _score(mechanism, election: _Election, rankings, group: int) -> Float[Array, "k c n"]:
    """Exact expected utility of real ballots ``rankings [k, c, n, m]``, ``group`` ballots per call."""
    k = rankings.shape[0]
    blocks = -(-k // group)
    padded = jnp.concatenate([rankings, jnp.broadcast_to(rankings[:1], (blocks * group - k,) + rankings.shape[1:])])
    utility = jax.lax.map(lambda r: _deviation_utility(mechanism, election, _one_hot_ballots(r)),
                          padded.reshape((blocks, group) + rankings.shape[1:]))
    return utility.reshape((blocks * group,) + rankings.shape[1:3])[:k]


def _structured_ballots(rankings) -> Int[Array, "s c n m"]:
    """Truthful, reversed, and for every ordered pair (c, d) the sincere ballot with c first, d last."""
    m = rankings.shape[-1]
    top, bottom = (jnp.asarray(a) for a in np.nonzero(~np.eye(m, dtype=bool)))  # [m (m - 1)]
    candidate = jnp.arange(m)[None]  # [1, m]
    position = jnp.argsort(rankings, axis=-1)[None]  # [1, c, n, m]
    key = (position - (m + 1) * (candidate == top[:, None])[:, None, None]
           + 2 * m * (candidate == bottom[:, None])[:, None, None])
    moved = jnp.argsort(key, axis=-1).astype(rankings.dtype)
    return jnp.concatenate([rankings[None], rankings[None, ..., ::-1], moved])


def _round_expected_position(relaxed) -> Int[Array, "... m"]:
    """Real ranking: candidates sorted by expected position (ties by index)."""
    m = relaxed.shape[-1]
    position = jnp.arange(m).reshape((1,) * (relaxed.ndim - 1) + (m,))  # explicit broadcasting
    return jnp.argsort((relaxed * position).sum(-1), axis=-1, stable=True).astype(jnp.int32)


def _round_greedy(relaxed) -> Int[Array, "... m"]:
    """Real ranking: repeatedly fix the largest remaining (candidate, position) entry."""
    m = relaxed.shape[-1]

    def fix(_, carry):
        scores, position = carry
        flat = jnp.argmax(scores.reshape(scores.shape[:-2] + (m * m,)), axis=-1)
        cand, pos = flat // m, flat % m
        row = jax.nn.one_hot(cand, m, dtype=bool)
        col = jax.nn.one_hot(pos, m, dtype=bool)
        position = jnp.where(row, pos[..., None], position)
        scores = jnp.where(row[..., :, None] | col[..., None, :], -jnp.inf, scores)
        return scores, position

    _, position = jax.lax.fori_loop(0, m, fix, (relaxed, jnp.zeros(relaxed.shape[:-1], jnp.int32)))
    return jnp.argsort(position, axis=-1).astype(jnp.int32)


def _ascend(mechanism, election: _Election, init, cfg: RelaxedSearch):
    """Annealed Adam ascent on logits ``init [r, c, n, m, m]``; relaxed ballots at ``snapshots`` points."""
    start, end = cfg.temperature
    temperatures = start * (end / start) ** (jnp.arange(cfg.steps) / max(cfg.steps - 1, 1))
    tx = optax.adam(cfg.lr)
    relax = lambda logits, t: _log_sinkhorn(logits / t, cfg.sinkhorn_iterations)
    grad = jax.grad(lambda logits, t: _deviation_utility(mechanism, election, relax(logits, t)).sum())

    count = min(cfg.snapshots, cfg.steps)
    taken = np.linspace(0, cfg.steps, count + 1).round().astype(int)[1:] - 1  # steps after which to keep
    slot = np.full(cfg.steps, count)  # out of range: the update is dropped
    slot[taken] = np.arange(count)

    def step(carry, inputs):
        logits, opt_state, kept = carry
        t, where = inputs
        updates, opt_state = tx.update(jax.tree.map(jnp.negative, grad(logits, t)), opt_state)
        logits = optax.apply_updates(logits, updates)
        # one scan (one compiled copy of the mechanism's gradient) that keeps a few iterates
        return (logits, opt_state, kept.at[where].set(logits, mode="drop")), None

    kept = jnp.zeros((count,) + init.shape, init.dtype)
    (_, _, kept), _ = jax.lax.scan(step, (init, tx.init(init), kept), (temperatures, jnp.asarray(slot)))
    t = temperatures[taken].reshape((count,) + (1,) * init.ndim)
    return relax(kept, t)  # [snapshots, r, c, n, m, m]


def _hill_climb(mechanism, election: _Election, start, utility, rounds: int, group: int):
    """Best-improvement search over swaps of two positions from real ballots ``start [l, c, n, m]``."""
    m = start.shape[-1]
    swaps = []
    for i in range(m):
        for j in range(i + 1, m):
            perm = np.arange(m)
            perm[[i, j]] = perm[[j, i]]
            swaps.append(perm)
    swaps = jnp.asarray(np.stack(swaps))  # [t, m]: position p takes the candidate at swaps[t, p]

    def round_(carry, _):
        current, value = carry
        neighbours = jnp.moveaxis(current[..., swaps], -2, 0)  # [t, l, c, n, m]
        t = neighbours.shape[0]
        scores = _score(mechanism, election, neighbours.reshape((-1,) + current.shape[1:]), group)
        scores = scores.reshape((t,) + value.shape)
        best = jnp.argmax(scores, axis=0)
        best_value = jnp.max(scores, axis=0)
        better = best_value > value
        chosen = jnp.take_along_axis(neighbours, best[None, ..., None], axis=0)[0]
        return (jnp.where(better[..., None], chosen, current), jnp.where(better, best_value, value)), None

    (current, value), _ = jax.lax.scan(round_, (start, utility), None, length=rounds)
    return current, value


def _best(rankings, utility):
    """Per (profile, voter) the ballot of highest utility among ``rankings [k, c, n, m]``."""
    index = jnp.argmax(utility, axis=0)
    return (jnp.take_along_axis(rankings, index[None, ..., None], axis=0)[0],
            jnp.take_along_axis(utility, index[None], axis=0)[0])


def _search_chunk(mechanism, cfg: RelaxedSearch, rankings, utilities, weights, key) -> Int[Array, "c n m"]:
    c, n, m = rankings.shape
    election = _Election(ballots_from_rankings(rankings, weights), utilities)
    group = max(1, cfg.chunk_size // (c * n))
    score = functools.partial(_score, mechanism, election, group=group)
    pool = _structured_ballots(rankings) if cfg.structured else rankings[None]
    pool_utility = score(pool)
    best_structured, best_structured_utility = _best(pool, pool_utility)
    pools, utilities_found = [pool], [pool_utility]
    climb_from, climb_utility = [best_structured[None]], [best_structured_utility[None]]
    if cfg.steps > 0:
        smoothed = lambda r: SMOOTHED_LOGIT * _one_hot_ballots(r)[None]
        starts = [smoothed(rankings)] + ([smoothed(best_structured)] if cfg.structured else [])
        starts = jnp.concatenate(starts)[: cfg.restarts]
        noise = jax.random.gumbel(key, (cfg.restarts - starts.shape[0], c, n, m, m))
        relaxed = _ascend(mechanism, election, jnp.concatenate([starts, noise]), cfg)  # [s, r, c, n, m, m]
        rounded = jnp.stack([_round_expected_position(relaxed), _round_greedy(relaxed)])  # [2, s, r, c, n, m]
        rounded = rounded.reshape((-1,) + rounded.shape[2:]).swapaxes(0, 1)  # [r, 2 s, c, n, m]
        rounded_utility = score(rounded.reshape((-1, c, n, m))).reshape(rounded.shape[:-1])
        index = jnp.argmax(rounded_utility, axis=1)  # [r, c, n]: each restart's best rounded ballot
        climb_from.append(jnp.take_along_axis(rounded, index[:, None, ..., None], axis=1)[:, 0])
        climb_utility.append(jnp.take_along_axis(rounded_utility, index[:, None], axis=1)[:, 0])
        pools.append(rounded.reshape((-1, c, n, m)))
        utilities_found.append(rounded_utility.reshape((-1, c, n)))
    if cfg.local_rounds > 0:
        climbed, climbed_utility = _hill_climb(mechanism, election, jnp.concatenate(climb_from),
                                               jnp.concatenate(climb_utility), cfg.local_rounds, group)
        pools.append(climbed)
        utilities_found.append(climbed_utility)
    best, _ = _best(jnp.concatenate(pools), jnp.concatenate(utilities_found))
    return best


@functools.lru_cache(maxsize=16)
def _compiled_search(mechanism, cfg: RelaxedSearch):
    return jax.jit(functools.partial(_search_chunk, mechanism, cfg))


@functools.lru_cache(maxsize=16)
def _compiled_outcomes(mechanism):
    @jax.jit
    def outcomes(rankings, ballots, weights):
        """Winner probabilities when voter i alone casts ``ballots[:, i]``: [c, n, m], and sincere [c, m]."""
        c, n, m = rankings.shape
        lied = jnp.where(jnp.eye(n, dtype=bool)[None, :, :, None], ballots[:, :, None], rankings[:, None])
        probs = mechanism(ballots_from_rankings(lied.reshape(c * n, n, m), jnp.repeat(weights, n, 0)))
        return probs.reshape(c, n, m), mechanism(ballots_from_rankings(rankings, weights))
    return outcomes


def _cached(builder, *args):
    try:
        return builder(*args)
    except TypeError:  # an unhashable mechanism: compile without the cache
        return builder.__wrapped__(*args)


def _borda(rankings: np.ndarray) -> np.ndarray:
    m = rankings.shape[-1]
    return (m - 1 - np.argsort(rankings, -1)) / max(m - 1, 1)


def deviation_gains(mechanism: Callable, rankings, ballots, utilities=None, weights=None,
                    chunk_size: int = 2048) -> Float[np.ndarray, "batch voters"]:
    """Exact gain of every voter who alone casts the real ballot ``ballots[b, i]`` instead of her own.

    Args:
        mechanism: ``Ballots -> winner probabilities [batch, candidates]``.
        rankings: ``[batch, voters, candidates]`` sincere rankings.
        ballots: ``[batch, voters, candidates]`` misreported rankings (one per voter).
        utilities: ``[batch, voters, candidates]`` or None for Borda utilities of ``rankings``.
        weights: optional ``[batch, voters]`` ballot counts (a row is a group casting one ballot).
        chunk_size: mechanism evaluations per compiled call.

    Returns:
        ``[batch, voters]`` expected-utility gain (float64 on the host; exactly 0 where the ballot is
        the sincere one).
    """
    rankings, ballots = np.asarray(rankings, np.int32), np.asarray(ballots, np.int32)
    check_rankings(rankings, weights)
    check_rankings(ballots, None, field="ballots")
    b, n, m = rankings.shape
    util = _borda(rankings) if utilities is None else np.asarray(utilities, np.float64)
    if util.shape != rankings.shape or ballots.shape != rankings.shape:
        raise DataError(f"ballots and utilities must have the shape of rankings {rankings.shape}, "
                        f"got {ballots.shape} and {util.shape}")
    w = np.ones((b, n), np.float32) if weights is None else np.asarray(weights, np.float32)
    outcomes = _cached(_compiled_outcomes, mechanism)
    gains = np.empty((b, n))
    for start, stop, idx in chunk_indices(b, max(1, chunk_size // n)):
        lied, sincere = (np.asarray(x, np.float64)[: stop - start] for x in outcomes(rankings[idx], ballots[idx], w[idx]))
        u = util[start:stop]
        gains[start:stop] = np.einsum("bim,bim->bi", u, lied) - np.einsum("bim,bm->bi", u, sincere)
    return np.where((ballots == rankings).all(-1), 0.0, gains)


def relaxed_manipulation(mechanism: Callable, rankings, utilities=None, weights=None, *, key,
                         search: Optional[RelaxedSearch] = None, atol: float = 1e-6,
                         **settings) -> ManipulationResult:
    """Each voter's best misreport found by the relaxed-ballot search; every reported ballot is real.

    Args:
        mechanism: differentiable ``Ballots -> winner probabilities [batch, candidates]`` (e.g. the
            first value of ``mechjax.experiment.load(run_dir)``); it must accept relaxed ballots.
        rankings: ``[batch, voters, candidates]`` sincere rankings (any number of candidates).
        utilities: ``[batch, voters, candidates]`` or None for Borda utilities ``(m-1-pos)/(m-1)``.
        weights: optional ``[batch, voters]`` ballot counts (a row is a group casting one ballot;
            zero-weight voters are not searched).
        key: PRNG key of the random restarts.
        search: the settings; or pass ``RelaxedSearch`` fields as keywords (``steps=100``, ...).
        atol: minimum gain that counts as a manipulation.

    Returns:
        A ``ManipulationResult`` like ``manipulation.single_voter_manipulation``: ``gain [batch,
        voters]`` is the exact gain of ``best_ballots [batch, voters, 1, candidates]`` (0 with the
        truthful ballot when nothing better was found), recomputed by ``deviation_gains``.
    """
    if search is not None and settings:
        raise ConfigError(f"relaxed_search: pass either search= or keyword settings, not both ({sorted(settings)})")
    try:
        search = search or RelaxedSearch(**settings)
    except TypeError as err:
        raise ConfigError(f"relaxed_search: unknown setting ({err})") from err
    rankings = np.asarray(rankings)
    check_rankings(rankings, weights)
    rankings = rankings.astype(np.int32)
    b, n, m = rankings.shape
    if m < 2:
        raise DataError(f"rankings: relaxed_search needs >= 2 candidates, got {m}")
    util = _borda(rankings) if utilities is None else np.asarray(utilities, np.float64)
    if util.shape != rankings.shape:
        raise DataError(f"utilities must have the shape of rankings {rankings.shape}, got {util.shape}")
    w = np.ones((b, n), np.float32) if weights is None else np.asarray(weights, np.float32)
    run = _cached(_compiled_search, mechanism, search)
    per_chunk = max(1, search.chunk_size // (n * search.restarts))
    best = np.empty_like(rankings)
    for i, (start, stop, idx) in enumerate(chunk_indices(b, per_chunk)):
        found = run(rankings[idx], util[idx].astype(np.float32), w[idx], jax.random.fold_in(key, i))
        best[start:stop] = np.asarray(found)[: stop - start]
    best = np.where((w > 0)[..., None], best, rankings)
    gain = deviation_gains(mechanism, rankings, best, util, weights, search.chunk_size)
    return ManipulationResult((gain > atol).any(-1), gain, best[:, :, None, :])
