"""Data parallelism: the batch axis is split across all devices (and hosts).

On one device this is a no-op. On several, every sampled batch is constrained to be sharded along
its leading axis, and XLA inserts the reductions for the mean losses. The training state, the keys
and the metrics are replicated: every device (and every process) holds the same copy.

Multi-process runs (one process per host or per GPU) call :func:`mechjax.distributed.initialize`
before anything touches a device; ``jax.devices()`` then spans every process, the mesh below spans
them too, and each process feeds the same replicated state (it runs the same seeded program), so
no data is exchanged except the collectives XLA inserts for the batch means.
"""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mechjax.errors import ConfigError

DATA_AXIS = "data"


def data_mesh() -> Mesh:
    """A 1-D mesh over every device of every process, named ``data``."""
    return Mesh(jax.devices(), (DATA_AXIS,))


def batch_sharding() -> NamedSharding:
    """Leading (batch) axis split over the ``data`` mesh."""
    return NamedSharding(data_mesh(), PartitionSpec(DATA_AXIS))


def replicated_sharding() -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(data_mesh(), PartitionSpec())


def check_batch_size(batch_size: int, field: str = "trainer.batch_size") -> None:
    """Fails (before compilation) when the batch cannot be split evenly across devices."""
    n = jax.device_count()
    if batch_size % n:
        raise ConfigError(f"{field}={batch_size} must be divisible by the number of devices ({n})")


def shard_batch(tree):
    """Constrains every batch-first leaf to be split along axis 0 (a no-op on one device)."""
    if jax.device_count() == 1:
        return tree
    sharding = batch_sharding()
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)


def replicate(tree):
    """Places every leaf of ``tree`` (the same value in every process) on every device of the mesh.

    Leaves already replicated over the mesh (a chunk's output) are returned as they are, so a jitted
    function sees one input placement and compiles once. On one device this is a no-op.

    Args:
        tree: a pytree of arrays (PRNG key arrays included) holding identical values in every process.

    Returns:
        The tree with every leaf sharded by :func:`replicated_sharding`.
    """
    if jax.device_count() == 1:
        return tree
    sharding = replicated_sharding()
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def place(x):
        if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(sharding, x.ndim):
            return x
        # device_put cannot address another process's devices; each process supplies its own
        # devices' copies of the (identical) value instead
        # (in the sharding's own device order: ``addressable_devices`` is an unordered set)
        local = [jax.device_put(x, d) for d in sharding.addressable_devices_indices_map(x.shape)]
        return jax.make_array_from_single_device_arrays(x.shape, sharding, local)

    return jax.tree.map(place, tree)


def to_host_local(tree):
    """A copy of a replicated tree that lives on this process's first device only.

    Evaluation and checkpointing run per process on plain local arrays; a multi-process global
    array (even a replicated one) cannot meet locally created arrays inside one jitted call.
    """
    if jax.process_count() == 1:
        return tree
    device = jax.local_devices()[0]

    def local(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return jax.device_put(x.addressable_shards[0].data, device)
        return x

    return jax.tree.map(local, tree)
