"""Exact majority accuracy and Banzhaf power against brute-force enumeration and Monte Carlo."""

import itertools

import jax
import numpy as np
import pytest

from mechjax.delegation import accuracy, accuracy_monte_carlo, banzhaf, banzhaf_brute_force, gini, resolve
from mechjax.delegation.graphs import random_delegations
from mechjax.delegation.power import banzhaf_sampled, normalized
from mechjax.errors import DataError


def _brute_accuracy(weight, competence):
    total, acc = weight.sum(), 0.0
    for votes in itertools.product([0, 1], repeat=len(weight)):
        votes = np.array(votes)
        prob = np.prod(np.where(votes, competence, 1 - competence))
        correct = (weight * votes).sum()
        acc += prob * (1.0 if 2 * correct > total else 0.5 if 2 * correct == total else 0.0)
    return acc


def test_accuracy_matches_enumeration_of_all_vote_profiles():
    rng = np.random.default_rng(0)
    weight = rng.integers(0, 4, (60, 9)) * (rng.random((60, 9)) < 0.8)
    weight[rng.integers(1, 10, 60)[:, None] <= np.arange(9)[None]] = 0  # fewer voters: zero weight changes nothing
    competence = rng.random((60, 9))
    exact = np.asarray(accuracy(weight, competence, max_total=27))  # one batched call, one compilation
    for b in range(60):
        assert exact[b] == pytest.approx(_brute_accuracy(weight[b], competence[b]), abs=2e-6)


def test_accuracy_closed_forms():
    assert float(accuracy(np.array([1, 1]), np.array([0.9, 0.9]))) == pytest.approx(0.81 + 0.18 * 0.5)
    assert float(accuracy(np.zeros(3, int), np.full(3, 0.9))) == 0.5  # nobody votes: a coin flip
    assert float(accuracy(np.array([3, 0, 0]), np.array([0.7, 0.0, 0.0]))) == pytest.approx(0.7)


def test_accuracy_equals_monte_carlo_within_its_error_on_resolved_random_graphs():
    delegate = np.asarray(random_delegations(jax.random.key(0), 100, 25, 0.4))
    _, weight = resolve(delegate)
    competence = np.asarray(jax.random.uniform(jax.random.key(1), (100, 25)))
    exact = np.asarray(accuracy(weight, competence))
    mc, se = accuracy_monte_carlo(jax.random.key(2), weight, competence, samples=20_000)
    z = (np.asarray(mc) - exact) / np.maximum(np.asarray(se), 1e-4)
    assert np.abs(z).max() < 4.5 and (np.abs(z) < 3).mean() >= 0.95


def test_accuracy_is_differentiable_in_competence():
    grad = jax.grad(lambda p: accuracy(np.array([1, 2, 1]), p))(np.array([0.6, 0.7, 0.55]))
    assert (np.asarray(grad) > 0).all()  # a more competent caster never hurts


@pytest.mark.parametrize("weight, competence, match", [
    (np.array([1, 1]), np.array([0.5, 1.2]), r"competence\[1\] = 1\.2"),
    (np.array([1, -1]), np.array([0.5, 0.5]), r"weight\[1\]"),
    (np.array([1.5, 1]), np.array([0.5, 0.5]), r"weight\[0\]"),
    (np.array([1, 1, 1]), np.array([0.5, 0.5]), "same shape"),
])
def test_bad_accuracy_inputs_name_the_argument(weight, competence, match):
    with pytest.raises(DataError, match=match):
        accuracy(weight, competence)


def test_banzhaf_dynamic_program_matches_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(1, 10))
        weight = rng.integers(0, 6, n)
        np.testing.assert_allclose(np.asarray(banzhaf(weight, "exact")), banzhaf_brute_force(weight), atol=1e-6)
    assert float(banzhaf(np.array([3]))[0]) == 1.0  # a lone player always decides


def test_banzhaf_batched_and_sampled_agree_with_exact():
    rng = np.random.default_rng(4)
    weight = rng.integers(0, 5, (6, 12))
    exact = np.asarray(banzhaf(weight, "exact"))
    for b in range(6):
        np.testing.assert_allclose(exact[b], banzhaf_brute_force(weight[b]), atol=1e-6)
    sampled = np.asarray(banzhaf_sampled(jax.random.key(0), weight, 40_000))
    assert np.abs(sampled - exact).max() < 5 * 0.5 / np.sqrt(40_000)


def test_power_measures_on_a_dictator():
    w = np.array([5, 1, 1, 1])  # 5 of 8 votes: a dictator
    np.testing.assert_allclose(np.asarray(banzhaf(w)), [1, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(np.asarray(normalized(banzhaf(w))), [1, 0, 0, 0], atol=1e-7)
    assert float(gini(np.ones(5))) == 0.0
    assert float(gini(np.array([4, 0, 0, 0]))) == pytest.approx(0.75)
