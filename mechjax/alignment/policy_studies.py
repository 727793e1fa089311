"""Who a policy leaves behind: utilitarian vs egalitarian (max-min) vs MMRA, against generated truth.

:func:`opposed_population`: two types with opposed preferences on part of the responses (each
loves two responses the other dislikes) and a shared, moderately liked middle ground, at a given
group ratio. :func:`egalitarian_study` generates annotators, fits (a) one pooled Plackett-Luce
reward (RLHF's single reward model) and (b) the EM mixture, builds the utilitarian and max-min
policies from the fitted rewards, and scores them with the *true* rewards.
:func:`mmra_study` compares worst-type regret of MMRA, the utilitarian, the max-min and every
single-type policy.
"""

from __future__ import annotations

import numpy as np

from mechjax.alignment import fit, policies
from mechjax.alignment.identifiability import matched_errors
from mechjax.alignment.populations import Population, sample_judgements

# type A loves responses 0-1, type B loves 2-3; both moderately like 4-5
OPPOSED = np.array([[1.0, 0.9, 0.0, 0.1, 0.6, 0.55],
                    [0.0, 0.1, 1.0, 0.9, 0.6, 0.55]])


def opposed_population(ratio: float, rationality: float = 4.0) -> Population:
    """The two opposed types at group ratio ``ratio : 1`` (majority first)."""
    w = np.array([ratio, 1.0]) / (ratio + 1.0)
    return Population(OPPOSED, w, rationality)


def score(policy, rewards, weights) -> dict:
    """Average (population-weighted) and worst-type expected true reward of ``policy``."""
    values = rewards @ policy
    return {"average": float(weights @ values), "worst": float(values.min())}


def egalitarian_study(ratios=(1.0, 3.0, 10.0), seeds=(0,), beta: float = 0.5, annotators: int = 2000,
                      judgements: int = 5, k: int = 3, steps: int = 1000) -> list[dict]:
    """Per ratio and seed: average and worst-type true reward of utilitarian and max-min policies."""
    import jax

    rows = []
    for ratio in ratios:
        pop = opposed_population(ratio)
        truth = pop.rationality * pop.utilities  # the identified (logit) scale
        ref = np.full(pop.num_responses, 1.0 / pop.num_responses)
        oracle = {"utilitarian": policies.utilitarian_policy(truth, pop.weights, ref, beta),
                  "maxmin": policies.maxmin_policy(truth, ref, beta)}
        for seed in seeds:
            data = sample_judgements(pop, jax.random.key(seed), annotators, judgements, k)
            pooled = fit.fit_reward(data.rankings, pop.num_responses, "plackett_luce", steps=steps, seed=seed)
            mix = fit.fit_mixture_full(data.rankings, data.annotator, pop.num_responses, 2, jax.random.key(seed),
                                       steps=steps)
            learned = {"rlhf_single_reward": policies.utilitarian_policy(pooled[None], np.ones(1), ref, beta),
                       "utilitarian_em": policies.utilitarian_policy(mix.rewards, mix.weights, ref, beta),
                       "maxmin_em": policies.maxmin_policy(mix.rewards, ref, beta)}
            row = {"ratio": ratio, "seed": seed, "beta": beta,
                   "em_reward_error": matched_errors(truth, pop.weights, mix.rewards, mix.weights)[0]}
            for name, pi in {**{f"{n}_oracle": p for n, p in oracle.items()}, **learned}.items():
                row[name] = score(pi, truth, pop.weights)
            rows.append(row)
    return rows


def mmra_row(rewards, weights, reference, beta) -> dict:
    """Worst-type regret of MMRA, the utilitarian, the max-min and each single-type policy."""
    candidates = {"mmra": policies.mmra_policy(rewards, reference, beta),
                  "mmra_linear_mixture": policies.mmra_policy(rewards, reference, beta, mixture="linear"),
                  "utilitarian": policies.utilitarian_policy(rewards, weights, reference, beta),
                  "maxmin": policies.maxmin_policy(rewards, reference, beta)}
    for t, pi in enumerate(policies.type_policies(rewards, reference, beta)):
        candidates[f"type_{t}"] = pi
    return {name: float(policies.regrets(pi, rewards, reference, beta).max()) for name, pi in candidates.items()}


def mmra_study(ratios=(1.0, 3.0, 10.0), beta: float = 0.5, random_instances: int = 200, seed: int = 0) -> dict:
    """MMRA on the opposed population at each ratio, and on random populations (T 2-4, K 3-8)."""
    rows = []
    for ratio in ratios:
        pop = opposed_population(ratio)
        ref = np.full(pop.num_responses, 1.0 / pop.num_responses)
        rows.append({"ratio": ratio, **mmra_row(pop.rationality * pop.utilities, pop.weights, ref, beta)})
    rng = np.random.default_rng(seed)
    beats_util = beats_single = linear_le_util = 0
    margins = []
    for _ in range(random_instances):
        t, kk = int(rng.integers(2, 5)), int(rng.integers(3, 9))
        r = rng.normal(size=(t, kk)) * 2
        w = rng.dirichlet(np.ones(t))
        ref = rng.dirichlet(np.ones(kk) * 2)
        row = mmra_row(r, w, ref, beta)
        single = min(v for name, v in row.items() if name.startswith("type_"))
        linear_le_util += row["mmra_linear_mixture"] <= row["utilitarian"] + 1e-9
        beats_util += row["mmra"] <= row["utilitarian"] + 1e-9
        beats_single += row["mmra"] <= single + 1e-9
        margins.append(row["utilitarian"] - row["mmra"])
    return {"rows": rows, "random_instances": random_instances, "mmra_le_utilitarian": int(beats_util),
            "mmra_le_every_single_type": int(beats_single), "linear_mixture_le_utilitarian": int(linear_le_util), "min_margin_vs_utilitarian": float(np.min(margins))}
