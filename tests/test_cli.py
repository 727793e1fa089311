"""The command-line contract: train, sweep, evaluate a run with a stronger attacker, load."""

import json
import subprocess
import sys

import jax
import numpy as np

import mechjax

from conftest import REPO_DIR, TINY


def run(args, timeout=400):
    proc = subprocess.run([sys.executable, *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_train_evaluate_and_load_from_the_command_line(tmp_path):
    run_dir = tmp_path / "run"
    out = run(["experiments/train.py", *TINY, "plots=true", f"hydra.run.dir={run_dir}", "seed=3"]).stdout
    assert "revenue" in out and "regret" in out and str(run_dir) in out
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "curves.png", "allocation_map.png"):
        assert (run_dir / name).exists(), name
    assert any((run_dir / "checkpoints").iterdir())
    summary = json.load(open(run_dir / "summary.json"))
    assert {"revenue", "regret", "ir_violation", "steps", "wall_s", "attack"} <= set(summary)
    assert summary["seed"] == 3
    lines = (run_dir / "metrics.jsonl").read_text().strip().splitlines()
    assert len(lines) == 2  # 20 steps, one line per 10-step chunk

    eval_dir = tmp_path / "eval"
    run(["experiments/evaluate.py", f"run_dir={run_dir}", "attack.steps=15", "attack.restarts=2",
         "attack.num_samples=64", "attack.batch_size=64", "attack.grid=3", "attack.allow_weak=true",
         f"hydra.run.dir={eval_dir}"])
    evaluated = json.load(open(eval_dir / "summary.json"))
    assert evaluated["attack"]["steps"] == 15 and evaluated["attack"]["restarts"] == 2
    assert evaluated["revenue"] > 0

    mechanism, problem = mechjax.load(str(run_dir))
    bids = problem.sample(jax.random.key(0), 8)
    alloc, pay = jax.jit(mechanism)(bids)
    assert alloc.shape == (8, 1, 2) and pay.shape == (8, 1)


def test_multirun_sweep_gives_each_seed_its_own_directory(tmp_path):
    run(["experiments/train.py", "-m", *TINY, "seed=0,1", f"hydra.sweep.dir={tmp_path}"])
    summaries = sorted(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 2
    seeds = sorted(json.load(open(p))["seed"] for p in summaries)
    assert seeds == [0, 1]
    revenues = [json.load(open(p))["revenue"] for p in summaries]
    assert revenues[0] != revenues[1]
