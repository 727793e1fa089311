"""Multi-process training: one process per host (or per GPU), one SPMD program, process 0 writes.

Every process runs the same command (``experiments/train.py distributed=true ...``): the same seeded
program, so every process builds the same replicated state, and the batch axis is split over the
devices of all processes (:mod:`mechjax.core.sharding`). Only process 0 (the *primary*) touches
the run directory: it restores and writes checkpoints, ``metrics.jsonl``, ``summary.json`` and the
plots; on resume it broadcasts the restored state, so the other processes need no shared disk.

Where the processes find each other (:func:`initialize`):

- under Slurm, Open MPI or on Cloud TPU, JAX detects it (set nothing);
- elsewhere (several processes on one machine, a hand-made cluster) every process sets
  ``MECHJAX_COORDINATOR_ADDRESS=host:port`` (process 0's address and a free port),
  ``MECHJAX_NUM_PROCESSES`` and its own ``MECHJAX_PROCESS_ID`` (0 .. num_processes-1). These are
  environment variables, not config fields, because a process id differs between processes that
  share one config.

On CPU the collectives run over gloo (``jax_cpu_collectives_implementation``, JAX's default), so a
multi-process run can be rehearsed on a laptop before it goes to a cluster.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

import jax
import numpy as np

from mechjax.errors import ConfigError

COORDINATOR = "MECHJAX_COORDINATOR_ADDRESS"
NUM_PROCESSES = "MECHJAX_NUM_PROCESSES"
PROCESS_ID = "MECHJAX_PROCESS_ID"


def settings(environ: Optional[Mapping[str, str]] = None) -> dict:
    """The explicit ``jax.distributed.initialize`` arguments from the environment ({} = auto-detect).

    Raises:
        ConfigError: some but not all of the three variables are set, or a value is malformed;
            the message names the variable.
    """
    env = os.environ if environ is None else environ
    names = (COORDINATOR, NUM_PROCESSES, PROCESS_ID)
    given = {name: env[name] for name in names if env.get(name, "") != ""}
    if not given:
        return {}
    missing = [name for name in names if name not in given]
    if missing:
        raise ConfigError(f"distributed=true with {', '.join(sorted(given))} set needs {', '.join(missing)} "
                          f"too (or none of them, to let JAX detect Slurm / Open MPI / TPU)")
    address = given[COORDINATOR]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{COORDINATOR}={address!r} must be host:port, e.g. localhost:12345")
    numbers = {}
    for name in (NUM_PROCESSES, PROCESS_ID):
        try:
            numbers[name] = int(given[name])
        except ValueError:
            raise ConfigError(f"{name}={given[name]!r} must be an integer") from None
    if numbers[NUM_PROCESSES] < 1:
        raise ConfigError(f"{NUM_PROCESSES}={numbers[NUM_PROCESSES]} must be >= 1")
    if not 0 <= numbers[PROCESS_ID] < numbers[NUM_PROCESSES]:
        raise ConfigError(f"{PROCESS_ID}={numbers[PROCESS_ID]} must be in [0, {NUM_PROCESSES}="
                          f"{numbers[NUM_PROCESSES]})")
    return {"coordinator_address": address, "num_processes": numbers[NUM_PROCESSES],
            "process_id": numbers[PROCESS_ID]}


def initialize(environ: Optional[Mapping[str, str]] = None) -> None:
    """Joins this process to the others (``jax.distributed.initialize``); call before any JAX work.

    Raises:
        ConfigError: the environment variables are inconsistent (see :func:`settings`), or JAX
            could neither use them nor detect a cluster (the message says which variables to set).
    """
    kwargs = settings(environ)
    try:
        jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as err:
        hint = "" if kwargs else f"; outside Slurm / Open MPI / TPU set {COORDINATOR}, {NUM_PROCESSES} and {PROCESS_ID}"
        raise ConfigError(f"distributed=true: jax.distributed.initialize failed ({err}){hint}") from err


def is_primary() -> bool:
    """Whether this process writes the run directory (process 0; always true in a one-process run)."""
    return jax.process_index() == 0


def broadcast_from_primary(tree: Any) -> Any:
    """Process 0's value of ``tree`` (a pytree of arrays, same structure everywhere) in every process.

    A no-op in a one-process run. PRNG key arrays travel as their raw key data.
    """
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    leaves, treedef = jax.tree.flatten(tree)
    impls = [jax.random.key_impl(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else None
             for x in leaves]
    raw = [np.asarray(jax.random.key_data(x) if impl is not None else x) for x, impl in zip(leaves, impls)]
    raw = multihost_utils.broadcast_one_to_all(raw)
    out = [jax.random.wrap_key_data(x, impl=impl) if impl is not None else jax.numpy.asarray(x)
           for x, impl in zip(raw, impls)]
    return jax.tree.unflatten(treedef, out)


def share_resume(found: Optional[tuple[int, Any, dict]], like: Any) -> Optional[tuple[int, Any, dict]]:
    """Process 0's resume point in every process: ``(step, state, record)`` or None.

    Args:
        found: what process 0's checkpointer restored (followers pass None: they never read the disk).
        like: this process's freshly initialised state (its ``data`` field, regenerated from the
            seed in every process, is kept).
    """
    if jax.process_count() == 1:
        return found
    step = int(broadcast_from_primary(np.int64(-1 if found is None else found[0])))
    if step < 0:
        return None
    state = like._replace(data=None) if found is None else found[1]._replace(data=None)
    wall_s = np.float64(0.0 if found is None else found[2].get("wall_s", 0.0))
    state, wall_s = broadcast_from_primary((state, wall_s))
    return step, state._replace(data=like.data), {"wall_s": float(wall_s)}


class FollowerCheckpointer:
    """What a non-primary process holds in place of a Checkpointer: it never touches the disk."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)

    def restore_latest_good(self, like: Any, quarantine: bool = False) -> None:
        return None

    def save(self, step: int, state: Any, record: dict) -> None:
        pass

    def close(self) -> None:
        pass


class FollowerLog:
    """What a non-primary process holds in place of a MetricsLog: rows are kept in memory only."""

    def truncate(self, max_step: int) -> list[dict]:
        return []

    def append(self, row: dict) -> None:
        pass
