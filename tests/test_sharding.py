"""Data parallelism: a batch sharded across 2 or 8 (simulated CPU) devices trains to the same numbers."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_DIR, STRICT_XLA_FLAGS

SCRIPT = """
import json, sys, jax
from mechjax.experiment import compose
from mechjax import config as config_lib
from mechjax.core import loop
from mechjax.core.trainer import make_train
exp = config_lib.build(compose(["trainer=tiny", "problem=auction/additive_2x2", "trainer.num_seeds=2"]))
trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
result = loop.run(trainer, sys.argv[1], seed=0, progress=False)
print(json.dumps({"devices": jax.device_count(), "history": result.history}))
"""


def train_with_devices(n, run_dir):
    flags = " ".join([f"--xla_force_host_platform_device_count={n}", *STRICT_XLA_FLAGS[1:]])
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(run_dir)], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    return train_with_devices(1, tmp_path_factory.mktemp("one"))


@pytest.mark.parametrize("devices", [2, 8])
def test_sharded_devices_match_one(one, tmp_path, devices):
    two = train_with_devices(devices, tmp_path / "many")
    assert one["devices"] == 1 and two["devices"] == devices
    assert len(one["history"]) == len(two["history"]) == 2
    for a, b in zip(one["history"], two["history"], strict=True):
        for key in ("revenue", "regret", "loss"):
            assert abs(a[key] - b[key]) <= 1e-4 * max(1.0, abs(a[key])), (key, a[key], b[key])
