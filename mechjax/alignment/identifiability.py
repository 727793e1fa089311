"""Pairs vs rankings: when one judgement per annotator identifies a mixture of preference types.

With one judgement per annotator, the data distribution is the mixture's law of a judgement on a
uniformly shown subset of ``k`` responses: the ``K(K-1)/2`` pairwise probabilities for pairs, and
``C(K, k) (k! - 1)`` free probabilities for k-wise rankings. A T-type mixture has ``T(K-1) + T-1``
parameters (each type's rewards up to a shift, and the weights), so pairs *cannot* identify it
when ``K(K-1)/2 < TK - 1`` (counting), and generically can only where the moment map's Jacobian has
full rank (computed here numerically at random parameters).

:func:`twin_mixtures` constructs two different K=3, T=2 mixtures with identical pairwise
probabilities: 5 parameters map to 3 pairwise probabilities, so every mixture lies on a
2-dimensional set of twins; we keep mixture A, perturb B's first type and weight, and solve the 3
equations "pairwise probabilities equal" for B's second type's two free rewards and B's weight.
"""

from __future__ import annotations

import itertools
from math import comb, factorial

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment.fit import best_restart, train_once
from mechjax.alignment.models import MixtureReward
from mechjax.alignment.populations import Population, pair_probabilities, ranking_probabilities
from mechjax.alignment.problem import EStep, MixtureProblem


def num_parameters(num_responses: int, num_types: int) -> int:
    return num_types * (num_responses - 1) + num_types - 1


def num_moments(num_responses: int, k: int) -> int:
    return comb(num_responses, k) * (factorial(k) - 1)


def _moments(theta, num_responses, num_types, k):
    r = np.concatenate([np.zeros((num_types, 1)), theta[: num_types * (num_responses - 1)].reshape(num_types, -1)], 1)
    logits = np.append(theta[num_types * (num_responses - 1):], 0.0)
    w = np.exp(logits - logits.max())
    pop = Population(r, w / w.sum(), 1.0)
    out = []
    for subset in itertools.combinations(range(num_responses), k):
        out.append(ranking_probabilities(pop, subset)[1][:-1])
    return np.concatenate(out)


def jacobian_rank(num_responses: int, num_types: int, k: int, seed: int = 0, eps: float = 1e-5) -> int:
    """Rank of the moment map's Jacobian at random parameters (central differences, float64)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=num_parameters(num_responses, num_types))
    cols = []
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = eps
        cols.append((_moments(theta + e, num_responses, num_types, k) - _moments(theta - e, num_responses, num_types, k)) / (2 * eps))
    jac = np.stack(cols, 1)
    s = np.linalg.svd(jac, compute_uv=False)
    return int((s > 1e-7 * s[0]).sum())


def counting_table(responses=range(3, 9), types=range(1, 5), ks=(2, 3)) -> list[dict]:
    """Parameters, moments and (for K <= 6) the generic Jacobian rank, per (K, T, k)."""
    rows = []
    for kk in responses:
        for t in types:
            row = {"K": kk, "T": t, "parameters": num_parameters(kk, t)}
            for k in ks:
                if k > kk:
                    continue
                row[f"moments_k{k}"] = num_moments(kk, k)
                if kk <= 6:
                    row[f"rank_k{k}"] = jacobian_rank(kk, t, k)
            rows.append(row)
    return rows


def twin_mixtures(seed: int = 0) -> tuple[Population, Population]:
    """Two different K=3, T=2 mixtures with the same pairwise probabilities (see the module docstring)."""
    from scipy.optimize import fsolve

    rng = np.random.default_rng(seed)
    a = Population(np.array([[0.0, 1.5, -1.5], [0.0, -1.0, 2.0]]), np.array([0.6, 0.4]), 1.0)
    target = pair_probabilities(a)[np.triu_indices(3, 1)]
    first = a.utilities[0] + np.array([0.0, 0.4, -0.3]) * (1 + 0.1 * rng.random())

    def residual(x):
        w = 1.0 / (1.0 + np.exp(-x[2]))
        pop = Population(np.stack([first, [0.0, x[0], x[1]]]), np.array([w, 1 - w]), 1.0)
        return pair_probabilities(pop)[np.triu_indices(3, 1)] - target

    x = fsolve(residual, np.array([-1.0, 2.0, 0.4]), xtol=1e-14)
    w = 1.0 / (1.0 + np.exp(-x[2]))
    b = Population(np.stack([first, [0.0, x[0], x[1]]]), np.array([w, 1 - w]), 1.0)
    return a, b


def three_way_distribution(pop: Population) -> np.ndarray:
    """The 6 ranking probabilities of the K=3 population's full rankings."""
    return ranking_probabilities(pop, range(3))[1]


def matched_errors(true_rewards, true_weights, rewards, weights) -> tuple[float, float]:
    """``(RMS reward error, max weight error)`` after centring and the best matching of types."""
    tr = true_rewards - true_rewards.mean(-1, keepdims=True)
    fr = rewards - rewards.mean(-1, keepdims=True)
    best = None
    for perm in itertools.permutations(range(len(tr))):
        err = np.sqrt(np.mean((fr[list(perm)] - tr) ** 2))
        if best is None or err < best[0]:
            best = (err, float(np.abs(weights[list(perm)] - true_weights).max()))
    return float(best[0]), best[1]


def em_on_population(pop: Population, k: int, num_annotators: int, seeds, judgements: int = 1, steps: int = 1500,
                     restarts: int = 3, batch: int = 8192, lr: float = 0.05) -> list[dict]:
    """EM (the shared trainer, one replica per seed) on annotators drawn from ``pop``.

    Every replica draws its own ``num_annotators`` annotators (``trainer.train_size``) and its own
    restarts. Returns per seed the recovered ``rewards``/``weights`` and their errors against
    ``pop`` (rewards on the identified scale: ``rationality * utilities``, centred).
    """
    batch = min(batch, num_annotators)
    batch -= batch % jax.device_count()
    problem = MixtureProblem(pop.num_types, pop.num_responses, utilities=pop.utilities,
                             log_weights=np.log(pop.weights), rationality=pop.rationality, judgements=judgements, k=k)
    factory = lambda rngs: MixtureReward(pop.num_types, pop.num_responses, restarts, rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, EStep(), steps, batch, lr, seed=int(seeds[0]),
                                num_seeds=len(seeds), train_size=num_annotators)
    truth = pop.rationality * pop.utilities
    out = []
    for i, seed in enumerate(seeds):
        rewards, log_w = trainer.outcome_fn(jax.tree.map(lambda x: x[i], state.params))(None)
        data = jax.tree.map(lambda x: x[i], state.data)
        best, _, loglik = best_restart(rewards, log_w, data)
        r, w = np.asarray(rewards[best], np.float64), np.exp(np.asarray(log_w[best], np.float64))
        err_r, err_w = matched_errors(truth, pop.weights, r, w)
        out.append({"seed": int(seed), "reward_error": err_r, "weight_error": err_w, "loglik": loglik,
                    "rewards": (r - r.mean(-1, keepdims=True)).tolist(), "weights": w.tolist()})
    return out


def adjusted_rand_index(labels_true, labels_pred) -> float:
    """Adjusted Rand index of two labelings (1 = identical partitions, about 0 = chance)."""
    a, b = np.asarray(labels_true), np.asarray(labels_pred)
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    pairs = lambda x: (x * (x - 1) / 2).sum()  # noqa: E731
    index, rows, cols, n = pairs(table), pairs(table.sum(1)), pairs(table.sum(0)), len(a)
    expected = rows * cols / (n * (n - 1) / 2)
    top = (rows + cols) / 2
    return float((index - expected) / (top - expected)) if top != expected else 1.0


def expected_loglik(pop: Population, truth: Population, k: int) -> float:
    """Expected log-likelihood per judgement of ``pop`` when data come from ``truth`` (all k-subsets)."""
    total, count = 0.0, 0
    for subset in itertools.combinations(range(truth.num_responses), k):
        _, p_true = ranking_probabilities(truth, subset)
        _, p_model = ranking_probabilities(pop, subset)
        total += float(p_true @ np.log(p_model))
        count += 1
    return total / count


def mixture_rewards(pop: Population) -> jnp.ndarray:
    return jnp.asarray(pop.rationality * pop.utilities)
