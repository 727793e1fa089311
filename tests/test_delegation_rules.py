"""Delegation rules, graph families, the cost perspective and fluid aggregation."""

import itertools

import jax
import numpy as np
import pytest

from mechjax.delegation import cost, graphs, resolve
from mechjax.delegation.fluid import FluidSetting, aggregate_errors
from mechjax.delegation.policy import evaluate_policy, expected_weight, sample_delegates
from mechjax.delegation.rules import RULE_NAMES, DelegationInputs, allowed, greedy_cap_delegates, make_rule
from mechjax.errors import DataError


def _er_inputs(seed=0, b=6, n=20, p=0.3):
    k1, k2 = jax.random.split(jax.random.key(seed))
    adj = graphs.erdos_renyi(k1, b, n, p)
    est = jax.random.uniform(k2, (b, n), minval=0.3, maxval=0.8)
    return DelegationInputs(est, adj)


@pytest.mark.parametrize("family", graphs.FAMILIES)
def test_graph_families_are_simple_undirected_graphs(family):
    adj = np.asarray(graphs.sample_graphs(jax.random.key(1), family, 3, 12, 0.3, 2))
    assert (adj == np.swapaxes(adj, 1, 2)).all() and not np.diagonal(adj, axis1=1, axis2=2).any()
    degree = adj.sum(-1)
    expected = {"complete": lambda: (degree == 11).all(),
                "star": lambda: (degree[:, 0] == 11).all() and (degree[:, 1:] == 1).all(),
                "erdos_renyi": lambda: 0 < adj.sum() < 3 * 12 * 11,
                "preferential_attachment": lambda: (adj.sum((1, 2)) // 2 == 3 + 2 * 9).all()}[family]
    assert expected()


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rules_are_upward_policies_so_no_vote_is_lost(rule):
    inputs = _er_inputs()
    policy = np.asarray(make_rule(rule, cap=4)(inputs))
    np.testing.assert_allclose(policy.sum(-1), 1.0, atol=1e-5)
    n = policy.shape[-1]
    off = policy * (1 - np.eye(n))[None]
    assert (off[~np.asarray(allowed(inputs))] <= 1e-7).all()  # only upward, along edges
    delegates = np.asarray(sample_delegates(jax.random.key(0), policy, 4)).reshape(-1, n)
    caster, weight = resolve(delegates)
    assert (np.asarray(caster) >= 0).all() and (np.asarray(weight).sum(-1) == n).all()


def test_expected_weight_matches_the_mean_of_drawn_weights():
    inputs = _er_inputs(seed=2, b=2, n=12, p=0.5)
    policy = make_rule("local_random", prob=0.6)(inputs)
    draws = np.asarray(sample_delegates(jax.random.key(5), policy, 4000))
    weights = np.asarray(resolve(draws.reshape(-1, 12))[1]).reshape(draws.shape)  # [draws, b, n]
    np.testing.assert_allclose(weights.mean(0), np.asarray(expected_weight(policy)), atol=0.1)


def test_greedy_cap_respects_the_cap_and_delegates_to_casters_only():
    inputs = _er_inputs(seed=3, b=8, n=30, p=0.4)
    for cap in (1, 2, 5):
        target = np.asarray(greedy_cap_delegates(inputs, cap))
        caster, weight = resolve(target)
        assert np.asarray(weight).max() <= cap
        # chains have length <= 1: every delegation goes straight to someone who casts
        assert (target[np.arange(8)[:, None], target] == target).all()
    assert (np.asarray(greedy_cap_delegates(inputs, 1)) == np.arange(30)).all()  # cap 1 = direct voting


def test_local_rule_harms_on_stars_where_greedy_cap_does_not():
    # the Kahng et al. family: direct voting improves with n, the local rule is stuck at the hub's 0.75
    accs = {}
    for n in (11, 151):
        inst = graphs.star_instance(jax.random.key(n), 2, n)
        inputs = DelegationInputs(inst.estimate, inst.adjacency)
        cap = int(np.ceil(np.sqrt(n)))
        for rule in ("direct", "local_best", "greedy_cap"):
            rep = evaluate_policy(jax.random.key(0), make_rule(rule, cap=cap)(inputs), inst.competence, 2)
            accs[rule, n] = float(rep.accuracy.mean())
    assert accs["local_best", 151] == pytest.approx(0.75, abs=1e-5)
    assert accs["direct", 151] > accs["direct", 11] and accs["direct", 151] > 0.95
    assert accs["greedy_cap", 151] > accs["local_best", 151] + 0.2


@pytest.mark.parametrize("kwargs, match", [({"cap": -1}, "cap"), ({"alpha": -0.1}, "alpha"),
                                           ({"prob": 1.5}, "prob"), ({"temperature": 0.0}, "temperature")])
def test_bad_rule_settings_name_the_argument(kwargs, match):
    with pytest.raises(DataError, match=match):
        make_rule("greedy_cap", **kwargs)


def _brute_cheapest(adj, c):
    n = len(c)
    closed = adj | np.eye(n, dtype=bool)
    best = (np.inf, None)
    for k in range(n + 1):
        for s in itertools.combinations(range(n), k):
            if closed[list(s)].any(0).all() if s else n == 0:
                best = min(best, (c[list(s)].sum(), s), key=lambda t: t[0])
    return best[0]


def test_cost_cover_exact_matches_brute_force_and_greedy_is_feasible():
    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(1, 9))
        upper = np.triu(rng.random((n, n)) < 0.35, 1)
        adj = upper | upper.T
        c = rng.uniform(0.5, 2.0, n)
        exact = cost.cheapest_cover_exact(adj, c)
        greedy = cost.cheapest_cover_greedy(adj, c)
        assert cost.represented(adj, exact).all() and cost.represented(adj, greedy).all()
        assert c[exact].sum() == pytest.approx(_brute_cheapest(adj, c))
        assert c[greedy].sum() >= c[exact].sum() - 1e-9
        budget = float(rng.uniform(0.5, 4.0))
        for method in ("exact", "greedy"):
            chosen = cost.budgeted_cover(adj, c, budget, method)
            assert c[chosen].sum() <= budget + 1e-9
        best = max(cost.represented(adj, np.array(s, bool)).sum()
                   for s in itertools.product([0, 1], repeat=n) if c[np.array(s, bool)].sum() <= budget + 1e-9)
        assert cost.represented(adj, cost.budgeted_cover(adj, c, budget, "exact")).sum() == best
        delegate = cost.delegate_to_cover(adj, exact, rng.random(n))
        assert (resolve(delegate)[1][~exact] == 0).all()


def test_cost_bad_input():
    with pytest.raises(DataError, match="budget"):
        cost.budgeted_cover(np.zeros((2, 2), bool), np.ones(2), -1.0)
    with pytest.raises(DataError, match="cost"):
        cost.cheapest_cover_greedy(np.zeros((2, 2), bool), np.array([1.0, -1.0]))


def test_fluid_aggregation_with_honest_estimates_beats_the_poisoned_mean():
    errs = [aggregate_errors(s, FluidSetting(poisoned=0.2), cap=8) for s in range(3)]
    mean = {k: np.mean([e[k] for e in errs]) for k in errs[0]}
    assert mean["delegation_greedy_cap"] < mean["mean"] and mean["max_weight_greedy_cap"] <= 8
