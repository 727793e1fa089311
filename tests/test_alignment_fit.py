"""Alignment learners on the shared trainer: BTL = Borda, Plackett-Luce, DPL, EM mixtures."""

import jax
import numpy as np
import pytest

from mechjax import alignment as al
from mechjax.alignment import social_choice as sc
from mechjax.alignment.identifiability import matched_errors, twin_mixtures


def test_btl_orders_as_borda_on_random_populations_checked_by_newton():
    pops = sc.random_populations(11, 64)
    k = max(p.num_responses for p in pops)
    probs = np.zeros((64, k, k))
    mask = np.zeros((64, k), bool)
    for i, p in enumerate(pops):
        probs[i, :p.num_responses, :p.num_responses] = al.pair_probabilities(p)
        mask[i, :p.num_responses] = True
    rewards = al.fit_exact_btl(probs, mask, steps=1500)
    compared = agree = 0
    for i, p in enumerate(pops):
        n = p.num_responses
        borda = sc.borda_scores(probs[i, :n, :n])
        c, a = sc.agreement(rewards[i, :n], borda)
        compared, agree = compared + c, agree + a
        newton = sc.newton_btl(probs[i, :n, :n])
        assert sc.agreement(newton, borda) == (c, c)  # the theorem, on an independent solver
        assert np.abs(rewards[i, :n] - rewards[i, :n].mean() - newton).max() < 0.05
    assert compared > 500 and agree == compared


def test_sixty_forty_condorcet_a_but_btl_and_borda_b():
    ex = sc.sixty_forty(steps=800)
    assert ex["condorcet"] == ["A"] and ex["borda"] == ["B"] and ex["btl"] == "B"


@pytest.mark.slow
def test_fit_reward_recovers_a_single_type_from_pairs_and_rankings():
    pop = al.Population(np.array([[0.0, 1.0, -1.0, 0.5, 2.0]]), np.ones(1), 1.0)
    truth = pop.utilities[0] - pop.utilities[0].mean()
    pairs = al.sample_judgements(pop, jax.random.key(0), 6000, 1, k=2)
    r_btl = al.fit_reward(pairs.rankings, 5, "btl", steps=600)
    ranks = al.sample_judgements(pop, jax.random.key(1), 3000, 1, k=4)
    r_pl = al.fit_reward(ranks.rankings, 5, "plackett_luce", steps=600)
    assert np.abs(r_btl - truth).max() < 0.15 and np.abs(r_pl - truth).max() < 0.15


def test_hidden_context_btl_peaks_at_borda_peak_not_at_expected_utility():
    res = sc.hidden_context(rationality=2.0, grid=51, steps=800, dpl=False)
    assert abs(res["btl_peak"] - 0.8) <= 0.02 + 1e-9 and abs(res["borda_peak"] - 0.8) <= 0.02 + 1e-9
    assert res["utility_peak"] == 1.0
    assert res["curve_gap_minmax"] < 0.02 and res["curve_gap_implied"] < 0.01


@pytest.mark.slow
def test_distributional_model_flags_exactly_the_hidden_context_region():
    a, pop = sc.hidden_context_population(41, rationality=10.0)
    pairs, w = sc.all_pairs(pop)
    fit = al.fit_distributional(pairs, 41, "mean_variance", weights=w, steps=1500)
    gap_flags, _ = sc._flags(fit["r2_per_response"])
    assert (gap_flags == (a >= 0.8 - 1e-9)).all()
    assert fit["variance"][a >= 0.8 - 1e-9].min() > 5 * fit["variance"][a < 0.8 - 1e-9].max()


@pytest.mark.slow
def test_em_recovers_two_types_and_their_annotators():
    pop = al.Population(np.array([[2.0, 1.0, 0.0, -1.0, -2.0], [-2.0, -1.0, 0.0, 1.0, 2.0]]), np.array([0.7, 0.3]), 1.0)
    data = al.sample_judgements(pop, jax.random.key(3), 800, 5, k=3)
    rewards, assignment = al.fit_mixture(data.rankings, data.annotator, 5, 2, jax.random.key(0), steps=500, restarts=2)
    assert rewards.shape == (2, 5) and assignment.shape == (800,)
    err_r, _ = matched_errors(pop.utilities, pop.weights, rewards, pop.weights)
    assert err_r < 0.2
    assert al.adjusted_rand_index(data.types[::5], assignment) > 0.8


def test_twin_mixtures_share_pairs_but_not_three_way_rankings():
    a, b = twin_mixtures()
    assert np.abs(al.pair_probabilities(a) - al.pair_probabilities(b)).max() < 1e-10
    assert np.abs(a.utilities - b.utilities).max() > 0.3
    pa, pb = al.ranking_probabilities(a, range(3))[1], al.ranking_probabilities(b, range(3))[1]
    assert 0.5 * np.abs(pa - pb).sum() > 0.05


def test_hidden_context_conditions_bracket_where_the_targets_hold():
    from mechjax.alignment.populations import pair_probabilities

    cond = sc.hidden_context_conditions(grid=101)
    assert cond["link_gap_max"] < 1e-6  # the BTL link recovers the Borda curve at every rationality
    assert cond["peak_monotone"] and cond["minmax_monotone"]
    norm = lambda x: (x - x.min()) / (x.max() - x.min())  # noqa: E731

    def measured(beta):
        a, pop = sc.hidden_context_population(101, beta)
        probs = pair_probabilities(pop)
        borda, r = sc.borda_scores(probs), sc.newton_btl(probs)
        return abs(a[np.argmax(borda)] - 0.8), np.abs(norm(r) - norm(borda)).max()

    peak_from, minmax_until = cond["peak_from"], cond["minmax_until"]
    assert measured(1.05 * peak_from)[0] <= 0.02 < measured(0.95 * peak_from)[0]
    assert measured(0.95 * minmax_until)[1] <= 0.02 < measured(1.05 * minmax_until)[1]
    assert peak_from < minmax_until  # so both targets hold together in between
