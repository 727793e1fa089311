"""Hydra launchers: the Slurm preset composes to the sbatch script a user expects (without a
cluster), and a seed sweep through submitit's local launcher runs each seed as its own process to
the same numbers as one process training the seeds side by side (``trainer.num_seeds``)."""

import glob
import json
import os
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from mechjax import experiment
from mechjax.config import register_schemas

from conftest import CONF_DIR, REPO_DIR, TINY

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install hydra-submitit-launcher")


def launcher_config(overrides):
    """The resolved ``hydra.launcher`` section of ``experiments/train.py -m <overrides>``."""
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def sbatch_script(params, folder):
    """The sbatch script submitit would submit for these launcher settings (nothing is submitted)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from submitit.slurm.slurm import _make_sbatch_string

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=params["max_num_timeout"])
    # the same renaming the submitit launcher applies before update_parameters
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()
                                  if k not in ("_target_", "submitit_folder", "max_num_timeout")})
    return _make_sbatch_string(command="python experiments/train.py", folder=folder,
                               **executor._executor.parameters)


@pytest.fixture
def fake_srun(tmp_path, monkeypatch):
    # submitit's Slurm executor refuses to exist where there is no srun; this one is never called
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("MECHJAX_SLURM_PARTITION", "MECHJAX_SLURM_ACCOUNT", "MECHJAX_SLURM_QOS"):
        monkeypatch.delenv(name, raising=False)


def test_slurm_preset_becomes_the_sbatch_script_asked_for(tmp_path, fake_srun):
    params = launcher_config(["hydra/launcher=slurm", "hydra.launcher.partition=gpu-a100",
                              "hydra.launcher.gpus_per_task=2", "hydra.launcher.timeout_min=90",
                              "hydra.launcher.cpus_per_task=12", "hydra.launcher.mem_gb=64",
                              "hydra.launcher.array_parallelism=4", f"hydra.sweep.dir={tmp_path}/sweep"])
    assert params["_target_"].endswith("SlurmLauncher")
    assert params["submitit_folder"].startswith(f"{tmp_path}/sweep")
    lines = set(sbatch_script(params, str(tmp_path / "submitit")).splitlines())
    for line in ("#SBATCH --partition=gpu-a100", "#SBATCH --gpus-per-task=2", "#SBATCH --time=90",
                 "#SBATCH --cpus-per-task=12", "#SBATCH --mem=64GB", "#SBATCH --ntasks-per-node=1"):
        assert line in lines, (line, sorted(lines))
    assert not any(line.startswith("#SBATCH --account") for line in lines)  # unset: left to Slurm


def test_slurm_preset_takes_cluster_names_from_the_environment(tmp_path, fake_srun, monkeypatch):
    monkeypatch.setenv("MECHJAX_SLURM_PARTITION", "long")
    monkeypatch.setenv("MECHJAX_SLURM_ACCOUNT", "lab42")
    params = launcher_config(["hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path}/sweep"])
    assert params["partition"] == "long" and params["account"] == "lab42" and params["qos"] is None
    lines = set(sbatch_script(params, str(tmp_path / "submitit")).splitlines())
    assert {"#SBATCH --partition=long", "#SBATCH --account=lab42", "#SBATCH --gpus-per-task=1"} <= lines


def test_local_preset_composes():
    params = launcher_config(["hydra/launcher=local"])
    assert params["_target_"].endswith("LocalLauncher") and params["gpus_per_node"] == 0


def per_seed_history(rows, replica=None):
    """``[(step, revenue, regret, loss)]`` of one run (``replica``: a column of a num_seeds run)."""
    def pick(row, key):
        return row[key] if replica is None else row[f"{key}_seeds"][replica]
    return [(row["step"], *(pick(row, key) for key in ("revenue", "regret", "loss"))) for row in rows]


@pytest.mark.slow
def test_submitit_local_seed_sweep_matches_num_seeds(tmp_path):
    sweep = tmp_path / "sweep"
    overrides = [*TINY, "problem=auction/additive_2x2"]
    cmd = [sys.executable, "experiments/train.py", "-m", "seed=0,1", *overrides, "hydra/launcher=local",
           f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert (sweep / ".submitit").is_dir()  # the runs really went through submitit
    summaries = {}
    # (a run's folder is named after its overrides, so problem=auction/... nests one level deeper)
    for path in glob.glob(str(sweep / "**" / "summary.json"), recursive=True):
        with open(path) as f:
            summary = json.load(f)
        summaries[summary["seed"]] = (summary, os.path.dirname(path))
    logs = "".join(open(p).read()[-1500:] for p in glob.glob(str(sweep / ".submitit" / "*" / "*.err")))
    assert sorted(summaries) == [0, 1], (proc.stdout[-1000:], logs)
    assert summaries[0][0]["revenue"] != summaries[1][0]["revenue"]  # different seeds, different runs

    # the same two seeds trained side by side in one process
    together = experiment.train(experiment.compose([*overrides, "trainer.num_seeds=2"], conf_dir=CONF_DIR),
                                str(tmp_path / "together"))
    assert together["seed"] == 0
    rows = [json.loads(line) for line in open(tmp_path / "together" / "metrics.jsonl")]
    for seed in (0, 1):
        alone = [json.loads(line) for line in open(os.path.join(summaries[seed][1], "metrics.jsonl"))]
        a, b = per_seed_history(alone), per_seed_history(rows, replica=seed)
        assert len(a) == len(b) == 2
        for x, y in zip(a, b, strict=True):
            assert x[0] == y[0]
            for u, v in zip(x[1:], y[1:], strict=True):
                assert abs(u - v) <= 1e-4 * max(1.0, abs(u)), (seed, x, y)
