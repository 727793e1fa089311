"""Scoring estimated mechanisms: the front door's evaluator and the estimator benchmark.

``score`` is the one scoring protocol: gauge-fixed payoff MSE (and correlation) on held-out
contexts and, for small games, on all joint actions; held-out NLL per agent-step; and the
counterfactual visitation KL for shifted learners. Two users:

* ``evaluate_inverse`` (``experiments/evaluate.py``, and after every ``experiments/train.py`` run
  of ``problem=inverse/...``): a trained payoff map against the problem's true game when it is
  known, on the problem's held-out trajectories, beside the cheap baselines (trivial, behaviour
  cloning), with the settings of config section ``inverse_eval`` (``InverseEvalConfig``).
* ``run_instance`` (the DIML results tables, ``mechjax.inverse.tables``): one benchmark instance:

  1. draw the true mechanism from the seed (``make_game``);
  2. simulate ``episodes`` training and ``heldout_episodes`` held-out trajectories of ``learner``;
  3. fit each estimator on the training trajectories;
  4. ``score`` each, with the true mechanism's held-out NLL and KL sampling-noise floor beside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jax

from mechjax import progress
from mechjax.errors import ConfigError
from mechjax.inverse import baselines, metrics
from mechjax.inverse.dynamics import LogitQ, learner_from_config, learner_to_config, simulate
from mechjax.inverse.fit import FitConfig, fit
from mechjax.inverse.games import (
    MAX_DENSE_ENTRIES,
    AnonymousGame,
    CongestionTolls,
    DenseGame,
    PublicGoods,
    neural_mechanism,
)

GAMES = ("congestion", "public_goods", "neural", "anonymous")
ESTIMATORS = ("trivial", "behaviour_cloning", "tabular_mle", "parametric_mle", "diml")
FAMILY = {"congestion": "congestion", "public_goods": "public_goods", "anonymous": "anonymous", "neural": "tabular"}
DIML_MODEL = {"congestion": "neural", "public_goods": "neural", "neural": "neural", "anonymous": "anonymous_neural"}


def make_game(name: str, key: jax.Array, num_agents: int | None = None, num_actions: int | None = None):
    """The benchmark mechanisms, drawn from ``key``: congestion (default 4 agents, 5 resources),
    public goods (3 agents, 7 levels), an unstructured neural map (3 agents, 4 actions), anonymous
    (40 agents, 5 actions)."""
    if name == "congestion":
        return CongestionTolls.random(key, num_agents or 4, num_actions or 5)
    if name == "public_goods":
        return PublicGoods.random(key, num_agents or 3, num_actions or 7)
    if name == "neural":
        return neural_mechanism(key, num_agents or 3, num_actions or 4)
    if name == "anonymous":
        return AnonymousGame.random(key, num_agents or 40, num_actions or 5)
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
    fit: FitConfig = baselines.MLE_CONFIG
    diml_fit: FitConfig = field(default_factory=lambda: FitConfig(
        steps=2000, burn_in=24, learning_rate=3e-3, weight_decay=1.0))
    fit_learner: LogitQ | None = None


def fit_estimator(name: str, game_name: str, actions, num_actions: int, learner, cfg: FitConfig):
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
        return fit(actions, num_actions, learner, FAMILY[game_name], cfg), None
    if name == "diml":
        return fit(actions, num_actions, learner, DIML_MODEL[game_name], cfg), None
    raise ConfigError(f"estimator must be one of {ESTIMATORS}, got {name!r}")


def run_instance(game_name: str, seed: int, cfg: InstanceConfig = InstanceConfig(),
                 estimators: tuple[str, ...] = ESTIMATORS, num_agents: int | None = None) -> dict:
    """Runs the protocol above; returns ``{estimator: {metric: value}}`` plus ``"_instance"`` info."""
    key = jax.random.key(seed)
    k_game, k_train, k_test, k_kl = jax.random.split(key, 4)
    game = make_game(game_name, k_game, num_agents)
    train_actions = simulate(game, cfg.learner, k_train, cfg.episodes, cfg.steps)
    test_actions = simulate(game, cfg.learner, k_test, cfg.heldout_episodes, cfg.steps)
    dense = is_dense(game)
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
        row.update(score(game, estimate, fit_learner, test_actions, cfg.counterfactual, k_kl, cfg.kl_episodes,
                         cfg.steps, clone))
        results[name] = row
    return results


def is_dense(game) -> bool:
    """Whether every joint action of ``game`` can be enumerated (all-context metrics)."""
    return game.num_actions**game.num_agents * game.num_agents <= MAX_DENSE_ENTRIES


def score(truth, estimate, learner, heldout, counterfactual=(), key=None, kl_episodes: int = 512,
          kl_steps: int = 60, clone=None) -> dict:
    """Scores ``estimate`` against the true game on held-out trajectories.

    Args:
        truth: the true game, or None when it is unknown (then only the NLL is scored).
        estimate: the estimated game.
        learner: the learner the fit assumed (the held-out NLL is scored under it).
        heldout: ``[episodes, steps + 1, agents]`` held-out trajectories (their joint actions are
            the held-out contexts).
        counterfactual: shifted learners for the visitation KL (needs ``truth`` and ``key``).
        key: PRNG key of the KL simulations (common random numbers for truth and estimate).
        kl_episodes: simulated runs per mechanism for the KL; 0 skips it.
        kl_steps: updates per simulated run.
        clone: a ``baselines.BehaviourCloning`` scored by its own likelihood instead of ``learner``'s.

    Returns:
        ``mse_heldout``, ``correlation_heldout`` and (small games) ``mse_all`` when the truth is
        known; ``nll``; ``kl_<i>`` per shifted learner.
    """
    row = {}
    if truth is not None:
        row["mse_heldout"] = metrics.payoff_difference_mse(truth, estimate, heldout)
        row["correlation_heldout"] = metrics.payoff_difference_correlation(truth, estimate, heldout)
        if is_dense(truth):
            row["mse_all"] = metrics.payoff_difference_mse(truth, estimate)
    row["nll"] = clone.nll(heldout) if clone is not None else metrics.heldout_nll(estimate, learner, heldout)
    if truth is not None and key is not None and kl_episodes:
        for index, shifted in enumerate(counterfactual):
            row[f"kl_{index}"] = metrics.visitation_kl(truth, estimate, shifted, key, kl_episodes, kl_steps)
    return row


SHIFTED_LEARNERS = ({"name": "logit_q", "alpha": 0.1, "beta": 5.0, "epsilon": 0.02},
                    {"name": "logit_q", "alpha": 0.5, "beta": 1.5, "epsilon": 0.12})
EVAL_BASELINES = ("trivial", "behaviour_cloning")


@dataclass(frozen=True)
class InverseEvalConfig:
    """``inverse_eval``: how a trained payoff map is scored (read when ``problem.kind=inverse``).

    Attributes:
        seed: seeds the counterfactual simulations (common random numbers for truth and estimate).
        kl_episodes: simulated runs per mechanism for the counterfactual visitation KL; 0 skips it.
        counterfactual: shifted learners (``{name: logit_q | multiplicative_weights, ...}``) the
            KL simulates in the true and the learned game.
        baselines: cheap estimators scored beside the trained map: ``trivial`` (all payoffs equal)
            and ``behaviour_cloning`` (small games only).
    """

    seed: int = 1000003
    kl_episodes: int = 512
    counterfactual: tuple = SHIFTED_LEARNERS
    baselines: tuple = EVAL_BASELINES

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"inverse_eval.seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.kl_episodes, bool) or not isinstance(self.kl_episodes, int) or self.kl_episodes < 0:
            raise ConfigError(f"inverse_eval.kl_episodes must be an integer >= 0, got {self.kl_episodes!r}")
        unknown = sorted(set(self.baselines) - set(EVAL_BASELINES))
        if unknown:
            raise ConfigError(f"inverse_eval.baselines: unknown {unknown}; expected some of {list(EVAL_BASELINES)}")
        self.learners()  # every shifted learner is valid

    def learners(self) -> tuple:
        return tuple(learner_from_config(dict(c) if isinstance(c, dict) else c, f"inverse_eval.counterfactual[{i}]")
                     for i, c in enumerate(self.counterfactual))


def _tabulated(game):
    return DenseGame(game.payoffs) if game is not None and is_dense(game) else game


def evaluate_inverse(mechanism_fn, problem, cfg: InverseEvalConfig = InverseEvalConfig()) -> dict:
    """Scores a trained payoff map on its ``DIMLProblem``.

    The map is compared with ``problem.truth`` when the data were generated (payoff-difference MSE
    and correlation on the held-out contexts, MSE on all joint actions of small games, visitation
    KL for the shifted learners with the truth's own sampling-noise floor), and scored by the
    likelihood of ``problem.heldout`` (or of the training data when the problem has no held-out
    episodes: keys then say ``train``), beside the trivial estimator and behaviour cloning.

    Args:
        mechanism_fn: joint actions ``[..., agents]`` -> counterfactual payoffs ``[..., agents, A]``.
        problem: the ``DIMLProblem`` the map was trained on.
        cfg: ``InverseEvalConfig``.

    Returns:
        The summary: flat numbers (``nll_heldout``, ``nll_heldout_true``, ``nll_heldout_trivial``,
        ``payoff_diff_mse_heldout``, ``payoff_diff_mse_heldout_trivial``, ``recovery_ratio``
        (trivial MSE / learned MSE), ``payoff_diff_correlation_heldout``, ``payoff_diff_mse_all``,
        ``kl_shifted_<i>``, ``kl_shifted_<i>_trivial``, ``kl_floor_<i>``), ``baselines`` (their
        rows) and ``inverse_eval`` (the settings used).
    """
    from mechjax.inverse.trained import as_payoff_game

    # Small games are scored through their dense tensors: one compiled simulation, likelihood and
    # comparison then serve the truth, the learned map and every baseline (the values are the same).
    estimate = _tabulated(as_payoff_game(mechanism_fn, problem))
    truth, learner = _tabulated(problem.truth), problem.learner
    split = "heldout" if problem.heldout is not None else "train"
    data = problem.heldout if problem.heldout is not None else problem.actions
    key = jax.random.key(cfg.seed)
    shifted = cfg.learners()
    kl_steps = int(problem.actions.shape[1]) - 1
    n, num_actions = problem.num_agents, problem.num_actions
    small = num_actions ** (n + 1) * n <= MAX_DENSE_ENTRIES  # behaviour cloning tabulates A^n contexts
    names = [name for name in cfg.baselines if name == "trivial" or small]
    with progress.bar(total=1 + len(names), desc="inverse evaluation", unit="estimator") as bar:
        rows = {"learned": score(truth, estimate, learner, data, shifted, key, cfg.kl_episodes, kl_steps)}
        bar.update(1)
        for name in names:
            if name == "trivial":
                rows[name] = score(truth, _tabulated(baselines.trivial(n, num_actions)), learner, data, shifted, key,
                                   cfg.kl_episodes, kl_steps)
            else:
                clone = baselines.behaviour_cloning(problem.actions, num_actions)
                rows[name] = score(truth, clone.game(learner), learner, data, shifted, key, cfg.kl_episodes,
                                   kl_steps, clone)
            bar.update(1)
    learned = rows["learned"]
    summary = {"evaluated_on": split, f"{split}_episodes": int(data.shape[0]), "truth_known": truth is not None,
               f"nll_{split}": learned["nll"]}
    if truth is not None:
        summary[f"nll_{split}_true"] = metrics.heldout_nll(truth, learner, data)
        summary[f"payoff_diff_mse_{split}"] = learned["mse_heldout"]
        summary[f"payoff_diff_correlation_{split}"] = learned["correlation_heldout"]
        if "mse_all" in learned:
            summary["payoff_diff_mse_all"] = learned["mse_all"]
    if "trivial" in rows:
        summary[f"nll_{split}_trivial"] = rows["trivial"]["nll"]
        if truth is not None:
            summary[f"payoff_diff_mse_{split}_trivial"] = rows["trivial"]["mse_heldout"]
            summary["recovery_ratio"] = rows["trivial"]["mse_heldout"] / max(learned["mse_heldout"], 1e-30)
    for index, _ in enumerate(shifted):
        if f"kl_{index}" in learned:
            summary[f"kl_shifted_{index}"] = learned[f"kl_{index}"]
            if "trivial" in rows:
                summary[f"kl_shifted_{index}_trivial"] = rows["trivial"][f"kl_{index}"]
            summary[f"kl_floor_{index}"] = metrics.visitation_noise_floor(truth, shifted[index], key, cfg.kl_episodes,
                                                                          kl_steps)
    summary["baselines"] = {k: v for k, v in rows.items() if k != "learned"}
    summary["inverse_eval"] = {"seed": cfg.seed, "kl_episodes": cfg.kl_episodes, "kl_steps": kl_steps,
                               "counterfactual": [learner_to_config(x) for x in shifted],
                               "baselines": list(cfg.baselines)}
    return summary
