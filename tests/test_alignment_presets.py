"""Every alignment preset trains end to end through the front door, evaluates against the generated
truth, loads with load(run_dir); bad configs fail naming the field."""

import os

import numpy as np
import pytest

from mechjax import alignment as al
from mechjax import experiment
from mechjax.errors import ConfigError

from conftest import CONF_DIR, compose_config

PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("alignment_"))
QUICK = ["progress=false", "plots=false", "trainer.steps_per_chunk=100", "trainer.checkpoint_every=100"]


def test_contract_presets_exist():
    assert {"alignment_btl", "alignment_plackett_luce", "alignment_dpl", "alignment_mixture", "alignment_maxmin",
            "alignment_utilitarian"} <= set(PRESETS)


def _train(preset, tmp_path, steps, *extra):
    cfg = compose_config([f"+experiment={preset}", *QUICK, f"trainer.steps={steps}", *extra])
    return experiment.train(cfg, str(tmp_path))


def test_btl_preset_learns_the_borda_order_and_loads(tmp_path):
    summary = _train("alignment_btl", tmp_path, 300)
    assert summary["kendall_borda"] > 0.7  # an untrained (near-zero) table scores about 0
    rewards = al.load(str(tmp_path))()
    assert rewards.shape == (6,) and np.isfinite(rewards).all()


def test_maxmin_preset_reaches_the_exact_max_min_value(tmp_path):
    summary = _train("alignment_maxmin", tmp_path, 600)
    assert summary["worst_type_value"] >= summary["maxmin_worst_type_value"] - 0.02
    assert summary["worst_type_value"] > summary["utilitarian_worst_type_value"]  # it is not the utilitarian one
    policy = al.load(str(tmp_path))()
    assert policy.shape == (6,) and abs(policy.sum() - 1) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["alignment_plackett_luce", "alignment_dpl", "alignment_mixture",
                                    "alignment_utilitarian"])
def test_other_presets_train_evaluate_and_load(preset, tmp_path):
    summary = _train(preset, tmp_path, 300)
    loaded = al.load(str(tmp_path))()
    if preset == "alignment_mixture":
        assert summary["reward_error"] < 0.5 and summary["assignment_ari"] > 0.5
        assert loaded[0].shape == (2, 6) and loaded[1].shape == (2,)
    elif preset == "alignment_utilitarian":
        assert summary["average_value"] >= summary["utilitarian_average_value"] - 0.02
    else:
        assert summary["kendall_expected_utility"] > 0.3 and loaded.shape[0] > 1


def test_classical_borda_reward_evaluates():
    cfg = compose_config(["+experiment=alignment_btl", "mechanism=alignment_borda", "progress=false"],
                         config_name="evaluate")
    summary = experiment.evaluate(cfg)
    assert summary["kendall_borda"] > 0.7


@pytest.mark.parametrize("override, field", [
    ("problem.num_types=0", "problem.num_types"),
    ("problem.k=9", "problem.k"),
    ("problem.rationality=-1", "problem.rationality"),
    ("problem.task=vote", "problem.task"),
    ("problem.weights=[0.5,0.2]", "problem.weights"),
    ("problem.likelihood=dirichlet", "problem.likelihood"),
])
def test_bad_problem_settings_name_the_field(override, field, tmp_path):
    cfg = compose_config(["+experiment=alignment_btl", override])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        experiment.train(cfg, str(tmp_path))


def test_distributional_heads_need_pairs(tmp_path):
    cfg = compose_config(["+experiment=alignment_plackett_luce", "problem.likelihood=categorical"])
    with pytest.raises(ConfigError, match=r"problem\.likelihood.*pairs"):
        experiment.train(cfg, str(tmp_path))


def test_bad_beta_and_mismatched_mechanism_fail_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"problem\.beta"):
        experiment.train(compose_config(["+experiment=alignment_maxmin", "problem.beta=-0.5"]), str(tmp_path))
    with pytest.raises(ConfigError, match="alignment_mixture"):
        experiment.train(compose_config(["+experiment=alignment_btl", "mechanism=alignment_mixture"]), str(tmp_path))
    with pytest.raises(ConfigError, match="inner"):
        experiment.train(compose_config(["+experiment=alignment_mixture", "inner.kind=none"]), str(tmp_path))
    assert not os.listdir(tmp_path)  # nothing written before the error
