"""Inverse mechanism learning through the one front door: presets, train, evaluate, load, bad input."""

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import mechjax
import mechjax.inverse as mi
from mechjax import config as config_lib
from mechjax import experiment, registry
from mechjax.errors import ConfigError, DataError
from mechjax.inverse import metrics, models

from conftest import CONF_DIR, compose_config

# A few seconds of data and training: enough for the neural map to pick up the congestion game's
# payoff differences (the full preset trains 2000 steps on 256 episodes).
SMALL = ["trainer.steps=100", "trainer.steps_per_chunk=50", "trainer.checkpoint_every=50", "trainer.batch_size=32",
         "problem.episodes=48", "problem.steps=40", "problem.heldout_episodes=8", "progress=false", "plots=false",
         "inverse_eval.kl_episodes=0", "inverse_eval.baselines=[trivial]"]
# Sizes for configs that are built, never trained.
BUILD_ONLY = ["problem.episodes=4", "problem.steps=3", "problem.heldout_episodes=1"]
DIML_PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("diml_"))


@pytest.fixture(scope="module")
def congestion_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("diml_congestion")
    cfg = compose_config(["+experiment=diml_congestion", *SMALL, "plots=true"])
    return run_dir, experiment.train(cfg, str(run_dir))


def test_the_congestion_preset_trains_and_recovers_payoff_differences(congestion_run):
    run_dir, summary = congestion_run
    assert summary["kind"] == "inverse" and summary["steps"] == 100 and summary["truth_known"]
    # recovered: far better than the trivial estimator, on held-out contexts and held-out likelihood
    assert summary["payoff_diff_correlation_heldout"] > 0.5
    assert summary["payoff_diff_mse_heldout"] < summary["payoff_diff_mse_heldout_trivial"] / 1.5
    assert summary["nll_heldout"] < summary["nll_heldout_trivial"] - 0.05
    assert summary["nll_heldout_true"] < summary["nll_heldout_trivial"]
    assert json.load(open(run_dir / "summary.json"))["nll_heldout"] == summary["nll_heldout"]
    history = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert history[-1]["nll"] < history[0]["nll"] < np.log(5) + 1e-3  # likelihood climbs from the trivial start
    assert (run_dir / "payoff_recovery.png").exists()


def test_load_returns_the_trained_payoff_map_as_a_game(congestion_run):
    run_dir, summary = congestion_run
    game, problem = mechjax.load(str(run_dir))
    assert isinstance(game, mi.PayoffMapGame) and isinstance(problem, mi.DIMLProblem)
    assert (game.num_agents, game.num_actions) == (4, 5)
    again = mi.load(str(run_dir))
    contexts = problem.heldout.reshape(-1, 4)
    np.testing.assert_allclose(np.asarray(again(contexts)), np.asarray(game(contexts)), atol=1e-6)
    # the loaded map scores exactly what the run's evaluator reported
    np.testing.assert_allclose(metrics.payoff_difference_correlation(problem.truth, game, problem.heldout),
                               summary["payoff_diff_correlation_heldout"], rtol=1e-5)
    np.testing.assert_allclose(metrics.heldout_nll(game, problem.learner, problem.heldout), summary["nll_heldout"],
                               rtol=1e-5)
    assert game.payoffs.shape == (4, 5, 5, 5, 5)  # a game like any other
    with pytest.raises(DataError, match="agents"):
        game(jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(DataError, match="num_actions"):
        game(jnp.full((2, 4), 5, jnp.int32))


def test_evaluate_rescores_a_run_with_its_own_settings(congestion_run, tmp_path):
    run_dir, summary = congestion_run
    cfg = compose_config([f"run_dir={run_dir}", "progress=false", "inverse_eval.kl_episodes=8",
                          "inverse_eval.baselines=[trivial]",
                          "inverse_eval.counterfactual=[{name: logit_q, alpha: 0.1, beta: 5.0, epsilon: 0.02}]"],
                         config_name="evaluate")
    evaluated = experiment.evaluate(cfg, run_dir=str(run_dir), out_dir=str(tmp_path))
    assert evaluated["nll_heldout"] == pytest.approx(summary["nll_heldout"], rel=1e-6)
    assert evaluated["inverse_eval"]["kl_episodes"] == 8 and "kl_floor_0" in evaluated and "kl_shifted_1" not in evaluated
    assert evaluated["kl_shifted_0"] < evaluated["kl_shifted_0_trivial"]


@pytest.mark.slow
def test_fit_and_the_front_door_are_one_path(congestion_run):
    """``fit`` on the preset's data with the preset's settings gives the front door's estimate."""
    run_dir, _ = congestion_run
    game, problem = mechjax.load(str(run_dir))
    learned = mi.fit(np.asarray(problem.actions), 5, problem.learner, "neural", steps=100, steps_per_chunk=50,
                     batch_size=32, window=16, burn_in=24, learning_rate=3e-3, weight_decay=1.0, seed=0)
    contexts = problem.heldout.reshape(-1, 4)
    np.testing.assert_allclose(np.asarray(learned.counterfactual_payoffs(contexts)), np.asarray(game(contexts)),
                               atol=1e-5)


@pytest.mark.slow
def test_every_diml_preset_builds():
    assert {"diml_congestion", "diml_public_goods", "diml_neural", "diml_anonymous", "diml_from_file"} <= set(
        DIML_PRESETS)
    for preset in DIML_PRESETS:
        if preset == "diml_from_file":
            continue  # needs a file: see test_observed_actions_from_a_file
        exp = config_lib.build(compose_config([f"+experiment={preset}", *BUILD_ONLY]))
        assert exp.kind == "inverse" and exp.learned and isinstance(exp.inner, mi.HistoryReplay)
        assert exp.problem.truth is not None and exp.problem.heldout.shape[0] == 1


def test_the_generated_problem_is_instance_data_seed_of_the_results_tables():
    # problem.data_seed=s draws the game and trajectories exactly as run_instance(game, s) does
    exp = config_lib.build(compose_config(["+experiment=diml_public_goods", "problem.data_seed=3", *BUILD_ONLY]))
    k_game, k_train, k_test, _ = jax.random.split(jax.random.key(3), 4)
    truth = mi.evaluate.make_game("public_goods", k_game)
    assert metrics.equivalent(truth, exp.problem.truth, atol=0.0)
    np.testing.assert_array_equal(exp.problem.actions, mi.simulate(truth, exp.problem.learner, k_train, 4, 3))


BAD = [
    (["problem.game=null"], "exactly one of problem.game"),
    (["problem.actions_path=x.npz"], "exactly one of problem.game"),
    (["problem.learner=null"], "problem.learner is required"),
    (["problem.learner.beta=-1"], "problem.learner.beta"),
    (["problem.learner.name=sarsa"], "problem.learner.name"),
    (["+problem.learner.gamma=0.9"], "problem.learner.gamma"),
    (["problem.learner.alpha=abc"], "problem.learner.alpha"),
    (["problem.episodes=0"], "problem.episodes"),
    (["problem.window=0"], "problem.window"),
    (["problem.burn_in=-1"], "problem.burn_in"),
    (["problem.heldout_episodes=-2"], "problem.heldout_episodes"),
    (["problem.game.name=chess"], "problem.game.name"),
    (["problem.game.num_agents=1"], "problem.game.num_agents"),
    (["problem.num_actions=3"], "problem.num_actions"),
    (["problem.episodes=100000000", "problem.steps=100"], "problem.episodes"),
    (["+problem.tolls=1"], "problem.tolls"),
    (["mechanism.hidden=0"], "mechanism.hidden"),
    (["mechanism.hidden=abc"], "mechanism.hidden"),
    (["+mechanism.heads=2"], "mechanism.heads"),
    (["mechanism=payoff_tabular", "problem.game.name=anonymous", "problem.game.num_agents=12"], "payoff_tabular"),
    (["inner=adversary"], "MisreportProblem"),
    (["inner=exhaustive_ballots"], "inner=exhaustive_ballots"),
    (["mechanism=regretnet"], "problem.kind=auction"),
]


@pytest.mark.parametrize("overrides, match", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_inverse_configs_fail_naming_the_field(overrides, match):
    cfg = compose_config(["+experiment=diml_congestion", *BUILD_ONLY, *overrides])
    with pytest.raises(ConfigError, match=re.escape(match)):
        config_lib.build(cfg)


@pytest.mark.parametrize("overrides, match", [
    (["inverse_eval.kl_episodes=-1"], "inverse_eval.kl_episodes"),
    (["inverse_eval.baselines=[trivial,oracle]"], "inverse_eval.baselines"),
    (["inverse_eval.counterfactual=[{name: logit_q, beta: 0}]"], "inverse_eval.counterfactual[0].beta"),
    (["+inverse_eval.contexts=all"], "inverse_eval.contexts"),
])
def test_bad_evaluation_settings_fail_before_training(overrides, match):
    cfg = config_lib.to_dict(compose_config(["+experiment=diml_congestion", *overrides]))
    with pytest.raises(ConfigError, match=re.escape(match)):
        registry.evaluator_for("inverse", cfg)


def test_a_constraint_on_diml_is_refused():
    cfg = compose_config(["+experiment=diml_congestion", *BUILD_ONLY, "constraint=augmented_lagrangian"])
    exp = config_lib.build(cfg)
    with pytest.raises(ConfigError, match="constraint.kind=augmented_lagrangian"):
        experiment.run_checks(exp, exp.cfg)


def test_payoff_maps_and_history_replay_refuse_other_domains():
    with pytest.raises(ConfigError, match="mechanism.name=payoff_neural .*problem.kind=inverse"):
        config_lib.build(compose_config(["problem=auction/additive_1x2", "mechanism=payoff_neural"]))
    with pytest.raises(ConfigError, match="inner.kind=history_replay"):
        config_lib.build(compose_config(["problem=auction/additive_1x2", "inner=history_replay"]))


def test_the_adversary_interface_is_declared():
    from mechjax.core.types import MisreportProblem

    auction = registry.PROBLEMS["auction"]({"kind": "auction", "num_bidders": 2, "num_items": 2})
    assert isinstance(auction, MisreportProblem)
    actions = np.zeros((2, 3, 2), np.int32)
    assert not isinstance(mi.DIMLProblem(actions, 2, mi.LogitQ()), MisreportProblem)


def test_the_shared_optimiser_decays_exactly_the_matrices_fit_decays():
    module = models.make_model("neural", 3, 4, jax.random.key(0))
    params = nnx.split(module, nnx.Param)[1]
    params = jax.tree.map(lambda p: p + 1.0, params)  # no zero entries: every decayed one moves
    tx = config_lib.OptimConfig(name="adamw", lr=0.1, weight_decay=1.0, decay_mask="matrices").build(10)
    updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    moved = jax.tree.map(lambda u: bool(jnp.any(u != 0)), updates)
    assert jax.tree.leaves(moved) == jax.tree.leaves(models.decay_mask(params))
    assert any(jax.tree.leaves(moved)) and not all(jax.tree.leaves(moved))
    with pytest.raises(ConfigError, match="optim.decay_mask"):
        config_lib.OptimConfig(decay_mask="biases")


def _write_npy_header(path, shape, dtype="<i4"):
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)


def test_observed_actions_from_a_file(tmp_path):
    game = mi.CongestionTolls.random(jax.random.key(0), 3, 4)
    actions = mi.simulate(game, mi.LogitQ(), jax.random.key(1), episodes=6, steps=5)
    path = mi.save_actions(str(tmp_path / "actions.npz"), actions)
    overrides = ["+experiment=diml_from_file", f"problem.actions_path={path}", "problem.num_actions=4",
                 "problem.heldout_episodes=2", "problem.learner={name: logit_q, alpha: 0.25, beta: 3.0, epsilon: 0.06}"]
    problem = config_lib.build(compose_config(overrides)).problem
    assert problem.truth is None and problem.actions.shape == (4, 6, 3) and problem.heldout.shape == (2, 6, 3)
    np.testing.assert_array_equal(np.concatenate([problem.actions, problem.heldout]), actions)
    with pytest.raises(ConfigError, match="problem.learner is required"):
        config_lib.build(compose_config(overrides[:-1]))
    with pytest.raises(ConfigError, match="problem.num_actions is required"):
        config_lib.build(compose_config([*overrides[:2], *overrides[3:], "problem.num_actions=null"]))
    with pytest.raises(ConfigError, match="problem.steps"):
        config_lib.build(compose_config([*overrides, "problem.steps=5"]))
    with pytest.raises(ConfigError, match="problem.heldout_episodes=6 leaves no training episode"):
        config_lib.build(compose_config([*overrides, "problem.heldout_episodes=6"]))
    with pytest.raises(ConfigError, match="problem.actions_path: no file"):
        config_lib.build(compose_config([*overrides, f"problem.actions_path={tmp_path}/missing.npz"]))


def test_bad_action_files_fail_naming_the_file_before_reading_them(tmp_path):
    cases = {}
    cases["garbage.npz"] = lambda p: open(p, "wb").write(b"PK\x03\x04 not a zip at all")
    cases["floats.npy"] = lambda p: np.save(p, np.zeros((2, 3, 2)))
    cases["range.npy"] = lambda p: np.save(p, np.full((2, 3, 2), 7, np.int32))
    cases["rank.npy"] = lambda p: np.save(p, np.zeros((2, 3), np.int32))
    cases["objects.npy"] = lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    # a header that claims a trillion actions and holds none: refused from the header alone
    cases["huge.npy"] = lambda p: _write_npy_header(p, (10**6, 10**3, 10**3))
    cases["two.npz"] = lambda p: np.savez(p, a=np.zeros((1, 2, 2), np.int32), b=np.zeros((1, 2, 2), np.int32))
    for name, write in cases.items():
        path = str(tmp_path / name)
        write(path)
        with pytest.raises(DataError, match=re.escape(path)):
            mi.load_actions(path, num_actions=4)
    np.save(tmp_path / "ok.npy", np.zeros((2, 3, 2), np.int64))
    assert mi.load_actions(str(tmp_path / "ok.npy"), 4).dtype == np.int32
    with pytest.raises(ConfigError, match="problem.actions_path"):
        mi.load_actions(str(tmp_path / "ok.csv"), 4, field="problem.actions_path")
