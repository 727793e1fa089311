"""EquivariantNet, RegretFormer and RochetNet keep RegretNet's contract and their own guarantees.

Feasibility and IR by construction on random bids; permutation equivariance (with RegretNet as a
negative control, to show the check can fail); the same weights on other auction sizes; RochetNet's
exact truthfulness on a grid of misreports and the convex, monotone utility a menu implies.
"""

import os

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax import experiment, registry
from mechjax.auctions.nets.equivariant import ExchangeableLayer
from mechjax.auctions.problem import AuctionProblem, utilities
from mechjax.auctions.registry import AuctionConfig
from mechjax.errors import ConfigError
from mechjax.testing.auctions import (
    assert_feasible,
    assert_individually_rational,
    assert_permutation_equivariant,
    assert_truthful_on_grid,
    grid_regret,
)

from conftest import CONF_DIR, TINY, compose_config

SET_NETS = ["equivariantnet", "regretformer"]
SMALL = {"equivariantnet": {"channels": [8, 8]}, "regretformer": {"dim": 8, "heads": 2, "hidden": 16}}


def build(name: str, problem: AuctionProblem, seed: int = 0, **options):
    section = {**SMALL.get(name, {}), **options}
    return registry.MECHANISMS[name](section, problem, "auction")(nnx.Rngs(seed))


def auction(n=2, m=2, demand="additive", low=0.0, high=1.0) -> AuctionProblem:
    return AuctionConfig(num_bidders=n, num_items=m, demand=demand, low=low, high=high).build()


def bids_with_corners(problem: AuctionProblem, key, batch=256):
    """Random bids, with the support's corners (zeros, maxima) mixed in."""
    bids = problem.sample(key, batch)
    low, high = problem.valuations.low_array, problem.valuations.high_array
    return bids.at[0].set(low).at[1].set(high)


# ---------------------------------------------------------------- feasibility and IR by construction

@pytest.mark.parametrize("demand", ["additive", "unit"])
@pytest.mark.parametrize("name", SET_NETS + ["rochetnet"])
def test_outcomes_are_feasible_and_individually_rational(name, demand):
    n = 1 if name == "rochetnet" else 3
    problem = auction(n, 2, demand, low=0.5, high=2.0)
    for seed in range(2):
        net = build(name, problem, seed)
        bids = bids_with_corners(problem, jax.random.key(seed))
        for training in (True, False):
            alloc, pay = net(bids, training=training)
            assert_feasible(bids, alloc, pay, demand)
        # IR at evaluation; RochetNet's training softmax may average in entries worth less than 0.
        assert_individually_rational(lambda b: net(b, training=False), bids)
        if name != "rochetnet":
            assert_individually_rational(lambda b: net(b, training=True), bids)


# ---------------------------------------------------------------- symmetry

@pytest.mark.parametrize("name", SET_NETS)
@pytest.mark.parametrize("demand", ["additive", "unit"])
def test_permuting_bidders_and_items_permutes_the_outcome(name, demand):
    problem = auction(3, 4, demand)
    net = build(name, problem, seed=1)
    assert_permutation_equivariant(jax.jit(lambda b: net(b)), problem.sample(jax.random.key(2), 64), jax.random.key(3))


def test_equivariance_check_catches_a_non_equivariant_net():
    problem = auction(3, 4)
    net = build("regretnet", problem, seed=1, hidden=[16])
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_permutation_equivariant(lambda b: net(b), problem.sample(jax.random.key(2), 64), jax.random.key(3))


@pytest.mark.parametrize("n,m", [(1, 2), (2, 2), (3, 4)])
def test_dense_and_pooled_exchangeable_layers_agree(n, m):
    """The single-matmul form (small auctions, n m <= 4) and the pooled form are the same map."""
    layer = ExchangeableLayer(3, 5, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (7, n, m, 3))
    pooled = (layer.entry(x) + layer.over_bidders(x.mean(1, keepdims=True))
              + layer.over_items(x.mean(2, keepdims=True)) + layer.overall(x.mean((1, 2), keepdims=True)))
    dense = (x.reshape(7, n * m * 3) @ layer.dense_kernel(n, m) + jnp.tile(layer.entry.bias[...], n * m)[None]
             ).reshape(7, n, m, 5)
    np.testing.assert_allclose(dense, pooled, atol=1e-5)
    np.testing.assert_allclose(layer(x), pooled, atol=1e-5)


# ---------------------------------------------------------------- one set of weights, any size

@pytest.mark.parametrize("name", SET_NETS)
@pytest.mark.parametrize("demand", ["additive", "unit"])
def test_same_weights_run_on_other_sizes(name, demand):
    net = build(name, auction(2, 2, demand), seed=0)
    forward = jax.jit(lambda b: net(b))  # one program per size (op by op: ~50 small ones)
    for n, m in [(3, 3), (2, 5), (5, 2)]:
        problem = auction(n, m, demand)
        bids = bids_with_corners(problem, jax.random.key(n * 10 + m), batch=128)
        alloc, pay = forward(bids)
        assert_feasible(bids, alloc, pay, demand)
        assert_individually_rational(forward, bids)
        assert np.ptp(np.asarray(alloc)) > 0, "outcome does not depend on the bids"


def test_per_item_supports_refuse_other_sizes():
    net = build("equivariantnet", auction(1, 2, low=[4.0, 4.0], high=[16.0, 7.0]))
    with pytest.raises(ConfigError, match="per-item supports"):
        net(jnp.full((4, 2, 2), 5.0))


# ---------------------------------------------------------------- RochetNet: a menu is DSIC

@pytest.mark.parametrize("preset", [
    dict(demand="additive"), dict(demand="unit"), dict(demand="unit", low=2.0, high=3.0),
    dict(demand="additive", low=[4.0, 4.0], high=[16.0, 7.0]),
])
def test_rochetnet_hard_max_is_truthful_on_an_exact_grid(preset):
    problem = auction(1, 2, **preset)
    valuations = problem.valuations
    for seed in range(3):
        net = build("rochetnet", problem, seed, menu_size=64)
        values = problem.sample(jax.random.key(seed), 48)
        assert_truthful_on_grid(lambda b: net(b, training=False), valuations, values, points_per_item=21, atol=1e-5)


def test_rochetnet_softmax_relaxation_is_not_truthful():
    """Negative control: the training relaxation (a soft choice) can be gamed, so the grid check has teeth."""
    problem = auction(1, 2)
    net = build("rochetnet", problem, 0, menu_size=64, temperature=0.3)
    values = problem.sample(jax.random.key(0), 48)
    regret = np.asarray(grid_regret(lambda b: net(b, training=True), problem.valuations, values, 21))
    assert regret.max() > 1e-3


def _menu_utility(net, values):
    return utilities(values, *net(values, training=False))[:, 0]


@pytest.mark.parametrize("demand", ["additive", "unit"])
def test_rochetnet_utility_is_convex_monotone_with_allocation_as_subgradient(demand):
    """A menu's utility u(v) = max_k v.a_k - p_k is convex and non-decreasing, and a(v) is a subgradient."""
    problem = auction(1, 2, demand)
    net = build("rochetnet", problem, 3, menu_size=64)
    k1, k2, k3 = jax.random.split(jax.random.key(4), 3)
    v1, v2 = problem.sample(k1, 512), problem.sample(k2, 512)
    lam = jax.random.uniform(k3, (512, 1, 1))
    u1, u2 = _menu_utility(net, v1), _menu_utility(net, v2)
    assert (_menu_utility(net, lam * v1 + (1 - lam) * v2) <= lam[:, 0, 0] * u1 + (1 - lam[:, 0, 0]) * u2 + 1e-5).all()
    upper = jnp.maximum(v1, v2)
    assert (_menu_utility(net, upper) >= jnp.maximum(u1, u2) - 1e-5).all()
    alloc1, _ = net(v1, training=False)
    assert (u2 >= u1 + jnp.sum(alloc1 * (v2 - v1), axis=(1, 2)) - 1e-5).all()
    assert (u1 >= -1e-6).all(), "the null option guarantees utility >= 0"


def test_rochetnet_softmax_approaches_the_hard_max_as_temperature_falls():
    problem = auction(1, 2)
    values = problem.sample(jax.random.key(1), 512)
    gaps = []
    for temperature in (0.3, 1e-3):
        net = build("rochetnet", problem, 0, menu_size=64, temperature=temperature)
        gaps.append(float(jnp.abs(net(values, training=True)[1] - net(values, training=False)[1]).mean()))
    assert gaps[1] < 0.05 * gaps[0]


def test_rochetnet_refuses_more_than_one_bidder():
    with pytest.raises(ConfigError, match="problem.num_bidders"):
        registry.MECHANISMS["rochetnet"]({}, auction(2, 2), "auction")


@pytest.mark.parametrize("name,section,field", [
    ("rochetnet", {"menu_size": 0}, "mechanism.menu_size"),
    ("rochetnet", {"temperature": 0.0}, "mechanism.temperature"),
    ("regretformer", {"dim": 10, "heads": 4}, "mechanism.heads"),
    ("regretformer", {"heads": 3, "dim": 9}, "mechanism.heads"),
    ("equivariantnet", {"channels": []}, "mechanism.channels"),
    ("equivariantnet", {"width": 3}, "mechanism.width"),
])
def test_bad_settings_name_their_field(name, section, field):
    problem = auction(1, 2)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        registry.MECHANISMS[name](section, problem, "auction")


# ---------------------------------------------------------------- presets run end to end

PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment"))
                 if p.startswith(("rochetnet_", "equivariantnet_", "regretformer_")))


def test_every_preset_composes_and_builds():
    from mechjax import config as config_lib
    assert {"rochetnet_1x2", "rochetnet_unit_1x2", "rochetnet_unit_1x2_23", "equivariantnet_2x2",
            "regretformer_2x2"} <= set(PRESETS)
    for preset in PRESETS:
        exp = config_lib.build(compose_config([f"+experiment={preset}"]))
        assert exp.learned and exp.cfg["mechanism"]["name"] == preset.split("_")[0]


@pytest.mark.parametrize("preset", ["rochetnet_unit_1x2_23", "equivariantnet_2x2", "regretformer_2x2_budget"])
def test_presets_train_and_load_at_tiny_size(preset, tmp_path):
    # The presets set full-size training (and RochetNet a large revenue sample); shrink both.
    overrides = [f"+experiment={preset}", *TINY, "trainer.steps=20", "trainer.batch_size=16",
                 "trainer.steps_per_chunk=10", "trainer.checkpoint_every=10", "attack.revenue_samples=256"]
    if preset.startswith("rochetnet"):
        # its preset's fresh samples every step (trainer=tiny alone would bring a fixed set of 64)
        overrides += ["mechanism.menu_size=32", "trainer.train_size=0"]
    else:
        overrides += ["trainer.train_size=64"]
        overrides += [f"mechanism.{k}={v}".replace(" ", "") for k, v in SMALL[preset.split("_")[0]].items()]
    summary = experiment.train(compose_config(overrides), str(tmp_path))
    assert np.isfinite(summary["revenue"]) and summary["num_parameters"] > 0
    mechanism, problem = experiment.load(str(tmp_path))
    values = problem.sample(jax.random.key(0), 128)
    alloc, pay = jax.jit(mechanism)(values)
    assert_feasible(values, alloc, pay, problem.valuations.demand)
    if preset.startswith("rochetnet"):
        assert summary["regret_max"] <= 1e-5

