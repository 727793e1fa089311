"""Normal-form games whose payoff map is a mechanism, for inverse mechanism learning.

Every game has ``num_agents`` agents that share one finite action set of size ``num_actions``
and answers two vectorised questions:

* ``payoff(actions [..., agents]) -> [..., agents]``: each agent's payoff at the joint action;
* ``counterfactual_payoffs(actions [..., agents]) -> [..., agents, actions]``: each agent's payoff
  for every own action against the others' actions in ``actions`` (what a full-information
  Q-learner updates on).

Small games also expose their dense tensor ``payoffs`` of shape ``[n] + [A] * n``
(``payoffs[i, a_1, ..., a_n]``); a raw array of that shape is accepted wherever a game is
(``as_game``). The anonymous game works from action counts and never builds the dense tensor.

Games are pytrees (their parameters are leaves, sizes are static), so jitted code takes them as
arguments instead of baking them in as constants.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from mechjax.errors import ConfigError, DataError

MAX_DENSE_ENTRIES = 2_000_000  # beyond this a dense [n] + [A]*n tensor is refused


def game_pytree(data_fields: tuple[str, ...], meta_fields: tuple[str, ...]):
    """Registers a frozen dataclass as a pytree whose unflatten bypasses ``__init__`` checks.

    Validation lives in ``__post_init__`` for users; JAX rebuilds games with tracers or axis
    specs as leaves (``vmap`` in_axes), which must not be validated.
    """

    def wrap(cls):
        def flatten(obj):
            return tuple(getattr(obj, f) for f in data_fields), tuple(getattr(obj, f) for f in meta_fields)

        def unflatten(meta, data):
            obj = object.__new__(cls)
            for name, value in zip(data_fields + meta_fields, tuple(data) + tuple(meta)):
                object.__setattr__(obj, name, value)
            return obj

        jax.tree_util.register_pytree_node(cls, flatten, unflatten)
        return cls

    return wrap


def joint_action_strides(num_agents: int, num_actions: int) -> np.ndarray:
    """Row-major strides that map a joint action to its flat index in ``A ** n`` cells."""
    return num_actions ** np.arange(num_agents - 1, -1, -1)


def all_joint_actions(num_agents: int, num_actions: int) -> Int[Array, "cells agents"]:
    """Every joint action, in the row-major order of the dense tensor."""
    if num_actions**num_agents * num_agents > MAX_DENSE_ENTRIES:
        raise ConfigError(
            f"game has {num_actions}**{num_agents} joint actions, too many to enumerate; "
            "use contexts drawn from trajectories instead"
        )
    grids = np.meshgrid(*[np.arange(num_actions)] * num_agents, indexing="ij")
    return jnp.asarray(np.stack([g.reshape(-1) for g in grids], axis=-1), jnp.int32)


def trailing(x: jax.Array, like: jax.Array) -> jax.Array:
    """``x`` (its own axes last) with leading unit axes up to ``like``'s rank: explicit broadcasting,
    so the games run under ``jax_numpy_rank_promotion='raise'``."""
    x = jnp.asarray(x)
    return x.reshape((1,) * (jnp.ndim(like) - x.ndim) + x.shape)


def dense_counterfactual_payoffs(
    table: Float[Array, "agents ..."], actions: Int[Array, "... agents"]
) -> Float[Array, "... agents actions"]:
    """Counterfactual payoffs read from a dense ``[n] + [A] * n`` tensor by flat-index arithmetic."""
    n, num_actions = table.shape[0], table.shape[1]
    strides = jnp.asarray(joint_action_strides(n, num_actions), jnp.int32)
    weighted = actions * trailing(strides, actions)
    flat = jnp.sum(weighted, axis=-1)
    without_own = flat[..., None] - weighted  # [..., n]
    offsets = jnp.arange(num_actions)[None, :] * strides[:, None]  # [n, A]
    cells = without_own[..., None] + trailing(offsets, without_own[..., None])  # [..., n, A]
    agent = trailing(jnp.arange(n)[:, None], cells)
    return table.reshape(n, -1)[agent, cells]


def own_payoff(counterfactual: Float[Array, "... agents actions"], actions: Int[Array, "... agents"]):
    """Picks each agent's payoff at her own action out of counterfactual payoffs."""
    return jnp.take_along_axis(counterfactual, actions[..., None], axis=-1)[..., 0]


class Game:
    """Base class: subclasses define ``counterfactual_payoffs`` and the two sizes."""

    num_agents: int
    num_actions: int

    def counterfactual_payoffs(self, actions: Int[Array, "... agents"]) -> Float[Array, "... agents actions"]:
        raise NotImplementedError

    def payoff(self, actions: Int[Array, "... agents"]) -> Float[Array, "... agents"]:
        """Each agent's payoff at the joint action ``actions``."""
        return own_payoff(self.counterfactual_payoffs(actions), actions)

    @property
    def payoffs(self) -> Float[Array, "agents ..."]:
        """The dense tensor ``[n] + [A] * n``; refused when it would not fit (ConfigError)."""
        all_joint_actions(self.num_agents, self.num_actions)  # fails early on a game too large
        return _tabulate(self)


@jax.jit
def _tabulate(game: Game) -> jax.Array:
    n, num_actions = game.num_agents, game.num_actions
    values = game.payoff(all_joint_actions(n, num_actions))  # [A**n, n]
    return jnp.moveaxis(values, -1, 0).reshape((n,) + (num_actions,) * n)


@game_pytree(("table",), ())
@dataclasses.dataclass(frozen=True, eq=False)
class DenseGame(Game):
    """A game given by its payoff tensor ``table[i, a_1, ..., a_n]`` of shape ``[n] + [A] * n``."""

    table: Float[Array, "agents ..."]

    def __post_init__(self):
        table = self.table
        shape = tuple(np.shape(table))
        if len(shape) < 2 or shape[0] != len(shape) - 1 or len(set(shape[1:])) != 1:
            raise DataError(f"payoffs must have shape [n] + [A] * n, got {shape}")
        if shape[1] < 2:
            raise DataError(f"payoffs needs >= 2 actions per agent, got shape {shape}")
        if not isinstance(table, jax.core.Tracer) and not np.isfinite(np.asarray(table)).all():
            raise DataError("payoffs contains non-finite values")
        object.__setattr__(self, "table", jnp.asarray(table, jnp.float32))

    @property
    def num_agents(self) -> int:
        return self.table.shape[0]

    @property
    def num_actions(self) -> int:
        return self.table.shape[1]

    @property
    def payoffs(self):
        return self.table

    def counterfactual_payoffs(self, actions):
        return dense_counterfactual_payoffs(self.table, actions)


@game_pytree((), ("num_agents", "num_actions"))
@dataclasses.dataclass(frozen=True, eq=False)
class TrivialGame(Game):
    """All payoffs equal (zero): the estimator that claims no incentives at all."""

    num_agents: int
    num_actions: int

    def counterfactual_payoffs(self, actions):
        return jnp.zeros(actions.shape + (self.num_actions,), jnp.float32)


def as_game(game) -> Game:
    """A ``Game`` as is; an array ``[n] + [A] * n`` becomes a ``DenseGame`` (checked)."""
    if isinstance(game, Game):
        return game
    if isinstance(game, (np.ndarray, jax.Array, list, tuple)):
        return DenseGame(jnp.asarray(game, jnp.float32))
    raise ConfigError(f"game must be a mechjax.inverse Game or a payoff array, got {type(game).__name__}")


def _loads(actions, num_resources):
    return jax.nn.one_hot(actions, num_resources, dtype=jnp.float32).sum(axis=-2)  # [..., R]


@game_pytree(("linear", "quadratic", "tolls"), ("num_agents",))
@dataclasses.dataclass(frozen=True, eq=False)
class CongestionTolls(Game):
    """Atomic congestion game with per-resource tolls whose revenue is rebated equally.

    Agent ``i`` picks a resource ``r``; with ``load_r`` users (herself included) she gets
    ``-(linear[r] * load_r + quadratic[r] * load_r ** 2) - tolls[r] + sum_j tolls[a_j] / n``.
    The tolls are the mechanism; the rebate makes it budget balanced.
    """

    linear: Float[Array, " resources"]
    quadratic: Float[Array, " resources"]
    tolls: Float[Array, " resources"]
    num_agents: int = 4

    def __post_init__(self):
        if self.num_agents < 2:
            raise ConfigError(f"game.num_agents must be >= 2, got {self.num_agents}")
        if np.shape(self.linear) != np.shape(self.quadratic) or np.shape(self.linear) != np.shape(self.tolls):
            raise ConfigError("game.linear, game.quadratic and game.tolls must all be [resources]")
        if np.shape(self.linear)[0] < 2:
            raise ConfigError("game needs >= 2 resources")

    @property
    def num_actions(self) -> int:
        return self.linear.shape[0]

    @classmethod
    def random(cls, key: PRNGKeyArray, num_agents: int = 4, num_resources: int = 5) -> "CongestionTolls":
        """One instance: ``linear ~ U[0.2, 0.6]``, ``quadratic ~ U[0, 0.1]``, ``tolls ~ U[0, 0.8]``."""
        k1, k2, k3 = jax.random.split(key, 3)
        shape = (num_resources,)
        return cls(
            jax.random.uniform(k1, shape, minval=0.2, maxval=0.6),
            jax.random.uniform(k2, shape, minval=0.0, maxval=0.1),
            jax.random.uniform(k3, shape, minval=0.0, maxval=0.8),
            num_agents,
        )

    def counterfactual_payoffs(self, actions):
        n, num_resources = actions.shape[-1], self.num_actions
        others = _loads(actions, num_resources)[..., None, :] - jax.nn.one_hot(actions, num_resources)  # [..., n, R]
        load = others + 1.0  # the deviator joins resource b
        linear, quadratic, tolls = (trailing(x, load) for x in (self.linear, self.quadratic, self.tolls))
        cost = linear * load + quadratic * load**2 + tolls
        toll_paid = self.tolls[actions]  # [..., n]
        rebate = (toll_paid.sum(-1, keepdims=True) - toll_paid)[..., None] + tolls  # [..., n, R]
        return -cost + rebate / n


@game_pytree(("valuations", "subsidy", "curvature"), ("num_actions",))
@dataclasses.dataclass(frozen=True, eq=False)
class PublicGoods(Game):
    """Public goods game with a matching subsidy on contributions.

    Agent ``i`` contributes ``c_i = a_i / (A - 1)`` of her unit endowment and gets
    ``valuations[i] * log(1 + 2 * sum_j c_j) - (1 - subsidy) * c_i - curvature * c_i ** 2``.
    The designer's subsidy rate is the mechanism; the concave good makes an agent's best
    contribution depend on the others'.
    """

    valuations: Float[Array, " agents"]
    subsidy: Float[Array, ""]
    curvature: Float[Array, ""]
    num_actions: int = 7

    def __post_init__(self):
        if self.num_actions < 2:
            raise ConfigError(f"game.num_actions must be >= 2, got {self.num_actions}")
        if np.ndim(self.valuations) != 1 or np.shape(self.valuations)[0] < 2:
            raise ConfigError("game.valuations must be [agents] with >= 2 agents")

    @property
    def num_agents(self) -> int:
        return self.valuations.shape[0]

    @classmethod
    def random(cls, key: PRNGKeyArray, num_agents: int = 3, num_actions: int = 7) -> "PublicGoods":
        """One instance: ``valuations ~ U[0.5, 2]``, ``subsidy ~ U[0, 0.6]``, ``curvature ~ U[0.5, 1.5]``."""
        k1, k2, k3 = jax.random.split(key, 3)
        return cls(
            jax.random.uniform(k1, (num_agents,), minval=0.5, maxval=2.0),
            jax.random.uniform(k2, (), minval=0.0, maxval=0.6),
            jax.random.uniform(k3, (), minval=0.5, maxval=1.5),
            num_actions,
        )

    def counterfactual_payoffs(self, actions):
        levels = jnp.linspace(0.0, 1.0, self.num_actions)
        given = levels[actions]  # [..., n]
        others = given.sum(-1, keepdims=True) - given  # [..., n]
        levels_like = trailing(levels, others[..., None])
        total = others[..., None] + levels_like  # [..., n, A]
        good = trailing(self.valuations[:, None], total) * jnp.log1p(2.0 * total)
        return good - (1.0 - self.subsidy) * levels_like - self.curvature * levels_like**2


@game_pytree(("base", "interaction", "crowding"), ("num_agents",))
@dataclasses.dataclass(frozen=True, eq=False)
class AnonymousGame(Game):
    """A symmetric game where a payoff depends on the own action and the others' action shares.

    With ``x = counts_of_others / (n - 1)`` an agent playing ``b`` gets
    ``base[b] + (interaction @ x)[b] - crowding[b] * x[b] ** 2``. Everything is computed from
    counts, in ``O(n A^2)`` per joint action, so hundreds of agents are cheap.
    """

    base: Float[Array, " actions"]
    interaction: Float[Array, "actions actions"]
    crowding: Float[Array, " actions"]
    num_agents: int = 40

    def __post_init__(self):
        if self.num_agents < 2:
            raise ConfigError(f"game.num_agents must be >= 2, got {self.num_agents}")
        a = np.shape(self.base)
        if len(a) != 1 or a[0] < 2 or np.shape(self.interaction) != a * 2 or np.shape(self.crowding) != a:
            raise ConfigError("game.base/crowding must be [A] (A >= 2) and game.interaction [A, A]")

    @property
    def num_actions(self) -> int:
        return self.base.shape[0]

    @classmethod
    def random(cls, key: PRNGKeyArray, num_agents: int = 40, num_actions: int = 5) -> "AnonymousGame":
        """One instance: ``base ~ N(0, 0.5)``, ``interaction ~ N(0, 1)``, ``crowding ~ U[0, 2]``."""
        k1, k2, k3 = jax.random.split(key, 3)
        return cls(
            0.5 * jax.random.normal(k1, (num_actions,)),
            jax.random.normal(k2, (num_actions, num_actions)),
            jax.random.uniform(k3, (num_actions,), minval=0.0, maxval=2.0),
            num_agents,
        )

    def counterfactual_payoffs(self, actions):
        shares = opponent_shares(actions, self.num_actions)  # [..., n, A]
        return anonymous_payoffs(self.base, self.interaction, self.crowding, shares)


def opponent_shares(actions: Int[Array, "... agents"], num_actions: int) -> Float[Array, "... agents actions"]:
    """For each agent, the fraction of the *other* agents playing each action."""
    own = jax.nn.one_hot(actions, num_actions, dtype=jnp.float32)
    counts = own.sum(axis=-2, keepdims=True) - own
    return counts / (actions.shape[-1] - 1)


def anonymous_payoffs(base, interaction, crowding, shares):
    """``base[b] + (interaction @ x)[b] - crowding[b] * x[b]**2`` for every own action ``b``."""
    return trailing(base, shares) + jnp.einsum("bc,...c->...b", interaction, shares) - trailing(crowding, shares) * shares**2


def neural_mechanism(
    key: PRNGKeyArray, num_agents: int = 3, num_actions: int = 4, hidden: int = 32
) -> DenseGame:
    """An unstructured mechanism: a random two-layer tanh network from joint actions to payoffs.

    The network reads the one-hot joint action and emits one payoff per agent; its dense tensor
    is tabulated once and scaled to unit standard deviation across cells.
    """
    if num_agents < 2 or num_actions < 2:
        raise ConfigError("game.num_agents and game.num_actions must both be >= 2")
    cells = all_joint_actions(num_agents, num_actions)
    k1, k2 = jax.random.split(key)
    inputs = jax.nn.one_hot(cells, num_actions).reshape(cells.shape[0], -1)
    w1 = jax.random.normal(k1, (inputs.shape[1], hidden)) * 2.0 / math.sqrt(inputs.shape[1])
    w2 = jax.random.normal(k2, (hidden, num_agents)) / math.sqrt(hidden)
    values = jnp.tanh(inputs @ w1) @ w2  # [A**n, n]
    values = values / values.std()
    return DenseGame(jnp.moveaxis(values, -1, 0).reshape((num_agents,) + (num_actions,) * num_agents))
