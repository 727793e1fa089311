"""Evaluating a delegation rule, learned or classical, on held-out networks.

On ``graphs`` networks drawn like the training ones (from ``seed``, a key no training run uses)
it reports, for the rule and for every baseline in ``rules`` on the same networks:

* ``accuracy``: probability of a correct decision, exact for each drawn delegation graph and
  averaged over ``draws`` graphs per network (a deterministic rule needs one), of the graphs the
  rule *deploys*: for the evaluated mechanism, the drawn graphs after the cap repair when
  ``problem.repair`` is on (``repair.py``); for the baselines, the drawn graphs as the rules define
  them;
* the paired difference to direct voting (mean and standard error over networks);
* the cap, in the strong sense that fits a random rule: ``cap_respected`` is True when in *every*
  drawn graph of *every* network every caster holds at most ``cap`` votes
  (``realized_max_weight_max`` is the worst such weight; ``draws_over_cap`` the fraction of drawn
  graphs where some caster holds more; ``cap_respected_fraction`` the fraction of networks whose
  every draw respects it). Respected in every draw, the cap also bounds every expected weight;
* ``expected_max_weight``: the policy's largest expected weight before any repair (exact; what
  training's constraint bounds), worst network (``max``) and mean, and ``cap_respected_expected``
  (every network's max expected weight <= cap + ``cap_tolerance``);
* what the repair does, for every rule, on the same draws: ``repair_fires`` (fraction of drawn
  graphs it changes), ``repaired_voters`` (fraction of voters it turns from delegating to casting),
  ``accuracy_unrepaired`` / ``accuracy_repaired`` and ``repair_cost`` (their paired difference,
  mean and standard error over networks);
* Gini of the deployed weights and the number of casters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.delegation.policy import draw_accuracy, expected_weight, sample_delegates, weights_of
from mechjax.delegation.power import gini
from mechjax.delegation.repair import repair_delegates
from mechjax.delegation.rules import RULE_NAMES, make_rule
from mechjax.errors import ConfigError


@dataclass(frozen=True)
class DelegationEvalConfig:
    """``delegation_eval``: held-out networks and the baselines measured beside the rule.

    Attributes:
        seed: seed of the held-out networks.
        graphs: number of held-out networks.
        draws: delegation graphs drawn per network.
        chunk_size: networks per compiled call.
        rules: baselines (names of ``rules.RULE_NAMES``) evaluated on the same networks.
        alpha: approval margin of the baselines.
        threshold: ``local_best``'s minimum number of approved neighbours.
        prob: ``local_random``'s delegation probability.
        temperature: ``weighted``'s temperature.
        cap_tolerance: slack when checking the cap (float rounding).
    """

    seed: int = 2_000_003
    graphs: int = 2000
    draws: int = 32
    chunk_size: int = 500
    rules: Sequence[str] = ("direct", "local_best", "local_random", "weighted", "greedy_cap")
    alpha: float = 0.05
    threshold: int = 1
    prob: float = 0.5
    temperature: float = 0.05
    cap_tolerance: float = 1e-3

    def __post_init__(self):
        for name in ("graphs", "draws", "chunk_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"delegation_eval.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"delegation_eval.seed must be a non-negative integer, got {self.seed!r}")
        for rule in self.rules:
            if rule not in RULE_NAMES:
                raise ConfigError(f"delegation_eval.rules: unknown rule {rule!r}; expected some of {RULE_NAMES}")
        if self.alpha < 0:
            raise ConfigError(f"delegation_eval.alpha must be >= 0, got {self.alpha}")
        if not 0 <= self.prob <= 1:
            raise ConfigError(f"delegation_eval.prob must be in [0, 1], got {self.prob}")
        if not self.temperature > 0:
            raise ConfigError(f"delegation_eval.temperature must be > 0, got {self.temperature}")
        if self.cap_tolerance < 0:
            raise ConfigError(f"delegation_eval.cap_tolerance must be >= 0, got {self.cap_tolerance}")


def _measure(policy_fn: Callable, cap: float, draws: int, repair: bool):
    @jax.jit
    def run(key, batch):
        policy = policy_fn(batch.inputs)
        drawn = sample_delegates(key, policy, draws)  # [draws, b, n]
        repaired, rejected = repair_delegates(drawn, batch.inputs.estimate, cap)
        raw_w, fixed_w = weights_of(drawn), weights_of(repaired)
        raw_acc, fixed_acc = draw_accuracy(raw_w, batch.competence), draw_accuracy(fixed_w, batch.competence)
        weights = fixed_w if repair else raw_w
        worst = weights.max(-1)  # [draws, b]
        return {
            "accuracy": (fixed_acc if repair else raw_acc).mean(0),
            "accuracy_unrepaired": raw_acc.mean(0),
            "accuracy_repaired": fixed_acc.mean(0),
            "expected_max_weight": expected_weight(policy, method="iterate").max(-1),
            "realized_max_weight": worst.astype(jnp.float32).mean(0),
            "realized_max_weight_worst": worst.max(0),
            "over_cap": (worst > cap).astype(jnp.float32).mean(0),
            "repair_fires": rejected.any(-1).astype(jnp.float32).mean(0),
            "repaired_voters": rejected.astype(jnp.float32).mean((0, -1)),
            "gini": gini(weights).mean(0),
            "casters": (weights > 0).sum(-1).astype(jnp.float32).mean(0),
        }
    return run


@functools.lru_cache(maxsize=32)
def _baseline(rule: str, alpha: float, threshold: int, prob: float, temperature: float, cap: float, draws: int):
    # a baseline's compiled measurement depends only on these settings: kept across evaluations
    return _measure(make_rule(rule, alpha, threshold, prob, temperature, cap), cap, draws, False)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std() / np.sqrt(len(x)))


def _summarise(per_graph: dict, direct: Optional[np.ndarray], cap: float, tol: float, repair: bool) -> dict:
    acc = per_graph["accuracy"]
    worst = per_graph["realized_max_weight_worst"]
    out = {
        "accuracy": float(acc.mean()),
        "accuracy_se": float(acc.std() / np.sqrt(len(acc))),
        "repair": repair,
        "cap_respected": bool(worst.max() <= cap),
        "cap_respected_fraction": float(np.mean(worst <= cap)),
        "realized_max_weight_max": float(worst.max()),
        "realized_max_weight_mean": float(per_graph["realized_max_weight"].mean()),
        "draws_over_cap": float(per_graph["over_cap"].mean()),
        "expected_max_weight_mean": float(per_graph["expected_max_weight"].mean()),
        "expected_max_weight_max": float(per_graph["expected_max_weight"].max()),
        "cap_respected_expected": bool(per_graph["expected_max_weight"].max() <= cap + tol),
        "accuracy_unrepaired": float(per_graph["accuracy_unrepaired"].mean()),
        "accuracy_repaired": float(per_graph["accuracy_repaired"].mean()),
        "repair_fires": float(per_graph["repair_fires"].mean()),
        "repaired_voters": float(per_graph["repaired_voters"].mean()),
        "gini": float(per_graph["gini"].mean()),
        "casters": float(per_graph["casters"].mean()),
    }
    out["repair_cost"], out["repair_cost_se"] = _mean_se(per_graph["accuracy_unrepaired"] - per_graph["accuracy_repaired"])
    if direct is not None:
        out["gain_over_direct"], out["gain_over_direct_se"] = _mean_se(acc - direct)
    return out


def evaluate_delegation(mechanism_fn: Callable, problem, cfg: DelegationEvalConfig) -> dict:
    """Measures ``mechanism_fn`` (``DelegationInputs -> policy``) and the baselines on held-out networks.

    Returns:
        ``{"accuracy", "gain_over_direct", "cap_respected", "realized_max_weight_max",
        "expected_max_weight_max", "repair_fires", "repair_cost", ..., "rules": {name: same keys},
        "graphs", "draws", "cap", "eval_seed"}`` (the keys are described in the module doc).
    """
    cap = float(problem.cap)
    # the mechanism is deployed as the problem says (cap-repaired by default); baselines as defined
    repair = {"mechanism": bool(getattr(problem, "repair", False))}
    measured = {"mechanism": _measure(mechanism_fn, cap, cfg.draws, repair["mechanism"])}
    for rule in (*cfg.rules, "direct"):
        repair[rule] = False
        measured[rule] = _baseline(rule, cfg.alpha, cfg.threshold, cfg.prob, cfg.temperature, cap, cfg.draws)
    collected = {name: [] for name in measured}
    key = jax.random.key(cfg.seed)
    done = 0
    while done < cfg.graphs:
        size = min(cfg.chunk_size, cfg.graphs - done)
        k_data, k_draw = jax.random.split(jax.random.fold_in(key, done))
        batch = problem.sample(k_data, size)
        for name, run in measured.items():  # the same networks and draw keys for every rule
            collected[name].append(jax.device_get(run(k_draw, batch)))
        done += size
    per_graph = {name: {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
                 for name, chunks in collected.items()}
    direct = per_graph["direct"]["accuracy"]
    summary = _summarise(per_graph["mechanism"], direct, cap, cfg.cap_tolerance, repair["mechanism"])
    summary["rules"] = {rule: _summarise(per_graph[rule], direct, cap, cfg.cap_tolerance, False) for rule in cfg.rules}
    summary.update(graphs=cfg.graphs, draws=cfg.draws, cap=cap, eval_seed=cfg.seed,
                   num_voters=problem.num_voters, family=problem.family)
    return summary
