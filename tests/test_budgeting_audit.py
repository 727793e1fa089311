"""Audits: EJR / EJR-up-to-one / PJR agree with pabutools's brute force; the simple shares are right."""

import numpy as np
import pytest

from mechjax.budgeting import audit, make_election, rules
from mechjax.budgeting.audit import gini
from mechjax.budgeting.synthetic import random_election


def test_shares_and_gini_on_a_hand_checked_election():
    election = make_election([2, 3, 1], 4, approvals=[[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    report = audit(election, np.array([False, True, True]))
    assert report["budget_used"] == 1.0 and report["covered_share"] == 1.0 and report["feasible"]
    # satisfactions 3, 3, 3, 1: Gini = sum |x_i - x_j| / (2 n^2 mean) = (6 * 2) / (2 * 16 * 2.5)
    assert report["satisfaction_gini"] == pytest.approx(12 / 80)
    assert gini([1, 1, 1]) == 0.0 and gini([0, 0, 5]) == pytest.approx(2 / 3)


def test_ejr_violation_found_and_mes_satisfies_ejr_up_to_one():
    # half the voters support only "a", half only "b": funding b alone leaves the "a" half, entitled
    # to half the budget, with nothing: not EJR, not PJR
    election = make_election([5, 5], 10, approvals=[[1, 0]] * 3 + [[0, 1]] * 3, project_ids=["a", "b"])
    report = audit(election, np.array([False, True]))
    assert report["ejr"] is False and report["pjr"] is False
    assert audit(election, np.array([True, True]))["ejr"] is True
    rng = np.random.default_rng(5)
    for _ in range(40):
        election = random_election(rng, 15, 8)
        assert audit(election, rules.equal_shares(election, "none"))["ejr_up_to_one"] is True


def test_limits_give_none():
    rng = np.random.default_rng(6)
    election = random_election(rng, 30, 10)
    report = audit(election, rules.greedy(election), max_nodes=0, max_funded_pjr=-1)
    if any(report[k] is not None for k in ("ejr", "pjr")):
        # the search visited no node: nothing cohesive at all, so the answer was exact
        assert audit(election, rules.greedy(election))["ejr"] is True
    assert audit(election, rules.greedy(election), max_funded_pjr=-1)["pjr"] is None


@pytest.mark.peers
def test_agrees_with_pabutools_brute_force():
    pytest.importorskip("pabutools", reason="pabutools is not installed (pip install .[peers])")
    try:
        from pabutools.analysis.justifiedrepresentation import is_EJR_approval, is_EJR_one_approval, is_PJR_approval
    except ImportError as err:  # the module imports gurobipy
        pytest.skip(f"pabutools's justified-representation checks need {err.name}")
    from pabutools.election import Cost_Sat

    from mechjax.budgeting import peers
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(120):
        election = random_election(rng, 7, 5)
        if election.exact_budget == 0:
            continue
        for funded in (rules.greedy(election), rules.equal_shares(election), rng.random(election.num_projects) < 0.5):
            if not election.is_feasible(funded):
                continue
            instance, profile = peers.to_pabutools(election)
            chosen = {election.project_ids[j] for j in np.flatnonzero(funded)}
            allocation = [p for p in instance if p.name in chosen]
            expected = (is_EJR_approval(instance, profile, Cost_Sat, allocation),
                        is_EJR_one_approval(instance, profile, Cost_Sat, allocation),
                        is_PJR_approval(instance, profile, Cost_Sat, allocation))
            report = audit(election, funded)
            assert (report["ejr"], report["ejr_up_to_one"], report["pjr"]) == expected
            seen.add(expected)
    assert (True, True, True) in seen and (False, True, False) in seen  # both verdicts exercised
