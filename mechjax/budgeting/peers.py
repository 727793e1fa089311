"""Running pabutools (the ``[peers]`` extra) on our elections, for agreement checks and benchmarks.

pabutools is imported lazily: nothing in the library needs it.
"""

from __future__ import annotations

import numpy as np


def available() -> bool:
    """Whether pabutools can be imported."""
    try:
        import pabutools  # noqa: F401
    except ImportError:
        return False
    return True


def to_pabutools(election):
    """``(instance, profile)`` for pabutools, built from our arrays (not from the file)."""
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        CumulativeBallot,
        CumulativeProfile,
        Instance,
        Project,
    )
    projects = [Project(pid, cost) for pid, cost in zip(election.project_ids, election.exact_costs)]
    instance = Instance(projects, budget_limit=election.exact_budget)
    if election.scores is not None:
        ballots = []
        for v in range(election.num_voters):
            ballot = CumulativeBallot()
            for j in np.flatnonzero(election.approvals[v]).tolist():
                ballot[projects[j]] = int(election.scores[v, j])
            ballots.append(ballot)
        return instance, CumulativeProfile(ballots, instance=instance)
    ballots = [ApprovalBallot([projects[j] for j in np.flatnonzero(row).tolist()]) for row in election.approvals]
    return instance, ApprovalProfile(ballots, instance=instance)


def run_pabutools(rule: str, instance, profile, satisfaction: str = "cost"):
    """pabutools's outcome of ``rule`` as a set of project ids.

    Args:
        rule: ``"greedy"``, ``"phragmen"``, ``"mes"`` (no completion), ``"mes_greedy"``,
            ``"mes_budget_increase"``, ``"mes_budget_increase_greedy"``, ``"mes_add_one"``.
        instance, profile: pabutools objects (e.g. from :func:`to_pabutools` or ``parse_pabulib``).
        satisfaction: ``"cost"``, ``"cardinality"`` or ``"scores"``.
    """
    from pabutools.election import Additive_Cardinal_Sat, Cardinality_Sat, Cost_Sat
    from pabutools.rules import (
        completion_by_rule_combination,
        exhaustion_by_budget_increase,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
        sequential_phragmen,
    )
    sat = {"cost": Cost_Sat, "cardinality": Cardinality_Sat, "scores": Additive_Cardinal_Sat}[satisfaction]
    if rule == "greedy":
        outcome = greedy_utilitarian_welfare(instance, profile, sat_class=sat)
    elif rule == "phragmen":
        outcome = sequential_phragmen(instance, profile)
    elif rule == "mes":
        outcome = method_of_equal_shares(instance, profile, sat_class=sat)
    elif rule == "mes_add_one":
        outcome = method_of_equal_shares(instance, profile, sat_class=sat, voter_budget_increment=1)
    elif rule == "mes_greedy":
        outcome = completion_by_rule_combination(
            instance, profile, [method_of_equal_shares, greedy_utilitarian_welfare],
            [{"sat_class": sat}, {"sat_class": sat}])
    elif rule == "mes_budget_increase":
        outcome = exhaustion_by_budget_increase(instance, profile, method_of_equal_shares, {"sat_class": sat})
    elif rule == "mes_budget_increase_greedy":
        outcome = completion_by_rule_combination(
            instance, profile, [exhaustion_by_budget_increase, greedy_utilitarian_welfare],
            [{"rule": method_of_equal_shares, "rule_params": {"sat_class": sat}}, {"sat_class": sat}])
    else:
        raise ValueError(f"unknown pabutools rule {rule!r}")
    return {p.name for p in outcome}


def ours(rule: str, election, satisfaction: str = "cost"):
    """Our outcome of the same ``rule`` names as :func:`run_pabutools`, as a set of project ids."""
    from mechjax.budgeting import rules
    utilities = "scores" if satisfaction == "scores" else "cost"
    if rule == "greedy":
        funded = rules.greedy(election, satisfaction=satisfaction)
    elif rule == "phragmen":
        funded = rules.phragmen(election)
    elif rule == "mes_add_one":
        funded = rules.equal_shares(election, "budget_increase", utilities=utilities, step="add_one")
    else:
        completion = {"mes": "none", "mes_greedy": "greedy", "mes_budget_increase": "budget_increase",
                      "mes_budget_increase_greedy": "budget_increase_greedy"}[rule]
        funded = rules.equal_shares(election, completion, utilities=utilities)
    return {election.project_ids[j] for j in np.flatnonzero(funded)}
