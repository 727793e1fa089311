"""The public fitting functions; each builds a Problem and a mechanism and trains them with ``make_train``.

* :func:`fit_reward`: BTL (pairs) or Plackett-Luce (rankings) rewards ``[K]``.
* :func:`fit_exact_btl`: BTL on the exact pairwise probabilities of many populations at once.
* :func:`fit_distributional`: DPL (mean-variance or categorical) on weighted pairs.
* :func:`fit_mixture` / :func:`fit_mixture_full`: a T-type Plackett-Luce mixture by EM.

Training is one jitted chunk of ``steps`` outer steps of the shared trainer (no run directory; the
front door's presets train the same problems with checkpoints).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mechjax.alignment.data import check_preferences, compact_annotators
from mechjax.alignment.models import BatchedRewardTable, MixtureReward, RewardModel
from mechjax.alignment.populations import check_sizes
from mechjax.alignment.problem import (
    AnnotatorBatch,
    BatchedPairsProblem,
    EStep,
    MixtureProblem,
    PreferenceProblem,
    posterior,
)
from mechjax.core.constraints import Unconstrained
from mechjax.core.loop import replica_keys
from mechjax.core.trainer import TrainerConfig, make_train
from mechjax.core.types import NoInner
from mechjax.errors import ConfigError, DataError

MODELS = ("btl", "plackett_luce")


def _pad(n: int) -> int:
    d = jax.device_count()
    return -(-n // d) * d


def train_once(problem, mechanism, inner, steps: int, batch_size: int, lr: float, seed: int = 0,
               num_seeds: int = 1, train_size: int = 0, schedule: str = "cosine"):
    """Trains ``steps`` outer steps in one chunk; returns ``(trainer, state)`` (leading axis = seeds)."""
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    if not lr > 0:
        raise ConfigError(f"lr must be > 0, got {lr}")
    cfg = TrainerConfig(steps=steps, batch_size=batch_size, steps_per_chunk=steps, checkpoint_every=steps,
                        train_size=train_size, num_seeds=num_seeds)
    rate = optax.cosine_decay_schedule(lr, steps, alpha=0.01) if schedule == "cosine" else lr
    trainer = make_train(problem, mechanism, inner, Unconstrained(), optax.adam(rate), cfg)
    keys = replica_keys(seed, num_seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    state, _ = trainer.chunk(state, jax.vmap(lambda k: jax.random.fold_in(jax.random.fold_in(k, 1), 0))(keys))
    return trainer, state


def _outcome(trainer, state, replica: int = 0):
    return trainer.outcome_fn(jax.tree.map(lambda x: x[replica], state.params))


def _weighted(rankings, weights):
    n = len(rankings)
    size = _pad(n)
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all():
        raise DataError(f"weights must be [n] = [{n}] finite and >= 0, got shape {w.shape}")
    rankings = np.concatenate([rankings, np.repeat(rankings[:1], size - n, 0)])
    return rankings, np.concatenate([w, np.zeros(size - n)]).astype(np.float32)


def fit_reward(rankings, num_responses: int, model: str = "btl", *, weights=None, features=None,
               steps: int = 2000, lr: float = 0.05, l2: float = 1e-4, seed: int = 0) -> np.ndarray:
    """Maximum-likelihood rewards of responses from judgements.

    Args:
        rankings: ``int [n, k]`` judgements, best first (``k = 2`` for ``model="btl"``).
        num_responses: K.
        model: ``btl`` (pairwise Bradley-Terry-Luce) or ``plackett_luce`` (rankings of any k >= 2).
        weights: optional ``[n]`` judgement weights (e.g. exact probabilities).
        features: optional ``[K, d]`` response features: the reward is then an MLP of them.
        steps, lr, l2, seed: training settings (Adam, full batch, cosine decay).

    Returns:
        ``rewards [K]`` (numpy), centred to mean 0.

    Raises:
        DataError / ConfigError: bad judgements, an unknown model, pairs required for ``btl``.
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {MODELS}, got {model!r}")
    rankings, _ = check_preferences(rankings, num_responses)
    if model == "btl" and rankings.shape[1] != 2:
        raise DataError(f"model='btl' fits pairs: rankings must be [n, 2], got k={rankings.shape[1]}; "
                        "use model='plackett_luce' for rankings")
    if features is not None and np.shape(features)[0] != num_responses:
        raise DataError(f"features must be [num_responses={num_responses}, d], got {np.shape(features)}")
    rankings, w = _weighted(rankings, weights)
    problem = PreferenceProblem(rankings, w, "plackett_luce", l2)
    factory = lambda rngs: RewardModel(num_responses, "point", features, rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, NoInner(), steps, len(rankings), lr, seed)
    r = np.asarray(_outcome(trainer, state)(None))[:, 0]
    return r - r.mean()


def fit_distributional(pairs, num_responses: int, head: str = "mean_variance", *, weights=None, atoms: int = 10,
                       steps: int = 3000, lr: float = 0.05, seed: int = 0) -> dict:
    """Distributional preference learning on pairs: each response gets a utility distribution.

    Returns:
        ``{"mean": [K], "variance": [K], "r2": float, "r2_per_response": [K]}`` (numpy); for the
        categorical head also ``"probs" [K, atoms]``.
    """
    from mechjax.alignment import likelihoods as lik

    if head not in ("mean_variance", "categorical"):
        raise ConfigError(f"head must be mean_variance or categorical, got {head!r}")
    pairs, _ = check_preferences(pairs, num_responses, field="pairs")
    if pairs.shape[1] != 2:
        raise DataError(f"pairs must be [n, 2], got k={pairs.shape[1]}")
    pairs, w = _weighted(pairs, weights)
    problem = PreferenceProblem(pairs, w, head, 1e-4)
    factory = lambda rngs: RewardModel(num_responses, head, atoms=atoms, rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, NoInner(), steps, len(pairs), lr, seed)
    out = _outcome(trainer, state)(None)
    if head == "mean_variance":
        mean, var = out[:, 0], jnp.exp(2 * out[:, 1])
        result = {}
    else:
        mean, var = lik.categorical_moments(out)
        result = {"probs": np.asarray(jax.nn.softmax(out, -1))}
    r2, r2_each = lik.explained_variance(mean, var)
    return {**result, "mean": np.asarray(mean), "variance": np.asarray(var), "r2": float(r2),
            "r2_per_response": np.asarray(r2_each)}


def fit_exact_btl(probs, mask, steps: int = 3000, lr: float = 0.05, l2: float = 1e-6) -> np.ndarray:
    """BTL rewards of P populations from their exact pairwise probabilities, fitted side by side.

    Args:
        probs: ``[P, K, K]`` probability that i beats j (rows/columns of padding ignored).
        mask: ``bool [P, K]`` real responses of each population.

    Returns:
        ``rewards [P, K]`` (0 on padding).
    """
    probs, mask = np.asarray(probs, np.float32), np.asarray(mask, bool)
    p = len(probs)
    size = _pad(p)
    probs = np.concatenate([probs, np.zeros((size - p,) + probs.shape[1:], np.float32)])
    mask = np.concatenate([mask, np.zeros((size - p, mask.shape[1]), bool)])
    problem = BatchedPairsProblem(probs, mask, l2)
    factory = lambda rngs: BatchedRewardTable(size, probs.shape[1], rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, NoInner(), steps, size, lr)
    return np.where(mask, np.asarray(_outcome(trainer, state)(None)), 0.0)[:p]


# ----------------------------------------------------------------------------- mixtures

class MixtureFit(NamedTuple):
    """A fitted T-type mixture (numpy).

    Attributes:
        rewards: ``[T, K]`` each type's rewards, centred.
        weights: ``[T]`` mixing weights.
        assignment: ``[num_annotators]`` each annotator's most likely type.
        posterior: ``[num_annotators, T]``.
        loglik: mean marginal log-likelihood per annotator (training data).
    """

    rewards: np.ndarray
    weights: np.ndarray
    assignment: np.ndarray
    posterior: np.ndarray
    loglik: float


def group_by_annotator(rankings, annotator) -> tuple[AnnotatorBatch, np.ndarray]:
    """``(AnnotatorBatch [A, m_max, k], ids [A])`` with every annotator's judgements in one row."""
    ids, dense = compact_annotators(annotator)
    counts = np.bincount(dense, minlength=len(ids))
    order = np.argsort(dense, kind="stable")
    slot = np.arange(len(dense)) - np.repeat(np.cumsum(counts) - counts, counts)
    a, m, k = len(ids), int(counts.max()), rankings.shape[1]
    size = _pad(a)
    grid = np.zeros((size, m, k), np.int32)
    grid[:] = np.arange(k, dtype=np.int32)
    valid = np.zeros((size, m), bool)
    grid[dense[order], slot] = rankings[order]
    valid[dense[order], slot] = True
    weight = (np.arange(size) < a).astype(np.float32)
    return AnnotatorBatch(grid, valid, weight), ids


def best_restart(rewards, log_weights, data: AnnotatorBatch):
    """Index of the restart with the highest likelihood, and the posterior and log-likelihoods."""
    logp, marginal = jax.jit(posterior)(rewards, log_weights, data)
    w = np.asarray(data.weight)[:, None]
    total = np.sum(w * np.asarray(marginal), 0) / w.sum()
    best = int(np.argmax(total))
    return best, np.asarray(logp[:, best]), float(total[best])


def fit_mixture_full(rankings, annotator, num_responses: int, num_types: int, key=None, *, steps: int = 1500,
                     restarts: int = 4, lr: float = 0.05, hard: bool = False, batch_size: Optional[int] = None,
                     l2: float = 1e-4) -> MixtureFit:
    """EM for a T-type Plackett-Luce mixture (pairs are BTL); see :func:`fit_mixture`."""
    check_sizes(num_types, num_responses)
    if not isinstance(restarts, int) or restarts < 1:
        raise ConfigError(f"restarts must be an integer >= 1, got {restarts!r}")
    rankings, annotator = check_preferences(rankings, num_responses, annotator)
    data, ids = group_by_annotator(rankings, annotator)
    a = len(data.weight)
    batch = a if batch_size is None else _pad(min(batch_size, a))
    seed = 0 if key is None else int(jax.random.randint(key, (), 0, 2 ** 30))
    problem = MixtureProblem(num_types, num_responses, data=data, l2=l2)
    factory = lambda rngs: MixtureReward(num_types, num_responses, restarts, rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, EStep(hard), steps, batch, lr, seed)
    rewards, log_weights = _outcome(trainer, state)(None)
    best, logp, loglik = best_restart(rewards, log_weights, jax.tree.map(jnp.asarray, data))
    num_annotators = int(ids.max()) + 1
    post = np.tile(np.exp(np.asarray(log_weights[best]))[None], (num_annotators, 1))
    post[ids] = np.exp(logp[: len(ids)])
    r = np.asarray(rewards[best])
    return MixtureFit(r - r.mean(-1, keepdims=True), np.exp(np.asarray(log_weights[best])),
                      post.argmax(-1).astype(np.int32), post, loglik)


def fit_mixture(rankings, annotator, num_responses: int, num_types: int, key=None, **options):
    """EM over T annotator types: Plackett-Luce (BTL for pairs) rewards of each type.

    The E-step (each annotator's posterior over types, all their judgements together) is the inner
    solver, the M-step an Adam step on the expected complete log-likelihood, R restarts side by
    side, the most likely kept.

    Args:
        rankings: ``int [n, k]`` judgements, best first.
        annotator: ``int [n]`` who gave each judgement (ids ``0..num_annotators-1``).
        num_responses: K.
        num_types: T >= 1.
        key: PRNG key of the restarts' initial rewards.
        **options: ``steps``, ``restarts``, ``lr``, ``hard`` (hard-assignment EM), ``batch_size``
            (annotators per step; default all), ``l2``.

    Returns:
        ``(rewards [T, K], assignment [num_annotators])`` numpy; :func:`fit_mixture_full` also
        returns weights, posteriors and the log-likelihood.
    """
    fit = fit_mixture_full(rankings, annotator, num_responses, num_types, key, **options)
    return fit.rewards, fit.assignment
