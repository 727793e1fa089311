"""Exact manipulation checks: can a voter (or a coalition) gain by misreporting its ranking?

For small numbers of candidates (``m <= MAX_CANDIDATES``) we enumerate all ``m!`` ballots. An
outcome is valued by *expected utility* under the rule's outcome lottery:

* a winner mask is read as a uniform lottery over the winner set (``tie_break="uniform"``, i.e.
  ties broken uniformly at random), or as its lowest-index winner (``tie_break="lowest_index"``,
  the resolute rule ``rules.lowest_index``);
* winner probabilities (a learned or probabilistic rule) are used as they are.

Utilities are the profile's own (e.g. Euclidean or Dirichlet cultures) or, by default, Borda
utilities ``(m-1-rank)/(m-1)`` of the sincere ranking. A coalition manipulates successfully when
*every* member's expected utility strictly rises (by more than ``atol``). Coalition members either
all cast one common ballot (``joint="same"``, ``m!`` options) or any combination
(``joint="all"``, ``(m!)^k`` options, for tiny cases).

With ``weights``, a row of ``rankings`` is a group of identical voters that misreports together.
The search runs on the host (numpy); only the rule runs in JAX, jitted, in chunks.
"""

from __future__ import annotations

import functools
import itertools
from typing import Callable, NamedTuple

import numpy as np
from jaxtyping import Bool, Float, Int

from mechjax.errors import ConfigError
from mechjax.voting.axioms import evaluate, host_rng, lotteries

MAX_CANDIDATES = 6
MAX_JOINT_BALLOTS = 20_000


class ManipulationResult(NamedTuple):
    """Best misreport per profile and voter group.

    Attributes:
        manipulable: ``[batch]`` some tested group can strictly gain.
        gain: ``[batch, groups]`` best over ballots of the smallest member gain (<= 0: no success).
        best_ballots: ``[batch, groups, members, candidates]`` ballots achieving ``gain``.
    """

    manipulable: Bool[np.ndarray, " batch"]
    gain: Float[np.ndarray, "batch groups"]
    best_ballots: Int[np.ndarray, "batch groups members candidates"]

    @property
    def rate(self) -> float:
        """Fraction of profiles in which some tested group can manipulate."""
        return float(np.asarray(self.manipulable).mean())


@functools.lru_cache(maxsize=None)
def all_ballots(num_candidates: int) -> np.ndarray:
    """All ``m!`` rankings of ``num_candidates`` candidates, lexicographic, ``[m!, m]``."""
    return np.array(list(itertools.permutations(range(num_candidates))), np.int32)


def outcome_lottery(outcome, tie_break: str = "uniform") -> np.ndarray:
    """The lottery a voter faces: see the module docstring for ``tie_break``."""
    outcome = np.asarray(outcome)
    if outcome.dtype == np.bool_ and tie_break == "lowest_index":
        outcome = (np.arange(outcome.shape[-1]) == outcome.argmax(-1)[..., None]) & outcome.any(-1, keepdims=True)
    return lotteries(outcome)


def coalition_manipulation(rule: Callable, rankings, coalitions, utilities=None, weights=None,
                           joint: str = "same", tie_break: str = "uniform", atol: float = 1e-6,
                           chunk_size: int = 4096) -> ManipulationResult:
    """Exhaustive search over misreports of each coalition (host-side; the rule runs in chunks).

    Args:
        rule: ``rankings [-> weights] -> winner mask or probabilities``.
        rankings: ``[batch, voters, candidates]`` sincere rankings.
        coalitions: ``[groups, members]`` voter indices, the same for every profile.
        utilities: ``[batch, voters, candidates]`` or None for Borda utilities.
        weights: optional ``[batch, voters]`` ballot counts.
        joint: ``"same"`` (one common ballot) or ``"all"`` (every combination).
        tie_break: ``"uniform"`` or ``"lowest_index"`` for winner masks.
        atol: minimum gain that counts as strict.
        chunk_size: rule calls per compiled chunk.

    Returns:
        A ``ManipulationResult`` (numpy arrays).
    """
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    if m > MAX_CANDIDATES:
        raise ConfigError(f"manipulation.num_candidates must be <= {MAX_CANDIDATES} for exhaustive "
                          f"search, got {m}")
    if joint not in ("same", "all"):
        raise ConfigError(f"manipulation.joint must be 'same' or 'all', got {joint!r}")
    if tie_break not in ("uniform", "lowest_index"):
        raise ConfigError(f"manipulation.tie_break must be 'uniform' or 'lowest_index', got {tie_break!r}")
    coalitions = np.asarray(coalitions, np.int64)
    if coalitions.ndim != 2 or coalitions.size == 0 or coalitions.min() < 0 or coalitions.max() >= n:
        raise ConfigError(f"manipulation.coalitions must be [groups, members] indices in 0..{n - 1}")
    groups, k = coalitions.shape
    ballots = all_ballots(m)
    if joint == "same":
        options = np.repeat(ballots[:, None, :], k, 1)  # [A, k, m]
    else:
        if len(ballots) ** k > MAX_JOINT_BALLOTS:
            raise ConfigError(f"manipulation.joint='all' needs {len(ballots)}^{k} ballot "
                              f"combinations (> {MAX_JOINT_BALLOTS}); use joint='same'")
        options = np.array([np.stack(c) for c in itertools.product(ballots, repeat=k)], np.int32)
    num_options = len(options)
    util = ((m - 1 - np.argsort(rankings, -1)) / max(m - 1, 1) if utilities is None
            else np.asarray(utilities, np.float64))
    sincere = outcome_lottery(evaluate(rule, rankings, weights, chunk_size), tie_break)
    member_util = util[:, coalitions]  # [b, g, k, m]
    sincere_eu = (member_util * sincere[:, None, None, :]).sum(-1)  # [b, g, k]

    per_profile = num_options * groups
    step = max(1, chunk_size // per_profile)
    gain_all = np.empty((b, groups, num_options))
    for start in range(0, b, step):
        sl = slice(start, min(start + step, b))
        nb = sl.stop - sl.start
        lied = np.broadcast_to(rankings[sl][:, None, None], (nb, groups, num_options, n, m)).copy()
        lied[:, np.arange(groups)[:, None, None], np.arange(num_options)[None, :, None],
             coalitions[:, None, :]] = options[None, None]
        w = None if weights is None else np.repeat(np.asarray(weights)[sl], per_profile, 0)
        out = evaluate(rule, lied.reshape(-1, n, m), w, chunk_size)
        lottery = outcome_lottery(out, tie_break).reshape(nb, groups, num_options, m)
        eu = np.einsum("bgkc,bgac->bgak", member_util[sl], lottery)
        gain_all[sl] = (eu - sincere_eu[sl][:, :, None, :]).min(-1)
    best = gain_all.argmax(-1)
    gain = np.take_along_axis(gain_all, best[..., None], -1)[..., 0]
    return ManipulationResult((gain > atol).any(-1), gain, options[best])


def single_voter_manipulation(rule: Callable, rankings, utilities=None, weights=None,
                              voters=None, tie_break: str = "uniform", atol: float = 1e-6,
                              chunk_size: int = 4096) -> ManipulationResult:
    """Exhaustive single-voter manipulation (each listed voter alone; default all voters).

    See ``coalition_manipulation``; groups are the voters, each with one member.
    """
    n = np.shape(rankings)[1]
    voters = np.arange(n) if voters is None else np.asarray(voters)
    return coalition_manipulation(rule, rankings, voters[:, None], utilities, weights, "same",
                                  tie_break, atol, chunk_size)


def random_coalitions(key, num_voters: int, size: int, count: int) -> Int[np.ndarray, "count size"]:
    """``count`` coalitions of ``size`` distinct voters, drawn uniformly."""
    if not 1 <= size <= num_voters:
        raise ConfigError(f"manipulation.coalition_size must be in 1..{num_voters}, got {size}")
    return np.argsort(host_rng(key).random((count, num_voters)), axis=-1)[:, :size]
