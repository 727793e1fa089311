"""The thin host loop around a :class:`~mechjax.core.trainer.Trainer`: chunks, logs, checkpoints.

Outer step ``t`` of a run seeded ``seed`` always draws its keys from chunk key
``fold_in(chunk_root, t // steps_per_chunk)`` at position ``t % steps_per_chunk``, whatever chunk runs
it. Chunks end at every multiple of ``steps_per_chunk`` and of ``checkpoint_every`` and at ``steps``,
so any ``steps`` and ``checkpoint_every`` work, and a run restarted from its checkpoint at step ``s``
replays exactly the steps a straight run takes: an interrupted run ends with exactly the state of
an uninterrupted one.

Resuming verifies the newest checkpoint (see :mod:`mechjax.core.checkpoint`); a damaged one is
reported, moved to ``checkpoints_damaged/``, and the run continues from the newest good one.
Ctrl-C checkpoints the last completed chunk and raises :class:`~mechjax.errors.Interrupted`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import jax
import numpy as np
from tqdm.auto import tqdm

from mechjax import distributed
from mechjax.core.checkpoint import Checkpointer
from mechjax.core.metrics import MetricsLog, first_non_finite, to_python
from mechjax.core.trainer import Trainer, TrainState
from mechjax.errors import Interrupted, NonFiniteError


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
        Interrupted: the user pressed Ctrl-C; the last completed chunk was checkpointed and the
            message says how to resume.
        DataError: ``run_dir`` holds checkpoints but none passes verification.
    """
    cfg = trainer.cfg
    if distributed.is_primary():
        os.makedirs(run_dir, exist_ok=True)
    keys = replica_keys(seed, cfg.num_seeds)
    init_keys, chunk_root = keys, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    state = jax.jit(jax.vmap(trainer.init))(init_keys)
    # multi-process runs: only process 0 reads and writes the run directory (mechjax.distributed)
    primary = distributed.is_primary()
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    ckpt = Checkpointer(ckpt_dir, cfg.max_to_keep) if primary else distributed.FollowerCheckpointer(ckpt_dir)
    log = MetricsLog(os.path.join(run_dir, "metrics.jsonl")) if primary else distributed.FollowerLog()
    step, wall_before, resumed_from = 0, 0.0, None
    try:
        found = distributed.share_resume(ckpt.restore_latest_good(state, quarantine=True), state)
    except BaseException:
        ckpt.close()
        raise
    if found is not None:
        step, state, record = found
        wall_before, resumed_from = float(record.get("wall_s", 0.0)), step
    history = log.truncate(step if found is not None else -1)
    saved_step = step if found is not None else None
    started = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and primary), unit="step", dynamic_ncols=True)

    def save(at_step, at_state):
        ckpt.save(at_step, at_state, {"wall_s": wall_before + time.perf_counter() - started, "seed": seed})

    try:
        while step < cfg.steps:
            stop = chunk_end(step, cfg.steps, cfg.steps_per_chunk, cfg.checkpoint_every)
            chunk_index, offset = divmod(step, cfg.steps_per_chunk)
            chunk_keys = jax.vmap(lambda k: jax.random.fold_in(k, chunk_index))(chunk_root)
            new_state, metrics = trainer.chunk(state, chunk_keys, offset, stop - step)
            metrics = jax.device_get(metrics)
            bad = first_non_finite(metrics)
            if bad is not None:
                raise NonFiniteError(
                    f"metric '{bad}' became non-finite in the chunk ending at step {stop}; "
                    f"last good checkpoint: step {saved_step} in {ckpt.directory}")
            # only a completed, finite chunk becomes the state Ctrl-C would save
            bar.update(stop - step)
            state, step = new_state, stop
            wall = wall_before + time.perf_counter() - started
            row = {"step": step, "wall_s": round(wall, 3), **to_python(metrics)}
            log.append(row)
            history.append(row)
            bar.set_postfix({k: f"{row[k]:.4g}" for k in ("revenue", "regret", "loss") if k in row})
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save(step, state)
                saved_step = step
            if on_chunk is not None:
                on_chunk(step, row)
    except KeyboardInterrupt:
        if step != saved_step and step > 0:
            save(step, state)
            saved_step = step
        where = f"checkpoint at step {saved_step} in {ckpt.directory}" if saved_step is not None else "nothing saved"
        raise Interrupted(
            f"interrupted at step {step} of {cfg.steps}; {where}; rerun the same command "
            f"(same hydra.run.dir={os.path.abspath(run_dir)}) to resume") from None
    finally:
        bar.close()
        ckpt.close()
    return LoopResult(state, history, wall_before + time.perf_counter() - started, resumed_from)


def chunk_end(step: int, steps: int, steps_per_chunk: int, checkpoint_every: int) -> int:
    """Where the chunk starting at ``step`` ends: the next multiple of ``steps_per_chunk`` or of
    ``checkpoint_every``, or ``steps``, whichever comes first."""
    return min(steps, (step // steps_per_chunk + 1) * steps_per_chunk,
               (step // checkpoint_every + 1) * checkpoint_every)


def replica_params(state: TrainState, replica: int = 0) -> Any:
    """The mechanism parameters of one replica."""
    return jax.tree.map(lambda x: x[replica], state.params)
