"""The command-line contract: train, sweep, evaluate a run with a stronger attacker, load."""

import json
import subprocess
import sys

import jax
import pytest

import mechjax

from conftest import CONF_DIR, REPO_DIR, TINY


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


# --- errors: one clean message, a non-zero exit, the traceback only on request

def _fail_with(err):
    def main():
        raise err
    return main


def test_library_errors_print_one_message_and_exit_1(capsys, monkeypatch):
    from mechjax import cli
    from mechjax.errors import ConfigError, Interrupted
    monkeypatch.delenv("MECHJAX_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli.run(_fail_with(ConfigError("problem.num_items must be >= 1, got 0")), CONF_DIR, argv=[])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "error: problem.num_items must be >= 1, got 0" in err and "Traceback" not in err
    assert "debug=true" in err  # says how to get the traceback
    with pytest.raises(SystemExit) as info:
        cli.run(_fail_with(Interrupted("interrupted at step 40; rerun the same command to resume")), CONF_DIR, argv=[])
    assert info.value.code == 130 and "rerun the same command" in capsys.readouterr().err


def test_debug_flag_or_env_prints_the_traceback(capsys, monkeypatch):
    from mechjax import cli
    from mechjax.errors import DataError
    monkeypatch.delenv("MECHJAX_DEBUG", raising=False)
    with pytest.raises(SystemExit):
        cli.run(_fail_with(DataError("x.soc line 3: bad count")), CONF_DIR, argv=["debug=true"])
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("MECHJAX_DEBUG", "1")
    with pytest.raises(SystemExit):
        cli.run(_fail_with(DataError("x.soc line 3: bad count")), CONF_DIR, argv=[])
    assert "Traceback" in capsys.readouterr().err


def test_other_errors_keep_their_traceback():
    """A bug is not a user error: it is not turned into a one-liner."""
    from mechjax import cli
    with pytest.raises(ZeroDivisionError):
        cli.run(_fail_with(ZeroDivisionError("bug")), CONF_DIR, argv=[])


def test_hydra_missing_preset_lists_the_group():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import MissingConfigException

    from mechjax import cli
    from mechjax.config import register_schemas
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        with pytest.raises(MissingConfigException) as info:
            compose(config_name="config", overrides=["problem=auction/additve_2x2"])
    message = cli.hydra_message(info.value, CONF_DIR)
    assert "Did you mean problem=auction/additive_2x2?" in message
    assert "problem=auction/additive_5x10" in message and "problem=auction/unit_2x2" in message


@pytest.mark.slow
def test_train_script_errors_are_one_message(tmp_path):
    """Through Hydra for real: an unknown key and a preset typo, each one message and exit status 1."""
    for args, expected in [(["+trainr.steps=5"], "did you mean 'trainer'"),
                           (["problem=auction/additve_2x2"], "Did you mean problem=auction/additive_2x2?")]:
        proc = subprocess.run([sys.executable, "experiments/train.py", *args, f"hydra.run.dir={tmp_path}"],
                              cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / "metrics.jsonl").exists()


def test_evaluating_a_run_refuses_training_overrides():
    """``evaluate.py run_dir=... problem.num_items=3`` would silently evaluate the run as trained."""
    from mechjax.cli import training_overrides
    given = ["run_dir=x", "attack.steps=2000", "problem.num_items=3", "+mechanism.hidden=[8]", "mechanism=vcg",
             "seed=3", "voting_eval.profiles=64", "~trainer.steps", "attack=quick"]
    assert training_overrides(given) == ["problem.num_items=3", "+mechanism.hidden=[8]", "mechanism=vcg", "seed=3",
                                         "~trainer.steps"]
