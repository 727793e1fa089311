"""The delegation domain through the front door: presets train, load and evaluate; bad configs fail."""

import os

import jax
import numpy as np
import pytest

import mechjax.delegation as md
from mechjax import experiment, registry
from mechjax.delegation import tables
from mechjax.errors import ConfigError, DataError

from conftest import CONF_DIR, compose_config

PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("delegation_"))
# tiny: few voters, one compiled chunk length, two baselines (what the test asserts on); cap 3 binds
TINY = ["trainer.steps=10", "trainer.batch_size=8", "trainer.steps_per_chunk=5", "trainer.checkpoint_every=10",
        "progress=false", "plots=false", "mechanism.dim=8", "mechanism.depth=1", "problem.num_voters=8",
        "problem.cap=3", "problem.draws=4", "delegation_eval.graphs=32", "delegation_eval.draws=4",
        "delegation_eval.chunk_size=32", "delegation_eval.rules=[direct,greedy_cap]"]
CAP = 3


def test_delegation_presets_and_tables_exist():
    registry.import_domains()
    assert {"delegation_learned", "delegation_learned_pa"} <= set(PRESETS)
    assert {"delegation_resolution", "delegation_accuracy", "delegation_kahng", "delegation_learned",
            "delegation_fluid"} <= set(registry.TABLES)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_every_delegation_preset_trains_loads_and_is_evaluated(preset, tmp_path):
    cfg = compose_config([f"+experiment={preset}", *TINY])
    summary = experiment.train(cfg, str(tmp_path))
    # the learned table reads a finished run evaluated under the same settings, and only then
    assert tables._finished_summary(str(tmp_path), cfg)["accuracy"] == summary["accuracy"]
    assert tables._finished_summary(str(tmp_path), compose_config([f"+experiment={preset}", *TINY,
                                                                   "delegation_eval.draws=3"])) is None
    rules = summary["rules"]
    # the evaluator's own consistency: direct voting gains nothing over itself, GreedyCap keeps the cap
    assert rules["direct"]["gain_over_direct"] == 0.0
    assert rules["greedy_cap"]["cap_respected"] and rules["greedy_cap"]["realized_max_weight_max"] <= CAP
    assert 0.5 < summary["accuracy"] <= 1.0 and summary["steps"] == 10
    # the deployed (cap-repaired) learned rule respects the cap in every drawn graph, by construction
    assert summary["repair"] and summary["cap_respected"] and summary["realized_max_weight_max"] <= CAP
    assert summary["draws_over_cap"] == 0.0
    policy = md.load(str(tmp_path))
    batch = experiment.load(str(tmp_path))[1].sample(jax.random.key(1), 4)
    d = np.asarray(policy(batch.inputs.estimate, batch.inputs.adjacency))
    np.testing.assert_allclose(d.sum(-1), 1.0, atol=1e-5)
    graphs = np.asarray(policy.sample(jax.random.key(2), batch.inputs.estimate, batch.inputs.adjacency, draws=8))
    assert graphs.shape == (8, 4, 8) and policy.cap == CAP
    caster, weight = md.resolve(graphs.reshape(-1, 8))
    assert (np.asarray(caster) >= 0).all() and np.asarray(weight).max() <= CAP
    with pytest.raises(DataError, match="estimate"):
        policy(np.asarray(batch.inputs.estimate) + 2.0, batch.inputs.adjacency)


def test_classical_rule_evaluates_through_the_front_door(tmp_path):
    cfg = compose_config(["+experiment=delegation_learned", "mechanism=delegation_rule", "mechanism.rule=greedy_cap",
                          "problem.num_voters=8", "problem.cap=3", "delegation_eval.graphs=32",
                          "delegation_eval.draws=4", "delegation_eval.chunk_size=32",
                          "delegation_eval.rules=[direct]"])  # the presets' shapes: direct is compiled once
    summary = experiment.evaluate(cfg, out_dir=str(tmp_path))
    assert summary["cap_respected"] and summary["expected_max_weight_max"] <= CAP
    assert summary["repair_fires"] == 0.0  # GreedyCap never needs the repair
    assert summary["rules"]["direct"]["expected_max_weight_max"] == 1.0


@pytest.mark.parametrize("override, field", [
    ("problem.cap=-1", "problem.cap"),
    ("problem.competence_high=1.5", "problem.competence_high"),
    ("problem.family=ring", "problem.family"),
    ("problem.num_voters=1", "problem.num_voters"),
    ("problem.draws=1", "problem.draws"),
    ("problem.repair=maybe", "problem.repair"),
    ("+problem.colour=red", "problem.colour"),
    ("delegation_eval.graphs=0", "delegation_eval.graphs"),
    ("delegation_eval.rules=[dictator]", "delegation_eval.rules"),
])
def test_bad_delegation_config_names_the_field(override, field):
    from mechjax import config as config_lib
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        cfg = config_lib.build(compose_config(["+experiment=delegation_learned", override]))
        registry.evaluator_for(cfg.kind, cfg.cfg)


def test_classical_rule_with_negative_cap_fails_naming_the_field():
    from mechjax import config as config_lib
    with pytest.raises(ConfigError, match=r"mechanism\.cap"):
        config_lib.build(compose_config(["+experiment=delegation_learned", "mechanism=delegation_rule",
                                         "mechanism.cap=-2"]))
