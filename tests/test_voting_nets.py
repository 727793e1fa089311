"""Learned voting rules: anonymity and (optional) neutrality by construction, masks that mean it."""

import functools

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError
from mechjax.voting import axioms as A
from mechjax.voting import nets as V
from mechjax.voting import profiles as P

B, N, M = 16, 6, 4
MIXERS = ["deepsets", "attention"]


def make(mixer, neutral=True, seed=0):
    return V.VotingNet(M, dim=8, depth=1, mixer=mixer, heads=2, neutral=neutral, rngs=nnx.Rngs(seed))


@functools.partial(jax.jit, static_argnums=0)
def _apply(graphdef, state, ballots):
    return nnx.merge(graphdef, state)(ballots)


def apply(net, ballots):
    """One compilation per architecture and shape (graphdefs of equal architectures are equal)."""
    return np.asarray(_apply(*nnx.split(net), ballots))


@pytest.fixture(scope="module")
def data():
    rankings = P.impartial_culture(jax.random.key(0), B, N, M).rankings
    weights = jax.random.randint(jax.random.key(1), (B, N), 0, 3).at[:, 0].set(1)
    mask = jnp.arange(M)[None] < jax.random.randint(jax.random.key(2), (B, 1), 2, M + 1)
    # padding candidates go to the bottom of every ballot, in index order
    place = jnp.where(rankings < mask.sum(-1)[:, None, None], jnp.arange(M), M + rankings)
    rankings = jnp.take_along_axis(rankings, jnp.argsort(place, -1), -1)
    return rankings, weights, mask


@pytest.mark.parametrize("mixer", MIXERS)
def test_outputs_are_lotteries_over_real_candidates(mixer, data):
    rankings, weights, mask = data
    p = apply(make(mixer), V.ballots_from_rankings(rankings, weights, mask))
    assert np.allclose(p.sum(-1), 1, atol=1e-5) and (p >= 0).all()
    assert (p[~np.asarray(mask)] == 0).all()


@pytest.mark.parametrize("mixer", MIXERS)
def test_anonymous_by_construction(mixer, data):
    rankings, weights, mask = data
    net = make(mixer)
    base = apply(net, V.ballots_from_rankings(rankings, weights, mask))
    perm = jnp.argsort(jax.random.uniform(jax.random.key(3), (B, N)), -1)
    permuted = apply(net, V.ballots_from_rankings(jnp.take_along_axis(rankings, perm[..., None], 1),
                                                  jnp.take_along_axis(weights, perm, 1), mask))
    assert np.allclose(base, permuted, atol=1e-5)


@pytest.mark.parametrize("mixer", MIXERS)
def test_neutral_by_construction_unless_asked_not_to_be(mixer):
    rankings = P.impartial_culture(jax.random.key(4), B, N, M).rankings
    sigma = jnp.argsort(jax.random.uniform(jax.random.key(5), (B, M)), -1)  # c -> sigma[c]
    renamed = jnp.take_along_axis(sigma[:, None, :], rankings, -1)
    for neutral, expect in ((True, True), (False, False)):
        net = make(mixer, neutral)
        if not neutral:  # give the candidate embedding something to say
            net.identity[...] = jax.random.normal(jax.random.key(6), net.identity[...].shape)
        base, moved = apply(net, V.ballots_from_rankings(rankings)), apply(net, V.ballots_from_rankings(renamed))
        same = np.allclose(np.take_along_axis(moved, np.asarray(sigma), -1), base, atol=1e-5)
        assert same == expect


@pytest.mark.parametrize("mixer", MIXERS)
def test_counts_equal_copies_and_padding_voters_are_ignored(mixer):
    # all in the shared [B, N, M] shape: [r0, r1, r2, pads] with counts [2, 1, 1, 0, 0, 0]
    # must equal [r0, r0, r1, r2, pads] with counts [1, 1, 1, 1, 0, 0]
    rows = P.impartial_culture(jax.random.key(7), B, N, M).rankings
    net = make(mixer)
    counted = apply(net, V.ballots_from_rankings(rows, jnp.array([[2, 1, 1, 0, 0, 0]] * B)))
    copies = jnp.concatenate([rows[:, :1], rows[:, :5]], 1)
    assert np.allclose(counted, apply(net, V.ballots_from_rankings(copies, jnp.array([[1, 1, 1, 1, 0, 0]] * B))),
                       atol=1e-5)


def test_relaxed_ballots_carry_gradients(data):
    rankings, weights, mask = data
    net = make("attention")
    ballots = V.ballots_from_rankings(rankings, weights, mask)
    graphdef, state = nnx.split(net)
    first = lambda ranks: nnx.merge(graphdef, state)(ballots._replace(ranks=ranks))[:, 0].sum()
    grad = jax.jit(jax.grad(first))(ballots.ranks)
    assert np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).max() > 0


def test_majority_fractions_match_pairwise_support(data):
    rankings, weights, mask = data
    frac = np.asarray(V.majority_fractions(V.ballots_from_rankings(rankings, weights, mask)))
    support = np.asarray(P.pairwise_support(rankings, weights))
    assert np.allclose(frac, support / np.asarray(weights).sum(-1)[:, None, None], atol=1e-6)


def test_learned_rule_passes_the_invariance_audits(data):
    rankings, weights, _ = data
    rule = V.as_rule(make("deepsets"))
    assert A.anonymity(rule, rankings, jax.random.key(9), weights, num_samples=4).rate == 1.0
    assert A.neutrality(rule, rankings, jax.random.key(9), weights, num_samples=4).rate == 1.0


@pytest.mark.parametrize("kwargs,field", [(dict(mixer="mlp"), "mechanism.mixer"),
                                          (dict(dim=0), "mechanism.dim"),
                                          (dict(mixer="attention", dim=6, heads=4), "mechanism.dim")])
def test_config_errors(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        V.VotingNet(M, **kwargs, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="max_candidates"):
        make("deepsets", neutral=False)(P.impartial_culture(jax.random.key(0), 2, 3, M + 1).rankings)


@pytest.mark.parametrize("mixer", MIXERS)
def test_neutral_net_takes_any_number_of_candidates_and_padding_is_invisible(mixer):
    # a 3-candidate profile, alone and padded to 6 candidates (padding ranked last), same lottery
    net = make(mixer)  # built with max_candidates=M=4: a neutral net has no per-index weights
    small = P.impartial_culture(jax.random.key(10), B, N, 3).rankings
    padded = jnp.concatenate([small, jnp.broadcast_to(jnp.arange(3, 6), (B, N, 3))], -1)
    mask = jnp.broadcast_to(jnp.arange(6) < 3, (B, 6))
    p_small = apply(net, V.ballots_from_rankings(small))
    p_padded = apply(net, V.ballots_from_rankings(padded, None, mask))
    assert np.allclose(p_padded[:, :3], p_small, atol=1e-5) and (p_padded[:, 3:] == 0).all()
    assert np.isfinite(apply(net, V.ballots_from_rankings(P.impartial_culture(jax.random.key(11), 2, N, 7).rankings))).all()
