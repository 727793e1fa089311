"""Evaluating a delegation rule, learned or classical, on held-out networks.

On ``graphs`` networks drawn like the training ones (from ``seed``, a key no training run uses)
it reports, for the rule and for every baseline in ``rules`` on the same networks:

* ``accuracy``: probability of a correct decision, exact for each drawn delegation graph and
  averaged over ``draws`` graphs per network (a deterministic rule needs one);
* the paired difference to direct voting (mean and standard error over networks);
* ``expected_max_weight``: the largest expected weight of any voter, worst network
  (``max``) and mean, and whether it respects the problem's cap (``cap_respected``:
  every network's max expected weight <= cap + ``cap_tolerance``; ``cap_respected_fraction``: the
  fraction of networks where it holds);
* ``realized_max_weight`` (mean over networks and draws) and the fraction of draws in which
  some voter holds more than the cap (the cap is on expectations, draws may exceed it);
* Gini of the weights and the number of casters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.delegation.policy import draw_accuracy, expected_weight, sample_delegates, weights_of
from mechjax.delegation.power import gini
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


def _measure(policy_fn: Callable, cap: float, draws: int):
    @jax.jit
    def run(key, batch):
        policy = policy_fn(batch.inputs)
        weights = weights_of(sample_delegates(key, policy, draws))  # [draws, b, n]
        load = expected_weight(policy, method="iterate")
        return {
            "accuracy": draw_accuracy(weights, batch.competence).mean(0),
            "expected_max_weight": load.max(-1),
            "realized_max_weight": weights.max(-1).astype(jnp.float32).mean(0),
            "over_cap": (weights.max(-1) > cap).astype(jnp.float32).mean(0),
            "gini": gini(weights).mean(0),
            "casters": (weights > 0).sum(-1).astype(jnp.float32).mean(0),
        }
    return run


def _summarise(per_graph: dict, direct: Optional[np.ndarray], cap: float, tol: float) -> dict:
    acc = per_graph["accuracy"]
    out = {
        "accuracy": float(acc.mean()),
        "accuracy_se": float(acc.std() / np.sqrt(len(acc))),
        "expected_max_weight_mean": float(per_graph["expected_max_weight"].mean()),
        "expected_max_weight_max": float(per_graph["expected_max_weight"].max()),
        "cap_respected": bool(per_graph["expected_max_weight"].max() <= cap + tol),
        "cap_respected_fraction": float(np.mean(per_graph["expected_max_weight"] <= cap + tol)),
        "realized_max_weight_mean": float(per_graph["realized_max_weight"].mean()),
        "draws_over_cap": float(per_graph["over_cap"].mean()),
        "gini": float(per_graph["gini"].mean()),
        "casters": float(per_graph["casters"].mean()),
    }
    if direct is not None:
        diff = acc - direct
        out["gain_over_direct"] = float(diff.mean())
        out["gain_over_direct_se"] = float(diff.std() / np.sqrt(len(diff)))
    return out


def evaluate_delegation(mechanism_fn: Callable, problem, cfg: DelegationEvalConfig) -> dict:
    """Measures ``mechanism_fn`` (``DelegationInputs -> policy``) and the baselines on held-out networks.

    Returns:
        ``{"accuracy", "gain_over_direct", "expected_max_weight_max", "cap_respected", ...,
        "rules": {name: same keys}, "graphs", "draws", "cap", "eval_seed"}``.
    """
    cap = float(problem.cap)
    fns = {"mechanism": mechanism_fn}
    for rule in cfg.rules:
        fns[rule] = make_rule(rule, cfg.alpha, cfg.threshold, cfg.prob, cfg.temperature, cap)
    fns.setdefault("direct", make_rule("direct"))
    measured = {name: _measure(fn, cap, cfg.draws) for name, fn in fns.items()}
    collected = {name: [] for name in fns}
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
    summary = _summarise(per_graph["mechanism"], direct, cap, cfg.cap_tolerance)
    summary["rules"] = {rule: _summarise(per_graph[rule], direct, cap, cfg.cap_tolerance) for rule in cfg.rules}
    summary.update(graphs=cfg.graphs, draws=cfg.draws, cap=cap, eval_seed=cfg.seed,
                   num_voters=problem.num_voters, family=problem.family)
    return summary
