"""The alignment evaluator: a trained reward, mixture or policy measured against the generated truth.

* **reward**: which aggregation principle the fitted reward implements. Its order of the responses
  is compared (Kendall tau, and the top response) with the population's exact Borda scores,
  Copeland scores (majority relation of the exact pairwise probabilities), expected utility,
  and the Condorcet and Kemeny winners of the voting module on the profile of all K! rankings
  weighted by their Plackett-Luce probabilities (K <= 7). DPL heads add the r^2 diagnostic.
* **mixture**: recovered type rewards and weights against the truth (best matching of types,
  rewards centred on the identified scale ``rationality * utility``), and the adjusted Rand index
  of the annotators' assignment.
* **policy**: average and worst-type expected reward of the learned policy, next to the exact
  utilitarian and max-min policies (``policies``).
* **ideal_point**: the fitted prototype rewards against the true ones (best matching), the users'
  rewards (Kendall tau with the truth) and the pair accuracy on the training judgements next to
  the true rewards' accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import jax
import numpy as np

from mechjax.alignment import likelihoods as lik
from mechjax.alignment import policies
from mechjax.alignment.identifiability import adjusted_rand_index, matched_errors
from mechjax.alignment.populations import pair_probabilities, ranking_probabilities
from mechjax.alignment.social_choice import borda_scores
from mechjax.errors import ConfigError

PROFILE_MAX_RESPONSES = 7  # the exact profile has K! rankings


@dataclass(frozen=True)
class AlignmentEvalConfig:
    """``alignment_eval``: what the alignment evaluator measures.

    Attributes:
        rules: voting rules whose winner is compared with the fitted reward's top response
            (keys of ``mechjax.voting.rules.RULES``), on the exact profile (K <= 7).
        posterior_batch: annotators per compiled call of the mixture's posterior.
    """

    rules: tuple = ("borda", "copeland", "kemeny", "condorcet", "plurality")
    posterior_batch: int = 65536

    def __post_init__(self):
        from mechjax.voting.rules import RULES

        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            raise ConfigError(f"alignment_eval.rules: unknown rules {unknown}; expected some of {sorted(RULES)}")
        if self.posterior_batch < 1:
            raise ConfigError(f"alignment_eval.posterior_batch must be >= 1, got {self.posterior_batch}")


def kendall_tau(x, y) -> float:
    """Kendall's tau-a between two score vectors (ties count as disagreement-free zero)."""
    x, y = np.asarray(x), np.asarray(y)
    i, j = np.triu_indices(len(x), 1)
    s = np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return float(s.mean())


def reward_report(rewards, population, rules=AlignmentEvalConfig.rules) -> dict:
    """Agreement of ``rewards [K]`` with the population's aggregation rules and expected utility."""
    from mechjax.voting.rules import RULES

    probs = pair_probabilities(population)
    borda = borda_scores(probs)
    copeland = (probs > 0.5).sum(-1) - (probs < 0.5).sum(-1)
    expected = population.weights @ population.utilities
    out = {"kendall_borda": kendall_tau(rewards, borda), "kendall_copeland": kendall_tau(rewards, copeland),
           "kendall_expected_utility": kendall_tau(rewards, expected),
           "top_is_borda_winner": bool(np.argmax(rewards) in np.flatnonzero(np.isclose(borda, borda.max()))),
           "top_is_utility_maximiser": bool(np.argmax(rewards) == np.argmax(expected))}
    k = population.num_responses
    if k <= PROFILE_MAX_RESPONSES:
        orders, p = ranking_probabilities(population, range(k))
        weights = np.maximum(np.round(p * 1e6), 0).astype(np.int32)
        profile, top = orders[None].astype(np.int32), int(np.argmax(rewards))
        winners = {}
        for rule in rules:
            if rule == "kemeny" and k > 7:
                continue
            w = np.asarray(RULES[rule](profile, weights[None]))[0]
            winners[rule] = np.flatnonzero(w).tolist()
            out[f"top_is_{rule}_winner"] = bool(w[top]) if w.any() else None
        out["winners"] = winners
    return out


def evaluate_alignment(mechanism_fn, task, cfg: Optional[AlignmentEvalConfig] = None) -> dict:
    """Measures a trained alignment mechanism on its task's generated truth (see the module docstring)."""
    cfg = cfg or AlignmentEvalConfig()
    c, pop = task.config, task.population
    summary = {"task": c.task, "num_types": c.num_types, "num_responses": c.num_responses}
    if c.task == "reward":
        out = np.asarray(mechanism_fn(None))
        if c.likelihood == "categorical":
            mean, var = lik.categorical_moments(out)
        else:
            mean = out[:, 0]
            var = np.exp(2 * out[:, 1]) if c.likelihood == "mean_variance" else None
        summary.update(reward_report(np.asarray(mean), pop, cfg.rules))
        if var is not None:
            r2, _ = lik.explained_variance(mean, var)
            summary["r2"] = float(r2)
        summary["rewards"] = np.asarray(mean).tolist()
    elif c.task == "ideal_point":
        summary.update(ideal_point_report(mechanism_fn, task))
    elif c.task == "mixture":
        from mechjax.alignment.fit import best_restart

        rewards, log_w = mechanism_fn(None)
        data = jax.tree.map(np.asarray, task.problem.data)
        best, logp, loglik = best_restart(rewards, log_w, data)
        r, w = np.asarray(rewards[best], np.float64), np.exp(np.asarray(log_w[best], np.float64))
        err_r, err_w = matched_errors(pop.rationality * pop.utilities, pop.weights, r, w)
        types = task.data.types[np.r_[0, np.flatnonzero(np.diff(task.data.annotator)) + 1]]
        summary.update(reward_error=err_r, weight_error=err_w, loglik=loglik,
                       assignment_ari=adjusted_rand_index(types, logp[: len(types)].argmax(-1)),
                       rewards=(r - r.mean(-1, keepdims=True)).tolist(), weights=w.tolist())
    else:
        policy = np.asarray(mechanism_fn(None), np.float64)
        truth, ref, beta = task.problem.rewards, task.problem.reference, task.problem.beta
        exact = {"utilitarian": policies.utilitarian_policy(truth, pop.weights, ref, beta),
                 "maxmin": policies.maxmin_policy(truth, ref, beta)}
        values = policies.policy_values(policy, truth, ref, beta)
        summary.update(worst_type_value=float(values.min()), average_value=float(pop.weights @ values),
                       policy=policy.tolist())
        for name, pi in exact.items():
            v = policies.policy_values(pi, truth, ref, beta)
            summary[f"{name}_worst_type_value"] = float(v.min())
            summary[f"{name}_average_value"] = float(pop.weights @ v)
        target = "maxmin" if c.principle == "egalitarian" else "utilitarian"
        summary["gap_to_exact"] = float(abs(summary[f"{target}_worst_type_value" if target == "maxmin"
                                                    else f"{target}_average_value"]
                                            - (summary["worst_type_value"] if target == "maxmin"
                                               else summary["average_value"])))
    return summary


def ideal_point_report(mechanism_fn, task) -> dict:
    """Prototype recovery, user-reward agreement and pair accuracy of a trained ideal-point model."""
    from mechjax.alignment.ideal_point_study import pair_accuracy, prototype_recovery

    pop, data = task.population, task.data
    out = mechanism_fn(None)
    rewards, fitted = np.asarray(out[0], np.float64), np.asarray(out[2], np.float64)  # [U, K], [T, K]
    rec = prototype_recovery(pop.prototype_rewards(), fitted - fitted.mean(-1, keepdims=True))
    out = {"prototype_rms_error": rec["rms_error"], "prototype_relative_error": rec["relative_error"],
           "prototype_min_correlation": rec["min_correlation"],
           "prototype_rewards": (fitted - fitted.mean(-1, keepdims=True)).tolist()}
    truth = pop.user_rewards()
    pairs = data.rankings[:, :2]
    out.update(user_kendall=float(np.mean([kendall_tau(r, t) for r, t in zip(rewards[:200], truth[:200])])),
               pair_accuracy=pair_accuracy(rewards[data.annotator], pairs),
               oracle_pair_accuracy=pair_accuracy(truth[data.annotator], pairs))
    return out
