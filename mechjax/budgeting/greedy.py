"""Greedy utilitarian welfare (pabutools's ``greedy_utilitarian_welfare`` for additive satisfactions).

Projects are taken in decreasing order of satisfaction per unit of cost (a project with positive
satisfaction and zero cost first, a project with zero total satisfaction last, with density 0),
ties in the tie-breaking order, and each is funded if it still fits in the remaining budget (it
skips, it does not stop). Satisfactions (``satisfaction=``):

* ``"cost"`` (default): a voter's satisfaction from a funded project they support is its cost,
  so the density is the number of supporters (pabutools's ``Cost_Sat``; a free project has
  satisfaction 0 and density 0 under it);
* ``"cardinality"``: satisfaction 1 per supported project, density = supporters / cost
  ("approvals per cost", pabutools's ``Cardinality_Sat``);
* ``"scores"``: the ballot's points (cumulative/scoring), density = total points / cost
  (pabutools's ``Additive_Cardinal_Sat``).

All densities are compared exactly (Fractions of integers).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechjax.budgeting.ties import tie_rank
from mechjax.errors import ConfigError

SATISFACTIONS = ("cost", "cardinality", "scores")


def total_satisfaction(election, satisfaction: str) -> list:
    """Exact total satisfaction of each project, ``P`` Fractions."""
    if satisfaction == "cost":
        support = election.approvals.sum(axis=0).tolist()
        return [Fraction(s) * c for s, c in zip(support, election.exact_costs)]
    if satisfaction == "cardinality":
        return [Fraction(s) for s in election.approvals.sum(axis=0).tolist()]
    if satisfaction == "scores":
        if election.scores is None:
            raise ConfigError(f"satisfaction='scores' needs a cardinal election; {election.source} is {election.vote_type}")
        return [Fraction(int(s)) for s in election.scores.sum(axis=0).round().astype(np.int64).tolist()]
    raise ConfigError(f"satisfaction: unknown choice {satisfaction!r}; expected one of {SATISFACTIONS}")


def greedy(election, satisfaction: str = "cost", tie_breaking: str = "lexico", initial=None) -> np.ndarray:
    """Greedy utilitarian welfare under a budget.

    Args:
        election: an :class:`~mechjax.budgeting.election.Election`.
        satisfaction: ``"cost"``, ``"cardinality"`` or ``"scores"`` (module docstring).
        tie_breaking: see :mod:`mechjax.budgeting.ties`.
        initial: ``[P]`` bool, projects already funded (a completion continues from them).

    Returns:
        ``[P]`` bool, the funded projects (including ``initial``).
    """
    totals = total_satisfaction(election, satisfaction)
    rank = tie_rank(election, tie_breaking)
    funded = np.zeros(election.num_projects, dtype=bool) if initial is None else np.array(initial, dtype=bool)
    inf = (1, Fraction(0))

    def key(j):
        total, cost = totals[j], election.exact_costs[j]
        if total > 0:
            density = inf if cost == 0 else (0, -total / cost)
        else:
            density = (0, Fraction(0))
        return (-density[0], density[1], rank[j])

    remaining = election.exact_budget - election.cost_of(funded)
    for j in sorted(np.flatnonzero(~funded).tolist(), key=key):
        if election.exact_costs[j] <= remaining:
            funded[j] = True
            remaining -= election.exact_costs[j]
    return funded
