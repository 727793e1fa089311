"""The cost perspective: choose who casts, under a budget, so that every voter is represented.

Casting costs effort (``cost[i]``, e.g. the time to become informed); a voter is *represented*
when she casts or a neighbour of hers casts (she can delegate to that neighbour). Choosing the
casters is then a minimum-cost dominating set (NP-hard in general):

* ``cheapest_cover_exact``: exhaustive search over all ``2^n`` caster sets, vectorised in numpy
  (n <= ``EXACT_MAX_VOTERS``);
* ``cheapest_cover_greedy``: the classical greedy for weighted set cover, repeatedly adding the
  voter who represents the most still-unrepresented voters per unit of cost (within a factor
  ``H(max degree + 1)`` of the optimum);
* ``budgeted_cover``: at most ``budget`` spent, as many voters represented as possible (exact by
  enumeration, or greedy), and among equally good sets the cheapest.
``delegate_to_cover`` turns a caster set into a delegation graph: every other represented voter
delegates to her most competent casting neighbour.
"""

from __future__ import annotations

import numpy as np

from mechjax.errors import DataError

EXACT_MAX_VOTERS = 20


def _check(adjacency, cost, budget=None):
    a = np.asarray(adjacency).astype(bool)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise DataError(f"adjacency must be a square [n, n] matrix, got shape {a.shape}")
    c = np.asarray(cost, dtype=np.float64)
    if c.shape != (a.shape[0],):
        raise DataError(f"cost must have shape [{a.shape[0]}], got {c.shape}")
    if not np.isfinite(c).all() or (c < 0).any():
        raise DataError("cost must hold finite non-negative numbers")
    if budget is not None and not budget >= 0:
        raise DataError(f"budget must be >= 0, got {budget}")
    return a | np.eye(a.shape[0], dtype=bool), c  # closed neighbourhoods: a caster represents herself


def _all_subsets(n: int) -> np.ndarray:
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None]) & 1).astype(bool)  # [2^n, n]


def _enumerate(closed, cost):
    n = len(cost)
    if n > EXACT_MAX_VOTERS:
        raise DataError(f"exact search enumerates 2^n caster sets; n = {n} > {EXACT_MAX_VOTERS}, use the greedy")
    subsets = _all_subsets(n)
    represented = (subsets.astype(np.int32) @ closed.astype(np.int32)) > 0  # [2^n, n]
    return subsets, represented.sum(-1), subsets @ cost


def cheapest_cover_exact(adjacency, cost) -> np.ndarray:
    """``bool [n]``: a cheapest caster set representing every voter (ties: fewest casters, then lowest mask)."""
    closed, c = _check(adjacency, cost)
    subsets, count, total = _enumerate(closed, c)
    full = count == len(c)
    key = np.where(full, total, np.inf)
    best = np.lexsort((subsets.sum(-1), key))[0]
    return subsets[best]


def cheapest_cover_greedy(adjacency, cost) -> np.ndarray:
    """``bool [n]``: the greedy caster set representing every voter."""
    closed, c = _check(adjacency, cost)
    n = len(c)
    chosen = np.zeros(n, bool)
    covered = np.zeros(n, bool)
    while not covered.all():
        gain = (closed & ~covered[None]).sum(-1).astype(np.float64)
        ratio = np.where(chosen | (gain == 0), -np.inf, gain / np.maximum(c, 1e-12))
        i = int(np.argmax(ratio))
        chosen[i] = True
        covered |= closed[i]
    return chosen


def budgeted_cover(adjacency, cost, budget: float, method: str = "exact") -> np.ndarray:
    """``bool [n]``: casters costing at most ``budget`` that represent as many voters as possible.

    Args:
        adjacency: ``bool [n, n]`` symmetric network.
        cost: ``[n]`` non-negative casting costs.
        budget: the most that may be spent (>= 0).
        method: ``exact`` (enumeration, n <= ``EXACT_MAX_VOTERS``) or ``greedy`` (best ratio of newly
            represented voters to cost among the affordable voters, until none helps).
    """
    closed, c = _check(adjacency, cost, budget)
    if method == "exact":
        subsets, count, total = _enumerate(closed, c)
        ok = total <= budget + 1e-9
        best = np.lexsort((subsets.sum(-1), np.where(ok, total, np.inf), np.where(ok, -count, np.inf)))[0]
        return subsets[best]
    if method != "greedy":
        raise DataError(f"method must be exact or greedy, got {method!r}")
    n = len(c)
    chosen, covered, spent = np.zeros(n, bool), np.zeros(n, bool), 0.0
    while True:
        gain = (closed & ~covered[None]).sum(-1).astype(np.float64)
        affordable = ~chosen & (gain > 0) & (spent + c <= budget + 1e-9)
        if not affordable.any():
            return chosen
        i = int(np.argmax(np.where(affordable, gain / np.maximum(c, 1e-12), -np.inf)))
        chosen[i], spent = True, spent + c[i]
        covered |= closed[i]


def represented(adjacency, casters) -> np.ndarray:
    """``bool [n]``: voters who cast or have a casting neighbour."""
    a = np.asarray(adjacency).astype(bool) | np.eye(len(casters), dtype=bool)
    return (a & np.asarray(casters)[None]).any(-1)


def delegate_to_cover(adjacency, casters, competence) -> np.ndarray:
    """``int [n]`` delegation graph: casters cast, every other represented voter delegates to her most
    competent casting neighbour, and unrepresented voters cast themselves."""
    a = np.asarray(adjacency).astype(bool)
    casters = np.asarray(casters).astype(bool)
    p = np.asarray(competence, dtype=np.float64)
    n = len(casters)
    score = np.where(a & casters[None], p[None], -np.inf)
    best = np.argmax(score, -1)
    go = ~casters & np.isfinite(score.max(-1))
    return np.where(go, best, np.arange(n))
