"""The thin host loop around a :class:`~mechjax.core.trainer.Trainer`: chunks, logs, checkpoints.

Chunk ``c`` of a run seeded ``seed`` always uses the keys ``fold_in(replica_key, c)``, and a run
restarted from its checkpoint at step ``s`` continues with chunk ``s / steps_per_chunk``, so an
interrupted run ends with exactly the state of an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import numpy as np
from tqdm.auto import tqdm

from mechjax.core.checkpoint import Checkpointer
from mechjax.core.metrics import MetricsLog, first_non_finite, to_python
from mechjax.core.trainer import Trainer, TrainState
from mechjax.errors import NonFiniteError


@dataclass
class LoopResult:
    """What a finished (or resumed-and-finished) run hands back."""

    state: TrainState  # leading axis = replicas
    history: list[dict]  # the metrics.jsonl rows
    wall_s: float  # training wall time, summed over interrupted sessions
    resumed_from: Optional[int]  # the step a resumed run started from


def replica_keys(seed: int, num_seeds: int) -> jax.Array:
    """Replica r is seeded ``seed + r``, so a 3-seed run's replica 1 equals a 1-seed run with seed+1."""
    return jax.vmap(jax.random.key)(np.arange(seed, seed + num_seeds))


def run(trainer: Trainer, run_dir: str, seed: int, *, progress: bool = True,
        on_chunk: Optional[Callable[[int, dict], None]] = None) -> LoopResult:
    """Trains to ``trainer.cfg.steps``, resuming from the latest checkpoint under ``run_dir``.

    Args:
        trainer: from :func:`~mechjax.core.trainer.make_train`.
        run_dir: holds ``checkpoints/`` and ``metrics.jsonl``.
        seed: base seed; replica r uses ``seed + r``.
        progress: show a progress bar.
        on_chunk: called with ``(step, metrics_row)`` after each chunk.

    Returns:
        A :class:`LoopResult`.

    Raises:
        NonFiniteError: a metric became NaN/inf; the last good checkpoint is kept and named.
    """
    cfg = trainer.cfg
    os.makedirs(run_dir, exist_ok=True)
    keys = replica_keys(seed, cfg.num_seeds)
    init_keys, chunk_root = keys, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    state = jax.jit(jax.vmap(trainer.init))(init_keys)
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), cfg.max_to_keep)
    log = MetricsLog(os.path.join(run_dir, "metrics.jsonl"))
    step, wall_before, resumed_from = 0, 0.0, None
    latest = ckpt.latest_step()
    if latest is not None:
        state, record = ckpt.restore(latest, state)
        step, wall_before, resumed_from = latest, float(record.get("wall_s", 0.0)), latest
        history = log.truncate(latest)
    else:
        history = log.truncate(-1)
    started = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    try:
        while step < cfg.steps:
            chunk_index = step // cfg.steps_per_chunk
            chunk_keys = jax.vmap(lambda k: jax.random.fold_in(k, chunk_index))(chunk_root)
            state, metrics = trainer.chunk(state, chunk_keys)
            metrics = jax.device_get(metrics)
            step += cfg.steps_per_chunk
            bad = first_non_finite(metrics)
            if bad is not None:
                raise NonFiniteError(
                    f"metric '{bad}' became non-finite in the chunk ending at step {step}; "
                    f"last good checkpoint: step {ckpt.latest_step()} in {ckpt.directory}")
            wall = wall_before + time.perf_counter() - started
            row = {"step": step, "wall_s": round(wall, 3), **to_python(metrics)}
            log.append(row)
            history.append(row)
            bar.update(cfg.steps_per_chunk)
            bar.set_postfix({k: f"{row[k]:.4g}" for k in ("revenue", "regret", "loss") if k in row})
            if on_chunk is not None:
                on_chunk(step, row)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                ckpt.save(step, state, {"wall_s": wall, "seed": seed})
    finally:
        bar.close()
        ckpt.close()
    return LoopResult(state, history, wall_before + time.perf_counter() - started, resumed_from)


def replica_params(state: TrainState, replica: int = 0) -> Any:
    """The mechanism parameters of one replica."""
    return jax.tree.map(lambda x: x[replica], state.params)
