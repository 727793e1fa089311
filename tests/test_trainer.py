"""The trainer is domain-free, compiles once, and seeds are a vmap axis."""

from dataclasses import dataclass

import chex
import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mechjax.core import loop
from mechjax.core.constraints import Unconstrained
from mechjax.core.trainer import TrainerConfig, make_train
from mechjax.core.types import NoInner, Terms
from mechjax.errors import ConfigError


@dataclass(frozen=True)
class Regression:
    """A problem no domain knows: fit y = 3x - 1 (proves core needs nothing from auctions)."""

    num_agents: int = 1

    def sample(self, key, batch_size):
        x = jax.random.normal(key, (batch_size, 1))
        return {"x": x, "y": 3 * x - 1}

    def loss_terms(self, outcome_fn, batch, solution):
        err = jnp.mean((outcome_fn(batch["x"]) - batch["y"]) ** 2)
        return Terms(err, jnp.zeros((1,)), {"mse": err})


class Line(nnx.Module):
    def __init__(self, *, rngs):
        self.linear = nnx.Linear(1, 1, rngs=rngs)

    def __call__(self, x, *, training=False):
        return self.linear(x)


def make(steps=200, num_seeds=1, train_size=0):
    cfg = TrainerConfig(steps=steps, batch_size=32, steps_per_chunk=50, checkpoint_every=50,
                        train_size=train_size, num_seeds=num_seeds)
    return make_train(Regression(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.adam(0.05), cfg)


def test_trainer_fits_a_domain_free_problem(tmp_path):
    result = loop.run(make(steps=400), str(tmp_path), seed=0, progress=False)
    first, last = result.history[0]["mse"], result.history[-1]["mse"]
    assert last < 1e-3 < first
    w = result.state.params["linear"]["kernel"][...]
    assert np.allclose(np.asarray(w).ravel(), 3.0, atol=0.05)


def test_chunk_compiles_once_for_any_length(tmp_path):
    """Chunks of every length and offset (30 steps, a checkpoint every 7, 20 per chunk) share one trace."""
    problem = Regression()
    # one compile of the chunk traces the problem twice (the metrics' shapes, then the loop body);
    # a second compile would raise here
    traced = chex.assert_max_traces(problem.loss_terms, n=2)
    object.__setattr__(problem, "loss_terms", traced)
    cfg = TrainerConfig(steps=30, batch_size=32, steps_per_chunk=20, checkpoint_every=7)
    trainer = make_train(problem, lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.adam(0.05), cfg)
    result = loop.run(trainer, str(tmp_path), seed=0, progress=False)
    assert [row["step"] for row in result.history] == [7, 14, 20, 21, 28, 30]
    assert int(result.state.step[0]) == 30


def test_chunk_metrics_average_only_the_steps_it_ran():
    cfg = TrainerConfig(steps=20, batch_size=32, steps_per_chunk=10, checkpoint_every=10)
    trainer = make_train(Regression(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.sgd(0.0), cfg)
    keys = loop.replica_keys(0, 1)
    state = jax.vmap(trainer.init)(keys)
    # with a zero learning rate every step is independent: the 10-step mean is the mean of its parts
    _, full = trainer.chunk(state, keys)
    _, head = trainer.chunk(state, keys, 0, 3)
    after, tail = trainer.chunk(state, keys, 3, 7)
    assert int(after.step[0]) == 7
    np.testing.assert_allclose(float(full["mse"][0]), (3 * float(head["mse"][0]) + 7 * float(tail["mse"][0])) / 10,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="must lie in"):
        trainer.chunk(state, keys, 5, 6)


@pytest.mark.parametrize("steps,steps_per_chunk,checkpoint_every", [(30, 20, 7), (13, 50, 100), (300, 500, 100)])
def test_any_steps_and_checkpoint_every_work(tmp_path, steps, steps_per_chunk, checkpoint_every):
    cfg = TrainerConfig(steps=steps, batch_size=8, steps_per_chunk=steps_per_chunk, checkpoint_every=checkpoint_every,
                        max_to_keep=10)
    trainer = make_train(Regression(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.adam(0.05), cfg)
    result = loop.run(trainer, str(tmp_path), seed=0, progress=False)
    assert int(result.state.step[0]) == steps and result.history[-1]["step"] == steps
    expected = sorted({*range(checkpoint_every, steps + 1, checkpoint_every), steps})
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == expected


def test_seed_replicas_equal_single_seed_runs(tmp_path):
    """Replica r of a vmapped 3-seed run is the 1-seed run with seed + r."""
    multi = loop.run(make(num_seeds=3), str(tmp_path / "multi"), seed=5, progress=False)
    single = loop.run(make(num_seeds=1), str(tmp_path / "single"), seed=6, progress=False)
    a = jax.tree.leaves(loop.replica_params(multi.state, 1))
    b = jax.tree.leaves(loop.replica_params(single.state, 0))
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    c = jax.tree.leaves(loop.replica_params(multi.state, 0))
    assert not all(np.allclose(x, y) for x, y in zip(c, b)), "replicas must differ"


def test_fixed_training_set_is_used():
    trainer = make(train_size=64)
    state = jax.vmap(trainer.init)(loop.replica_keys(0, 1))
    assert state.data["x"].shape == (1, 64, 1)


@pytest.mark.parametrize("field,kwargs", [
    ("trainer.steps", dict(steps=0)),
    ("trainer.batch_size", dict(batch_size=-1)),
    ("trainer.checkpoint_every", dict(checkpoint_every=0)),
    ("trainer.steps_per_chunk", dict(steps_per_chunk=2.5)),
    ("trainer.train_size", dict(train_size=8)),
])
def test_bad_trainer_config_names_field(field, kwargs):
    base = dict(steps=100, batch_size=32, steps_per_chunk=50, checkpoint_every=50)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        TrainerConfig(**{**base, **kwargs})


def test_non_finite_loss_stops_and_names_step(tmp_path):
    from mechjax.errors import NonFiniteError

    @dataclass(frozen=True)
    class Exploding(Regression):
        def loss_terms(self, outcome_fn, batch, solution):
            err = jnp.mean(outcome_fn(batch["x"]) ** 2) * jnp.inf
            return Terms(err, jnp.zeros((1,)), {"mse": err})

    cfg = TrainerConfig(steps=100, batch_size=8, steps_per_chunk=50, checkpoint_every=50)
    trainer = make_train(Exploding(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.sgd(0.1), cfg)
    with pytest.raises(NonFiniteError, match="step 50"):
        loop.run(trainer, str(tmp_path), seed=0, progress=False)
    assert not (tmp_path / "checkpoints" / "50").exists(), "a non-finite state must not be checkpointed"


def test_template_matches_an_eager_build_without_running_the_initialisers():
    """``template`` gives the graphdef and the non-parameter constants an eager build gives, and builds
    no concrete weights: the factory is called only under tracing (eval_shape, then one jit)."""
    from mechjax.auctions.nets.regretnet import RegretNet
    from mechjax.core.trainer import template

    traced = []

    def factory(rngs):
        net = RegretNet(2, 3, bid_low=0.5, bid_high=[[2.0, 3.0, 4.0], [1.0, 1.5, 2.5]], rngs=rngs)
        weight = jax.tree.leaves(nnx.state(net, nnx.Param))[0]
        traced.append(isinstance(weight, jax.core.Tracer))
        return net

    graphdef, rest = template(factory)
    assert traced == [True, True]  # abstract (eval_shape), then traced (jit): never eager
    eager_graphdef, params, eager_rest = nnx.split(factory(nnx.Rngs(0)), nnx.Param, ...)
    assert graphdef == eager_graphdef
    chex.assert_trees_all_equal(rest, eager_rest)
    assert jax.tree.leaves(rest) and np.asarray(jax.tree.leaves(rest)[0]).max() == 4.0  # the bid bounds
    # and the merged module runs like the eager one
    bids = jnp.full((4, 2, 3), 0.7)
    a, p = nnx.merge(graphdef, params, rest)(bids)
    b, q = nnx.merge(eager_graphdef, params, eager_rest)(bids)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(p), np.asarray(q))
