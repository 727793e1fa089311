"""EM mixtures of Plackett-Luce on real PrefLib rankings: held-out log-likelihood per voter for T types.

Sushi (``preflib-extra/00014-00000002.soi``): 5,000 people each ranked the 10 sushi they were shown
out of 100, so a row is a ranking of its *shown* responses (the contract's meaning). Netflix
(``preflib/00004-*.soc``): complete rankings of 3 or 4 movies. Voters are split at random into
80% training and 20% held out (one split per seed); a T-type mixture is fitted by EM on the
training voters and scored by the mean log-likelihood per held-out voter
``log sum_t w_t P_t(ranking)``.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment.data import read_soi
from mechjax.alignment.fit import fit_mixture_full, group_by_annotator
from mechjax.alignment.problem import posterior

SUSHI = os.path.join("preflib-extra", "00014-00000002.soi")
NETFLIX = tuple(os.path.join("preflib", f"00004-{i:08d}.soc") for i in (6, 7, 102, 103))


def heldout_loglik(rankings, rewards, weights) -> float:
    """Mean log-likelihood per held-out voter (one ranking each) under the mixture."""
    data, _ = group_by_annotator(rankings, np.arange(len(rankings)))
    data = jax.tree.map(jnp.asarray, data)
    _, marginal = jax.jit(posterior)(jnp.asarray(rewards)[None], jnp.log(jnp.asarray(weights))[None], data)
    w = np.asarray(data.weight)
    return float((w * np.asarray(marginal)[:, 0]).sum() / w.sum())


def real_study(data_dir: str, files=(SUSHI,) + NETFLIX, types=(1, 2, 3, 4), seeds=(0,), steps: int = 800,
               restarts: int = 3) -> list[dict]:
    """Per file, T and seed: training and held-out log-likelihood per voter."""
    rows = []
    for name in files:
        data = read_soi(os.path.join(data_dir, name))
        n = len(data.rankings)
        for seed in seeds:
            perm = np.random.default_rng(seed).permutation(n)
            test, train = perm[: n // 5], perm[n // 5:]
            for t in types:
                fit = fit_mixture_full(data.rankings[train], np.arange(len(train)), data.num_responses, t,
                                       jax.random.key(seed), steps=steps, restarts=restarts if t > 1 else 1,
                                       batch_size=4096)
                rows.append({"file": name, "voters": n, "K": data.num_responses, "k": data.rankings.shape[1],
                             "T": t, "seed": seed, "train_loglik": fit.loglik,
                             "heldout_loglik": heldout_loglik(data.rankings[test], fit.rewards, fit.weights),
                             "weights": sorted(fit.weights.tolist(), reverse=True)})
    return rows
