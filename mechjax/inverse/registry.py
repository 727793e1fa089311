"""Config builders for inverse mechanism learning (DIML): the ``inverse`` problem kind, the payoff
maps as ``mechanism=payoff_<model>``, the ``history_replay`` inner solver, the evaluator (section
``inverse_eval``), the console rows, plots, loader and cross-section checks, and the DIML results
tables (``mechjax.inverse.tables``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import jax

from mechjax import registry
from mechjax.core.constraints import Unconstrained
from mechjax.errors import ConfigError
from mechjax.inverse import models, tables  # noqa: F401  (tables registers the DIML results tables)
from mechjax.inverse.data import MAX_ACTION_ENTRIES, load_actions
from mechjax.inverse.dynamics import learner_from_config, simulate
from mechjax.inverse.evaluate import GAMES, InverseEvalConfig, evaluate_inverse, make_game
from mechjax.inverse.inner import HistoryReplay
from mechjax.inverse.problem import DIMLProblem
from mechjax.inverse.trained import as_payoff_game


def _count(value, field: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{field} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class GameConfig:
    """``problem.game``: the true game the data are generated from.

    Attributes:
        name: ``congestion`` (tolls), ``public_goods`` (subsidy), ``neural`` (a random network's
            payoffs) or ``anonymous`` (payoffs from the others' action shares; scales to many agents).
        num_agents: n (null: the benchmark's size for ``name``).
        num_actions: A (null: the benchmark's size for ``name``).
    """

    name: str = "congestion"
    num_agents: Optional[int] = None
    num_actions: Optional[int] = None

    def __post_init__(self):
        if self.name not in GAMES:
            raise ConfigError(f"problem.game.name must be one of {list(GAMES)}, got {self.name!r}")
        for field in ("num_agents", "num_actions"):
            if getattr(self, field) is not None:
                _count(getattr(self, field), f"problem.game.{field}", 2)


@dataclass(frozen=True)
class InverseConfig:
    """``problem=inverse/<preset>``: observed learning to recover a payoff map from.

    Give exactly one source of data:

    * ``game``: generated. Instance ``data_seed`` draws the true game, ``episodes`` training
      trajectories of ``steps`` updates and ``heldout_episodes`` held-out ones, exactly as instance
      ``data_seed`` of the DIML results tables (``evaluate.run_instance``); the evaluator compares
      the estimate with that true game.
    * ``actions_path``: read from an ``.npy`` / ``.npz`` file of joint actions
      ``[episodes, steps + 1, agents]`` with ``num_actions`` actions each; its last
      ``heldout_episodes`` episodes are held out for evaluation. The true game is unknown.

    Attributes:
        kind: always ``inverse``.
        game: ``GameConfig`` fields (``name``, ``num_agents``, ``num_actions``), or null.
        actions_path: the data file (relative to the working directory), or null.
        num_actions: A; required with ``actions_path`` (with ``game``, null or the game's A).
        learner: the learner that produced the data, hyper-parameters known:
            ``{name: logit_q, alpha, beta, epsilon, initial_q}`` or
            ``{name: multiplicative_weights, eta, epsilon}``.
        episodes: generated training trajectories (``game`` only).
        steps: updates per generated trajectory (``game`` only).
        heldout_episodes: held-out trajectories (generated, or the file's last ones); 0: none, and
            the evaluator scores the training data (its keys then say ``train``).
        data_seed: the instance drawn (``game`` only).
        window: joint actions scored per training sample; null: whole trajectories.
        burn_in: history replayed to warm-start a window; null: all of it.
    """

    kind: str = "inverse"
    game: Optional[dict] = None
    actions_path: Optional[str] = None
    num_actions: Optional[int] = None
    learner: Optional[dict] = None
    episodes: Optional[int] = None
    steps: Optional[int] = None
    heldout_episodes: int = 0
    data_seed: int = 0
    window: Optional[int] = 16
    burn_in: Optional[int] = 24

    def __post_init__(self):
        if (self.game is None) == (self.actions_path is None):
            raise ConfigError("problem: give exactly one of problem.game (generate the data from a known game) "
                              "and problem.actions_path (read observed joint actions from a file)")
        if self.learner is None:
            raise ConfigError("problem.learner is required: DIML needs the learners' rule and hyper-parameters "
                              "(e.g. {name: logit_q, alpha: 0.25, beta: 3.0, epsilon: 0.06})")
        _count(self.heldout_episodes, "problem.heldout_episodes", 0)
        _count(self.data_seed, "problem.data_seed", 0)
        if self.window is not None:
            _count(self.window, "problem.window", 1)
        if self.burn_in is not None:
            _count(self.burn_in, "problem.burn_in", 0)
        if self.game is not None:
            _count(self.episodes, "problem.episodes", 1)
            _count(self.steps, "problem.steps", 1)
            if self.num_actions is not None:
                _count(self.num_actions, "problem.num_actions", 2)
            total = (self.episodes + self.heldout_episodes) * (self.steps + 1)
            if total > MAX_ACTION_ENTRIES:  # before the agents multiply it further
                raise ConfigError(f"problem.episodes x problem.steps asks for {total} joint actions; "
                                  f"at most {MAX_ACTION_ENTRIES}")
        else:
            if self.num_actions is None:
                raise ConfigError("problem.num_actions is required with problem.actions_path")
            _count(self.num_actions, "problem.num_actions", 2)
            for field in ("episodes", "steps"):
                if getattr(self, field) is not None:
                    raise ConfigError(f"problem.{field} describes generated data; with problem.actions_path the "
                                      f"file decides it: set problem.{field}=null")
            if not isinstance(self.actions_path, str) or not self.actions_path:
                raise ConfigError(f"problem.actions_path must be a file name, got {self.actions_path!r}")

    def build(self) -> DIMLProblem:
        learner = learner_from_config(self.learner, "problem.learner")
        if self.game is not None:
            return self._generated(learner)
        actions = load_actions(self.actions_path, self.num_actions, field="problem.actions_path")
        heldout = None
        if self.heldout_episodes:
            if self.heldout_episodes >= actions.shape[0]:
                raise ConfigError(f"problem.heldout_episodes={self.heldout_episodes} leaves no training episode: "
                                  f"{self.actions_path} holds {actions.shape[0]}")
            actions, heldout = actions[:-self.heldout_episodes], actions[-self.heldout_episodes:]
        return DIMLProblem(actions, self.num_actions, learner, self.window, self.burn_in, heldout)

    def _generated(self, learner) -> DIMLProblem:
        game_cfg = registry.from_section(GameConfig, dict(self.game), "problem.game")
        # The keys of evaluate.run_instance: instance s of a results table is data_seed=s here.
        k_game, k_train, k_test, _ = jax.random.split(jax.random.key(self.data_seed), 4)
        try:
            truth = make_game(game_cfg.name, k_game, game_cfg.num_agents, game_cfg.num_actions)
        except ConfigError as err:  # the games name their fields "game.<x>"
            message = str(err)
            raise ConfigError(message if message.startswith("problem.") else "problem." + message) from None
        if self.num_actions is not None and self.num_actions != truth.num_actions:
            raise ConfigError(f"problem.num_actions={self.num_actions} but the {game_cfg.name} game has "
                              f"{truth.num_actions} actions; set problem.game.num_actions instead")
        if (self.episodes + self.heldout_episodes) * (self.steps + 1) * truth.num_agents > MAX_ACTION_ENTRIES:
            raise ConfigError(f"problem.episodes x problem.steps x agents exceeds {MAX_ACTION_ENTRIES} actions")
        actions = simulate(truth, learner, k_train, self.episodes, self.steps)
        heldout = simulate(truth, learner, k_test, self.heldout_episodes, self.steps) if self.heldout_episodes else None
        return DIMLProblem(actions, truth.num_actions, learner, self.window, self.burn_in, heldout, truth)


@registry.register(registry.PROBLEMS, "inverse")
def build_inverse_problem(section: dict) -> DIMLProblem:
    return registry.from_section(InverseConfig, section, "problem").build()


@dataclass(frozen=True)
class PayoffNetConfig:
    """``mechanism=payoff_neural`` / ``payoff_anonymous_neural``: an MLP payoff map.

    Attributes:
        name: the mechanism's name.
        hidden: width of each hidden layer.
        depth: number of hidden layers.
    """

    name: str = "payoff_neural"
    hidden: int = 64
    depth: int = 2

    def __post_init__(self):
        _count(self.hidden, "mechanism.hidden", 1)
        _count(self.depth, "mechanism.depth", 1)


@dataclass(frozen=True)
class PayoffFamilyConfig:
    """``mechanism=payoff_tabular`` / ``payoff_congestion`` / ``payoff_public_goods`` /
    ``payoff_anonymous``: a table or a parametric family, nothing to size."""

    name: str = "payoff_tabular"


NETWORKS = ("neural", "anonymous_neural")


def _register_payoff_map(model: str) -> None:
    name = f"payoff_{model}"
    config_cls = PayoffNetConfig if model in NETWORKS else PayoffFamilyConfig

    def build(section: dict, problem, kind: str):
        if kind != "inverse":
            raise ConfigError(f"mechanism.name={name} is a payoff map: it needs problem.kind=inverse, got {kind!r}")
        cfg = registry.from_section(config_cls, section, "mechanism")
        options = {"hidden": cfg.hidden, "depth": cfg.depth} if model in NETWORKS else {}
        try:
            return models.factory(model, problem.num_agents, problem.num_actions, **options)
        except ConfigError as err:
            raise ConfigError(f"mechanism.name={name}: {err}") from None

    registry.MECHANISMS[name] = build


for _model in models.MODELS:
    _register_payoff_map(_model)


@dataclass(frozen=True)
class _HistoryReplayConfig:
    kind: str = "history_replay"


@registry.register(registry.INNERS, "history_replay")
def build_history_replay(section: dict, problem) -> HistoryReplay:
    registry.from_section(_HistoryReplayConfig, section, "inner")
    if not isinstance(problem, DIMLProblem):
        raise ConfigError(f"inner.kind=history_replay replays observed learning: it needs problem.kind=inverse, "
                          f"got a {type(problem).__name__}")
    return HistoryReplay(problem)


def check_experiment(experiment, cfg: dict) -> None:
    """DIML has no incentive constraints: its per-agent violations are zeros, so any constraint
    other than ``none`` would only add multipliers that never move."""
    if not isinstance(experiment.constraint, Unconstrained):  # the run's own constraint, not cfg's
        kind = (experiment.cfg.get("constraint") or {}).get("kind")
        raise ConfigError(f"constraint.kind={kind}: problem.kind=inverse has no incentive constraints to price; "
                          "use constraint=none")


registry.CHECKS["inverse"] = check_experiment


@registry.register_evaluator("inverse", section="inverse_eval", config_cls=InverseEvalConfig)
def evaluate(mechanism_fn, problem: DIMLProblem, section: Optional[dict]) -> dict:
    return evaluate_inverse(mechanism_fn, problem,
                            registry.from_section(InverseEvalConfig, dict(section or {}), "inverse_eval"))


def summary_rows(summary: dict) -> list:
    """The console table's headline rows of an inverse run."""
    split = summary.get("evaluated_on", "heldout")
    rows = [(f"NLL per agent-step, {split} (learned)", summary.get(f"nll_{split}")),
            (f"NLL, {split} (true game)", summary.get(f"nll_{split}_true")),
            (f"NLL, {split} (trivial)", summary.get(f"nll_{split}_trivial")),
            ("payoff-diff MSE (learned)", summary.get(f"payoff_diff_mse_{split}")),
            ("payoff-diff MSE (trivial)", summary.get(f"payoff_diff_mse_{split}_trivial")),
            ("payoff-diff correlation", summary.get(f"payoff_diff_correlation_{split}")),
            ("KL shifted learner 0 (learned)", summary.get("kl_shifted_0")),
            ("KL shifted learner 0 (noise floor)", summary.get("kl_floor_0"))]
    return [(label, value) for label, value in rows if value is not None]


registry.SUMMARY_ROWS["inverse"] = summary_rows
registry.LOADERS["inverse"] = as_payoff_game


def save_plots(run_dir: str, mechanism_fn, problem: DIMLProblem, history: list) -> None:
    """``payoff_recovery.png``: training NLL per step and, when the truth is known, learned against
    true gauge-fixed payoffs on held-out contexts."""
    from mechjax.inverse import plots

    plots.payoff_recovery(os.path.join(run_dir, "payoff_recovery.png"), as_payoff_game(mechanism_fn, problem),
                          problem, history)


registry.PLOTS["inverse"] = save_plots
