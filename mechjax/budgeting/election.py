"""The election a budgeting rule reads: costs, a budget and ballots as arrays, kept exactly.

Rules decide ties exactly, so the costs and the budget are kept as :class:`fractions.Fraction`
(``exact_costs``, ``exact_budget``) beside the float arrays the vectorised code uses. Every ballot
is available as an approval matrix (the projects a voter supports: approved, ranked or given
points), which is what pabutools's cost and cardinality satisfactions read for any vote type;
``scores`` holds points (cumulative/scoring) and ``ranks`` positions (ordinal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

import numpy as np

from mechjax.errors import DataError

VOTE_TYPES = ("approval", "choose-1", "cumulative", "scoring", "ordinal")


@dataclass(frozen=True, eq=False)
class Election:
    """One participatory-budgeting election.

    Attributes:
        project_ids: ``P`` project ids (strings, as in the file), in file order.
        costs: ``[P]`` float64 costs.
        budget: the budget limit (float).
        approvals: ``[V, P]`` bool, voter supports project.
        scores: ``[V, P]`` float64 points (cumulative/scoring), else None.
        ranks: ``[V, P]`` int32 position on the ballot, 1 = best, 0 = unranked (ordinal), else None.
        vote_type: one of ``VOTE_TYPES``.
        exact_costs: ``P`` Fractions, the costs exactly.
        exact_budget: the budget exactly.
        voter_ids: ``V`` voter ids ("" for synthetic elections).
        meta: META section, key -> value strings, in file order.
        project_columns: extra PROJECTS columns (beyond project_id, cost), in file order.
        project_meta: ``P`` tuples of strings, one per extra column.
        voter_columns: extra VOTES columns (beyond voter_id, vote, points).
        voter_meta: ``V`` tuples of strings, one per extra column.
        source: file path (or a label), used in messages.
        issues: ``"<file>:<line>: ..."`` for each ballot kept although it breaks a META limit.
    """

    project_ids: tuple
    costs: np.ndarray
    budget: float
    approvals: np.ndarray
    exact_costs: tuple
    exact_budget: Fraction
    vote_type: str = "approval"
    scores: Optional[np.ndarray] = None
    ranks: Optional[np.ndarray] = None
    voter_ids: tuple = ()
    meta: dict = field(default_factory=dict)
    project_columns: tuple = ()
    project_meta: tuple = ()
    voter_columns: tuple = ()
    voter_meta: tuple = ()
    source: str = "<memory>"
    issues: tuple = ()

    @property
    def num_projects(self) -> int:
        return len(self.project_ids)

    @property
    def num_voters(self) -> int:
        return int(self.approvals.shape[0])

    def cost_of(self, funded) -> Fraction:
        """Exact total cost of the funded projects (``funded``: ``[P]`` bool)."""
        return sum((c for c, f in zip(self.exact_costs, np.asarray(funded)) if f), Fraction(0))

    def is_feasible(self, funded) -> bool:
        """Whether ``funded`` (``[P]`` bool) costs at most the budget, exactly."""
        return self.cost_of(funded) <= self.exact_budget

    def __eq__(self, other) -> bool:
        if not isinstance(other, Election):
            return NotImplemented
        arrays = ("approvals", "scores", "ranks")
        same_arrays = all(
            (getattr(self, a) is None and getattr(other, a) is None)
            or (getattr(self, a) is not None and getattr(other, a) is not None
                and np.array_equal(getattr(self, a), getattr(other, a)))
            for a in arrays)
        return (same_arrays and self.project_ids == other.project_ids
                and self.exact_costs == other.exact_costs and self.exact_budget == other.exact_budget
                and self.vote_type == other.vote_type and self.voter_ids == other.voter_ids
                and dict(self.meta) == dict(other.meta) and self.project_columns == other.project_columns
                and self.project_meta == other.project_meta and self.voter_columns == other.voter_columns
                and self.voter_meta == other.voter_meta)

    __hash__ = None


def make_election(costs, budget, approvals=None, scores=None, project_ids=None,
                  source: str = "<memory>") -> Election:
    """An election from arrays, validated (the field is named on bad input).

    Args:
        costs: ``[P]`` non-negative costs (ints, Fractions or floats; floats are taken exactly).
        budget: the budget limit, >= 0.
        approvals: ``[V, P]`` bool (default: ``scores > 0``).
        scores: ``[V, P]`` non-negative integer points (cardinal utilities), optional.
        project_ids: ``P`` distinct strings (default ``"0" .. "P-1"``).
        source: a label for messages.

    Returns:
        The :class:`Election` (vote type ``approval``, or ``scoring`` when scores are given).
    """
    exact_costs = tuple(Fraction(c) for c in np.asarray(costs, dtype=object).tolist())
    if any(c < 0 for c in exact_costs):
        raise DataError(f"{source}: costs must be >= 0, got {min(exact_costs)}")
    exact_budget = Fraction(budget)
    if exact_budget < 0:
        raise DataError(f"{source}: budget must be >= 0, got {budget}")
    num_projects = len(exact_costs)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != num_projects:
            raise DataError(f"{source}: scores must be [voters, {num_projects}], got {scores.shape}")
        if (scores < 0).any() or not np.all(scores == np.round(scores)):
            raise DataError(f"{source}: scores must be non-negative integers")
        if approvals is None:
            approvals = scores > 0
    if approvals is None:
        raise DataError(f"{source}: give approvals or scores")
    approvals = np.asarray(approvals)
    if approvals.ndim != 2 or approvals.shape[1] != num_projects:
        raise DataError(f"{source}: approvals must be [voters, {num_projects}], got {approvals.shape}")
    if approvals.dtype != bool:
        if not np.isin(approvals, (0, 1)).all():
            raise DataError(f"{source}: approvals must be 0/1")
        approvals = approvals.astype(bool)
    if project_ids is None:
        project_ids = tuple(str(j) for j in range(num_projects))
    project_ids = tuple(str(p) for p in project_ids)
    if len(project_ids) != num_projects or len(set(project_ids)) != num_projects:
        raise DataError(f"{source}: project_ids must be {num_projects} distinct ids")
    return Election(project_ids=project_ids, costs=np.array([float(c) for c in exact_costs]),
                    budget=float(exact_budget), approvals=approvals, exact_costs=exact_costs,
                    exact_budget=exact_budget, vote_type="approval" if scores is None else "scoring",
                    scores=scores, voter_ids=("",) * approvals.shape[0], source=source)
