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
])
def test_bad_value_names_its_field(overrides, field):
    cfg = compose_config([*TINY, *overrides])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config_lib.build(cfg)


def test_unknown_preset_is_rejected_by_hydra():
    from hydra.errors import MissingConfigException
    with pytest.raises(MissingConfigException, match="auction/no_such_auction"):
        compose_config(["problem=auction/no_such_auction"])


def test_weak_evaluation_attacker_is_refused_unless_asked_for():
    from mechjax.experiment import _check_attack
    exp = config_lib.build(compose_config(["attack.steps=10", "attack.restarts=0", "attack.grid_init=0"]))
    with pytest.raises(ConfigError, match="attack.steps"):
        _check_attack(exp, {"steps": 10, "restarts": 0, "grid_init": 0})
    _check_attack(exp, {"steps": 10, "restarts": 0, "grid_init": 0, "allow_weak": True})


def test_batch_not_divisible_across_devices_fails_before_compiling(tmp_path):
    """With 2 (simulated) devices, batch_size=15 is refused with a message naming trainer.batch_size."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "experiments/train.py", *TINY, "trainer.batch_size=15",
           f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "trainer.batch_size=15 must be divisible by the number of devices (2)" in proc.stderr
    assert not (tmp_path / "metrics.jsonl").exists()
