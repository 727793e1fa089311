"""Bad configurations fail in mechjax.config.build (before anything is traced), naming the field."""

import os
import subprocess
import sys

import pytest

from mechjax import config as config_lib
from mechjax.errors import ConfigError

from conftest import REPO_DIR, TINY, compose_config


@pytest.mark.parametrize("overrides,field", [
    (["problem.num_items=0"], "problem.num_items"),
    (["problem.num_bidders=-2"], "problem.num_bidders"),
    (["optim.lr=-0.001"], "optim.lr"),
    (["problem.kind=lottery"], "problem.kind"),
    (["mechanism.name=nonet"], "mechanism.name"),
    (["inner.kind=oracle"], "inner.kind"),
    (["inner.restarts=0"], "inner.restarts"),
    (["constraint.rho_init=0"], "constraint.rho_init"),
    (["+problem.colour=red"], "problem.colour"),
    (["problem.demand=superadditive"], "problem.demand"),
    (["problem=auction/additive_1x2_asym", "problem.num_items=3"], "problem.low"),
    (["mechanism.activation=sine"], "mechanism.activation"),
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["seed=-1"], "seed"),
    # unknown keys anywhere
    (["+foo=1"], "foo"),
    (["+trainr.steps=5"], "trainr"),
    (["+attack.stpes=5"], "attack.stpes"),
    (["+voting_eval.bogus=1"], "voting_eval.bogus"),  # another kind's evaluator section is parsed too
    # non-finite numbers, before anything is compiled
    (["optim.lr=inf"], "optim.lr"),
    (["constraint.lambda_init=nan"], "constraint.lambda_init"),
    (["constraint=regret_budget", "constraint.budget=inf"], "constraint.budget"),
    (["inner.lr=inf"], "inner.lr"),
    (["attack.lr=nan"], "attack.lr"),
    (["problem.high=inf"], "problem.high"),
    (["mechanism=rochetnet", "inner=none", "constraint=none", "mechanism.temperature=nan"], "mechanism.temperature"),
    # wrong types name the field (no raw TypeError)
    (["mechanism.hidden=abc"], "mechanism.hidden"),
    (["mechanism.hidden=[10,abc]"], "mechanism.hidden"),
    (["mechanism.activation=3"], "mechanism.activation"),
    (["voting_eval.profiles=abc"], "voting_eval.profiles"),
    (["attack.seed=-3"], "attack.seed"),
    (["progress=3"], "progress"),
    (["mechanism=second_price", "mechanism.reserve=abc"], "mechanism.reserve"),
    # the optimum must agree with the setting's known one
    (["problem.optimal_revenue=0.7"], "problem.optimal_revenue"),
    (["problem.optimal_revenue=soon"], "problem.optimal_revenue"),
])
def test_bad_value_names_its_field(overrides, field):
    cfg = compose_config([*TINY, *overrides])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config_lib.build(cfg)


VOTING = ["problem=voting/mimic_ic", "mechanism=voting_net", "inner=none", "constraint=none"]


@pytest.mark.parametrize("overrides,field", [
    (["+problem.culture.phi=nan"], "problem.culture.phi"),
    (["+problem.culture.colour=red"], "problem.culture.colour"),
    (["problem.culture.num_voters=abc"], "problem.culture.num_voters"),
    (["+problem.loss.bogus=1"], "problem.loss.bogus"),
    (["problem.loss.mimicry=inf"], "problem.loss.mimicry"),
    (["mechanism.neutral=1"], "mechanism.neutral"),
    (["problem.culture.name=euclidean", "+problem.culture.dims=0"], "problem.culture.dims"),
    (["+voting_eval.relaxed_search={lr: .inf}"], "voting_eval.relaxed_search.lr"),
])
def test_nested_voting_settings_are_checked(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config_lib.build(compose_config([*TINY, *VOTING, *overrides]))


def test_unknown_top_level_key_suggests_the_section():
    with pytest.raises(ConfigError, match="did you mean 'trainer'"):
        config_lib.build(compose_config([*TINY, "+trainr.steps=5"]))


def test_a_preset_typo_lists_the_presets_and_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        compose_config(["problem=auction/additve_2x2"])
    message = str(info.value)
    assert "Did you mean problem=auction/additive_2x2?" in message
    for preset in ("auction/additive_1x2", "auction/additive_2x3", "auction/additive_5x10", "auction/unit_2x2"):
        assert f"problem={preset}" in message
    assert "problem=voting/mimic_ic" not in message and "voting/" in message  # other folders named, not listed
    with pytest.raises(ConfigError, match="rochetnet_1x2"):
        compose_config(["+experiment=rochetnet_1x"])
    # a plain name lists the group's top level; the experiments' own budgets (trainer/preset/) are a folder
    with pytest.raises(ConfigError) as info:
        compose_config(["trainer=tny"])
    message = str(info.value)
    assert "Did you mean trainer=tiny?" in message and "  trainer=default" in message
    assert "trainer=preset/" not in message and "preset/" in message


def test_weak_evaluation_attacker_is_refused_unless_asked_for():
    from mechjax.experiment import run_checks
    exp = config_lib.build(compose_config(["attack.steps=10", "attack.restarts=0", "attack.grid_init=0"]))
    with pytest.raises(ConfigError, match="attack.steps"):
        run_checks(exp, {"attack": {"steps": 10, "restarts": 0, "grid_init": 0}})
    run_checks(exp, {"attack": {"steps": 10, "restarts": 0, "grid_init": 0, "allow_weak": True}})


def test_rochetnet_alone_asks_for_inner_none_and_its_presets_use_it():
    from mechjax.experiment import run_checks
    small = "mechanism.menu_size=8"  # a small menu: only the checks matter here
    exp = config_lib.build(compose_config([*TINY, "mechanism=rochetnet", small]))
    with pytest.raises(ConfigError, match="inner=none constraint=none"):
        run_checks(exp, exp.cfg)
    for preset in ("rochetnet_1x2", "rochetnet_unit_1x2", "rochetnet_unit_1x2_23"):
        cfg = config_lib.to_dict(compose_config([f"+experiment={preset}", small]))
        assert cfg["inner"] == {"kind": "none"} and cfg["constraint"] == {"kind": "none"}, preset
        exp = config_lib.build(cfg)
        run_checks(exp, exp.cfg)


def test_classical_mechanisms_check_their_option_types():
    with pytest.raises(ConfigError, match="mechanism.reserve"):
        config_lib.build(compose_config(["problem=auction/single_item_2", "mechanism=second_price",
                                         "mechanism.reserve=[1, 2, x]"]))


def test_batch_not_divisible_across_devices_fails_before_compiling(tmp_path):
    """With 2 (simulated) devices, batch_size=15 is refused with a message naming trainer.batch_size."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "experiments/train.py", *TINY, "trainer.batch_size=15",
           f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "trainer.batch_size=15 must be divisible by the number of devices (2)" in proc.stderr
    assert not (tmp_path / "metrics.jsonl").exists()
