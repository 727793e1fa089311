"""The budgeting problem: learn a rule that funds projects within budget, on synthetic elections.

A batch is a ``PBBatch`` of padded elections (``max_voters`` x ``max_projects``), costs divided by
the budget (so the budget is 1). Elections come from a pool drawn once on the host when the
problem is built (Euclidean elections, and real pabulib elections of the training cities
resampled to the padded size), together with what the objective needs that is not differentiable
(the MES outcome, exact, from :mod:`mechjax.budgeting.rules`); ``sample`` draws a batch from the
pool inside ``jit``.

Objectives (``loss``), to be minimised:

* ``mimicry``: binary cross-entropy of the relaxed selection against the MES outcome (MES with
  cost utilities, budget increase and greedy completion);
* ``ranking``: a pairwise logistic loss asking every project MES funds to score above every project
  it does not, on the relaxed selection's logits (which are the scores, shifted and scaled). It
  targets exact mimicry directly: MES + greedy completion is exhaustive, so the hard greedy-by-score
  selection used at inference funds exactly the MES set iff every funded project outranks every
  unfunded one;
* ``welfare``: minus utilitarian welfare, the mean over voters of the cost of their supported
  funded projects (budget = 1);
* ``fair_share``: minus the mean fair-share ratio, a proportionality surrogate: voter ``i``'s share
  of a funded set is ``sum_p x_p a_ip c_p / |N_p|`` (projects' costs split among supporters) and
  their fair share ``min(1 / n, share of all their projects)``; the ratio is capped at 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.budgeting import rules
from mechjax.budgeting.election import make_election
from mechjax.core.types import Terms
from mechjax.errors import ConfigError


class PBBatch(NamedTuple):
    """Padded elections, batch-first; costs in units of the budget."""

    approvals: Float[Array, "b v p"]
    voter_mask: Float[Array, "b v"]
    project_mask: Float[Array, "b p"]
    costs: Float[Array, "b p"]
    target: Float[Array, "b p"]  # MES (cost utilities, budget increase, greedy) funded, 0/1


def default_data_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data", "pabulib"))


def city_of(election) -> str:
    """The city (pabulib ``unit``; for the Stanford and Mechanical Turk collections, the
    ``subunit`` or ``description``, which name the city or experiment)."""
    unit = election.meta.get("unit", "")
    if unit in ("Stanford Dataset", "Mechanical Turk"):
        return election.meta.get("subunit") or election.meta.get("description", unit)
    return unit


def euclidean_election(rng, num_voters, num_projects):
    """Voters and projects uniform in the unit square; a voter supports the projects within a
    random radius of them (at least their nearest); log-normal costs; budget a random 20-50%
    of the total cost."""
    voters = rng.random((num_voters, 2))
    projects = rng.random((num_projects, 2))
    distance = np.linalg.norm(voters[:, None, :] - projects[None, :, :], axis=-1)
    radius = rng.uniform(0.15, 0.45, size=(num_voters, 1))
    approvals = (distance <= radius) | (distance == distance.min(axis=1, keepdims=True))
    costs = np.round(np.exp(rng.normal(0.0, 0.7, size=num_projects)) * 100).astype(np.int64) + 1
    budget = int(costs.sum() * rng.uniform(0.2, 0.5))
    return approvals, costs, budget


def resampled_election(rng, election, num_voters, num_projects):
    """``num_projects`` projects and ``num_voters`` voters (with replacement) of a real election;
    the budget keeps its share of the chosen projects' total cost."""
    chosen = rng.choice(election.num_projects, size=min(num_projects, election.num_projects), replace=False)
    rows = rng.integers(election.num_voters, size=num_voters)
    approvals = election.approvals[np.ix_(rows, chosen)]
    costs = np.maximum(np.round(election.costs[chosen]).astype(np.int64), 1)
    share = min(election.budget / max(election.costs.sum(), 1.0), 1.0)
    return approvals, costs, max(int(costs.sum() * share), 1)


def pad_election(approvals, costs, budget, target, max_voters, max_projects):
    v, p = approvals.shape
    out = dict(approvals=np.zeros((max_voters, max_projects), np.float32), voter_mask=np.zeros(max_voters, np.float32),
               project_mask=np.zeros(max_projects, np.float32), costs=np.zeros(max_projects, np.float32),
               target=np.zeros(max_projects, np.float32))
    out["approvals"][:v, :p] = approvals
    out["voter_mask"][:v] = 1
    out["project_mask"][:p] = 1
    out["costs"][:p] = np.asarray(costs, np.float64) / max(float(budget), 1e-12)
    out["costs"][p:] = 2.0  # padding never fits (it is also masked)
    out["target"][:p] = target
    return out


@dataclass(frozen=True)
class BudgetingProblem:
    """Elections to learn a PB rule on; see the module docstring.

    Attributes:
        max_voters, max_projects: padded sizes.
        pool_size: elections drawn once on the host.
        real_share: share of the pool resampled from real elections (0: Euclidean only).
        holdout_units: cities (``city_of``) never used in training.
        mimicry, ranking, welfare, fair_share: objective weights.
        temperature: of the relaxed selection.
        seed: of the pool.
        data_dir: pabulib folder for the real elections.
    """

    max_voters: int = 40
    max_projects: int = 12
    pool_size: int = 512
    real_share: float = 0.5
    holdout_units: tuple = ("Warszawa", "Kraków")
    mimicry: float = 1.0
    welfare: float = 0.0
    fair_share: float = 0.0
    temperature: float = 1.0
    seed: int = 0
    data_dir: str = ""
    ranking: float = 0.0

    def __post_init__(self):
        for name in ("max_voters", "max_projects", "pool_size"):
            if getattr(self, name) < 2:
                raise ConfigError(f"problem.{name} must be >= 2, got {getattr(self, name)}")
        if not 0.0 <= self.real_share <= 1.0:
            raise ConfigError(f"problem.real_share must be in [0, 1], got {self.real_share}")
        for name in ("mimicry", "ranking", "welfare", "fair_share"):
            if getattr(self, name) < 0:
                raise ConfigError(f"problem.{name} must be >= 0, got {getattr(self, name)}")
        if self.mimicry + self.ranking + self.welfare + self.fair_share <= 0:
            raise ConfigError("problem: at least one of mimicry, ranking, welfare, fair_share must be > 0")
        if self.temperature <= 0:
            raise ConfigError(f"problem.temperature must be > 0, got {self.temperature}")
        object.__setattr__(self, "_pool", None)

    @property
    def num_agents(self) -> int:
        return 1  # no per-agent constraint: violations are a single zero

    @property
    def pool(self) -> PBBatch:
        if self._pool is None:
            object.__setattr__(self, "_pool", self._build_pool())
        return self._pool

    def training_elections(self):
        """Real elections of the training cities (approval-type), read once."""
        from mechjax.budgeting.pabulib import read_pabulib
        folder = self.data_dir or default_data_dir()
        if self.real_share == 0:
            return []
        if not os.path.isdir(folder):
            raise ConfigError(f"problem.data_dir: no pabulib folder at {folder} (set problem.real_share=0 "
                              f"to train on Euclidean elections only)")
        out = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".pb") and os.path.getsize(os.path.join(folder, name)) < 2_000_000:
                election = read_pabulib(os.path.join(folder, name))
                if city_of(election) not in self.holdout_units and election.num_projects >= 2:
                    out.append(election)
        return out

    def _build_pool(self) -> PBBatch:
        rng = np.random.default_rng(self.seed)
        real = self.training_elections()
        rows = []
        for _ in range(self.pool_size):
            num_voters = int(rng.integers(max(2, self.max_voters // 2), self.max_voters + 1))
            num_projects = int(rng.integers(2, self.max_projects + 1))
            if real and rng.random() < self.real_share:
                approvals, costs, budget = resampled_election(rng, real[int(rng.integers(len(real)))],
                                                              num_voters, num_projects)
            else:
                approvals, costs, budget = euclidean_election(rng, num_voters, num_projects)
            target = rules.equal_shares(make_election(costs.tolist(), budget, approvals=approvals))
            rows.append(pad_election(approvals, costs, budget, target, self.max_voters, self.max_projects))
        # numpy, not jnp: the pool may be first built while a jit trace is running
        return PBBatch(**{k: np.stack([r[k] for r in rows]) for k in PBBatch._fields})

    def sample(self, key, batch_size: int) -> PBBatch:
        index = jax.random.randint(key, (batch_size,), 0, self.pool_size)
        return jax.tree.map(lambda x: jnp.asarray(x)[index], self.pool)

    def loss_terms(self, outcome_fn, batch: PBBatch, solution) -> Terms:
        selection = outcome_fn(batch)  # [b, p] in [0, 1]: the trainer binds training=True
        parts = objective_parts(selection, batch)
        objective = (self.mimicry * parts["mimicry_bce"] + self.ranking * parts["ranking"]
                     - self.welfare * parts["welfare"] - self.fair_share * parts["fair_share"])
        return Terms(objective=objective, violations=jnp.zeros((1,)), metrics=parts)


def fair_share_ratio(selection, batch: PBBatch, xp=jnp):
    """``[b]``: each election's mean over voters of min(1, share / fair share) for a selection
    ``[b, p]`` (module docstring, ``fair_share``). ``xp``: the array module; the evaluator passes
    ``numpy`` (one election at its own shape: no XLA program to compile per election shape)."""
    mask = batch.project_mask
    n = batch.voter_mask.sum(-1)  # [b]
    supporters = xp.einsum("bvp,bv->bp", batch.approvals, batch.voter_mask)
    split = xp.where(supporters > 0, batch.costs * mask / xp.maximum(supporters, 1.0), 0.0)  # [b, p]
    share = xp.einsum("bvp,bp->bv", batch.approvals, split * selection)
    entitled = xp.minimum(1.0 / n[:, None], xp.einsum("bvp,bp->bv", batch.approvals, split))
    ratio = xp.where(entitled > 0, xp.minimum(share / xp.maximum(entitled, 1e-9), 1.0), 1.0)
    return (ratio * batch.voter_mask).sum(-1) / n


def objective_parts(selection, batch: PBBatch) -> dict:
    """Batch means of the objective's parts for a (relaxed or hard) selection ``[b, p]``."""
    mask = batch.project_mask
    eps = 1e-4  # bounds the cross-entropy's gradient where the relaxed selection saturates
    bce = -(batch.target * jnp.log(selection + eps) + (1 - batch.target) * jnp.log(1 - selection + eps))
    bce = (bce * mask).sum(-1) / mask.sum(-1)
    n = batch.voter_mask.sum(-1)  # [b]
    funded_cost = selection * batch.costs * mask  # [b, p]
    satisfaction = jnp.einsum("bvp,bp->bv", batch.approvals, funded_cost)
    welfare = (satisfaction * batch.voter_mask).sum(-1) / n
    fair = fair_share_ratio(selection, batch)
    spent = funded_cost.sum(-1)
    # logit of the selection = (score - threshold) / temperature: differences compare scores
    logit = jnp.log(selection + 1e-6) - jnp.log(1 - selection + 1e-6)
    funded, unfunded = batch.target * mask, (1 - batch.target) * mask
    pairs = funded[:, :, None] * unfunded[:, None, :]  # [b, p (funded), q (unfunded)]
    pair_loss = jax.nn.softplus(logit[:, None, :] - logit[:, :, None])
    ranking = (pair_loss * pairs).sum((-1, -2)) / jnp.maximum(pairs.sum((-1, -2)), 1.0)
    agree = ((selection > 0.5) == (batch.target > 0.5)) | (mask == 0)
    return {"mimicry_bce": bce.mean(), "ranking": ranking.mean(), "welfare": welfare.mean(), "fair_share": fair.mean(),
            "spent": spent.mean(), "exact_match": agree.all(-1).mean()}
