"""Fitting the ideal-point model and adapting it to unseen users with a few judgements.

* :func:`fit_ideal_point`: embedding, prototypes and every training user's weights, by ``make_train``.
* :func:`adapt_users`: new users from their first ``k`` judgements: mixture weights over the frozen
  prototypes (``model="ideal_point"``), or a reward table per user from scratch (``"scratch"``).
* :func:`few_shot_study`: held-out accuracy of new users vs k for the ideal-point model, a single
  shared reward model (everyone's judgements, one reward) and per-user models from scratch, next
  to the true rewards' accuracy; and the recovery of the prototypes (best matching).
"""

from __future__ import annotations

import itertools

import jax
import numpy as np

from mechjax.alignment.data import check_preferences, compact_annotators
from mechjax.alignment.fit import train_once
from mechjax.alignment.ideal_point import (
    FrozenPrototypeUsers,
    IdealPointModel,
    UserRewardProblem,
    UserRewardTable,
    pad_judgements,
    random_ideal_point_population,
    sample_user_judgements,
)
from mechjax.core.types import NoInner
from mechjax.errors import ConfigError, DataError

SHOTS = (1, 2, 5, 10, 20)
ADAPTERS = ("ideal_point", "scratch")


def _outcome(trainer, state):
    return trainer.outcome_fn(jax.tree.map(lambda x: x[0], state.params))


def fit_ideal_point(rankings, annotator, num_responses: int, num_types: int, dim: int = 2, *, steps: int = 1500,
                    lr: float = 0.05, entropy: float = 0.2, anchor: float = 5.0, seed: int = 0) -> dict:
    """The ideal-point model of the annotators in the data.

    Args:
        rankings: ``int [n, k]`` judgements, best first.
        annotator: ``int [n]`` user ids.
        num_responses: K.
        num_types: T prototypes (>= 1).
        dim: embedding dimension d (>= 1).
        entropy: weight of the penalty (users' mean weight entropy, plus ``anchor`` x each
            prototype's squared distance to its nearest user's ideal point); it picks the tightest
            prototypes, see :class:`~mechjax.alignment.ideal_point.IdealPointModel`.
        anchor: relative weight of the anchoring term inside the penalty.
        steps, lr, seed: Adam, full batch, cosine decay.

    Returns:
        numpy ``{"embedding" [K, d], "prototypes" [T, d], "prototype_rewards" [T, K] (centred),
        "user_weights" [num_annotators, T], "ids" [A]}`` (``user_weights`` rows of ids never seen
        stay uniform).
    """
    for name, value in (("num_types", num_types), ("dim", dim)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    rankings, annotator = check_preferences(rankings, num_responses, annotator)
    ids, dense = compact_annotators(annotator)
    problem = UserRewardProblem(*pad_judgements(rankings, dense), l2=entropy)
    factory = lambda rngs: IdealPointModel(len(ids), num_responses, num_types, dim, anchor=anchor,  # noqa: E731
                                           rngs=rngs)
    trainer, state = train_once(problem, factory, NoInner(), steps, len(problem.rankings), lr, seed)
    model = _module(factory, state)
    weights = np.full((int(ids.max()) + 1, num_types), 1.0 / num_types)
    weights[ids] = np.asarray(model.user_weights())
    r = np.asarray(model.prototype_rewards())
    return {"embedding": np.asarray(model.response_embedding()), "prototypes": np.asarray(model.prototypes.value),
            "prototype_rewards": r - r.mean(-1, keepdims=True), "user_weights": weights, "ids": ids}


def _module(factory, state):
    # the trained weights of replica 0 in a module of the trainer's structure (for its accessors);
    # its structure and constants from the template, so no initialiser runs eagerly
    import flax.nnx as nnx

    from mechjax.core.trainer import template

    graphdef, rest = template(factory)
    return nnx.merge(graphdef, jax.tree.map(lambda x: x[0], state.params), rest)


def adapt_users(rankings, user, num_users: int, num_responses: int, model: str = "ideal_point", *, embedding=None,
                prototypes=None, prior_weights=None, prior: float = 0.01, steps: int = 500, lr: float = 0.1,
                seed: int = 0) -> np.ndarray:
    """Rewards ``[num_users, K]`` of new users fitted from their own judgements only.

    Args:
        rankings: ``int [n, k]`` the new users' judgements.
        user: ``int [n]`` each judgement's user in ``0..num_users-1``.
        num_users: U.
        num_responses: K.
        model: ``ideal_point`` (fit each user's mixture weights; ``embedding [K, d]`` and
            ``prototypes [T, d]`` frozen) or ``scratch`` (a reward per user and response).
        prior_weights: ``[T]`` where every new user starts (default uniform), e.g. the training
            users' mean weights.
        prior: weight of the penalty towards the start (``prior_weights`` / zero rewards).
    """
    if model not in ADAPTERS:
        raise ConfigError(f"model must be one of {ADAPTERS}, got {model!r}")
    if model == "ideal_point" and (embedding is None or prototypes is None):
        raise ConfigError("model='ideal_point' needs the fitted embedding and prototypes")
    rankings, user = check_preferences(rankings, num_responses, user, field="rankings")
    if user.max() >= num_users:
        raise DataError(f"user ids must be < num_users={num_users}, got {user.max()}")
    problem = UserRewardProblem(*pad_judgements(rankings, user), l2=prior)
    if model == "ideal_point":
        factory = lambda rngs: FrozenPrototypeUsers(embedding, prototypes, num_users, prior_weights, rngs=rngs)  # noqa: E731
    else:
        factory = lambda rngs: UserRewardTable(num_users, num_responses, rngs=rngs)  # noqa: E731
    trainer, state = train_once(problem, factory, NoInner(), steps, len(problem.rankings), lr, seed)
    return np.asarray(_outcome(trainer, state)(None)[0])


def pair_accuracy(rewards, pairs) -> float:
    """Share of ``pairs [n, 2]`` (winner first) that ``rewards [n, K]`` order the same way (ties count 1/2)."""
    d = np.take_along_axis(rewards, pairs[:, :1], 1)[:, 0] - np.take_along_axis(rewards, pairs[:, 1:2], 1)[:, 0]
    return float(np.mean((d > 0) + 0.5 * (d == 0)))


def prototype_recovery(true_rewards, fitted_rewards) -> dict:
    """Best matching of fitted to true prototype rewards (``[T, K]``, centred): RMS error and correlations."""
    best = None
    for perm in itertools.permutations(range(len(true_rewards))):
        f = fitted_rewards[list(perm)]
        err = float(np.sqrt(np.mean((f - true_rewards) ** 2)))
        if best is None or err < best[0]:
            corr = [float(np.corrcoef(a, b)[0, 1]) for a, b in zip(f, true_rewards)]
            best = (err, corr, list(perm))
    scale = float(np.sqrt(np.mean(true_rewards ** 2)))
    return {"rms_error": best[0], "relative_error": best[0] / scale, "correlations": best[1],
            "min_correlation": min(best[1]), "matching": best[2]}


def few_shot_study(seed: int = 0, num_types: int = 3, num_responses: int = 20, dim: int = 2,
                   train_users: int = 500, per_train_user: int = 20, test_users: int = 200, heldout: int = 40,
                   shots=SHOTS, concentration: float = 0.3, rationality: float = 2.0, spread: float = 1.5,
                   steps: int = 1500) -> dict:
    """Fit on ``train_users``; adapt to ``test_users`` from their first k pairs; score on ``heldout`` other pairs."""
    shots = tuple(int(s) for s in shots)
    if not shots or min(shots) < 1:
        raise ConfigError(f"shots must be integers >= 1, got {shots}")
    key = jax.random.key(seed)
    k_pop, k_train, k_test = jax.random.split(key, 3)
    pop = random_ideal_point_population(k_pop, num_types, num_responses, dim, train_users + test_users,
                                        concentration, rationality, spread)
    train = sample_user_judgements(pop, k_train, np.arange(train_users), per_train_user)
    fitted = fit_ideal_point(train.rankings, train.annotator, num_responses, num_types, dim, steps=steps, seed=seed)
    recovery = prototype_recovery(pop.prototype_rewards(), fitted["prototype_rewards"])
    # the training users' own weights, matched to the truth's prototype order
    w_fit = fitted["user_weights"][:, recovery["matching"]]
    weight_error = float(np.abs(w_fit - pop.user_weights[:train_users]).sum(-1).mean() / 2)

    users = train_users + np.arange(test_users)
    per = max(shots) + heldout
    test = sample_user_judgements(pop, k_test, users, per)
    pairs = test.rankings.reshape(test_users, per, 2)
    held = pairs[:, max(shots):].reshape(-1, 2)
    held_user = np.repeat(np.arange(test_users), heldout)
    # every (shot count, user) is its own row of the adapted table, all fitted in one run
    rows = [(s, u, pairs[u, :s]) for s in shots for u in range(test_users)]
    adapt_rankings = np.concatenate([r[2] for r in rows])
    adapt_user = np.repeat(np.arange(len(rows)), [len(r[2]) for r in rows])
    truth = pop.user_rewards()[train_users:]
    shared = adapt_users(train.rankings, np.zeros(len(train.rankings), np.int64), 1, num_responses, "scratch",
                         prior=1e-4, steps=steps, lr=0.05, seed=seed)
    out = {"seed": seed, "recovery": recovery, "train_weight_error": weight_error,
           "oracle": pair_accuracy(truth[held_user], held),
           "shared": pair_accuracy(np.repeat(shared, len(held), 0), held), "shots": list(shots)}
    for model in ADAPTERS:
        fitted_users = adapt_users(adapt_rankings, adapt_user, len(rows), num_responses, model,
                                   embedding=fitted["embedding"], prototypes=fitted["prototypes"],
                                   prior_weights=fitted["user_weights"][fitted["ids"]].mean(0), seed=seed)
        acc = []
        for i, s in enumerate(shots):
            table = fitted_users[i * test_users:(i + 1) * test_users]
            acc.append(pair_accuracy(table[held_user], held))
        out[model] = acc
    return out
