"""One benchmark instance: draw a mechanism, simulate learners, fit every estimator, score them.

``run_instance`` is what the ``experiments/diml_*.py`` scripts loop over seeds; keeping it here
lets notebooks and tests run the same protocol at a smaller size.

Protocol for one (game, seed):

1. draw the true mechanism from the seed (``make_game``);
2. simulate ``episodes`` training and ``heldout_episodes`` held-out trajectories of ``learner``;
3. fit each estimator on the training trajectories;
4. score: gauge-fixed payoff MSE on the joint actions of the held-out trajectories ("held-out
   contexts") and on all joint actions, held-out NLL per agent-step, and the counterfactual
   visitation KL for each shifted learner (with the true mechanism's sampling-noise floor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jax

from mechjax.errors import ConfigError
from mechjax.inverse import baselines, diml, metrics
from mechjax.inverse.dynamics import LogitQ, simulate
from mechjax.inverse.games import MAX_DENSE_ENTRIES, AnonymousGame, CongestionTolls, PublicGoods, neural_mechanism

GAMES = ("congestion", "public_goods", "neural", "anonymous")
ESTIMATORS = ("trivial", "behaviour_cloning", "tabular_mle", "parametric_mle", "diml")
FAMILY = {"congestion": "congestion", "public_goods": "public_goods", "anonymous": "anonymous", "neural": "tabular"}
DIML_MODEL = {"congestion": "neural", "public_goods": "neural", "neural": "neural", "anonymous": "anonymous_neural"}


def make_game(name: str, key: jax.Array, num_agents: int | None = None):
    """The benchmark mechanisms: congestion (4 agents, 5 resources), public goods (3 agents, 7
    levels), an unstructured neural map (3 agents, 4 actions), anonymous (``num_agents``, 5)."""
    if name == "congestion":
        return CongestionTolls.random(key, num_agents or 4, 5)
    if name == "public_goods":
        return PublicGoods.random(key, num_agents or 3, 7)
    if name == "neural":
        return neural_mechanism(key, num_agents or 3, 4)
    if name == "anonymous":
        return AnonymousGame.random(key, num_agents or 40, 5)
    raise ConfigError(f"game must be one of {GAMES}, got {name!r}")


@dataclass(frozen=True)
class InstanceConfig:
    """Sizes of one benchmark instance.

    Attributes:
        learner: the learner that generates the data (its parameters are known to the fit).
        episodes: training trajectories.
        steps: updates per trajectory.
        heldout_episodes: held-out trajectories (contexts and NLL).
        counterfactual: shifted learners for the visitation KL.
        kl_episodes: simulated runs per mechanism for the KL.
        fit: training settings of the likelihood baselines (tabular and parametric MLE).
        diml_fit: training settings of DIML's neural payoff map (more steps, smaller steps).
        fit_learner: the learner the fit *assumes* (``None``: the true one); for ablations.
    """

    learner: LogitQ = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)
    episodes: int = 256
    steps: int = 80
    heldout_episodes: int = 64
    counterfactual: tuple = (LogitQ(alpha=0.1, beta=5.0, epsilon=0.02), LogitQ(alpha=0.5, beta=1.5, epsilon=0.12))
    kl_episodes: int = 512
    fit: diml.FitConfig = baselines.MLE_CONFIG
    diml_fit: diml.FitConfig = field(default_factory=lambda: diml.FitConfig(
        steps=2000, burn_in=24, learning_rate=3e-3, weight_decay=1.0))
    fit_learner: LogitQ | None = None


def fit_estimator(name: str, game_name: str, actions, num_actions: int, learner, cfg: diml.FitConfig):
    """Fits one estimator; returns ``(game, extra)`` where ``extra`` holds BC's own NLL model."""
    n = actions.shape[-1]
    if name == "trivial":
        return baselines.trivial(n, num_actions), None
    if name == "behaviour_cloning":
        clone = baselines.behaviour_cloning(actions, num_actions)
        return clone.game(learner), clone
    if name == "tabular_mle":
        return baselines.tabular_mle(actions, num_actions, learner, cfg), None
    if name == "parametric_mle":
        return diml.fit(actions, num_actions, learner, FAMILY[game_name], cfg), None
    if name == "diml":
        return diml.fit(actions, num_actions, learner, DIML_MODEL[game_name], cfg), None
    raise ConfigError(f"estimator must be one of {ESTIMATORS}, got {name!r}")


def run_instance(game_name: str, seed: int, cfg: InstanceConfig = InstanceConfig(),
                 estimators: tuple[str, ...] = ESTIMATORS, num_agents: int | None = None) -> dict:
    """Runs the protocol above; returns ``{estimator: {metric: value}}`` plus ``"_instance"`` info."""
    key = jax.random.key(seed)
    k_game, k_train, k_test, k_kl = jax.random.split(key, 4)
    game = make_game(game_name, k_game, num_agents)
    train_actions = simulate(game, cfg.learner, k_train, cfg.episodes, cfg.steps)
    test_actions = simulate(game, cfg.learner, k_test, cfg.heldout_episodes, cfg.steps)
    dense = game.num_actions**game.num_agents * game.num_agents <= MAX_DENSE_ENTRIES
    fit_learner = cfg.fit_learner or cfg.learner
    results = {"_instance": {"seed": seed, "true_nll": metrics.heldout_nll(game, cfg.learner, test_actions)}}
    for index, shifted in enumerate(cfg.counterfactual):
        results["_instance"][f"kl_floor_{index}"] = metrics.visitation_noise_floor(
            game, shifted, k_kl, cfg.kl_episodes, cfg.steps)
    for name in estimators:
        if name in ("behaviour_cloning", "tabular_mle") and not dense:
            continue
        fit_cfg = cfg.diml_fit if name == "diml" else cfg.fit
        started = time.perf_counter()
        estimate, clone = fit_estimator(name, game_name, train_actions, game.num_actions, fit_learner, fit_cfg)
        row = {"fit_s": time.perf_counter() - started}
        row["mse_heldout"] = metrics.payoff_difference_mse(game, estimate, test_actions)
        if dense:
            row["mse_all"] = metrics.payoff_difference_mse(game, estimate)
        row["nll"] = clone.nll(test_actions) if clone is not None else metrics.heldout_nll(
            estimate, fit_learner, test_actions)
        for index, shifted in enumerate(cfg.counterfactual):
            row[f"kl_{index}"] = metrics.visitation_kl(game, estimate, shifted, k_kl, cfg.kl_episodes, cfg.steps)
        results[name] = row
    return results
