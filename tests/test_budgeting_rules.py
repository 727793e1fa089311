"""Classical PB rules: feasible, exhaustive where they promise it, and identical to pabutools."""

import glob
import os
from fractions import Fraction

import numpy as np
import pytest

from mechjax.budgeting import make_election, read_pabulib, rules
from mechjax.budgeting.synthetic import random_election
from mechjax.errors import ConfigError

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "pabulib")
REAL = sorted(glob.glob(os.path.join(DATA, "*.pb")), key=os.path.getsize)
needs_data = pytest.mark.skipif(not REAL, reason=f"no pabulib data at {DATA} (../shared/data/pabulib)")
ALL_RULES = ("greedy", "phragmen", "mes", "mes_greedy", "mes_budget_increase", "mes_budget_increase_greedy")


def test_rules_are_feasible_and_completions_exhaustive():
    rng = np.random.default_rng(0)
    for _ in range(60):
        election = random_election(rng, 20, 8)
        for funded in (rules.greedy(election), rules.phragmen(election), rules.equal_shares(election, "none"),
                       rules.equal_shares(election), rules.equal_shares(election, "budget_increase"),
                       rules.greedy(election, satisfaction="cardinality")):
            assert funded.dtype == bool and funded.shape == (election.num_projects,)
            assert election.cost_of(funded) <= election.exact_budget
        assert rules.exhaustive(election, rules.greedy(election))
        assert rules.exhaustive(election, rules.equal_shares(election))


def test_mes_on_a_hand_checked_election():
    # 4 voters, budget 4: each holds 1. {a} costs 2 with voters 0,1; {b} costs 3 with voters 0,1,2;
    # {c} costs 1 with voter 3. b is unaffordable after a (voter 2 alone holds 1 < 3 - 0).
    election = make_election([2, 3, 1], 4, approvals=[[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]],
                             project_ids=["a", "b", "c"])
    # cost utilities: rho(a) = 1/2 per unit of cost (1 each of 2 voters), rho(b) = 1/3, rho(c) = 1.
    # b first (0,1,2 pay 1 each, all out of money), then c (voter 3 pays 1); a unaffordable.
    np.testing.assert_array_equal(rules.equal_shares(election, "none"), [False, True, True])
    # greedy by approvals: b (3 supporters), then a does not fit (3 + 2 > 4), then c fits
    np.testing.assert_array_equal(rules.greedy(election), [False, True, True])


def test_ties_follow_the_tie_breaking_order():
    # two identical projects, room for one: lexicographic ids pick "10" over "9", index order "9"
    election = make_election([5, 5], 5, approvals=[[1, 1], [1, 1]], project_ids=["9", "10"])
    for rule in (rules.greedy, rules.phragmen, lambda e, **k: rules.equal_shares(e, "none", **k)):
        np.testing.assert_array_equal(rule(election), [False, True])
        np.testing.assert_array_equal(rule(election, tie_breaking="index"), [True, False])


def test_exact_ties_beyond_float_resolution():
    # Phragmén: new loads big/3 and (big+1)/3 differ by ~1e-18 relative; y (cheaper) must go first,
    # then x no longer fits. In float both round to the same value and "x" would win the tie.
    big = 10 ** 18
    election = make_election([big, big + 1], big + 1, approvals=[[1, 1]] * 3, project_ids=["y", "x"])
    np.testing.assert_array_equal(rules.phragmen(election), [True, False])


def test_bad_options_name_the_option():
    election = make_election([1], 1, approvals=[[1]])
    for kwargs, field in ((dict(completion="x"), "completion"), (dict(utilities="x"), "utilities"),
                          (dict(step="x"), "step"), (dict(tie_breaking="x"), "tie_breaking")):
        with pytest.raises(ConfigError, match=field):
            rules.equal_shares(election, **kwargs)


pabutools = pytest.importorskip("pabutools", reason="pabutools is not installed (pip install .[peers])")
from mechjax.budgeting import peers  # noqa: E402


def _agree(election, rule_names, satisfaction="cost"):
    instance, profile = peers.to_pabutools(election)
    for rule in rule_names:
        ours = peers.ours(rule, election, satisfaction)
        theirs = peers.run_pabutools(rule, instance, profile, satisfaction)
        assert ours == theirs, (rule, election.exact_costs, election.exact_budget, election.approvals.astype(int))


@pytest.mark.peers
def test_random_small_elections_agree_with_pabutools():
    rng = np.random.default_rng(1)
    for _ in range(80):
        _agree(random_election(rng, 12, 7), ALL_RULES + ("mes_add_one",))
        _agree(random_election(rng, 12, 7), ("greedy",), satisfaction="cardinality")


@pytest.mark.peers
def test_random_cardinal_elections_agree_with_pabutools():
    rng = np.random.default_rng(2)
    for _ in range(60):
        _agree(random_election(rng, 12, 7, cardinal=True), ("greedy", "mes", "mes_budget_increase_greedy"), "scores")


@pytest.mark.peers
def test_costs_beyond_float_resolution_agree_with_pabutools():
    # costs 10**18 + k: every price and load differs from its neighbours by ~1e-18 relative
    rng = np.random.default_rng(4)
    for _ in range(40):
        base = random_election(rng, 8, 6)
        costs = [10 ** 18 + int(c) for c in base.exact_costs]
        budget = Fraction(sum(costs) * int(rng.integers(1, 4)), 4)
        election = make_election(costs, budget, approvals=base.approvals, project_ids=base.project_ids)
        _agree(election, ("greedy", "phragmen", "mes", "mes_budget_increase_greedy"))


@pytest.mark.peers
@pytest.mark.slow
def test_random_large_elections_agree_with_pabutools():
    rng = np.random.default_rng(3)
    for _ in range(12):
        _agree(random_election(rng, 300, 25), ("greedy", "phragmen", "mes", "mes_budget_increase_greedy"))


@pytest.mark.peers
def test_random_agreement_study_resumes_from_its_cache(tmp_path):
    """compare_random appends one record per election and a rerun reads them instead of recomputing."""
    import json

    from mechjax.budgeting.agreement import compare_random
    cache = tmp_path / "random.jsonl"
    first = compare_random(6, seed=5, max_voters=12, max_projects=6, rules=("greedy", "mes"), cache_path=str(cache))
    assert first == {"greedy": (6, 6), "mes": (6, 6)}
    records = [json.loads(line) for line in open(cache)]
    assert [r["index"] for r in records] == list(range(6))
    records[2]["same"]["mes"] = False  # a planted disagreement: only a run that reads the cache reports it
    cache.write_text("".join(json.dumps(r) + "\n" for r in records))
    again = compare_random(8, seed=5, max_voters=12, max_projects=6, rules=("greedy", "mes"), cache_path=str(cache))
    assert again == {"greedy": (8, 8), "mes": (7, 8)}
    assert len(open(cache).readlines()) == 8  # only elections 6 and 7 were new
    other = compare_random(2, seed=6, max_voters=12, max_projects=6, rules=("greedy", "mes"), cache_path=str(cache))
    assert other == {"greedy": (2, 2), "mes": (2, 2)} and len(open(cache).readlines()) == 10  # another seed: new


@needs_data
@pytest.mark.peers
def test_small_real_elections_agree_with_pabutools():
    from pabutools.election import parse_pabulib
    for path in REAL[:12]:
        election = read_pabulib(path)
        instance, profile = parse_pabulib(path)
        names = ALL_RULES if election.vote_type in ("approval", "choose-1") else ALL_RULES[:1] + ALL_RULES[2:]
        for rule in names:
            assert peers.ours(rule, election) == peers.run_pabutools(rule, instance, profile), (path, rule)
