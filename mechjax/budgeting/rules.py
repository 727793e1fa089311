"""Classical participatory-budgeting rules, each ``election -> funded [P]`` (bool), exact.

* :func:`greedy`: greedy utilitarian welfare (cost satisfaction by default; ``"cardinality"`` is
  approvals per cost).
* :func:`phragmen`: sequential Phragmén.
* :func:`equal_shares`: the Method of Equal Shares with the completions used in practice.

All follow pabutools's semantics (its default lexicographic tie-breaking included) and decide
ties exactly; see :mod:`mechjax.budgeting.ties` for the tie-breaking orders.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechjax.budgeting.greedy import SATISFACTIONS, greedy
from mechjax.budgeting.mes import _Voters, equal_shares_core
from mechjax.budgeting.phragmen import phragmen
from mechjax.budgeting.ties import tie_rank
from mechjax.errors import ConfigError

COMPLETIONS = ("budget_increase_greedy", "budget_increase", "greedy", "none")
STEPS = ("budget_percent", "add_one")
UTILITIES = ("cost", "scores")

__all__ = ["greedy", "phragmen", "equal_shares", "exhaustive", "COMPLETIONS", "SATISFACTIONS"]


def exhaustive(election, funded, among=None) -> bool:
    """Whether no unfunded project (of ``among``, default all) fits in the remaining budget."""
    left = election.exact_budget - election.cost_of(funded)
    projects = range(election.num_projects) if among is None else among
    return not any(not funded[j] and election.exact_costs[j] <= left for j in projects)


def equal_shares(election, completion: str = "budget_increase_greedy", utilities: str = "cost",
                 tie_breaking: str = "lexico", step: str = "budget_percent",
                 step_percent: Fraction = Fraction(1)) -> np.ndarray:
    """The Method of Equal Shares (MES).

    Args:
        election: an :class:`~mechjax.budgeting.election.Election`.
        completion: ``"none"`` (plain MES), ``"greedy"`` (then greedy utilitarian with the same
            satisfaction), ``"budget_increase"`` (raise the virtual budget until the outcome is
            exhaustive, stopping before it would cost more than the real budget) or
            ``"budget_increase_greedy"`` (that, then greedy: the completion used in practice).
        utilities: ``"cost"`` (a voter's satisfaction is the cost of the supported projects
            funded; pabutools's ``Cost_Sat``) or ``"scores"`` (cardinal: the ballot's points).
        tie_breaking: see :mod:`mechjax.budgeting.ties`.
        step: budget increase step: ``"budget_percent"`` (pabutools's ``exhaustion_by_budget_increase``:
            the whole virtual budget grows by ``step_percent`` % of the real budget per step; an
            outcome is exhaustive when no project at all fits) or ``"add_one"`` (each voter's share
            grows by 1 per step, pabutools's ``voter_budget_increment=1``; exhaustive when no
            project someone derives satisfaction from fits).
        step_percent: the percentage for ``"budget_percent"`` (default 1, as pabutools).

    Returns:
        ``[P]`` bool, the funded projects; always within the budget.
    """
    if completion not in COMPLETIONS:
        raise ConfigError(f"completion: unknown choice {completion!r}; expected one of {COMPLETIONS}")
    if utilities not in UTILITIES:
        raise ConfigError(f"utilities: unknown choice {utilities!r}; expected one of {UTILITIES}")
    if step not in STEPS:
        raise ConfigError(f"step: unknown choice {step!r}; expected one of {STEPS}")
    if utilities == "scores" and election.scores is None:
        raise ConfigError(f"utilities='scores' needs a cardinal election; {election.source} is {election.vote_type}")
    rank = tie_rank(election, tie_breaking)
    if completion in ("none", "greedy"):
        funded, _ = equal_shares_core(election, utilities, rank=rank)
    else:
        funded = _budget_increase(election, utilities, rank, step, Fraction(step_percent))
    if completion.endswith("greedy"):
        funded = greedy(election, "cost" if utilities == "cost" else "scores", tie_breaking, initial=funded)
    return funded


def _budget_increase(election, utilities, rank, step, step_percent):
    num_voters = election.num_voters
    if num_voters == 0:
        return np.zeros(election.num_projects, dtype=bool)
    voters = _Voters(election, utilities)
    budget = election.exact_budget
    if step == "budget_percent":
        increment = budget * step_percent / 100
        bound = budget * (num_voters + 1)
        virtual = budget
        previous = np.zeros(election.num_projects, dtype=bool)
        while virtual <= bound:
            funded, _ = equal_shares_core(election, utilities, b0=virtual / num_voters, voters=voters, rank=rank)
            if election.cost_of(funded) > budget:
                return previous
            if exhaustive(election, funded) or increment == 0:
                return funded
            virtual += increment
            previous = funded
        return previous
    share = budget / num_voters
    previous = None
    while True:
        funded, candidates = equal_shares_core(election, utilities, b0=share, voters=voters, rank=rank)
        if previous is None:  # pabutools's first "previous" is the upfront (free) projects only
            previous = funded & np.array([c == 0 for c in election.exact_costs])
        if election.cost_of(funded) > budget:
            return previous
        if exhaustive(election, funded, among=candidates):
            return funded
        share += 1
        previous = funded
