"""Sequential Phragmén for participatory budgeting, decided exactly.

Voters' loads rise continuously; a project is bought as soon as its supporters' loads can pay for
it: the next project minimises ``(sum of its supporters' loads + cost) / supporters``. The rule
stops as soon as a project of that minimal load does not fit in the remaining budget (pabutools's
``sequential_phragmen``: it stops rather than skipping, and any tied project that does not fit
stops it). Projects dearer than the budget are never considered; a project nobody supports has an
infinite new load.

Every voter's load is the new load of the last funded project they support, so loads take at most
``funded + 1`` values ("levels"). We keep for each project the number of its supporters at each
level (integers), compute new loads in float64, and recompute exactly (levels are Fractions) the
candidates within a relative ``REL_TOL`` of the minimum.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechjax.budgeting.ties import REL_TOL, tie_rank


def phragmen(election, tie_breaking: str = "lexico") -> np.ndarray:
    """Sequential Phragmén on the election's approvals.

    Args:
        election: an :class:`~mechjax.budgeting.election.Election` (any vote type: a voter
            supports the projects on their ballot).
        tie_breaking: see :mod:`mechjax.budgeting.ties`.

    Returns:
        ``[P]`` bool, the funded projects.
    """
    approvals = election.approvals
    num_voters, num_projects = approvals.shape
    rank = tie_rank(election, tie_breaking)
    costs, budget = election.exact_costs, election.exact_budget
    score = approvals.sum(axis=0).astype(np.int64)
    remaining = np.array([c <= budget for c in costs], dtype=bool)
    funded = np.zeros(num_projects, dtype=bool)
    levels = [Fraction(0)]
    level_float = np.zeros(num_projects + 1)
    counts = np.zeros((num_projects, num_projects + 1), dtype=np.int64)  # [project, level]
    counts[:, 0] = score
    level_of = np.zeros(num_voters, dtype=np.int64)
    cost_float = election.costs
    spent = Fraction(0)
    while remaining.any():
        candidates = np.flatnonzero(remaining)
        with np.errstate(divide="ignore", invalid="ignore"):
            loads = (counts[candidates, :len(levels)] @ level_float[:len(levels)] + cost_float[candidates])
            new_load = np.where(score[candidates] > 0, loads / np.maximum(score[candidates], 1), np.inf)
        best = new_load.min()
        if np.isinf(best):
            tied = candidates
            exact_best = None
        else:
            close = candidates[new_load <= best * (1 + 2 * REL_TOL)]
            exact = {j: _exact_load(counts[j], levels, costs[j], score[j]) for j in close.tolist()}
            exact_best = min(exact.values())
            tied = np.array([j for j, v in exact.items() if v == exact_best])
        if any(spent + costs[j] > budget for j in tied.tolist()):
            break
        chosen = int(tied[np.argmin(rank[tied])])
        funded[chosen] = True
        remaining[chosen] = False
        spent += costs[chosen]
        if exact_best is None:  # nobody supports it: nobody's load changes
            continue
        supporters = np.flatnonzero(approvals[:, chosen])
        new_level = len(levels)
        levels.append(exact_best)
        level_float[new_level] = float(exact_best)
        # move the chosen project's supporters to the new level, in every project's counts
        old = level_of[supporters]
        order = np.argsort(old, kind="stable")
        rows = approvals[supporters[order]].astype(np.int64)
        starts = np.flatnonzero(np.r_[True, np.diff(old[order]) != 0])
        per_level = np.add.reduceat(rows, starts, axis=0)  # [distinct old levels, P]
        counts[:, old[order][starts]] -= per_level.T
        counts[:, new_level] += rows.sum(axis=0)
        level_of[supporters] = new_level
    return funded


def _exact_load(counts_row, levels, cost, score) -> Fraction:
    total = Fraction(cost)
    for level, count in zip(levels, counts_row[:len(levels)].tolist()):
        if count and level:
            total += level * count
    return total / int(score)
