"""Fluid aggregation: delegation weights aggregating clients' model updates (federated regression).

Each of ``clients`` clients fits a linear model ``y = x . theta* + noise`` on its own data (sizes
and noise levels vary) and sends its least-squares estimate. A fraction of clients is
*poisoned*: they send ``theta* + shift`` (a common direction, the classic coordinated attack).
The server knows a competence estimate for every client: the percentile rank of its update's loss
on a small shared validation set (``honest`` reports), or, when the poisoned clients lie
(``lying``), they claim the top competence 1. Clients sit on an Erdos-Renyi network and delegate
their vote on the aggregate with a delegation rule (``rules``); the aggregate is the
delegation-weighted mean of the casters' updates. Baselines: the plain mean weighted by data size
and the coordinate-wise median. The error is ``||theta_hat - theta*||``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.delegation.graphs import erdos_renyi
from mechjax.delegation.resolve import resolve
from mechjax.delegation.rules import DelegationInputs, make_rule
from mechjax.errors import DataError


@dataclass(frozen=True)
class FluidSetting:
    """One synthetic federation.

    Attributes:
        clients: number of clients.
        dim: model dimension.
        poisoned: fraction of poisoned clients.
        shift: length of the poisoned clients' common shift.
        lying: poisoned clients claim competence 1 (else their validation percentile is used).
        edge_prob: network density.
        validation: size of the server's validation set.
    """

    clients: int = 50
    dim: int = 10
    poisoned: float = 0.2
    shift: float = 5.0
    lying: bool = False
    edge_prob: float = 0.3
    validation: int = 50

    def __post_init__(self):
        if self.clients < 2 or self.dim < 1 or self.validation < 1:
            raise DataError("clients must be >= 2, dim and validation >= 1")
        if not 0 <= self.poisoned < 1:
            raise DataError(f"poisoned must be in [0, 1), got {self.poisoned}")


def federation(seed: int, s: FluidSetting):
    """``(updates [c, d], data_sizes [c], competence_estimate [c], adjacency [c, c], theta* [d])``."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=s.dim)
    sizes = rng.integers(15, 200, s.clients)
    noise = rng.uniform(0.3, 4.0, s.clients)
    updates = np.empty((s.clients, s.dim))
    for i in range(s.clients):
        x = rng.normal(size=(sizes[i], s.dim))
        y = x @ theta + noise[i] * rng.normal(size=sizes[i])
        updates[i] = np.linalg.lstsq(x, y, rcond=None)[0]
    bad = rng.permutation(s.clients)[: int(round(s.poisoned * s.clients))]
    direction = rng.normal(size=s.dim)
    updates[bad] = theta + s.shift * direction / np.linalg.norm(direction)
    xv = rng.normal(size=(s.validation, s.dim))
    yv = xv @ theta + rng.normal(size=s.validation)
    loss = ((xv @ updates.T - yv[:, None]) ** 2).mean(0)
    estimate = 1.0 - np.argsort(np.argsort(loss)) / (s.clients - 1)  # best validation loss -> 1
    if s.lying:
        estimate[bad] = 1.0
    adjacency = np.asarray(erdos_renyi(jax.random.key(seed), 1, s.clients, s.edge_prob))[0]
    return updates, sizes, estimate, adjacency, theta


def delegation_weights(estimate, adjacency, rule: str, cap: float, alpha: float = 0.05) -> np.ndarray:
    """``int [c]``: each client's weight after delegating with ``rule`` (deterministic rules only)."""
    policy = make_rule(rule, alpha=alpha, cap=cap)(
        DelegationInputs(jnp.asarray(estimate, jnp.float32)[None], jnp.asarray(adjacency)[None]))
    return np.asarray(resolve(np.asarray(jnp.argmax(policy[0], -1)).astype(np.int32))[1])


def aggregate_errors(seed: int, s: FluidSetting, cap: float) -> dict:
    """``||theta_hat - theta*||`` of each aggregator on one federation, and the delegated max weight."""
    updates, sizes, estimate, adjacency, theta = federation(seed, s)
    out = {
        "mean": np.linalg.norm(sizes @ updates / sizes.sum() - theta),
        "median": np.linalg.norm(np.median(updates, 0) - theta),
    }
    for rule in ("local_best", "greedy_cap"):
        w = delegation_weights(estimate, adjacency, rule, cap)
        out[f"delegation_{rule}"] = np.linalg.norm(w @ updates / w.sum() - theta)
        out[f"max_weight_{rule}"] = float(w.max())
    return {k: float(v) for k, v in out.items()}
