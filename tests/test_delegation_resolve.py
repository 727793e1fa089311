"""Delegation resolution: pointer jumping agrees with a plain-Python chain walk, batched and alone."""

import jax
import numpy as np
import pytest

from mechjax.delegation import graphs, resolve, resolve_full, resolve_ranked
from mechjax.delegation.resolve import POLICIES, reference_resolve, reference_resolve_ranked
from mechjax.errors import DataError


def _random_graphs(seed, count, n):
    rng = np.random.default_rng(seed)
    cast_prob = rng.uniform(0.0, 0.6)
    return np.asarray(graphs.random_delegations(jax.random.key(seed), count, n, cast_prob))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 33])
def test_resolution_matches_python_reference_on_random_graphs_with_cycles(n):
    delegate = _random_graphs(n, 300, n)  # 6 sizes x 300 = 1,800 graphs
    res = resolve_full(delegate)
    lost = 0
    for b in range(len(delegate)):
        caster, weight, length = reference_resolve(delegate[b])
        np.testing.assert_array_equal(np.asarray(res.caster[b]), caster)
        np.testing.assert_array_equal(np.asarray(res.weight[b]), weight)
        np.testing.assert_array_equal(np.asarray(res.path_length[b]), length)
        lost += (caster < 0).sum()
    if n >= 2:
        assert lost > 0  # the sample really contains cycles
    # every vote is either cast by someone or lost
    np.testing.assert_array_equal(np.asarray(res.weight).sum(-1), (np.asarray(res.caster) >= 0).sum(-1))


def test_single_graph_contract_and_cycle_policy():
    #  0 -> 1 -> 2 (casts);  3 <-> 4 (a cycle);  5 -> 3 (into the cycle)
    caster, weight = resolve(np.array([1, 2, 2, 4, 3, 3]))
    np.testing.assert_array_equal(caster, [2, 2, 2, -1, -1, -1])
    np.testing.assert_array_equal(weight, [0, 0, 3, 0, 0, 0])
    res = resolve_full(np.array([1, 2, 2, 4, 3, 3]))
    np.testing.assert_array_equal(res.path_length, [2, 1, 0, -1, -1, -1])
    np.testing.assert_array_equal(res.on_cycle, [False, False, False, True, True, False])


def test_long_chain_needs_every_round():
    n = 1025  # a path of 1024 hops: one round short would leave pointers mid-chain
    caster, weight = resolve(np.minimum(np.arange(n) + 1, n - 1))
    assert (np.asarray(caster) == n - 1).all() and int(weight[n - 1]) == n


@pytest.mark.parametrize("policy", POLICIES)
def test_ranked_proxies_match_python_reference(policy):
    rng = np.random.default_rng(1)
    for n in (2, 5, 9):
        proxies = rng.integers(-1, n, size=(200, n, 3))
        proxies[..., 0] = rng.integers(0, n, size=(200, n))
        res = resolve_ranked(proxies, policy)
        for b in range(200):
            caster, weight, length = reference_resolve_ranked(proxies[b], policy)
            np.testing.assert_array_equal(np.asarray(res.caster[b]), caster)
            np.testing.assert_array_equal(np.asarray(res.weight[b]), weight)
            np.testing.assert_array_equal(np.asarray(res.path_length[b]), length)


def test_fallback_recovers_votes_lost_in_cycles():
    # 0 <-> 1 cycle; 1's back-up is 2, who casts: fallback gives all three votes to 2
    proxies = np.array([[1, -1], [0, 2], [2, -1]])
    assert int(resolve_ranked(proxies, "lost").weight.sum()) == 1
    res = resolve_ranked(proxies, "fallback")
    np.testing.assert_array_equal(res.caster, [2, 2, 2])


@pytest.mark.parametrize("bad, match", [
    (np.array([0, 3, 1]), r"delegate\[1\] = 3 is out of range"),
    (np.array([0, -1]), r"delegate\[1\] = -1"),
    (np.array([0.0, 1.0]), "integer"),
    (np.zeros((2, 2, 2), int), "shape"),
])
def test_bad_delegates_name_the_argument(bad, match):
    with pytest.raises(DataError, match=match):
        resolve(bad)


def test_bad_proxies_and_policy():
    with pytest.raises(DataError, match=r"proxies\[0, 1\] = 5"):
        resolve_ranked(np.array([[0, 5], [1, -1]]))
    with pytest.raises(DataError, match="policy"):
        resolve_ranked(np.array([[0], [1]]), "vanish")
