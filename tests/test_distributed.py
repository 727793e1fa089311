"""Multi-process training: two ``jax.distributed`` processes on localhost (CPU, gloo collectives)
train through the front door to the numbers one process gets, and only process 0 writes."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from mechjax import distributed, experiment
from mechjax.errors import ConfigError

from conftest import REPO_DIR, STRICT_XLA_FLAGS, TINY, compose_config

ENV_NAMES = (distributed.COORDINATOR, distributed.NUM_PROCESSES, distributed.PROCESS_ID)


def test_no_variables_means_auto_detect():
    assert distributed.settings({}) == {}


def test_variables_become_initialize_arguments():
    env = dict(zip(ENV_NAMES, ("node7:4321", "4", "3")))
    assert distributed.settings(env) == {"coordinator_address": "node7:4321", "num_processes": 4, "process_id": 3}


@pytest.mark.parametrize("values, named", [
    (("localhost:1234", "2", None), distributed.PROCESS_ID),  # one missing
    (("localhost", "2", "0"), distributed.COORDINATOR),  # no port
    (("localhost:1234", "two", "0"), distributed.NUM_PROCESSES),
    (("localhost:1234", "2", "2"), distributed.PROCESS_ID),  # ids are 0 .. n-1
    (("localhost:1234", "0", "0"), distributed.NUM_PROCESSES),
])
def test_bad_variables_are_named(values, named):
    env = {name: value for name, value in zip(ENV_NAMES, values) if value is not None}
    with pytest.raises(ConfigError, match=named):
        distributed.settings(env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


OVERRIDES = [*TINY, "problem=auction/additive_2x2"]


def launch_two(cmd, env):
    """Runs ``cmd`` as processes 0 and 1 of one distributed run; their ``(stdout, stderr)``."""
    procs = [subprocess.Popen(cmd, cwd=REPO_DIR, env={**env, distributed.PROCESS_ID: str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=600))
    finally:
        for proc in procs:
            proc.kill()  # SIGKILL: JAX's distributed runtime catches SIGTERM
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, (out[-1000:], err[-3000:])
    return outputs


@pytest.mark.slow
def test_two_processes_train_to_the_one_process_numbers(tmp_path):
    run_dir = tmp_path / "two"
    # 2 simulated devices per process: the batch of 16 is split over 4 devices in 2 processes
    flags = " ".join(["--xla_force_host_platform_device_count=2", *STRICT_XLA_FLAGS[1:]])
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu", distributed.COORDINATOR:
           f"localhost:{free_port()}", distributed.NUM_PROCESSES: "2"}
    cmd = [sys.executable, "experiments/train.py", "distributed=true", *OVERRIDES, f"hydra.run.dir={run_dir}"]
    outputs = launch_two(cmd, env)
    assert "== summary ==" in outputs[0][0] and "== summary ==" not in outputs[1][0]  # process 0 reports
    two_rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [row["step"] for row in two_rows] == [10, 20]  # written once (by process 0), not once per process
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["10", "20"]
    summary = json.load(open(run_dir / "summary.json"))

    one = experiment.train(compose_config(OVERRIDES), str(tmp_path / "one"))
    one_rows = [json.loads(line) for line in open(tmp_path / "one" / "metrics.jsonl")]
    for a, b in zip(one_rows, two_rows, strict=True):
        for key in ("revenue", "regret", "loss", "grad_norm"):
            assert abs(a[key] - b[key]) <= 1e-4 * max(1.0, abs(a[key])), (key, a[key], b[key])
    # the evaluation (process 0, on its own devices) sees the same mechanism
    for key in ("revenue", "regret"):
        assert abs(one[key] - summary[key]) <= 1e-4 * max(1.0, abs(one[key])), (key, one[key], summary[key])

    # resuming: process 0 restores step 10 and broadcasts it; both processes replay steps 11..20
    shutil.rmtree(run_dir / "checkpoints" / "20")
    os.remove(run_dir / "summary.json")
    env[distributed.COORDINATOR] = f"localhost:{free_port()}"
    launch_two(cmd, env)
    resumed = json.load(open(run_dir / "summary.json"))
    assert resumed["resumed_from"] == 10
    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [row["step"] for row in rows] == [10, 20]
    for key in ("revenue", "regret", "loss"):
        assert abs(rows[1][key] - two_rows[1][key]) <= 1e-5 * max(1.0, abs(two_rows[1][key])), key
