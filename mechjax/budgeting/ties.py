"""Tie-breaking orders shared by the rules, and the tolerance that sends near ties to exact arithmetic.

The rules compute in float64 for speed and decide every comparison whose margin is below
``REL_TOL`` (relative) again in exact rational arithmetic (:class:`fractions.Fraction`), so a
decision never depends on rounding: the result equals that of an all-rational implementation
such as pabutools. Float error after the few hundred operations a rule performs is ~1e-13
relative, far below ``REL_TOL``.

Orders (``tie_breaking=``), the first project in the order wins a tie:

* ``"lexico"`` (default, pabutools's ``lexico_tie_breaking``): project ids as strings, ascending
  (``"10" < "9"``);
* ``"index"``: the order of the projects in the election (file order);
* ``"min_cost"`` / ``"max_cost"``: cheaper / dearer first, then ``"lexico"`` (pabutools's cost
  tie-breakings sort stably on cost alone, so their order among equal costs depends on set
  iteration order; ours is fixed);
* ``"app_score"``: more supporters first, then ``"lexico"``.
"""

from __future__ import annotations

import numpy as np

from mechjax.errors import ConfigError

REL_TOL = 1e-9
TIE_BREAKINGS = ("lexico", "index", "min_cost", "max_cost", "app_score")


def tie_rank(election, tie_breaking: str = "lexico") -> np.ndarray:
    """``[P]`` int: position of each project in the tie-breaking order (0 wins every tie)."""
    num = election.num_projects
    if tie_breaking == "lexico":
        keys = [(pid,) for pid in election.project_ids]
    elif tie_breaking == "index":
        keys = [(j,) for j in range(num)]
    elif tie_breaking == "min_cost":
        keys = [(c, pid) for c, pid in zip(election.exact_costs, election.project_ids)]
    elif tie_breaking == "max_cost":
        keys = [(-c, pid) for c, pid in zip(election.exact_costs, election.project_ids)]
    elif tie_breaking == "app_score":
        support = election.approvals.sum(axis=0)
        keys = [(-int(s), pid) for s, pid in zip(support, election.project_ids)]
    else:
        raise ConfigError(f"tie_breaking: unknown choice {tie_breaking!r}; expected one of {TIE_BREAKINGS}")
    order = sorted(range(num), key=lambda j: keys[j])
    rank = np.empty(num, dtype=np.int64)
    rank[order] = np.arange(num)
    return rank


def near(a: float, b: float) -> bool:
    """Whether floats ``a`` and ``b`` are too close to compare in floating point."""
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))
