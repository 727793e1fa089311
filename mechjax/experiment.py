"""Runs an experiment end to end: train (resumably), evaluate, summarise, plot; and load a run.

``experiments/train.py`` and ``experiments/evaluate.py`` are thin Hydra wrappers around
:func:`train` and :func:`evaluate`; notebooks call the same functions.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional

import jax
import yaml

from mechjax import config as config_lib
from mechjax import registry
from mechjax.core import loop
from mechjax.core.checkpoint import Checkpointer
from mechjax.core.trainer import make_train
from mechjax.errors import ConfigError
from mechjax.provenance import git_commit

CONFIG_FILE = "config.yaml"
DEFAULT_CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
SUMMARY_FILE = "summary.json"


def compose(overrides=(), config_name: str = "config", conf_dir: Optional[str] = None):
    """The config ``experiments/train.py <overrides>`` would see, for notebooks and scripts.

    Args:
        overrides: Hydra overrides, e.g. ``["problem=auction/additive_2x2", "trainer.steps=2000"]``.
        config_name: ``config`` (training) or ``evaluate``.
        conf_dir: the ``conf/`` folder; default ``$MECHJAX_CONF`` or the checkout's ``conf/``.
    """
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    conf_dir = os.path.abspath(conf_dir or os.environ.get("MECHJAX_CONF") or DEFAULT_CONF_DIR)
    if not os.path.isdir(conf_dir):
        raise FileNotFoundError(f"no conf/ folder at {conf_dir}; pass conf_dir= or set MECHJAX_CONF")
    config_lib.register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def _write_json(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _check_attack(exp: config_lib.Experiment, attack_section: dict) -> None:
    from mechjax.auctions.registry import attack_config
    inner = exp.inner
    if exp.kind == "auction" and hasattr(inner, "steps") and hasattr(inner, "restarts"):
        attack_config(attack_section).check_stronger_than(inner.steps, inner.restarts)


def train(cfg, run_dir: str, *, progress: Optional[bool] = None) -> dict:
    """Trains the configured mechanism in ``run_dir`` (resuming if checkpoints exist) and evaluates it.

    Writes ``config.yaml`` (resolved), ``metrics.jsonl``, ``checkpoints/``, ``summary.json`` and plots.

    Returns:
        The summary dict.
    """
    exp = config_lib.build(cfg)
    cfg = exp.cfg
    if not exp.learned:
        raise ConfigError(f"mechanism.name={cfg['mechanism']['name']} is classical: evaluate it with "
                          f"experiments/evaluate.py, there is nothing to train")
    attack_section = cfg.get("attack") or {}
    _check_attack(exp, attack_section)
    evaluator = registry.evaluator_for(exp.kind, cfg)  # validates the evaluation settings before training
    os.makedirs(run_dir, exist_ok=True)
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(config_path):
        with open(config_path) as f:
            previous = yaml.safe_load(f)
        if _training_part(previous) != _training_part(cfg):
            raise ConfigError(
                f"{run_dir} holds a run with a different configuration; choose another hydra.run.dir "
                f"(resuming must not mix two runs)")
    with open(config_path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)

    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    show = cfg.get("progress", True) if progress is None else progress
    result = loop.run(trainer, run_dir, exp.seed, progress=show)
    summary = _evaluate_replicas(exp, trainer, result.state, evaluator)
    summary.update(steps=exp.trainer.steps, wall_s=round(result.wall_s, 2), seed=exp.seed, commit=git_commit(),
                   resumed_from=result.resumed_from, run_dir=os.path.abspath(run_dir),
                   num_parameters=count_parameters(loop.replica_params(result.state)))
    _write_json(os.path.join(run_dir, SUMMARY_FILE), summary)
    if cfg.get("plots", True):
        from mechjax.plot import save_run_plots
        mechanism = trainer.outcome_fn(loop.replica_params(result.state))
        save_run_plots(run_dir, exp.kind, jax.jit(mechanism), exp.problem, result.history)
    return summary


def _training_part(cfg: dict) -> dict:
    # Settings that change what is trained; evaluation and display settings may differ on resume.
    return {k: cfg.get(k) for k in ("problem", "mechanism", "inner", "constraint", "optim", "trainer", "seed")}


def _evaluate_replicas(exp, trainer, state, evaluator) -> dict:
    started = time.perf_counter()
    per_seed = []
    for r in range(exp.trainer.num_seeds):
        mechanism = jax.jit(trainer.outcome_fn(loop.replica_params(state, r)))
        per_seed.append(evaluator(mechanism, exp.problem))
    summary = dict(per_seed[0])
    if len(per_seed) > 1:  # every top-level number becomes the mean over seeds, with the values kept
        for key, value in per_seed[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "eval_seed":
                values = [s[key] for s in per_seed]
                summary[key] = sum(values) / len(values)
                summary[f"{key}_seeds"] = values
        summary["per_seed"] = per_seed
    summary["eval_wall_s"] = round(time.perf_counter() - started, 2)
    return summary


def count_parameters(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def read_config(run_dir: str) -> dict:
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{run_dir} has no {CONFIG_FILE}: not a mechjax run directory")
    with open(path) as f:
        return yaml.safe_load(f)


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> tuple[Callable, Any]:
    """Loads a trained mechanism and the problem it was trained on.

    Args:
        run_dir: a run directory written by :func:`train`.
        replica: which seed replica (0 = the run's ``seed``).
        step: which checkpoint (default: the latest).

    Returns:
        ``(mechanism, problem)``: ``mechanism`` is a plain jittable function (for auctions
        ``bids [batch, bidders, items] -> (allocations, payments)``), in evaluation mode.
    """
    return _load(run_dir, replica, step)[:2]


def _load(run_dir: str, replica: int = 0, step: Optional[int] = None):
    exp = config_lib.build(read_config(run_dir))
    if not exp.learned:
        return exp.mechanism, exp.problem, exp
    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    like = jax.eval_shape(jax.vmap(trainer.init), loop.replica_keys(exp.seed, exp.trainer.num_seeds))
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), exp.trainer.max_to_keep)
    try:
        step = ckpt.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{run_dir}/checkpoints holds no checkpoint yet")
        state, _ = ckpt.restore(step, like._replace(data=None))
    finally:
        ckpt.close()
    if not 0 <= replica < exp.trainer.num_seeds:
        raise ConfigError(f"replica must be in [0, {exp.trainer.num_seeds}), got {replica}")
    return trainer.outcome_fn(loop.replica_params(state, replica)), exp.problem, exp


def evaluate(cfg, run_dir: Optional[str] = None, out_dir: Optional[str] = None) -> dict:
    """Evaluates a trained run (``run_dir``) or a classical mechanism (``cfg.mechanism``).

    A trained run is evaluated on its own problem with the attacker in ``cfg.attack``; the
    summary goes to ``<run_dir>/eval/<attack digest>/summary.json`` unless ``out_dir`` is given.
    """
    cfg = config_lib.to_dict(cfg)
    attack_section = cfg.get("attack") or {}
    if run_dir:
        mechanism, problem, exp = _load(run_dir)
        _check_attack(exp, attack_section)
        kind, learned = exp.kind, True
    else:
        exp = config_lib.build(cfg)
        if exp.learned:
            raise ConfigError("experiments/evaluate.py needs run_dir=... for a learned mechanism "
                              f"(mechanism.name={cfg['mechanism']['name']})")
        mechanism, problem, kind, learned = exp.mechanism, exp.problem, exp.kind, False
    evaluator = registry.evaluator_for(kind, cfg)
    started = time.perf_counter()
    summary = evaluator(jax.jit(mechanism), problem)
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    summary["commit"] = git_commit()
    summary["mechanism"] = (read_config(run_dir) if run_dir else cfg)["mechanism"]["name"]
    summary["learned"] = learned
    if run_dir:
        summary["run_dir"] = os.path.abspath(run_dir)
        with open(os.path.join(run_dir, SUMMARY_FILE)) as f:
            summary["steps"] = json.load(f).get("steps")
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        _write_json(os.path.join(out_dir, SUMMARY_FILE), summary)
    return summary
