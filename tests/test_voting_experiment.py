"""Voting through the Hydra app: configs, training, evaluation, ``mechjax.voting.load``."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechjax.voting as mv
from mechjax import config, experiment
from mechjax.errors import ConfigError
from mechjax.voting.evaluate import VotingEvalConfig, evaluate_voting
from mechjax.voting.registry import classical_mechanism

from conftest import compose_config

TINY_EVAL = ["voting_eval.profiles=256", "voting_eval.audit_profiles=32", "voting_eval.manipulation_profiles=8",
             "voting_eval.chunk_size=256", "voting_eval.sizes=[[7,4],[15,6]]",
             "voting_eval.welfare_rules=[plurality,borda,copeland]"]
SMALL = ["problem.culture.num_voters=7", "problem.culture.num_candidates=4", "mechanism.dim=8", "mechanism.depth=1"]
TINY_VOTING = ["trainer=tiny", "trainer.train_size=0", "progress=false", "plots=false", *SMALL, *TINY_EVAL]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("voting_run"))
    cfg = compose_config(["+experiment=voting_mimic", "problem.target=plurality", "trainer.steps=60",
                          "trainer.checkpoint_every=30", "trainer.steps_per_chunk=30", "optim.lr=0.01",
                          *TINY_VOTING])
    summary = experiment.train(cfg, run_dir)
    return run_dir, summary


def test_training_writes_an_evaluated_summary(trained):
    run_dir, summary = trained
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["accuracy"] == summary["accuracy"]
    assert summary["target"] == "plurality" and 0 <= summary["accuracy"] <= 1
    assert [(r["voters"], r["candidates"]) for r in summary["sizes"]] == [(7, 4), (15, 6)]
    assert set(summary["welfare_classical"]) == {"plurality", "borda", "copeland"}
    # the utilitarian optimum bounds every rule's welfare on the same profiles
    assert all(w["utilitarian"] <= summary["welfare_utilitarian_optimum"] + 1e-6
               for w in summary["welfare_classical"].values())
    assert summary["welfare_utilitarian"] <= summary["welfare_utilitarian_optimum"] + 1e-6
    paired = summary["best_classical_utilitarian"]  # the paired difference agrees with the two means
    assert abs(paired["difference"] - (summary["welfare_utilitarian"] - paired["welfare"])) < 1e-5
    assert paired["difference_stderr"] > 0
    assert summary["axioms"]["anonymity"]["rate"] == 1.0 and summary["axioms"]["neutrality"]["rate"] == 1.0
    assert 0 <= summary["manipulability"] <= 1 and "exhaustive" in summary["manipulation"]["attacker"]


def test_load_gives_a_jittable_rule_that_reproduces_the_evaluation(trained):
    run_dir, summary = trained
    rule = mv.load(run_dir)
    problem = experiment.load(run_dir)[1]
    # the loaded rule, re-evaluated from scratch, gives the accuracy the run reported
    mechanism = jax.jit(lambda ballots: rule(jnp.argsort(jnp.argmax(ballots.ranks, -1), -1),
                                             ballots.weights, ballots.candidate_mask))
    again = evaluate_voting(mechanism, problem, VotingEvalConfig(profiles=256, audit_profiles=0, manipulation_profiles=0,
                                                                 chunk_size=256, sizes=[[7, 4]]))
    assert abs(again["accuracy"] - summary["accuracy"]) < 1e-6
    # any number of voters and candidates; rows are lotteries; works under an outer jit
    rankings = mv.impartial_culture(jax.random.key(0), 5, 21, 7).rankings
    p = np.asarray(jax.jit(rule)(rankings))
    assert p.shape == (5, 7) and np.allclose(p.sum(-1), 1, atol=1e-5) and (p >= 0).all()


def test_classical_rule_evaluates_like_the_welfare_table(tmp_path):
    cfg = compose_config(["+experiment=voting_welfare", "mechanism=voting_rule", "mechanism.rule=borda", *SMALL[:2],
                          *TINY_EVAL], config_name="evaluate")
    summary = experiment.evaluate(cfg, out_dir=str(tmp_path))
    assert not summary["learned"] and summary["mechanism"] == "voting_rule"
    # the Ballots -> rankings -> rule path equals calling the rule on the rankings directly
    assert abs(summary["welfare_utilitarian"] - summary["welfare_classical"]["borda"]["utilitarian"]) < 1e-6
    assert summary["axioms"]["anonymity"]["rate"] == 1.0
    assert os.path.exists(tmp_path / "summary.json")


def test_classical_mechanism_masks_padding_and_breaks_ties():
    # two voters, 3 real candidates + 1 padding: Borda ties 0 and 1
    rankings = jnp.array([[[0, 1, 2, 3], [1, 0, 2, 3]]])
    ballots = mv.ballots_from_rankings(rankings, None, jnp.array([[True, True, True, False]]))
    uniform = np.asarray(classical_mechanism("borda")(ballots))
    lowest = np.asarray(classical_mechanism("borda", "lowest_index")(ballots))
    assert np.allclose(uniform, [[0.5, 0.5, 0, 0]]) and np.allclose(lowest, [[1, 0, 0, 0]])


@pytest.mark.parametrize("overrides,match", [
    (["problem.culture.name=zipf"], "problem.culture.name"),
    (["+problem.culture.colour=1"], "problem.culture.colour"),
    (["+problem.loss.happiness=1"], "problem.loss.happiness"),
    (["problem.loss.mimicry=-1"], "problem.loss.mimicry"),
    (["problem.target=dictator"], "problem.target"),
    (["inner=adversary"], "problem.manipulation=false"),
    (["problem.manipulation=true"], "needs inner=adversary"),
    (["mechanism.mixer=mlp"], "mechanism.mixer"),
    (["problem=auction/additive_1x2"], "needs problem.kind=voting"),
    (["mechanism=regretnet"], "needs problem.kind=auction"),
])
def test_config_errors_name_the_field(overrides, match):
    with pytest.raises(ConfigError, match=match):
        config.build(compose_config(["+experiment=voting_mimic", *overrides]))


@pytest.mark.parametrize("section,match", [
    (dict(sizes=[[5]]), "voting_eval.sizes"),
    (dict(axioms=["beauty"]), "voting_eval.axioms"),
    (dict(welfare_rules=["dictator"]), "voting_eval.welfare_rules"),
    (dict(profiles=0), "voting_eval.profiles"),
    (dict(relaxed_search={"steps": -1}), "relaxed_search.steps"),
    (dict(relaxed_search={"colour": 1}), "voting_eval.relaxed_search"),
])
def test_eval_config_errors(section, match):
    with pytest.raises(ConfigError, match=match):
        VotingEvalConfig(**section)


def test_load_refuses_a_run_that_is_not_a_voting_rule(tmp_path):
    from conftest import TINY
    experiment.train(compose_config([*TINY, "trainer.steps=10"]), str(tmp_path))
    with pytest.raises(ConfigError, match="not a voting rule"):
        mv.load(str(tmp_path))


def test_bad_evaluation_setting_fails_before_training(tmp_path):
    cfg = compose_config(["+experiment=voting_mimic", *TINY_VOTING, "+voting_eval.colour=1"])
    with pytest.raises(ConfigError, match="voting_eval.colour"):
        experiment.train(cfg, str(tmp_path))
    assert not os.path.exists(tmp_path / "checkpoints")


def test_above_the_exhaustive_limit_the_evaluator_uses_the_relaxed_search():
    import flax.nnx as nnx

    from mechjax.voting.problem import VotingProblem
    from mechjax.voting.profiles import CultureConfig
    problem = VotingProblem(culture=CultureConfig("ic", 5, 7), target="borda")
    graphdef, state = nnx.split(mv.VotingNet(7, dim=8, depth=1, rngs=nnx.Rngs(0)))
    mechanism = jax.jit(lambda ballots: nnx.merge(graphdef, state)(ballots))
    summary = evaluate_voting(mechanism, problem, VotingEvalConfig(
        profiles=32, sizes=[[5, 7]], welfare_rules=["borda"], audit_profiles=0, manipulation_profiles=4,
        chunk_size=256, relaxed_search={"steps": 5, "restarts": 2, "local_rounds": 1, "temperature": [1.0, 0.1]}))
    assert summary["manipulation"]["attacker"].startswith("relaxed-ballot search")
    assert 0 <= summary["manipulability"] <= 1 and summary["manipulation"]["mean_best_gain"] >= 0
