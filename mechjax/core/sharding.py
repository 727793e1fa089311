"""Data parallelism: the batch axis is split across all devices (and hosts).

On one device this is a no-op. On several, every sampled batch is constrained to be sharded along
its leading axis, and XLA inserts the reductions for the mean losses. Multi-host runs call
``jax.distributed.initialize()`` before building the trainer; ``jax.devices()`` then spans hosts.
"""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mechjax.errors import ConfigError

DATA_AXIS = "data"


def data_mesh() -> Mesh:
    """A 1-D mesh over every device, named ``data``."""
    return Mesh(jax.devices(), (DATA_AXIS,))


def check_batch_size(batch_size: int, field: str = "trainer.batch_size") -> None:
    """Fails (before compilation) when the batch cannot be split evenly across devices."""
    n = jax.device_count()
    if batch_size % n:
        raise ConfigError(f"{field}={batch_size} must be divisible by the number of devices ({n})")


def shard_batch(tree):
    """Constrains every batch-first leaf to be split along axis 0 (a no-op on one device)."""
    if jax.device_count() == 1:
        return tree
    sharding = NamedSharding(data_mesh(), PartitionSpec(DATA_AXIS))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)
