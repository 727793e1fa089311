"""The one trainer: K outer steps of a bilevel game under ``lax.scan``, jitted once.

``make_train(problem, mechanism, inner, constraint, optimizer, cfg)`` returns a :class:`Trainer`
whose ``init(key)`` builds the state of one replica and whose ``chunk(state, keys, offset, count)``
advances all replicas (a ``vmap`` axis: seeds) by ``count <= cfg.steps_per_chunk`` outer steps.
Nothing here knows what an auction, ballot or game is: problems, mechanisms, inner solvers and
constraints plug in.

Outer step ``t`` of a replica always draws its randomness from
``split(fold_in(chunk_root, t // steps_per_chunk), steps_per_chunk)[t % steps_per_chunk]``, whatever
the chunk that runs it; ``offset`` and ``count`` are traced, so chunks of any length (a run of 30
steps, a checkpoint every 7) share one compiled function and a resumed run replays the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Union

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mechjax.core import sharding
from mechjax.core.types import Constraint, InnerSolver, Problem
from mechjax.errors import ConfigError

MechanismFactory = Callable[[nnx.Rngs], nnx.Module]


@dataclass(frozen=True)
class TrainerConfig:
    """Outer-loop settings.

    Attributes:
        steps: total outer steps.
        batch_size: samples per outer step (split across devices).
        steps_per_chunk: the most outer steps one jitted chunk runs; metrics are logged once per
            chunk. Any value works: the host loop also ends chunks at checkpoints and at ``steps``.
        checkpoint_every: outer steps between checkpoints (any positive value; the last step is
            always checkpointed).
        train_size: size of a fixed training set drawn once per replica (lets inner solvers keep
            per-sample state, like RegretNet's misreport buffer); 0 draws a fresh batch every step.
        num_seeds: replicas trained side by side under ``vmap``, seeded ``seed, seed+1, ...``.
        max_to_keep: checkpoints kept on disk.
    """

    steps: int = 20_000
    batch_size: int = 128
    steps_per_chunk: int = 500
    checkpoint_every: int = 5_000
    train_size: int = 0
    num_seeds: int = 1
    max_to_keep: int = 2

    def __post_init__(self):
        positive = ("steps", "batch_size", "steps_per_chunk", "checkpoint_every", "num_seeds", "max_to_keep")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"trainer.{name} must be a positive integer, got {value!r}")
        if self.train_size < 0:
            raise ConfigError(f"trainer.train_size must be >= 0, got {self.train_size}")
        if 0 < self.train_size < self.batch_size:
            raise ConfigError(
                f"trainer.train_size={self.train_size} must be 0 or >= trainer.batch_size={self.batch_size}")


class TrainState(NamedTuple):
    """Everything one replica needs to continue; a pytree (checkpointed without ``data``)."""

    params: Any  # nnx.State of the mechanism's nnx.Param leaves
    opt_state: Any
    inner: Any  # inner solver carry, e.g. the warm-start misreport buffer
    constraint: Any  # multipliers, rho, budget dual
    step: jax.Array
    data: Any  # the fixed training set, or None; regenerated from the seed, never checkpointed


@dataclass(frozen=True)
class Trainer:
    """A compiled bilevel trainer.

    Attributes:
        init: ``key -> TrainState`` for one replica (vmap it for several).
        chunk: ``(state, keys, offset=0, count=steps_per_chunk) -> (state, metrics)`` over all
            replicas (leading axis = replicas): runs outer steps ``offset .. offset+count-1`` of the
            chunk whose keys are ``keys`` ``[replicas]``; metrics are per-replica means over those
            ``count`` steps. Compiled once for every ``offset`` and ``count``.
        outcome_fn: ``params -> (reports -> outcome)`` for evaluation (``training=False``).
        graphdef: the mechanism's static structure (``nnx.split``).
        cfg: the trainer config.
    """

    init: Callable[[jax.Array], TrainState]
    chunk: Callable[[TrainState, jax.Array], tuple[TrainState, dict]]
    outcome_fn: Callable[[Any], Callable]
    graphdef: Any
    cfg: TrainerConfig


def _split(mechanism: nnx.Module):
    graphdef, params, rest = nnx.split(mechanism, nnx.Param, ...)
    return graphdef, params, rest


def template(factory: MechanismFactory):
    """``(graphdef, rest)`` of the module ``factory(nnx.Rngs(0))`` builds: its structure and its
    non-parameter state (constants such as bid bounds), without running its initialisers eagerly.

    An eager build compiles one small program per weight shape and initialiser (a cold process spent
    1-2 s per architecture on them); here the structure comes from ``nnx.eval_shape`` and the
    constants, where there are any, from one jitted build whose random draws XLA drops as dead code.
    A bad size still raises from the factory's own Python checks, before anything compiles.
    """
    graphdef, _, rest = _split(nnx.eval_shape(lambda: factory(nnx.Rngs(0))))
    if jax.tree.leaves(rest):
        rest = jax.jit(lambda: _split(factory(nnx.Rngs(0)))[2])()
    return graphdef, rest


def make_train(
    problem: Problem,
    mechanism: Union[nnx.Module, MechanismFactory],
    inner: InnerSolver,
    constraint: Constraint,
    optimizer: optax.GradientTransformation,
    cfg: TrainerConfig,
) -> Trainer:
    """Builds the jitted trainer of one bilevel game.

    Args:
        problem: samples private information and scores outcomes (see ``core.types.Problem``).
        mechanism: an NNX module (every replica starts from its weights) or a factory
            ``rngs -> module`` (each replica initialises its own weights from its key).
        inner: what the mechanism is trained against (``core.types.InnerSolver``).
        constraint: how violations enter the loss (``core.types.Constraint``).
        optimizer: an optax transformation for the mechanism's parameters.
        cfg: outer-loop settings.

    Returns:
        A :class:`Trainer`.
    """
    sharding.check_batch_size(cfg.batch_size)
    factory = None if isinstance(mechanism, nnx.Module) else mechanism
    if factory is None:
        graphdef, template_params, rest = _split(mechanism)
    else:
        graphdef, rest = template(factory)

    def outcome_fn(params, training: bool = False):
        module = nnx.merge(graphdef, params, rest)
        return lambda reports: module(reports, training=training)

    def init(key: jax.Array) -> TrainState:
        k_params, k_data, k_inner = jax.random.split(key, 3)
        if factory is None:
            params = template_params
        else:
            params = _split(factory(nnx.Rngs(k_params)))[1]
        data = problem.sample(k_data, cfg.train_size) if cfg.train_size else None
        inner_data = data if data is not None else problem.sample(k_data, cfg.batch_size)
        return TrainState(
            params=params,
            opt_state=optimizer.init(params),
            inner=inner.init(k_inner, inner_data),
            constraint=constraint.init(problem.num_agents),
            step=jnp.zeros((), jnp.int32),
            data=data,
        )

    def outer_step(state: TrainState, key: jax.Array):
        k_batch, k_inner = jax.random.split(key)
        if cfg.train_size:
            index = jax.random.randint(k_batch, (cfg.batch_size,), 0, cfg.train_size)
            batch = jax.tree.map(lambda x: x[index], state.data)
        else:
            index = jnp.arange(cfg.batch_size)
            batch = problem.sample(k_batch, cfg.batch_size)
        batch = sharding.shard_batch(batch)
        solution, inner_carry = inner.solve(outcome_fn(state.params, True), batch, state.inner, k_inner, index)

        def loss_fn(params):
            terms = problem.loss_terms(outcome_fn(params, True), batch, solution)
            return constraint.combine(terms, state.constraint), terms

        (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        cstate = constraint.update(terms, state.constraint, state.step)
        metrics = {
            "loss": loss,
            "objective": terms.objective,
            "violation": jnp.mean(terms.violations),
            "grad_norm": optax.global_norm(grads),
            **terms.metrics,
            **constraint.metrics(cstate),
        }
        new_state = TrainState(params, opt_state, inner_carry, cstate, state.step + 1, state.data)
        return new_state, metrics

    # Traced once: the metric shapes below and the loop body hit the same jit trace cache (and its
    # cached vmap batching), where two plain calls traced the step twice. A voting step's chunk traced
    # in 2.1-2.3 s instead of 4.2-5.9 s. XLA inlines the call: parameters after 20 steps of three
    # presets were bitwise equal, and bench_trainer's steps/s the same within noise (RESULTS.md).
    step_jit = jax.jit(outer_step)

    def chunk_one(state: TrainState, key: jax.Array, offset: jax.Array, count: jax.Array):
        keys = jax.random.split(key, cfg.steps_per_chunk)
        metric_shapes = jax.eval_shape(step_jit, state, keys[0])[1]
        sums = jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype), metric_shapes)

        def body(i, carry):
            state, sums = carry
            state, metrics = step_jit(state, keys[offset + i])
            return state, jax.tree.map(jnp.add, sums, metrics)

        # A dynamic trip count (not a masked fixed-length scan): idle steps cost nothing, and
        # ``count`` stays unbatched under vmap so the loop is not turned into a select.
        state, sums = jax.lax.fori_loop(0, count, body, (state, sums))
        # the mean over the steps that ran (a float mean even for integer-valued metrics)
        return state, jax.tree.map(lambda s: s / count.astype(s.dtype) if jnp.issubdtype(s.dtype, jnp.floating)
                                   else s / count, sums)

    # No buffer donation: the host loop keeps the last completed state alive, to checkpoint it
    # when the user presses Ctrl-C in the middle of the next chunk.
    compiled = jax.jit(jax.vmap(chunk_one, in_axes=(0, 0, None, None)))

    def chunk(state: TrainState, keys: jax.Array, offset: int = 0, count: int | None = None):
        count = cfg.steps_per_chunk if count is None else count
        if not (0 <= offset and 1 <= count and offset + count <= cfg.steps_per_chunk):
            raise ValueError(f"chunk steps {offset}..{offset + count - 1} must lie in [0, {cfg.steps_per_chunk})")
        if jax.device_count() > 1:
            # jit caches on input placement: a freshly initialised or restored state (one device)
            # and a chunk's output (replicated over the mesh) would otherwise be two compiles
            state, keys = sharding.replicate((state, keys))
        # fixed dtypes: a Python int and an int32 array would be two different traces
        return compiled(state, keys, np.int32(offset), np.int32(count))

    return Trainer(init=init, chunk=chunk, outcome_fn=outcome_fn, graphdef=graphdef, cfg=cfg)
