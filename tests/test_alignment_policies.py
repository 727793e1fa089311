"""Utilitarian, max-min and MMRA policies against closed forms and brute-force grids."""

import numpy as np
import pytest

from mechjax import alignment as al
from mechjax.errors import ConfigError, DataError


def _simplex(k, n):
    if k == 2:
        p = np.linspace(0, 1, n)
        return np.stack([p, 1 - p], 1)
    a, b = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    keep = a + b <= 1 + 1e-12
    return np.stack([a[keep], b[keep], np.clip(1 - a[keep] - b[keep], 0, 1)], 1)


def _values(grid, r, ref, beta):
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(grid > 0, grid * np.log(grid / ref), 0.0).sum(1)
    return grid @ r.T - beta * kl[:, None]


@pytest.mark.parametrize("case", range(12))
def test_maxmin_beats_every_point_of_a_grid(case):
    rng = np.random.default_rng(case)
    k, t, beta = 2 + case % 2, 1 + case % 3, (0.0, 0.2, 1.0)[case % 3]
    r, ref = rng.normal(size=(t, k)), rng.dirichlet(np.ones(k))
    pi = al.maxmin_policy(r, ref, beta)
    grid = _simplex(k, 401)
    best = _values(grid, r, ref, beta).min(1).max()
    ours = al.policy_values(pi, r, ref, beta).min()
    assert ours >= best - 1e-4 and abs(pi.sum() - 1) < 1e-9


def test_utilitarian_is_the_closed_form_and_beats_a_grid():
    rng = np.random.default_rng(0)
    r, w, ref = rng.normal(size=(3, 3)), np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    pi = al.utilitarian_policy(r, w, ref, 0.5)
    expected = ref * np.exp(w @ r / 0.5)
    assert np.allclose(pi, expected / expected.sum())
    grid = _simplex(3, 301)
    assert w @ al.policy_values(pi, r, ref, 0.5) >= (_values(grid, r, ref, 0.5) @ w).max() - 1e-9
    assert al.utilitarian_policy(r, w, ref, 0.0).tolist() == np.eye(3)[np.argmax(w @ r)].tolist()


def test_mmra_worst_regret_is_at_most_utilitarian_and_single_type():
    rng = np.random.default_rng(1)
    for _ in range(5):
        r, w, ref = 2 * rng.normal(size=(3, 4)), rng.dirichlet(np.ones(3)), np.full(4, 0.25)
        mmra = al.regrets(al.mmra_policy(r, ref, 0.5), r, ref, 0.5).max()
        assert mmra <= al.regrets(al.utilitarian_policy(r, w, ref, 0.5), r, ref, 0.5).max() + 1e-6
        for pi in al.type_policies(r, ref, 0.5):
            assert mmra <= al.regrets(pi, r, ref, 0.5).max() + 1e-6
        linear = al.regrets(al.mmra_policy(r, ref, 0.5, mixture="linear"), r, ref, 0.5).max()
        assert mmra <= linear + 1e-6  # the geometric family contains the optimum over all policies


def test_maxmin_helps_the_minority_at_ten_to_one():
    from mechjax.alignment.policy_studies import opposed_population, score
    pop = opposed_population(10.0)
    r, ref = pop.rationality * pop.utilities, np.full(6, 1 / 6)
    util = score(al.utilitarian_policy(r, pop.weights, ref, 0.5), r, pop.weights)
    fair = score(al.maxmin_policy(r, ref, 0.5), r, pop.weights)
    assert fair["worst"] > util["worst"] + 1.0 and util["average"] > fair["average"]


@pytest.mark.parametrize("call, error, message", [
    (lambda: al.maxmin_policy(np.zeros((2, 3)), np.full(3, 1 / 3), -0.1), ConfigError, "beta must be >= 0"),
    (lambda: al.maxmin_policy(np.zeros(3), np.full(3, 1 / 3), 0.1), DataError, "rewards"),
    (lambda: al.maxmin_policy(np.zeros((2, 3)), np.full(4, 1 / 4), 0.1), DataError, "reference"),
    (lambda: al.utilitarian_policy(np.zeros((2, 3)), np.ones(3) / 3, np.full(3, 1 / 3), 0.1), DataError, "weights"),
])
def test_bad_policy_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
