"""The budgeting evaluator: a rule on real pabulib elections of cities never seen in training.

For every approval election of the held-out cities (``problem.holdout_units``) it runs the rule
and reports, beside MES (cost utilities, budget increase, greedy completion; exact), greedy and
Phragmén on the same elections: feasibility (exact), Jaccard similarity and exact-match rate with
MES, utilitarian welfare (mean cost satisfaction / budget), the fair-share ratio (the training
objective's proportionality surrogate, :func:`mechjax.budgeting.problem.fair_share_ratio`), the
stated objective ``problem.welfare * welfare + problem.fair_share * fair share`` (``None`` for a
problem that weighs neither, e.g. pure mimicry), covered share, and EJR (exact search, ``None`` past
``ejr_max_nodes``: counted as unknown). Every measure is taken on the whole election.

A learned rule sees the election through its padded input: all projects and, above ``max_voters``,
a uniform sample of that many voters (the funded set is then scored on the whole election). Both
are padded (and masked) up to a power of two, at least 16 and at most ``max_voters`` for voters,
so that the net compiles once per size bucket instead of once per election (27 held-out elections
compiled it 23 times; see :func:`padded_size`). A classical ``pb_rule`` mechanism runs on the
whole election.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mechjax.budgeting import rules
from mechjax.budgeting.audit import audit
from mechjax.budgeting.problem import PBBatch, city_of, default_data_dir, fair_share_ratio, pad_election
from mechjax.errors import ConfigError

REFERENCES = ("mes", "greedy", "phragmen")


@dataclass(frozen=True)
class BudgetingEvalConfig:
    """``budgeting_eval``: see the module docstring.

    Attributes:
        max_voters: voters a learned rule sees per election (a uniform sample above it).
        max_elections: evaluate only the first N held-out elections (smallest first; 0: all).
        ejr_max_nodes: cohesive sets the exact EJR search may visit per election.
        seed: of the voter samples.
    """

    max_voters: int = 2000
    max_elections: int = 0
    ejr_max_nodes: int = 20000
    seed: int = 1000003

    def __post_init__(self):
        if self.max_voters < 1:
            raise ConfigError(f"budgeting_eval.max_voters must be >= 1, got {self.max_voters}")
        if self.max_elections < 0:
            raise ConfigError(f"budgeting_eval.max_elections must be >= 0, got {self.max_elections}")


def heldout_elections(problem, max_elections=0):
    """The held-out cities' approval elections, smallest file first."""
    from mechjax.budgeting.pabulib import read_pabulib
    folder = problem.data_dir or default_data_dir()
    if not os.path.isdir(folder):
        raise ConfigError(f"problem.data_dir: no pabulib folder at {folder}; the budgeting evaluator needs real elections")
    out = []
    for name in sorted(os.listdir(folder), key=lambda n: os.path.getsize(os.path.join(folder, n))):
        if not name.endswith(".pb"):
            continue
        election = read_pabulib(os.path.join(folder, name))
        if city_of(election) in problem.holdout_units and election.vote_type in ("approval", "choose-1"):
            out.append(election)
            if max_elections and len(out) >= max_elections:
                break
    return out


def reference_outcome(election, name):
    if name == "mes":
        return rules.equal_shares(election)
    if name == "greedy":
        return rules.greedy(election)
    return rules.phragmen(election)


def padded_size(n: int, cap: int = 0) -> int:
    """The size bucket ``n`` rows are padded to: the next power of two, at least 16, at most ``cap``
    (when given and ``n <= cap``). Masked padding leaves a learned rule's output unchanged up to
    float rounding, and bounds its compilations by the number of buckets."""
    size = max(16, 1 << max(int(n) - 1, 0).bit_length())
    return min(size, cap) if cap and n <= cap else size


def net_input(election, max_voters, rng):
    """The padded single-election batch a learned rule reads (voters sampled above ``max_voters``;
    voters and projects padded to :func:`padded_size` buckets)."""
    rows = np.arange(election.num_voters)
    if len(rows) > max_voters:
        rows = np.sort(rng.choice(rows, size=max_voters, replace=False))
    padded = pad_election(election.approvals[rows], election.costs, election.budget,
                          np.zeros(election.num_projects), padded_size(len(rows), max_voters),
                          padded_size(election.num_projects))
    return PBBatch(**{k: v[None] for k, v in padded.items()})


def run_rule(mechanism_fn, election, max_voters, rng):
    """``[P]`` bool funded by a mechanism (classical: exact on the election; learned: via its input)."""
    host_rule = getattr(getattr(mechanism_fn, "__wrapped__", mechanism_fn), "pb_rule", None)
    if host_rule is not None:
        return host_rule(election)
    out = np.asarray(mechanism_fn(net_input(election, max_voters, rng)))[0, :election.num_projects]
    return out > 0.5


def election_batch(election) -> PBBatch:
    """The whole election as a one-election ``PBBatch`` (every voter; costs in units of the budget)."""
    padded = pad_election(election.approvals, election.costs, election.budget, np.zeros(election.num_projects),
                          election.num_voters, election.num_projects)
    return PBBatch(**{k: v[None] for k, v in padded.items()})


def fair_share(batch: PBBatch, funded) -> float:
    """The mean fair-share ratio of a funded set ``[P]`` on a one-election batch (the training surrogate)."""
    return float(fair_share_ratio(np.asarray(funded, np.float32)[None], batch, xp=np)[0])


def score(election, batch, funded, mes, ejr_max_nodes, weights=(0.0, 0.0)):
    """One rule's measures on one election (``batch``: :func:`election_batch` of it); ``weights``:
    the problem's (welfare, fair_share)."""
    report = audit(election, funded, max_nodes=ejr_max_nodes, max_funded_pjr=-1)
    union = (funded | mes).sum()
    fair = fair_share(batch, funded)
    objective = weights[0] * report["welfare"] + weights[1] * fair if any(weights) else None
    return {"feasible": report["feasible"], "jaccard_mes": float((funded & mes).sum() / union) if union else 1.0,
            "exact_match_mes": bool((funded == mes).all()), "welfare": report["welfare"], "fair_share": fair,
            "objective": objective, "covered_share": report["covered_share"], "ejr": report["ejr"],
            "budget_used": report["budget_used"]}


def summarise(rows):
    ejr = [r["ejr"] for r in rows]
    return {"elections": len(rows), "feasible_rate": float(np.mean([r["feasible"] for r in rows])),
            "jaccard_mes": float(np.mean([r["jaccard_mes"] for r in rows])),
            "exact_match_mes": float(np.mean([r["exact_match_mes"] for r in rows])),
            "welfare": float(np.mean([r["welfare"] for r in rows])),
            "fair_share": float(np.mean([r["fair_share"] for r in rows])),
            "objective": None if rows[0]["objective"] is None else float(np.mean([r["objective"] for r in rows])),
            "covered_share": float(np.mean([r["covered_share"] for r in rows])),
            "budget_used": float(np.mean([r["budget_used"] for r in rows])),
            "ejr_violations": sum(1 for e in ejr if e is False), "ejr_unknown": sum(1 for e in ejr if e is None)}


def evaluate_budgeting(mechanism_fn, problem, cfg: BudgetingEvalConfig) -> dict:
    """Summary of the rule and the references on the held-out real elections (module docstring)."""
    rng = np.random.default_rng(cfg.seed)
    elections = heldout_elections(problem, cfg.max_elections)
    if not elections:
        raise ConfigError(f"problem.holdout_units={list(problem.holdout_units)} holds no approval election")
    weights = (problem.welfare, problem.fair_share)
    rule_rows, reference_rows, per_election = [], {name: [] for name in REFERENCES}, []
    for election in elections:
        mes = reference_outcome(election, "mes")
        funded = run_rule(mechanism_fn, election, cfg.max_voters, rng)
        batch = election_batch(election)  # padded once, measured for the rule and every reference
        row = score(election, batch, funded, mes, cfg.ejr_max_nodes, weights)
        rule_rows.append(row)
        per_election.append({"file": os.path.basename(election.source), "city": city_of(election),
                             "voters": election.num_voters, "projects": election.num_projects, **row})
        for name in REFERENCES:
            outcome = mes if name == "mes" else reference_outcome(election, name)
            reference_rows[name].append(score(election, batch, outcome, mes, cfg.ejr_max_nodes, weights))
    summary = summarise(rule_rows)
    summary["references"] = {name: summarise(rows) for name, rows in reference_rows.items()}
    summary["per_election"] = per_election
    summary["holdout_units"] = list(problem.holdout_units)
    summary["objective_weights"] = {"welfare": problem.welfare, "fair_share": problem.fair_share}
    summary["input"] = f"learned rules see <= {cfg.max_voters} sampled voters; classical rules the whole election"
    return summary
