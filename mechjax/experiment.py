"""Runs an experiment end to end: train (resumably), evaluate, summarise, plot; and load a run.

``experiments/train.py`` and ``experiments/evaluate.py`` are thin Hydra wrappers around
:func:`train` and :func:`evaluate`; notebooks call the same functions. Nothing here names a
domain: what differs (cross-section checks, console rows, plots, loaded callables) comes from the
domain's hooks in :mod:`mechjax.registry` (``CHECKS``, ``SUMMARY_ROWS``, ``PLOTS``, ``LOADERS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any, Callable, Optional

import jax
import yaml

from mechjax import config as config_lib
from mechjax import distributed, registry
from mechjax import progress as progress_lib
from mechjax.cli import TRAINING_SECTIONS
from mechjax.core import loop, sharding
from mechjax.core.checkpoint import Checkpointer
from mechjax.core.trainer import make_train
from mechjax.errors import ConfigError, DataError
from mechjax.provenance import git_commit
from mechjax.summary import check_finite, combine_seeds

CONFIG_FILE = "config.yaml"
DEFAULT_CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
SUMMARY_FILE = "summary.json"


def compose(overrides=(), config_name: str = "config", conf_dir: Optional[str] = None):
    """The config ``experiments/train.py <overrides>`` would see, for notebooks and scripts.

    Args:
        overrides: Hydra overrides, e.g. ``["problem=auction/additive_2x2", "trainer.steps=2000"]``.
        config_name: ``config`` (training) or ``evaluate``.
        conf_dir: the ``conf/`` folder; default ``$MECHJAX_CONF`` or the checkout's ``conf/``.

    Raises:
        ConfigError: a preset that does not exist (the message lists the group's presets).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import MissingConfigException

    from mechjax.cli import missing_preset_error

    conf_dir = os.path.abspath(conf_dir or os.environ.get("MECHJAX_CONF") or DEFAULT_CONF_DIR)
    if not os.path.isdir(conf_dir):
        raise FileNotFoundError(f"no conf/ folder at {conf_dir}; pass conf_dir= or set MECHJAX_CONF")
    config_lib.register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
        try:
            return hydra_compose(config_name=config_name, overrides=list(overrides))
        except MissingConfigException as err:
            if not err.missing_cfg_file:
                raise
            raise missing_preset_error(conf_dir, err.missing_cfg_file) from err


def write_summary(path: str, summary: dict) -> None:
    """Writes ``summary`` as JSON atomically, after checking every number is finite.

    Raises:
        NonFiniteError: naming the first non-finite key (nothing is written).
    """
    check_finite(summary, os.path.basename(path))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=2, allow_nan=False)
    os.replace(tmp, path)


def run_checks(exp: config_lib.Experiment, cfg: dict) -> None:
    """The problem kind's cross-section checks (``registry.CHECKS``), e.g. evaluation attacker strength."""
    check = registry.CHECKS.get(exp.kind)
    if check is not None:
        check(exp, cfg)


def train(cfg, run_dir: str, *, progress: Optional[bool] = None) -> dict:
    """Trains the configured mechanism in ``run_dir`` (resuming if checkpoints exist) and evaluates it.

    Writes ``config.yaml`` (resolved), ``metrics.jsonl``, ``checkpoints/``, ``summary.json`` and plots.

    Returns:
        The summary dict (``wall_s``/``train_wall_s``: training, ``eval_wall_s``: evaluation).
    """
    exp = config_lib.build(cfg)
    cfg = exp.cfg
    if not exp.learned:
        raise ConfigError(f"mechanism.name={cfg['mechanism']['name']} is classical: evaluate it with "
                          f"experiments/evaluate.py, there is nothing to train")
    run_checks(exp, cfg)
    evaluator = registry.evaluator_for(exp.kind, cfg)  # validates the evaluation settings before training
    # a multi-process run trains in every process; only process 0 reads and writes run_dir
    primary = distributed.is_primary()
    if primary:
        os.makedirs(run_dir, exist_ok=True)
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if primary and os.path.exists(config_path):
        with open(config_path) as f:
            previous = yaml.safe_load(f)
        if _training_part(previous) != _training_part(cfg):
            raise ConfigError(
                f"{run_dir} holds a run with a different configuration; choose another hydra.run.dir "
                f"(resuming must not mix two runs)")
    if primary:
        with open(config_path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)

    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    show = cfg.get("progress", True) if progress is None else progress
    result = loop.run(trainer, run_dir, exp.seed, progress=show)
    if not primary:  # the others trained alongside process 0; it evaluates and writes the results
        return {"kind": exp.kind, "steps": exp.trainer.steps, "process_index": jax.process_index(),
                "history": result.history}
    result.state = sharding.to_host_local(result.state)  # evaluation runs on this process's devices
    summary = _evaluate_replicas(exp, trainer, result.state, evaluator, show)
    summary.update(kind=exp.kind, steps=exp.trainer.steps, wall_s=round(result.wall_s, 2),
                   train_wall_s=round(result.wall_s, 2), seed=exp.seed, commit=git_commit(),
                   resumed_from=result.resumed_from, run_dir=os.path.abspath(run_dir),
                   num_parameters=count_parameters(loop.replica_params(result.state)))
    write_summary(os.path.join(run_dir, SUMMARY_FILE), summary)
    if cfg.get("plots", True):
        from mechjax.plot import save_run_plots
        mechanism = trainer.outcome_fn(loop.replica_params(result.state))
        save_run_plots(run_dir, exp.kind, jax.jit(mechanism), exp.problem, result.history)
    return summary


def _training_part(cfg: dict) -> dict:
    # Settings that change what is trained; evaluation and display settings may differ on resume.
    return {k: cfg.get(k) for k in TRAINING_SECTIONS}


def _evaluate_replicas(exp, trainer, state, evaluator, show: bool) -> dict:
    """Every seed replica evaluated; one summary with per-seed values and spread (see ``combine_seeds``)."""
    started = time.perf_counter()
    per_seed = []
    num_seeds = exp.trainer.num_seeds
    with progress_lib.enabled(show):
        for r in range(num_seeds):
            if show and num_seeds > 1:
                print(f"evaluating seed replica {r + 1} of {num_seeds}", file=sys.stderr)
            mechanism = jax.jit(trainer.outcome_fn(loop.replica_params(state, r)))
            per_seed.append(evaluator(mechanism, exp.problem))
    summary = combine_seeds(per_seed)
    summary["eval_wall_s"] = round(time.perf_counter() - started, 2)
    return summary


def count_parameters(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def read_config(run_dir: str) -> dict:
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise DataError(f"{run_dir} has no {CONFIG_FILE}: not a mechjax run directory")
    with open(path) as f:
        return yaml.safe_load(f)


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> tuple[Callable, Any]:
    """Loads a trained mechanism and the problem it was trained on.

    Args:
        run_dir: a run directory written by :func:`train`.
        replica: which seed replica (0 = the run's ``seed``).
        step: which checkpoint (default: the latest good one).

    Returns:
        ``(mechanism, problem)``: ``mechanism`` is a plain jittable function (for auctions
        ``bids [batch, bidders, items] -> (allocations, payments)``), in evaluation mode, wrapped
        by the problem kind's ``registry.LOADERS`` hook when it has one (e.g. input validation).
    """
    mechanism, problem, exp = _load(run_dir, replica, step)
    wrap = registry.LOADERS.get(exp.kind)
    return (wrap(mechanism, problem) if wrap is not None else mechanism), problem


def _restore(run_dir: str, step: Optional[int] = None):
    """``(exp, trainer, state, step)`` of a run: the given checkpoint or the latest good one."""
    exp = config_lib.build(read_config(run_dir))
    if not exp.learned:
        return exp, None, None, None
    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    like = jax.eval_shape(jax.vmap(trainer.init), loop.replica_keys(exp.seed, exp.trainer.num_seeds))
    like = like._replace(data=None)
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), exp.trainer.max_to_keep)
    try:
        if step is None:
            found = ckpt.restore_latest_good(like)
            if found is None:
                raise DataError(f"{run_dir}/checkpoints holds no checkpoint: training never saved one "
                                f"(the first is written at step {exp.trainer.checkpoint_every}); nothing to evaluate")
            step, state, _ = found
        else:
            state, _ = ckpt.restore(step, like)
    finally:
        ckpt.close()
    return exp, trainer, state, step


def _load(run_dir: str, replica: int = 0, step: Optional[int] = None):
    exp, trainer, state, _ = _restore(run_dir, step)
    if trainer is None:
        return exp.mechanism, exp.problem, exp
    if not 0 <= replica < exp.trainer.num_seeds:
        raise ConfigError(f"replica must be in [0, {exp.trainer.num_seeds}), got {replica}")
    return trainer.outcome_fn(loop.replica_params(state, replica)), exp.problem, exp


def _settings_digest(cfg: dict, kind: str) -> str:
    section = cfg.get(registry.EVALUATOR_SECTIONS.get(kind, ""), None) or {}
    return hashlib.sha1(json.dumps(section, sort_keys=True, default=str).encode()).hexdigest()[:10]


def evaluate(cfg, run_dir: Optional[str] = None, out_dir: Optional[str] = None) -> dict:
    """Evaluates a trained run (``run_dir``) or a classical mechanism (``cfg.mechanism``).

    A trained run is evaluated on its own problem with the evaluator settings of ``cfg`` (every
    seed replica). A run without ``summary.json`` (interrupted, diverged) is evaluated at its latest
    good checkpoint, and the summary says so (``note``); a run with no checkpoint fails at once.
    The summary goes to ``out_dir/summary.json``, by default ``<run_dir>/eval/<settings digest>/``.

    Returns:
        The summary dict (``eval_wall_s``: evaluation wall time; ``train_wall_s`` for a trained run).
    """
    cfg = config_lib.to_dict(cfg)
    show = bool(cfg.get("progress", True))
    note = None
    if run_dir:
        config_lib.check_top_level(cfg)
        config_lib.check_evaluator_sections(cfg)
        trained_summary = _read_summary(run_dir)
        exp, trainer, state, step = _restore(run_dir)  # fails now, before evaluating, if nothing is saved
        run_checks(exp, cfg)
        kind = exp.kind
        if trained_summary is None:
            note = (f"{run_dir} has no {SUMMARY_FILE} (training was interrupted or diverged): evaluated the "
                    f"latest good checkpoint, step {step} of {exp.trainer.steps}")
            print(note.replace("evaluated the", "evaluating its"), file=sys.stderr)
        evaluator = registry.evaluator_for(kind, cfg)
        started = time.perf_counter()
        if trainer is None:
            with progress_lib.enabled(show):
                summary = evaluator(jax.jit(exp.mechanism), exp.problem)
        else:
            summary = _evaluate_replicas(exp, trainer, state, evaluator, show)
        learned = trainer is not None
        summary["steps"] = step if trained_summary is None else trained_summary.get("steps", step)
        if trained_summary and trained_summary.get("train_wall_s", trained_summary.get("wall_s")) is not None:
            summary["train_wall_s"] = trained_summary.get("train_wall_s", trained_summary.get("wall_s"))
        summary["run_dir"] = os.path.abspath(run_dir)
        mechanism_name = read_config(run_dir)["mechanism"]["name"]
    else:
        exp = config_lib.build(cfg)
        if exp.learned:
            raise ConfigError("experiments/evaluate.py needs run_dir=... for a learned mechanism "
                              f"(mechanism.name={cfg['mechanism']['name']})")
        run_checks(exp, cfg)
        kind, learned, mechanism_name = exp.kind, False, cfg["mechanism"]["name"]
        evaluator = registry.evaluator_for(kind, cfg)
        started = time.perf_counter()
        with progress_lib.enabled(show):
            summary = evaluator(jax.jit(exp.mechanism), exp.problem)
    eval_wall = round(time.perf_counter() - started, 2)
    summary.update(kind=kind, wall_s=eval_wall, eval_wall_s=eval_wall, commit=git_commit(),
                   mechanism=mechanism_name, learned=learned)
    if note:
        summary["note"] = note
    if out_dir is None and run_dir:
        out_dir = os.path.join(run_dir, "eval", _settings_digest(cfg, kind))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        write_summary(os.path.join(out_dir, SUMMARY_FILE), summary)
    return summary


def _read_summary(run_dir: str) -> Optional[dict]:
    path = os.path.join(run_dir, SUMMARY_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is unreadable ({err}); move it away to evaluate the latest checkpoint") from err


def headline(summary: dict) -> float:
    """The number a Hydra sweeper optimises: the first number among the kind's console rows."""
    rows = registry.SUMMARY_ROWS.get(summary.get("kind"))
    for _, value in (rows(summary) if rows else []):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return 0.0
