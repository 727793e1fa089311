"""Synthetic elections: random ones with many ties (for agreement checks), Euclidean ones and
resampled real ones (for training), as :class:`Election` objects or as padded arrays.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechjax.budgeting.election import make_election


def random_election(rng: np.random.Generator, max_voters: int = 30, max_projects: int = 10,
                    cardinal: bool = False):
    """A random election built to produce ties: few distinct costs, duplicated projects and ballots.

    Args:
        rng: numpy generator.
        max_voters, max_projects: upper size limits (sizes are drawn below them).
        cardinal: give integer points 1..3 instead of approvals.

    Returns:
        An :class:`~mechjax.budgeting.election.Election` with ids ``"p0"..`` shuffled so that the
        lexicographic order differs from the index order.
    """
    num_projects = int(rng.integers(1, max_projects + 1))
    num_voters = int(rng.integers(1, max_voters + 1))
    scale = int(rng.choice([1, 3, 100, 1000]))
    costs = rng.integers(0 if rng.random() < 0.1 else 1, 6, size=num_projects) * scale
    density = rng.uniform(0.1, 0.8)
    approvals = rng.random((num_voters, num_projects)) < density
    if num_projects > 1 and rng.random() < 0.5:  # duplicate a project: an exact tie everywhere
        a, b = rng.choice(num_projects, 2, replace=False)
        approvals[:, b], costs[b] = approvals[:, a], costs[a]
    if num_voters > 1 and rng.random() < 0.5:  # repeated ballots
        approvals[rng.integers(num_voters, size=num_voters // 2)] = approvals[0]
    total = int(costs.sum())
    budget = Fraction(int(rng.integers(0, max(total, 1) + 1)))
    if rng.random() < 0.3:
        budget = Fraction(int(budget) * 7 + 1, 7)  # a budget with a fraction
    ids = [f"p{j}" for j in rng.permutation(num_projects)]
    scores = None
    if cardinal:
        scores = approvals * rng.integers(1, 4, size=approvals.shape)
        approvals = scores > 0
    return make_election(costs.tolist(), budget, approvals=approvals, scores=scores, project_ids=ids,
                         source="random")
