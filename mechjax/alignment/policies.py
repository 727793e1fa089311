"""Policies over K responses for a population of T reward types: utilitarian, egalitarian, MMRA.

Type ``t``'s value of a policy ``pi`` is ``V_t(pi) = E_pi[r_t] - beta KL(pi || reference)``.

* **Utilitarian**: ``max_pi sum_t w_t V_t(pi)`` has the closed form ``pi ∝ reference * exp(w.r / beta)``
  (the argmax of ``w.r`` when ``beta = 0``). This is what RLHF with one reward model fitted to
  everyone's comparisons aims at.
* **Egalitarian (max-min)**: ``max_pi min_t V_t(pi)``. The objective is concave in ``pi`` and
  linear in weights ``lambda`` on types, so by the minimax theorem it equals
  ``min_{lambda in simplex} beta log sum_k reference_k exp(lambda.r_k / beta)``, a smooth convex
  function of ``lambda`` whose gradient is ``E_{pi_lambda}[r_t]``; its minimiser's
  ``pi_lambda ∝ reference exp(lambda.r / beta)`` is the max-min policy. The worst-type weights
  ``lambda`` are the inner player of the bilevel game; we solve for them by jitted mirror descent
  (exponentiated gradient), keeping the best primal iterate. ``beta = 0`` is a linear program.
* **Min-max regret aggregation (MMRA)**: when the user's type is unknown at deployment, minimise
  the worst type's regret ``max_t V_t(pi_t) - V_t(pi)`` against its own optimal policy
  ``pi_t ∝ reference exp(r_t / beta)``. The same minimax argument (regret is convex in ``pi``,
  linear in ``lambda``) puts the optimum at ``pi_lambda ∝ reference exp(lambda.r / beta) ∝
  reference prod_t (pi_t / reference)^lambda_t``: the *geometric* mixture of the type-specific
  policies, with ``lambda`` minimising ``beta log sum_k reference_k exp(lambda.r_k / beta) -
  lambda.V*``. So MMRA is max-min on the shifted values ``V_t - V_t(pi_t)`` and shares its solver;
  it is optimal over all policies, hence never worse than the utilitarian or any single-type
  policy. ``mixture="linear"`` instead mixes the type policies arithmetically (``sum_s alpha_s
  pi_s``, convex in ``alpha``, solved by SLSQP), a smaller family that can lose to the
  utilitarian policy when the types share a compromise response.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.errors import ConfigError, DataError


def check_policy_args(rewards, reference, beta, weights=None):
    """Validated ``(rewards [T, K], reference [K], beta, weights [T] or None)`` as float64 numpy."""
    r = np.asarray(rewards, np.float64)
    if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] < 2:
        raise DataError(f"rewards must be [num_types >= 1, num_responses >= 2], got shape {r.shape}")
    if not np.isfinite(r).all():
        raise DataError("rewards must be finite")
    ref = np.asarray(reference, np.float64)
    if ref.shape != (r.shape[1],):
        raise DataError(f"reference must be [num_responses] = [{r.shape[1]}], got shape {ref.shape}")
    if (ref < 0).any() or not np.isfinite(ref).all() or abs(ref.sum() - 1) > 1e-6:
        raise DataError("reference must be a probability vector (>= 0, sums to 1)")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating, np.integer)) or not np.isfinite(beta):
        raise ConfigError(f"beta must be a finite number >= 0, got {beta!r}")
    if beta < 0:
        raise ConfigError(f"beta must be >= 0 (the KL weight), got {beta}")
    w = None
    if weights is not None:
        w = np.asarray(weights, np.float64)
        if w.shape != (r.shape[0],) or (w < 0).any() or abs(w.sum() - 1) > 1e-6:
            raise DataError(f"weights must be [num_types] = [{r.shape[0]}], >= 0, summing to 1, got {w.tolist()}")
    return r, ref, float(beta), w


def _gibbs(reference, scores, beta):
    logits = np.where(reference > 0, np.log(np.maximum(reference, 1e-300)) + scores / beta, -np.inf)
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def utilitarian_policy(rewards, weights, reference, beta) -> np.ndarray:
    """``argmax_pi sum_t w_t E_pi[r_t] - beta KL(pi || reference)``: ``reference * exp(w.r / beta)``, normalised.

    Args:
        rewards: ``[T, K]``. weights: ``[T]`` (sum 1). reference: ``[K]``. beta: >= 0 (0: the
            uniform lottery over the maximisers of ``w.r`` among responses the reference allows).

    Returns:
        ``policy [K]``.
    """
    r, ref, beta, w = check_policy_args(rewards, reference, beta, weights)
    if w is None:
        raise DataError("weights are required: [num_types] mixing weights")
    scores = w @ r
    if beta == 0:
        best = np.where(ref > 0, scores, -np.inf)
        top = np.isclose(best, best.max(), rtol=0, atol=1e-12)
        return top / top.sum()
    return _gibbs(ref, scores, beta)


def policy_values(policy, rewards, reference, beta) -> np.ndarray:
    """``[T]``: ``E_pi[r_t] - beta KL(pi || reference)`` of each type."""
    p = np.asarray(policy, np.float64)
    ref = np.asarray(reference, np.float64)
    kl = np.sum(np.where(p > 0, p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(ref, 1e-300))), 0.0))
    return np.asarray(rewards, np.float64) @ p - beta * kl


@functools.partial(jax.jit, static_argnums=(4,))
def _dual_descent(rewards, log_reference, beta, offsets, steps):
    t = rewards.shape[0]
    scale = jnp.maximum(jnp.max(jnp.abs(rewards)), 1e-6)
    rate = jnp.minimum(1.0, beta / scale ** 2)  # the dual's gradient is (Var/beta)-Lipschitz

    def policy(lam):
        return jax.nn.softmax(log_reference + lam @ rewards / beta)

    def primal(pi):
        kl = jnp.sum(jnp.where(pi > 0, pi * (jnp.log(jnp.maximum(pi, 1e-30)) - log_reference), 0.0))
        return jnp.min(rewards @ pi - offsets) - beta * kl

    def step(carry, i):
        lam, best_lam, best_value = carry
        pi = policy(lam)
        grad = rewards @ pi - offsets  # d/dlambda of the dual: each type's expected (shifted) reward
        lam = lam * jnp.exp(-rate * (grad - grad.max()) / jnp.sqrt(1.0 + i / 100.0))
        lam = jnp.maximum(lam / lam.sum(), 1e-30)
        value = primal(policy(lam))
        better = value > best_value
        return (lam, jnp.where(better, lam, best_lam), jnp.where(better, value, best_value)), None

    lam0 = jnp.full((t,), 1.0 / t)
    init = (lam0, lam0, primal(policy(lam0)))
    (_, lam, value), _ = jax.lax.scan(step, init, jnp.arange(steps, dtype=jnp.float32))
    return policy(lam), lam, value


def maxmin_policy(rewards, reference, beta, steps: int = 4000, return_weights: bool = False, offsets=None):
    """``argmax_pi min_t E_pi[r_t] - beta KL(pi || reference)`` (egalitarian alignment).

    Args:
        rewards: ``[T, K]`` each type's reward. reference: ``[K]``. beta: >= 0.
        steps: mirror-descent steps on the worst-type weights (``beta > 0``).
        return_weights: also return the worst-type weights ``lambda [T]`` (the inner solution).
        offsets: ``[T]`` values subtracted from each type's (max-min of ``V_t - offsets_t``; MMRA).

    Returns:
        ``policy [K]`` (and ``lambda [T]``).
    """
    r, ref, beta, _ = check_policy_args(rewards, reference, beta)
    c = np.zeros(len(r)) if offsets is None else np.asarray(offsets, np.float64)
    if beta == 0:
        pi, lam = _maxmin_lp(r, ref, c)
    else:
        log_ref = jnp.asarray(np.log(np.maximum(ref, 1e-300)), jnp.float32)
        pi, lam, _ = _dual_descent(jnp.asarray(r, jnp.float32), jnp.where(jnp.asarray(ref) > 0, log_ref, -jnp.inf),
                                   jnp.float32(beta), jnp.asarray(c, jnp.float32), steps)
        lam = np.asarray(lam, np.float64)
        pi = _gibbs(ref, lam @ r, beta)  # recomputed in float64
    return (pi, lam) if return_weights else pi


def _maxmin_lp(r, ref, offsets):
    from scipy.optimize import linprog

    t, k = r.shape
    # variables (pi_1..pi_K, z): maximise z s.t. r_t . pi - offsets_t >= z, sum pi = 1, pi >= 0 on ref's support
    c = np.zeros(k + 1)
    c[-1] = -1.0
    a_ub = np.hstack([-r, np.ones((t, 1))])
    bounds = [(0, 1 if ref[i] > 0 else 0) for i in range(k)] + [(None, None)]
    res = linprog(c, A_ub=a_ub, b_ub=-offsets, A_eq=np.hstack([np.ones((1, k)), [[0.0]]]), b_eq=[1.0],
                  bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"max-min linear program failed: {res.message}")
    pi = np.maximum(res.x[:k], 0.0)
    lam = np.maximum(-res.ineqlin.marginals, 0.0)
    return pi / pi.sum(), lam / max(lam.sum(), 1e-300)


def type_policies(rewards, reference, beta) -> np.ndarray:
    """``[T, K]``: each type's own optimal (KL-regularised) policy."""
    r, ref, beta, _ = check_policy_args(rewards, reference, beta)
    return np.stack([utilitarian_policy(r, np.eye(len(r))[t], ref, beta) for t in range(len(r))])


def regrets(policy, rewards, reference, beta) -> np.ndarray:
    """``[T]``: ``V_t(pi_t) - V_t(policy)``, each type's loss against its own optimal policy."""
    best = np.array([policy_values(p, rewards, reference, beta)[t]
                     for t, p in enumerate(type_policies(rewards, reference, beta))])
    return best - policy_values(policy, rewards, reference, beta)


def mmra_policy(rewards, reference, beta, return_mixture: bool = False, mixture: str = "geometric"):
    """Min-max regret aggregation: the policy with the least worst-type regret (see the module docstring).

    Args:
        rewards: ``[T, K]``. reference: ``[K]``. beta: >= 0.
        return_mixture: also return the mixture weights over the type-specific policies
            (geometric: the exponents ``lambda``; linear: ``alpha``).
        mixture: ``geometric`` (exact over all policies) or ``linear`` (arithmetic mixtures only).

    Returns:
        ``policy [K]`` (and the mixture weights ``[T]``).
    """
    r, ref, beta, _ = check_policy_args(rewards, reference, beta)
    pis = type_policies(r, ref, beta)
    best = np.array([policy_values(pis[s], r, ref, beta)[s] for s in range(len(r))])
    if mixture == "geometric":
        policy, lam = maxmin_policy(r, ref, beta, return_weights=True, offsets=best)
        return (policy, lam) if return_mixture else policy
    if mixture != "linear":
        raise ConfigError(f"mixture must be geometric or linear, got {mixture!r}")
    from scipy.optimize import minimize

    t = len(r)

    def worst(alpha):
        return np.max(best - policy_values(np.maximum(alpha, 0) @ pis, r, ref, beta))

    # epigraph: minimise z subject to regret_t(alpha) <= z, alpha in the simplex; several starts
    results = []
    for a0 in [np.full(t, 1.0 / t)] + list(np.eye(t)):
        cons = [{"type": "ineq", "fun": lambda x: x[-1] - (best - policy_values(np.maximum(x[:-1], 0) @ pis, r, ref, beta))},
                {"type": "eq", "fun": lambda x: np.sum(x[:-1]) - 1.0}]
        res = minimize(lambda x: x[-1], np.append(a0, worst(a0)), constraints=cons,
                       bounds=[(0, 1)] * t + [(None, None)], method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
        alpha = np.maximum(res.x[:-1], 0)
        alpha = alpha / alpha.sum()
        results.append((worst(alpha), alpha))
    _, alpha = min(results, key=lambda x: x[0])
    return (alpha @ pis, alpha) if return_mixture else alpha @ pis
