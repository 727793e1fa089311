"""Candidate payoff maps for DIML, as Flax NNX modules.

Every model maps joint actions ``[..., agents]`` (ints) to counterfactual payoffs
``[..., agents, actions]``: agent ``i``'s payoff for each own action against the others'
actions. That is the "outcome" the trainer's ``outcome_fn`` returns and all a full-information
learner needs. Models:

* ``NeuralPayoffs``: unstructured; for agent ``i`` an MLP reads the others' one-hot actions and
  ``i``'s one-hot identity and emits ``A`` payoffs (one pass serves all own actions).
* ``TabularPayoffs``: one free parameter per cell of the ``[n] + [A] * n`` tensor (tabular MLE).
* ``CongestionPayoffs``, ``PublicGoodsPayoffs``, ``AnonymousPayoffs``: the correctly specified
  parametric families of the built-in games, with the built-in game's own payoff code.
* ``AnonymousNeuralPayoffs``: unstructured but anonymous; an MLP of the others' action shares.

All start from constant payoffs (zero differences), i.e. from the trivial estimator. Payoffs are
identified only up to a constant per (agent, others' actions); nothing here fixes that gauge,
the metrics compare differences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mechjax.errors import ConfigError
from mechjax.inverse import games


def _check_sizes(num_agents, num_actions):
    if num_agents < 2:
        raise ConfigError(f"model.num_agents must be >= 2, got {num_agents}")
    if num_actions < 2:
        raise ConfigError(f"model.num_actions must be >= 2, got {num_actions}")


class _MLP(nnx.Module):
    def __init__(self, sizes: list[int], rngs: nnx.Rngs):
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]
        )
        # A zero last layer makes every model start at the trivial estimator.
        last = self.layers[-1]
        last.kernel[...] = jnp.zeros_like(last.kernel[...])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.gelu(layer(x))
        return self.layers[-1](x)


class NeuralPayoffs(nnx.Module):
    """Unstructured payoff map ``u_i(., a_-i) = MLP([onehot(a_-i), onehot(i)])``.

    Args:
        num_agents: n.
        num_actions: A.
        hidden: width of each hidden layer.
        depth: number of hidden layers.
        rngs: NNX RNG streams.
    """

    def __init__(self, num_agents: int, num_actions: int, hidden: int = 64, depth: int = 2, *, rngs: nnx.Rngs):
        _check_sizes(num_agents, num_actions)
        self.num_agents, self.num_actions = num_agents, num_actions
        inputs = num_agents * num_actions + num_agents
        self.mlp = _MLP([inputs] + [hidden] * depth + [num_actions], rngs)

    def __call__(self, actions: jax.Array, *, training: bool = False) -> jax.Array:
        n, num_actions = self.num_agents, self.num_actions
        joint = jax.nn.one_hot(actions, num_actions)  # [..., n, A]
        not_self = (1.0 - jnp.eye(n))[:, :, None]  # [n(i), n(j), 1]
        others = joint[..., None, :, :] * not_self.reshape((1,) * (joint.ndim - 2) + not_self.shape)  # [..., n, n, A]
        others = others.reshape(actions.shape + (n * num_actions,))
        identity = jnp.broadcast_to(jnp.eye(n), actions.shape + (n,))
        return self.mlp(jnp.concatenate([others, identity], axis=-1))


class TabularPayoffs(nnx.Module):
    """One free payoff per cell of the ``[n] + [A] * n`` tensor (tabular MLE)."""

    def __init__(self, num_agents: int, num_actions: int, *, rngs: nnx.Rngs | None = None):
        _check_sizes(num_agents, num_actions)
        if num_actions**num_agents * num_agents > games.MAX_DENSE_ENTRIES:
            raise ConfigError(f"model 'tabular' needs {num_actions}**{num_agents} cells per agent: too many")
        self.table = nnx.Param(jnp.zeros((num_agents,) + (num_actions,) * num_agents, jnp.float32))

    def __call__(self, actions, *, training: bool = False):
        return games.dense_counterfactual_payoffs(self.table[...], actions)


class CongestionPayoffs(nnx.Module):
    """Parametric congestion-with-tolls family (``games.CongestionTolls``), all parameters free."""

    def __init__(self, num_agents: int, num_actions: int, *, rngs: nnx.Rngs | None = None):
        _check_sizes(num_agents, num_actions)
        self.num_agents = num_agents
        self.linear = nnx.Param(jnp.zeros((num_actions,)))
        self.quadratic = nnx.Param(jnp.zeros((num_actions,)))
        self.tolls = nnx.Param(jnp.zeros((num_actions,)))

    def __call__(self, actions, *, training: bool = False):
        game = games.CongestionTolls(self.linear[...], self.quadratic[...], self.tolls[...], self.num_agents)
        return game.counterfactual_payoffs(actions)


class PublicGoodsPayoffs(nnx.Module):
    """Parametric public-goods-with-subsidy family (``games.PublicGoods``), all parameters free."""

    def __init__(self, num_agents: int, num_actions: int, *, rngs: nnx.Rngs | None = None):
        _check_sizes(num_agents, num_actions)
        self.num_actions = num_actions
        self.valuations = nnx.Param(jnp.zeros((num_agents,)))
        self.subsidy = nnx.Param(jnp.ones(()))  # (1 - subsidy) = 0: no private cost at the start
        self.curvature = nnx.Param(jnp.zeros(()))

    def __call__(self, actions, *, training: bool = False):
        game = games.PublicGoods(self.valuations[...], self.subsidy[...], self.curvature[...], self.num_actions)
        return game.counterfactual_payoffs(actions)


class AnonymousPayoffs(nnx.Module):
    """Parametric anonymous family (``games.AnonymousGame``): base, interaction and crowding free."""

    def __init__(self, num_agents: int, num_actions: int, *, rngs: nnx.Rngs | None = None):
        _check_sizes(num_agents, num_actions)
        self.num_actions = num_actions
        self.base = nnx.Param(jnp.zeros((num_actions,)))
        self.interaction = nnx.Param(jnp.zeros((num_actions, num_actions)))
        self.crowding = nnx.Param(jnp.zeros((num_actions,)))

    def __call__(self, actions, *, training: bool = False):
        shares = games.opponent_shares(actions, self.num_actions)
        return games.anonymous_payoffs(self.base[...], self.interaction[...], self.crowding[...], shares)


class AnonymousNeuralPayoffs(nnx.Module):
    """Unstructured anonymous map: ``u(., x) = MLP(x)`` of the others' action shares ``x``.

    Shared by all agents and linear in the number of agents, so it scales to hundreds of them.
    """

    def __init__(self, num_agents: int, num_actions: int, hidden: int = 64, depth: int = 2, *, rngs: nnx.Rngs):
        _check_sizes(num_agents, num_actions)
        self.num_actions = num_actions
        self.mlp = _MLP([num_actions] + [hidden] * depth + [num_actions], rngs)

    def __call__(self, actions, *, training: bool = False):
        return self.mlp(games.opponent_shares(actions, self.num_actions))


MODELS = {
    "neural": NeuralPayoffs,
    "tabular": TabularPayoffs,
    "congestion": CongestionPayoffs,
    "public_goods": PublicGoodsPayoffs,
    "anonymous": AnonymousPayoffs,
    "anonymous_neural": AnonymousNeuralPayoffs,
}


def decay_mask(params):
    """Which parameters weight decay shrinks: those with >= 2 dimensions (network kernels, payoff
    tables, the anonymous family's interaction matrix), not biases or scalar and per-action
    parameters. The same rule as the shared optimiser's ``optim.decay_mask=matrices``."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def factory(model, num_agents: int, num_actions: int, **options):
    """What the trainer takes: ``rngs -> module`` for a name in ``MODELS`` or a factory
    ``(n, A, rngs=...) -> module``; an ``nnx.Module`` is returned as is (every replica starts from it).

    ``options`` go to the model's constructor (e.g. ``hidden``, ``depth``). One eager build checks
    the sizes now, not inside jit.
    """
    if isinstance(model, nnx.Module):
        return model
    if isinstance(model, str):
        if model not in MODELS:
            raise ConfigError(f"model must be one of {sorted(MODELS)}, got {model!r}")
        model = MODELS[model]
    if not callable(model):
        raise ConfigError(f"model must be a name, an nnx.Module or a factory, got {type(model).__name__}")

    def build(rngs: nnx.Rngs) -> nnx.Module:
        return model(num_agents, num_actions, **options, rngs=rngs)

    nnx.eval_shape(lambda: build(nnx.Rngs(0)))  # bad options fail now; nothing runs or compiles
    return build


def make_model(model, num_agents: int, num_actions: int, key: jax.Array) -> nnx.Module:
    """A payoff model from a name in ``MODELS``, a module, or a factory ``(n, A, rngs) -> module``."""
    made = factory(model, num_agents, num_actions)
    return made if isinstance(made, nnx.Module) else made(nnx.Rngs(key))
