"""Sampling cultures: valid rankings, the right distributions, and config errors naming the field."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError, DataError
from mechjax.testing.voting import assert_valid_rankings
from mechjax.voting import profiles as P

KEY = jax.random.key(0)


def _freq(rankings, m):
    """Empirical frequency of every ranking of m candidates (lexicographic order)."""
    index = {perm: i for i, perm in enumerate(itertools.permutations(range(m)))}
    counts = np.zeros(len(index))
    for row in np.asarray(rankings).reshape(-1, m):
        counts[index[tuple(row)]] += 1
    return counts


def _chi2_ok(counts, probs, z=5.0):
    """Chi-square statistic within ``z`` standard deviations of its mean (df = cells - 1)."""
    expected = probs * counts.sum()
    stat = ((counts - expected) ** 2 / expected).sum()
    df = len(counts) - 1
    return stat < df + z * math.sqrt(2 * df), stat


# One shared shape keeps the number of compilations (the cost of these tests) small.
B, N, M = 64, 6, 4
ALL_CULTURES = [  # every culture name, through the config, with non-default options
    dict(name="ic"), dict(name="mallows", phi=0.4, central="random"), dict(name="urn", alpha=0.5),
    dict(name="plackett_luce"), dict(name="single_peaked_walsh", axis="random"),
    dict(name="single_peaked_conitzer"), dict(name="euclidean", dims=3, space="gaussian"),
    dict(name="dirichlet", concentration=0.5),
]
assert {c["name"] for c in ALL_CULTURES} == set(P.CULTURES)


@pytest.mark.parametrize("culture", ALL_CULTURES, ids=lambda c: c["name"])
def test_samplers_give_permutations(culture):
    profile = P.CultureConfig(num_voters=N, num_candidates=M, **culture).sample(KEY, B)
    assert profile.rankings.shape == (B, N, M) and profile.rankings.dtype == jnp.int32
    assert_valid_rankings(profile.rankings)
    if profile.utilities is not None:  # rankings are the descending argsort of the utilities
        u = np.asarray(profile.utilities)
        ranked = np.take_along_axis(u, np.asarray(profile.rankings), -1)
        assert (np.diff(ranked, axis=-1) <= 0).all()


def test_loop_samplers_handle_one_or_two_candidates():
    # the samplers whose loops depend on m (or n) at their smallest sizes
    assert_valid_rankings(P.mallows(KEY, 4, 2, 1, 0.5).rankings)
    assert_valid_rankings(P.urn(KEY, 4, 1, 2, 0.5).rankings)
    assert_valid_rankings(P.single_peaked(KEY, 4, 3, 2, "walsh").rankings)
    assert_valid_rankings(P.single_peaked(KEY, 4, 3, 1, "conitzer").rankings)


def test_samplers_jit_with_traced_parameters():
    sample = jax.jit(lambda k, phi, alpha: (P.mallows(k, 4, 5, 4, phi).rankings,
                                            P.urn(k, 4, 5, 4, alpha).rankings))
    a, b = sample(KEY, 0.3, 0.2)
    assert_valid_rankings(a)
    assert_valid_rankings(b)


# distribution tests share one larger shape
DB, DN, DM = 400, 50, 4


def test_impartial_culture_is_uniform():
    counts = _freq(P.impartial_culture(KEY, DB, DN, DM).rankings, DM)
    ok, stat = _chi2_ok(counts, np.full(24, 1 / 24))
    assert ok, stat


@pytest.mark.parametrize("phi", [0.3, 0.8])
def test_mallows_matches_kendall_tau_law(phi):
    m = 4
    perms = list(itertools.permutations(range(m)))
    dist = np.array([sum(p[i] > p[j] for i in range(m) for j in range(i + 1, m)) for p in perms])
    probs = phi ** dist / (phi ** dist).sum()
    counts = _freq(P.mallows(KEY, DB, DN, DM, phi).rankings, m)
    ok, stat = _chi2_ok(counts, probs)
    assert ok, stat


def test_mallows_extremes():
    assert (np.asarray(P.mallows(KEY, B, N, M, 0.0).rankings) == np.arange(M)).all()
    central = np.asarray(P.mallows(KEY, B, N, M, 0.0, central="random").rankings)  # shared shape
    assert (central == central[:, :1]).all()  # everyone on the (random) central ranking
    assert len({tuple(c) for c in central[:, 0]}) > 1  # ... which differs between profiles
    counts = _freq(P.mallows(KEY, DB, DN, DM, 1.0).rankings, 4)
    assert _chi2_ok(counts, np.full(24, 1 / 24))[0]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 2.0])
def test_urn_pair_agreement(alpha):
    # Voter 1 copies voter 0 with probability alpha / (1 + alpha), else draws afresh (1/m! match).
    m = 3
    r = np.asarray(P.urn(KEY, 20000, 2, m, alpha).rankings)
    same = (r[:, 0] == r[:, 1]).all(-1).mean()
    expected = alpha / (1 + alpha) + 1 / (1 + alpha) / math.factorial(m)
    assert abs(same - expected) < 5 * math.sqrt(expected * (1 - expected) / 20000)
    assert_valid_rankings(r)


def test_urn_marginal_is_uniform():
    counts = _freq(P.urn(KEY, 20000, 2, 3, 1.0).rankings[:, 1], 3)
    assert _chi2_ok(counts, np.full(6, 1 / 6))[0]


def test_plackett_luce_top_choice_probabilities():
    w = np.array([4.0, 2.0, 1.0, 1.0])
    r = np.asarray(P.plackett_luce(KEY, DB, DN, DM, strengths=w).rankings)
    counts = np.bincount(r[..., 0].ravel(), minlength=4)
    assert _chi2_ok(counts, w / w.sum())[0]
    # second place given first = 0: proportional to the remaining strengths
    second = r[r[..., 0] == 0][:, 1]
    assert _chi2_ok(np.bincount(second, minlength=4)[1:], w[1:] / w[1:].sum())[0]


def _single_peaked_on(ranking, axis_pos):
    """Every top-k set is an interval of the axis."""
    ranks = [axis_pos[c] for c in ranking]
    return all(max(ranks[:k]) - min(ranks[:k]) == k - 1 for k in range(1, len(ranks) + 1))


def test_walsh_is_uniform_over_single_peaked_orders():
    m = 4
    perms = list(itertools.permutations(range(m)))
    sp = np.array([_single_peaked_on(p, np.arange(m)) for p in perms])
    counts = _freq(P.single_peaked(KEY, DB, DN, DM, "walsh").rankings, m)
    assert counts[~sp].sum() == 0
    assert _chi2_ok(counts[sp], np.full(sp.sum(), 1 / sp.sum()))[0]
    assert sp.sum() == 2 ** (m - 1)


def test_conitzer_peak_is_uniform_and_orders_single_peaked():
    m = DM
    r = np.asarray(P.single_peaked(KEY, DB, DN, DM, "conitzer").rankings).reshape(-1, m)
    assert all(_single_peaked_on(row, np.arange(m)) for row in r[:2000])
    assert _chi2_ok(np.bincount(r[:, 0], minlength=m), np.full(m, 1 / m))[0]
    # From an end peak the order is forced; from an inner peak the second choice is a coin flip.
    inner = r[r[:, 0] == 1]
    assert abs((inner[:, 1] == 0).mean() - 0.5) < 0.05


def test_random_axis_single_peaked_on_its_axis():
    key = jax.random.key(3)
    prof = P.single_peaked(key, B, N, M, "walsh", axis="random")
    # recover each profile's axis from the same key path and check every ballot against it
    societal = np.asarray(P.impartial_culture(jax.random.split(key, 3)[2], B, 1, M).rankings)[:, 0]
    for b in range(B):
        axis_pos = np.argsort(societal[b])
        assert all(_single_peaked_on(row, axis_pos) for row in np.asarray(prof.rankings[b]))


def test_euclidean_prefers_nearer_candidates():
    prof = P.CultureConfig("euclidean", N, M).sample(KEY, B)
    u = np.asarray(prof.utilities)
    assert (u <= 0).all() and (u >= -np.sqrt(2) - 1e-6).all()  # minus distances in the unit square


def test_dirichlet_utilities_on_simplex():
    prof = P.dirichlet(KEY, B, N, M, concentration=2.0)
    u = np.asarray(prof.utilities)
    assert np.allclose(u.sum(-1), 1, atol=1e-5) and (u >= 0).all()


def test_statistics_agree_with_definitions():
    r = np.asarray(P.impartial_culture(KEY, B, N, M).rankings)
    support = np.asarray(P.pairwise_support(r))
    for b in range(3):
        for x, y in itertools.permutations(range(M), 2):
            direct = sum(list(row).index(x) < list(row).index(y) for row in r[b])
            assert support[b, x, y] == direct
    mg = np.asarray(P.margins(r))
    assert (mg == -np.swapaxes(mg, 1, 2)).all() and (np.diagonal(mg, 0, 1, 2) == 0).all()
    u = np.asarray(P.borda_utilities(r))
    assert (np.asarray(P.rankings_from_utilities(u)) == r).all()


@pytest.mark.parametrize("kwargs,field", [
    (dict(name="nope"), "culture.name"),
    (dict(num_voters=0), "culture.num_voters"),
    (dict(name="mallows", phi=1.5), "culture.phi"),
    (dict(name="urn", alpha=-1.0), "culture.alpha"),
    (dict(name="dirichlet", concentration=0.0), "culture.concentration"),
    (dict(name="plackett_luce", strengths=(1.0, 2.0)), "culture.strengths"),
])
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        P.CultureConfig(**kwargs)


def test_check_rankings_rejects_bad_input():
    good = np.asarray(P.impartial_culture(KEY, B, N, M).rankings)[:2, :3]
    bad = good.copy()
    bad[1, 2] = [0, 0, 1, 2]
    with pytest.raises(DataError, match=r"rankings\[1, 2\]"):
        P.check_rankings(bad)
    with pytest.raises(DataError, match="integer"):
        P.check_rankings(good.astype(float))
    with pytest.raises(DataError, match="shape"):
        P.check_rankings(good[0])
    with pytest.raises(DataError, match=">= 0"):
        P.check_rankings(good, -np.ones((2, 3), int))
