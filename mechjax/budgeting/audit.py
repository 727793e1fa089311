"""Proportionality and welfare audits of a funded set, under cost satisfaction (approvals).

A voter's satisfaction with a set of projects is the total cost of those they support (the
cost satisfaction MES uses). A group ``N'`` is ``T``-cohesive when all its members support every
project of ``T`` and ``|N'| / n * budget >= cost(T)`` (pabutools's definition).

* **EJR**: for every ``T``-cohesive group some member has satisfaction ``>= cost(T)``.
  A violation exists iff, for some ``T``, the supporters of all of ``T`` whose satisfaction is
  below ``cost(T)`` are themselves numerous enough to be ``T``-cohesive. We search the sets ``T``
  depth first with voter bitsets, pruning a branch as soon as ``T``'s joint supporters are too
  few (adding projects only raises the cost and shrinks the group), so the check is exact;
  ``None`` if the search passes ``max_nodes``.
* **EJR up to one**: the same with each member's satisfaction raised by the dearest unfunded
  project of ``T`` (pabutools's ``is_EJR_one_approval``); MES with cost utilities guarantees it.
* **PJR**: for every ``T``-cohesive group the funded projects supported by at least one member
  cost ``>= cost(T)``. A violation is a cohesive subgroup whose members' funded projects all lie
  in some ``S`` (subset of the funded set) with ``cost(S) < cost(T)``; we enumerate such ``S``
  for each cohesive ``T``, exact when the funded set has at most ``max_funded_pjr`` projects,
  else ``None``.
* ``budget_used`` (share of the budget spent), ``covered_share`` (share of voters supporting at
  least one funded project), ``satisfaction_gini`` (Gini coefficient of voters' satisfaction),
  ``welfare`` (mean satisfaction divided by the budget).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _bitsets(columns):
    """Python-int bitsets of a [V, k] bool matrix's columns."""
    packed = np.packbits(columns, axis=0, bitorder="little")
    return [int.from_bytes(packed[:, j].tobytes(), "little") for j in range(columns.shape[1])]


def gini(values) -> float:
    """Gini coefficient of non-negative values (0: all equal; 0 for an all-zero vector)."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    total = values.sum()
    if len(values) == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, len(values) + 1)
    return float((2 * ranks - len(values) - 1) @ values / (len(values) * total))


def _blocks(size, budget, num_voters, cost) -> bool:
    """Whether ``size`` unsatisfied voters form a (non-empty) group entitled to ``cost``."""
    return size > 0 and size * budget >= num_voters * cost


def _search(election, funded, max_nodes):
    """Depth-first search of cohesive ``T``; returns (ejr, ejr_up_to_one, cohesive list or None)."""
    approvals = election.approvals
    num_voters = approvals.shape[0]
    costs, budget = election.exact_costs, election.exact_budget
    satisfaction = [sum((costs[j] for j in np.flatnonzero(row & funded).tolist()), Fraction(0)) for row in approvals]
    order = sorted(range(num_voters), key=lambda i: satisfaction[i])
    sorted_sat = [satisfaction[i] for i in order]
    columns = _bitsets(approvals[order])
    everyone = (1 << num_voters) - 1

    def below(x):  # bitset of voters (in sorted order) whose satisfaction is < x
        lo, hi = 0, num_voters
        while lo < hi:
            mid = (lo + hi) // 2
            if sorted_sat[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return (1 << lo) - 1

    ejr, ejr1, nodes, cohesive = True, True, 0, []
    stack = [(0, everyone, Fraction(0), Fraction(-1), ())]  # next project, group, cost(T), dearest unfunded, T
    while stack:
        start, group, cost, dearest, chosen = stack.pop()
        for j in range(start, election.num_projects):
            new_group = group & columns[j]
            new_cost = cost + costs[j]
            size = new_group.bit_count()
            if size == 0 or size * budget < num_voters * new_cost:
                continue  # not cohesive, and no superset of T is
            nodes += 1
            if nodes > max_nodes:
                return None, None, None
            new_dearest = max(dearest, costs[j]) if not funded[j] else dearest
            new_t = chosen + (j,)
            if new_dearest >= 0:  # T holds an unfunded project: members may lack satisfaction
                cohesive.append((new_t, new_group, new_cost))
                if _blocks((new_group & below(new_cost)).bit_count(), budget, num_voters, new_cost):
                    ejr = False
                if _blocks((new_group & below(new_cost - new_dearest)).bit_count(), budget, num_voters, new_cost):
                    ejr1 = False
            stack.append((j + 1, new_group, new_cost, new_dearest, new_t))
    return ejr, ejr1, (cohesive, columns, order)


def _pjr(election, funded, cohesive, columns, max_funded):
    funded_idx = np.flatnonzero(funded).tolist()
    if len(funded_idx) > max_funded:
        return None
    costs, budget, num_voters = election.exact_costs, election.exact_budget, election.num_voters
    subsets = []  # (cost(S), bitset of voters whose funded supported projects all lie in S)
    for mask in range(1 << len(funded_idx)):
        inside = [funded_idx[k] for k in range(len(funded_idx)) if mask >> k & 1]
        outside = [funded_idx[k] for k in range(len(funded_idx)) if not mask >> k & 1]
        voters = (1 << num_voters) - 1
        for j in outside:
            voters &= ~columns[j]
        subsets.append((sum((costs[j] for j in inside), Fraction(0)), voters))
    for _, group, cost in cohesive:
        for s_cost, voters in subsets:
            if s_cost < cost and _blocks((group & voters).bit_count(), budget, num_voters, cost):
                return False
    return True


def audit(election, funded, max_nodes: int = 200_000, max_funded_pjr: int = 12) -> dict:
    """Audits a funded set.

    Args:
        election: an :class:`~mechjax.budgeting.election.Election`.
        funded: ``[P]`` bool.
        max_nodes: cohesive sets ``T`` the exact EJR search may visit before giving up (``None``).
        max_funded_pjr: largest funded set for which PJR is checked exactly.

    Returns:
        ``{"ejr", "ejr_up_to_one", "pjr"}`` (True/False, or None when not checkable within the
        limits), ``"feasible"``, ``"budget_used"``, ``"covered_share"``, ``"satisfaction_gini"``,
        ``"welfare"``, ``"num_funded"``.
    """
    funded = np.asarray(funded, dtype=bool)
    ejr, ejr1, found = _search(election, funded, max_nodes)
    pjr = None if found is None else _pjr(election, funded, found[0], found[1], max_funded_pjr)
    approvals = election.approvals
    satisfaction = approvals[:, funded].astype(np.float64) @ election.costs[funded]
    budget = float(election.exact_budget)
    return {
        "ejr": ejr, "ejr_up_to_one": ejr1, "pjr": pjr,
        "feasible": bool(election.is_feasible(funded)),
        "budget_used": float(election.cost_of(funded) / election.exact_budget) if budget > 0 else 0.0,
        "covered_share": float((approvals[:, funded].any(axis=1)).mean()) if approvals.shape[0] else 0.0,
        "satisfaction_gini": gini(satisfaction),
        "welfare": float(satisfaction.mean() / budget) if budget > 0 and approvals.shape[0] else 0.0,
        "num_funded": int(funded.sum()),
    }
