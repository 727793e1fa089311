"""Data parallelism: a batch sharded across 2 or 8 (simulated CPU) devices trains to the same numbers,
and it really is sharded (a silently dropped sharding would still give the same numbers)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_DIR, STRICT_XLA_FLAGS

# The child trains 2 seed replicas and records, at compile time, how the trainer's sampled batch
# is laid out (``inspect_array_sharding`` on every leaf sharding.shard_batch returns), and how the
# trained state is laid out afterwards.
SCRIPT = """
import json, sys, jax
from mechjax.experiment import compose
from mechjax import config as config_lib
from mechjax.core import loop, sharding
from mechjax.core.trainer import make_train
layouts = []
shard_batch = sharding.shard_batch
def spy(tree):
    out = shard_batch(tree)
    for x in jax.tree.leaves(out):
        jax.debug.inspect_array_sharding(x, callback=lambda s, shape=x.shape: layouts.append(
            {"shape": list(shape), "devices": len(s.device_set),
             "spec": [str(a) for a in s.spec] if hasattr(s, "spec") else None}))
    return out
sharding.shard_batch = spy
exp = config_lib.build(compose(["trainer=tiny", "problem=auction/additive_2x2", "trainer.num_seeds=2"]))
trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
result = loop.run(trainer, sys.argv[1], seed=0, progress=False)
state = [{"devices": len(x.sharding.device_set), "shards": [list(s.data.shape) for s in x.addressable_shards],
          "shape": list(x.shape)} for x in jax.tree.leaves(result.state)]
print(json.dumps({"devices": jax.device_count(), "batch": layouts, "state": state, "history": result.history}))
"""


def train_with_devices(n, run_dir):
    flags = " ".join([f"--xla_force_host_platform_device_count={n}", *STRICT_XLA_FLAGS[1:]])
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(run_dir)], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    return train_with_devices(1, tmp_path_factory.mktemp("one"))


@pytest.fixture(scope="module", params=[2, 8], ids=lambda n: f"{n}devices")
def many(request, tmp_path_factory):
    return train_with_devices(request.param, tmp_path_factory.mktemp("many"))


def test_sharded_devices_match_one(one, many):
    assert one["devices"] == 1 and many["devices"] in (2, 8)
    assert len(one["history"]) == len(many["history"]) == 2
    for a, b in zip(one["history"], many["history"], strict=True):
        for key in ("revenue", "regret", "loss"):
            assert abs(a[key] - b[key]) <= 1e-4 * max(1.0, abs(a[key])), (key, a[key], b[key])
        for x, y in zip(a["revenue_seeds"], b["revenue_seeds"], strict=True):
            assert abs(x - y) <= 1e-4, (x, y)


def test_batch_is_split_and_state_replicated(one, many):
    devices = many["devices"]
    # the trainer's batch (valuations [replicas, batch=16, bidders, items]) inside the compiled
    # step: the replica axis whole, the batch axis split over every device of the mesh
    assert many["batch"], "sharding.shard_batch was never called by the trainer"
    for layout in many["batch"]:
        assert layout["devices"] == devices, layout
        assert layout["spec"][:2] == ["None", "data"], layout
        assert layout["shape"][0] % devices == 0
    # one device: nothing to split (the same check, run where it must not hold)
    assert all(layout["devices"] == 1 for layout in one["batch"])
    # the trained state: a full copy on each device, so every replica's step runs everywhere
    for leaf in many["state"]:
        assert leaf["devices"] == devices and len(leaf["shards"]) == devices, leaf
        assert all(shape == leaf["shape"] for shape in leaf["shards"]), leaf
