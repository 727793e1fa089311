"""Every auction problem preset builds and checks its network, one of each kind trains end to end at tiny size;
every voting experiment preset smoke-runs at tiny size, end to end."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

import mechjax.auctions.registry  # noqa: F401  (registers the auction mechanisms)
from mechjax import experiment
from mechjax.testing.auctions import assert_feasible, assert_individually_rational

from conftest import CONF_DIR, REPO_DIR, TINY, compose_config

AUCTION_PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "problem", "auction")))
VOTING_PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("voting_"))
CONTRACT_PRESETS = {"additive_1x2", "additive_1x2_asym", "unit_1x2", "unit_1x2_23", "additive_2x2", "unit_2x2"}


def test_contract_presets_exist():
    assert CONTRACT_PRESETS <= set(AUCTION_PRESETS)


# The auction presets differ only in their numbers (bidders, items, demand, value range), so one
# end-to-end tiny run per distinct kind is trained: unit demand with one and several bidders, an
# asymmetric value range, values away from 0, a single item, and the standard 2x2. additive_1x2 (the
# README's main job) trains in tests/test_cli.py. Every preset, these included, is also built and its
# untrained network checked below, at the preset's own size (a training run at 5x10 compiled for 80 s
# of a cold suite to test the same code as at 2x2).
TRAINED_PRESETS = ["additive_1x2_asym", "additive_2x2", "single_item_2", "unit_1x2", "unit_1x2_23", "unit_2x2"]


@pytest.mark.parametrize("preset", TRAINED_PRESETS)
def test_regretnet_smoke_runs_on_each_kind_of_auction_preset(preset, tmp_path):
    cfg = compose_config([*TINY, f"problem=auction/{preset}", "mechanism=regretnet"])
    summary = experiment.train(cfg, str(tmp_path))
    for key in ("revenue", "regret", "ir_violation", "steps", "wall_s", "attack"):
        assert key in summary
    assert summary["steps"] == 20 and np.isfinite(summary["revenue"])
    assert json.load(open(tmp_path / "summary.json"))["revenue"] == summary["revenue"]
    mechanism, problem = experiment.load(str(tmp_path))
    values = problem.sample(jax.random.key(3), 256)
    alloc, pay = jax.jit(mechanism)(values)
    assert_feasible(values, alloc, pay, problem.valuations.demand)
    assert_individually_rational(mechanism, values)
    # the reported revenue is a real expected payment: at least 0 and at most the expected welfare
    # of giving every item to its highest bidder (an upper bound on any IR mechanism's revenue)
    welfare = float(np.asarray(problem.sample(jax.random.key(4), 65536)).max(axis=1).sum(axis=-1).mean())
    assert 0 <= summary["revenue"] <= 1.02 * welfare, (summary["revenue"], welfare)
    assert summary["regret"] >= 0 and summary["ir_violation"] >= 0


def test_trained_presets_cover_every_kind_of_auction_preset():
    """Each demand type, single- and multi-item, one- and multi-bidder, and each value range a preset uses
    (a symmetric or asymmetric one) has a trained representative."""
    def kind(preset):
        p = compose_config([f"problem=auction/{preset}"]).problem
        return (p.demand, p.num_items == 1, p.num_bidders == 1, str(p.low), str(p.high))
    trained = {kind(p) for p in TRAINED_PRESETS} | {kind("additive_1x2")}
    untrained = {kind(p) for p in AUCTION_PRESETS} - trained
    # a new kind of preset gets a training smoke; only sizes already covered may stay untrained
    assert not untrained, untrained


@pytest.mark.parametrize("preset", AUCTION_PRESETS)
def test_every_auction_preset_builds_a_feasible_individually_rational_network(preset):
    from mechjax import config as config_lib
    exp = config_lib.build(compose_config([*TINY, f"problem=auction/{preset}", "mechanism=regretnet"]))
    problem = exp.problem
    values = problem.sample(jax.random.key(3), 64)
    cfg = exp.cfg["problem"]
    assert values.shape == (64, cfg["num_bidders"], cfg["num_items"])
    assert float(values.min()) >= np.min(cfg["low"]) and float(values.max()) <= np.max(cfg["high"])
    net = exp.mechanism(nnx.Rngs(0))  # the registry gives a factory of the network
    mechanism = jax.jit(lambda v: net(v, training=False))
    alloc, pay = mechanism(values)
    assert_feasible(values, alloc, pay, problem.valuations.demand)
    assert_individually_rational(mechanism, values)


def test_rochetnet_trains_with_no_inner_solver(tmp_path):
    """A DSIC-by-construction menu needs no adversary: inner=none constraint=none runs end to end."""
    cfg = compose_config([*TINY, "problem=auction/additive_1x2", "mechanism=rochetnet", "inner=none",
                          "constraint=none"])
    summary = experiment.train(cfg, str(tmp_path))
    assert np.isfinite(summary["revenue"]) and summary["regret_max"] <= 1e-5


def test_voting_presets_exist():
    assert {"voting_mimic", "voting_welfare", "voting_welfare_strategyproof", "voting_axioms"} <= set(VOTING_PRESETS)


# XLA:CPU deadlocks training this preset on 8 simulated devices (jax/jaxlib 0.10.2; reproduced 2 of 2
# times, issue #13): its compiled step holds an all-reduce and an all-gather that do not depend on each
# other; XLA:CPU runs a device's independent thunks concurrently, and an in-process collective holds
# its worker thread until all 8 devices arrive. Devices 0-3 entered both collectives (8 threads held:
# "Expected 8 threads to join the rendezvous, but only 4 of them arrived") and devices 4-7 never got a
# thread, so the process aborts at the collective timeout: a thread-starvation bug of XLA:CPU's
# in-process collectives, not of this program. It smoke-runs on one device in a child process
# instead; exhaustive training on several devices stays covered by tests/test_voting_problem.py.
ONE_DEVICE = {"voting_welfare_strategyproof"}


def train_on_one_device(overrides, run_dir):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1", "JAX_PLATFORMS": "cpu"}
    script = "import sys\nfrom mechjax import experiment\n" \
             "experiment.train(experiment.compose(sys.argv[3:], conf_dir=sys.argv[2]), sys.argv[1])\n"
    proc = subprocess.run([sys.executable, "-c", script, run_dir, CONF_DIR, *overrides], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("preset", VOTING_PRESETS)
def test_every_voting_preset_smoke_runs(preset, tmp_path):
    # explicit trainer values: one smoke-run budget for every preset, whatever its own;
    # 40 steps at a higher learning rate: enough to beat chance, still a smoke run
    overrides = [f"+experiment={preset}", "trainer=tiny", "trainer.train_size=0", "trainer.steps=40",
                 "trainer.batch_size=16", "trainer.steps_per_chunk=20", "trainer.checkpoint_every=20",
                 "optim.lr=0.01", "progress=false",
                 "plots=false", "mechanism.dim=8", "mechanism.depth=1", "voting_eval.profiles=64",
                 "voting_eval.audit_profiles=0", "voting_eval.manipulation_profiles=2",
                 "voting_eval.chunk_size=64", "voting_eval.sizes=[[5,3]]",
                 "voting_eval.welfare_rules=[borda]"]  # each classical rule compiles at every size
    cfg = compose_config(overrides)
    if preset in ONE_DEVICE:
        summary = train_on_one_device(overrides, str(tmp_path))
    else:
        summary = experiment.train(cfg, str(tmp_path))
    assert summary["steps"] == 40 and np.isfinite(summary["welfare_utilitarian"])
    assert 0 <= summary["manipulability"] <= 1
    history = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    losses = [k for k in history[-1] if k.startswith("loss_")]
    assert losses and all(np.isfinite(history[-1][k]) for k in losses)
    # never better than the utilitarian optimum on the same profiles (an exact bound the evaluator computes)
    assert summary["welfare_utilitarian"] <= summary["welfare_utilitarian_optimum"] + 1e-6
    if summary.get("target"):  # mimicry: the top candidate is a target winner far more often than by chance
        assert summary["accuracy"] > 0.6, summary["accuracy"]  # chance on 3 candidates is 1/3 plus ties
    if not cfg.problem.manipulation and cfg.problem.loss.get("utilitarian", 0) > 0:
        # welfare training learns: the second chunk's training welfare beats the first chunk's
        assert history[-1]["utilitarian_welfare"] > history[0]["utilitarian_welfare"], history
