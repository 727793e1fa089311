"""The DIML studies behind two results tables, as library functions (notebooks call them too).

* ``identifiability_instance``: mechanisms that differ by ``c_i`` or ``c_i(a_-i)`` are
  indistinguishable from behaviour; a change of one payoff *difference* is not.
* ``anonymous_instance``: DIML on large anonymous games: wall time per epoch and recovery.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from mechjax.inverse import metrics
from mechjax.inverse.dynamics import LogitQ, log_likelihood, simulate
from mechjax.inverse.evaluate import make_game
from mechjax.inverse.fit import fit, train
from mechjax.inverse.games import DenseGame, TrivialGame

LEARNER = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)
SHIFTED = LogitQ(alpha=0.1, beta=5.0, epsilon=0.02)


def compare(game, other, learner, shifted, actions, key, episodes: int, steps: int) -> dict:
    """How far apart two small games look: raw tensors, likelihood of ``actions``, the metrics."""
    raw = float(jnp.mean((game.payoffs - other.payoffs) ** 2))
    gap = float(jnp.max(jnp.abs(log_likelihood(game, learner, actions) - log_likelihood(other, learner, actions))))
    return {
        "raw_payoff_mse": raw,
        "max_loglik_gap": gap,
        "total_loglik": float(log_likelihood(other, learner, actions).sum()),
        "payoff_diff_mse": metrics.payoff_difference_mse(game, other),
        "equivalent": metrics.equivalent(game, other),
        "kl_shifted": metrics.visitation_kl(game, other, shifted, key, episodes, steps),
    }


@dataclass(frozen=True)
class IdentifiabilityConfig:
    """Sizes of one identifiability instance (``kl_episodes`` runs per mechanism for the KL)."""

    game: str = "congestion"
    episodes: int = 128
    steps: int = 60
    fit_steps: int = 500
    kl_episodes: int = 256


def identifiability_instance(seed: int, cfg: IdentifiabilityConfig = IdentifiabilityConfig()) -> dict:
    """A game u from ``seed``, data of ``LEARNER`` playing it, and four comparisons: u vs u + c_i,
    u vs u + c_i(a_-i), a DIML estimate vs itself + c_i, and (control) u vs u with one payoff moved."""
    from mechjax.testing.inverse import gauge_shift  # the shifts the property tests use

    k_game, k_data, k_shift, k_kl = jax.random.split(jax.random.key(seed), 4)
    game = DenseGame(make_game(cfg.game, k_game).payoffs)
    actions = simulate(game, LEARNER, k_data, cfg.episodes, cfg.steps)
    constant = gauge_shift(game, k_shift, per_context=False)
    per_context = gauge_shift(game, k_shift, per_context=True)
    learned = DenseGame(fit(actions, game.num_actions, LEARNER, "neural", steps=cfg.fit_steps,
                            steps_per_chunk=cfg.fit_steps, burn_in=24, learning_rate=3e-3, weight_decay=1.0).payoffs)
    learned_shift = gauge_shift(learned, k_shift, per_context=False)
    control = DenseGame(game.payoffs.at[0, 0].add(0.5))  # moves agent 0's payoff of action 0 only
    row = {"seed": seed, "total_loglik_true": float(log_likelihood(game, LEARNER, actions).sum())}
    pairs = {"u vs u + c_i": (game, constant), "u vs u + c_i(a_-i)": (game, per_context),
             "DIML vs DIML + c_i": (learned, learned_shift), "u vs u + 0.5 on one action (control)": (game, control)}
    for name, (a, b) in pairs.items():
        row[name] = compare(a, b, LEARNER, SHIFTED, actions, k_kl, cfg.kl_episodes, cfg.steps)
    return row


ANONYMOUS_ACTIONS = 5
ANONYMOUS_MODELS = {"anonymous_neural": dict(learning_rate=3e-3, weight_decay=0.03),
                    "anonymous": dict(learning_rate=3e-2, weight_decay=0.0)}


@dataclass(frozen=True)
class AnonymousConfig:
    """Sizes of one large-anonymous-game instance (see ``anonymous_instance``)."""

    episodes: int = 32
    steps: int = 60
    heldout: int = 8
    kl_episodes: int = 64
    batch: int = 16
    window: int = 16
    burn_in: int = 24
    fit_steps: int = 400
    chunk: int = 100
    models: tuple[str, ...] = tuple(ANONYMOUS_MODELS)


def anonymous_instance(n: int, seed: int, cfg: AnonymousConfig = AnonymousConfig()) -> dict:
    """DIML on an anonymous game of ``n`` agents and ``ANONYMOUS_ACTIONS`` actions, drawn from ``seed``.

    Two fits through the shared trainer (the anonymous neural map and the correct parametric
    family). An epoch is one pass over the data in windows, ``ceil(episodes * (steps + 1) /
    (window * batch))`` outer steps; its wall time is the median chunk time after compilation,
    per step, times the steps per epoch.
    """
    k_game, k_train, k_test, k_kl = jax.random.split(jax.random.key(seed), 4)
    game = make_game("anonymous", k_game, n, ANONYMOUS_ACTIONS)
    started = time.perf_counter()
    actions = simulate(game, LEARNER, k_train, cfg.episodes, cfg.steps).block_until_ready()
    simulate_s = time.perf_counter() - started
    test = simulate(game, LEARNER, k_test, cfg.heldout, cfg.steps)
    steps_per_epoch = math.ceil(cfg.episodes * (cfg.steps + 1) / (cfg.window * cfg.batch))
    trivial = TrivialGame(n, game.num_actions)
    row = {"n": n, "seed": seed, "simulate_s": simulate_s, "steps_per_epoch": steps_per_epoch,
           "true_nll": metrics.heldout_nll(game, LEARNER, test),
           "trivial_mse": metrics.payoff_difference_mse(game, trivial, test),
           "trivial_kl": metrics.visitation_kl(game, trivial, SHIFTED, k_kl, cfg.kl_episodes, cfg.steps)}
    for model in cfg.models:
        result = train(actions, game.num_actions, LEARNER, model, steps=cfg.fit_steps, steps_per_chunk=cfg.chunk,
                       batch_size=cfg.batch, window=cfg.window, burn_in=cfg.burn_in, **ANONYMOUS_MODELS[model])
        walls = [r["wall_s"] for r in result.history]
        chunk_s = statistics.median(b - a for a, b in zip(walls[:-1], walls[1:])) if len(walls) > 1 else walls[0]
        row[model] = {
            "epoch_s": chunk_s / cfg.chunk * steps_per_epoch,
            "step_ms": 1000 * chunk_s / cfg.chunk,
            "first_chunk_s": walls[0],  # includes compilation
            "epochs": cfg.fit_steps / steps_per_epoch,
            "mse": metrics.payoff_difference_mse(game, result.game, test),
            "nll": metrics.heldout_nll(result.game, LEARNER, test),
            "kl": metrics.visitation_kl(game, result.game, SHIFTED, k_kl, cfg.kl_episodes, cfg.steps),
        }
    return row
