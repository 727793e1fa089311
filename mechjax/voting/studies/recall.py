"""How much of the true manipulation a search finds: recall metrics against an exact reference,
a smooth rule with a closed-form exact search at any size, and the naive (training-time) attacker.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.core.adversary import ascend
from mechjax.voting import manipulation, profiles
from mechjax.voting.nets import ballots_from_rankings
from mechjax.voting.problem import VotingProblem
from mechjax.voting.relaxed_search import deviation_gains

ATOL = 1e-6  # a manipulation is a gain above this


def _positions(ranks: jax.Array) -> jax.Array:
    """0..m-1 along the last axis, shaped to broadcast against ``ranks`` without rank promotion."""
    m = ranks.shape[-1]
    return jnp.arange(m).reshape((1,) * (ranks.ndim - 1) + (m,))


def softmax_borda(temperature: float) -> Callable:
    """Softmax of the mean Borda score over ``temperature``: a smooth rule (expected scores for relaxed ballots).

    Returns:
        ``Ballots -> [batch, candidates]`` winner probabilities.
    """
    def mechanism(ballots):
        m = ballots.ranks.shape[-1]
        score = (m - 1 - (ballots.ranks * _positions(ballots.ranks)).sum(-1)) / (m - 1)
        w = ballots.weights / ballots.weights.sum(-1, keepdims=True)
        return jax.nn.softmax(jnp.einsum("bn,bnm->bm", w, score) / temperature, -1)
    return mechanism


def borda_points(rankings: np.ndarray) -> np.ndarray:
    """``[..., m]`` rankings -> ``[..., m]`` Borda points (m-1-position)/(m-1) per candidate."""
    m = rankings.shape[-1]
    return (m - 1 - np.argsort(rankings, -1)) / (m - 1)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def softmax_borda_exact(rankings: np.ndarray, temperature: float) -> np.ndarray:
    """Every voter's exact best gain under :func:`softmax_borda`, any m (closed form per ballot, float64).

    Args:
        rankings: ``int [batch, voters, candidates]``; utilities are the voters' Borda points.

    Returns:
        ``[batch, voters]`` best expected-utility gain over all m! ballots (may be <= 0).
    """
    b, n, _ = rankings.shape
    ballot_points = borda_points(manipulation.all_ballots(rankings.shape[-1]))  # [a, m]
    points = borda_points(rankings)
    best = np.empty((b, n))
    for p in range(b):
        truthful = _softmax(points[p].mean(0) / temperature) @ points[p].T  # [n]
        for v in range(n):
            lied = _softmax((points[p].sum(0) - points[p, v] + ballot_points) / n / temperature)
            best[p, v] = (lied @ points[p, v]).max() - truthful[v]
    return best


def naive_attack(mechanism: Callable, rankings: np.ndarray, key, steps: int = 25, lr: float = 0.1):
    """The training Adversary's ascent (one fresh random start, no warm start), rounded to a ranking.

    Returns:
        ``(real gain [batch, voters], relaxed gain [batch, voters])``: the exact gain of the rounded
        ballot (0 where it finds nothing: the voter keeps her truthful ballot) and the gain the
        attacker believes it has on relaxed ballots.
    """
    b, n, m = rankings.shape
    problem = VotingProblem(culture=profiles.CultureConfig(num_voters=n, num_candidates=m))
    utilities = jnp.asarray(borda_points(rankings), jnp.float32)

    @jax.jit
    def attack(rankings, utilities, key):
        batch = SimpleNamespace(ballots=ballots_from_rankings(rankings), utilities=utilities)
        found = ascend(lambda x: problem.deviation_utility(mechanism, batch, x),
                       problem.random_reports(key, batch, 1), problem.project, steps, lr)
        relaxed = problem.deviation_utility(mechanism, batch, found)[0]
        truthful = jnp.einsum("bm,bnm->bn", mechanism(batch.ballots), utilities)
        ballots = problem.project(found)[0]
        rounded = jnp.argsort((ballots * _positions(ballots)).sum(-1), axis=-1, stable=True).astype(jnp.int32)
        return rounded, jax.nn.relu(relaxed - truthful)

    rounded, relaxed_gain = (np.asarray(x) for x in attack(jnp.asarray(rankings), utilities, key))
    gain = deviation_gains(mechanism, rankings, rounded)
    return np.maximum(gain, 0.0), relaxed_gain


def recall(found: np.ndarray, exact: np.ndarray) -> dict:
    """Recall of a search's real gains ``found [b, n]`` against the reference ``exact [b, n]``.

    Returns:
        ``exhaustive manipulable`` (share of profiles), ``profiles found`` / ``voters found``
        (share of the manipulable ones where a manipulation was found), ``voters at optimum``
        (found within ``ATOL`` of the best), ``voter gain fraction`` (mean found / best, capped
        at 1), ``mean best gain ratio``, ``mean best gain`` and ``above exhaustive`` (gains the
        reference contradicts; must be 0 for an exact reference).
    """
    manipulable = exact > ATOL
    profiles_exact = manipulable.any(-1)
    best_found, best_exact = np.maximum(found, 0).max(-1), np.maximum(exact, 0).max(-1)
    some = manipulable.any()
    return {
        "exhaustive manipulable": round(float(profiles_exact.mean()), 3),
        "profiles found": round(float(((found > ATOL).any(-1) & profiles_exact).sum() / max(profiles_exact.sum(), 1)), 3),
        "voters found": round(float((found[manipulable] > ATOL).mean()) if some else float("nan"), 3),
        "voters at optimum": round(float((found[manipulable] >= exact[manipulable] - ATOL).mean())
                                   if some else float("nan"), 3),
        # capped at 1: float32 noise can put a found gain a hair above a tiny exhaustive one
        "voter gain fraction": round(float(np.minimum(np.maximum(found[manipulable], 0) / exact[manipulable], 1).mean())
                                     if some else float("nan"), 3),
        "mean best gain ratio": round(float(best_found.mean() / max(best_exact.mean(), 1e-12)), 4),
        "mean best gain": round(float(best_found.mean()), 5),
        "above exhaustive": int((found > exact + 1e-5).sum()),
    }
