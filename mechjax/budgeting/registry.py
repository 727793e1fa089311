"""Config builders for participatory budgeting: the ``budgeting`` problem kind, the learned
``pb_net`` rule, the classical rules as ``mechanism=pb_rule``, the evaluator (section
``budgeting_eval``) and the results tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np

from mechjax import registry
from mechjax.budgeting.evaluate import BudgetingEvalConfig, evaluate_budgeting
from mechjax.budgeting.nets import PBNet
from mechjax.budgeting.problem import BudgetingProblem
from mechjax.errors import ConfigError


@registry.register(registry.PROBLEMS, "budgeting")
def build_budgeting_problem(section: dict) -> BudgetingProblem:
    """``problem=budgeting/<preset>``: the section's keys are the fields of ``BudgetingProblem`` (plus ``kind``)."""
    return registry.from_section(BudgetingProblem, section, "problem", drop=("kind",))


def _require(kind: str, name: str) -> None:
    if kind != "budgeting":
        raise ConfigError(f"mechanism.name={name} needs problem.kind=budgeting, got {kind!r}")


@dataclass(frozen=True)
class PBNetConfig:
    """``mechanism=pb_net``: exchangeable voters x projects network, budget-feasible selection.

    Attributes:
        name: always ``pb_net``.
        dim: feature width.
        depth: residual exchangeable blocks.
        straight_through: train on the hard selection's values with the relaxed selection's
            gradient (so a welfare / fair-share objective is that of the rule used at inference);
            meant for those objectives: a cross-entropy at 0/1 values has no useful gradient.
    """

    name: str = "pb_net"
    dim: int = 32
    depth: int = 2
    straight_through: bool = False

    def __post_init__(self):
        if self.dim < 1 or self.depth < 0:
            raise ConfigError(f"mechanism.dim must be >= 1 and mechanism.depth >= 0, got {self.dim}, {self.depth}")


@registry.register(registry.MECHANISMS, "pb_net")
def build_pb_net(section: dict, problem: BudgetingProblem, kind: str):
    _require(kind, "pb_net")
    cfg = registry.from_section(PBNetConfig, section, "mechanism")

    def factory(rngs: nnx.Rngs) -> PBNet:
        return PBNet(cfg.dim, cfg.depth, problem.temperature, straight_through=cfg.straight_through, rngs=rngs)

    return factory


PB_RULES = ("mes", "greedy", "phragmen")


@dataclass(frozen=True)
class PBRuleConfig:
    """``mechanism=pb_rule``: a classical rule (evaluation only). ``rule``: mes, greedy or phragmen."""

    name: str = "pb_rule"
    rule: str = "mes"

    def __post_init__(self):
        if self.rule not in PB_RULES:
            raise ConfigError(f"mechanism.rule must be one of {PB_RULES}, got {self.rule!r}")


def classical_mechanism(rule: str):
    """The rule as a jittable mechanism on padded batches (host callback), carrying ``pb_rule``
    (``election -> funded``) so the evaluator runs it exactly on whole elections."""
    from mechjax.budgeting.election import make_election
    from mechjax.budgeting.evaluate import reference_outcome

    def host(approvals, voter_mask, project_mask, costs):
        out = np.zeros(costs.shape, np.float32)
        for b in range(costs.shape[0]):
            voters, projects = voter_mask[b] > 0, project_mask[b] > 0
            election = make_election(costs[b][projects].astype(np.float64), 1.0,
                                     approvals=approvals[b][np.ix_(voters, projects)] > 0.5)
            out[b, projects] = reference_outcome(election, rule)
        return out

    def mechanism(batch, training: bool = False):
        shape = jax.ShapeDtypeStruct(batch.costs.shape, jnp.float32)
        return jax.pure_callback(host, shape, batch.approvals, batch.voter_mask, batch.project_mask, batch.costs)

    mechanism.pb_rule = lambda election: reference_outcome(election, rule)
    return mechanism


@registry.register(registry.CLASSICAL, "pb_rule")
def build_pb_rule(section: dict, problem: BudgetingProblem, kind: str):
    _require(kind, "pb_rule")
    cfg = registry.from_section(PBRuleConfig, section, "mechanism")
    return classical_mechanism(cfg.rule)


@registry.register_evaluator("budgeting", section="budgeting_eval", config_cls=BudgetingEvalConfig)
def evaluate(mechanism_fn, problem: BudgetingProblem, section: Optional[dict]) -> dict:
    return evaluate_budgeting(mechanism_fn, problem,
                              registry.from_section(BudgetingEvalConfig, dict(section or {}), "budgeting_eval"))


@registry.register(registry.SUMMARY_ROWS, "budgeting")
def summary_rows(summary: dict) -> list:
    refs = summary.get("references") or {}
    rows = [("Jaccard with MES", summary.get("jaccard_mes")), ("exact match with MES", summary.get("exact_match_mes")),
            ("feasible", summary.get("feasible_rate")), ("welfare", summary.get("welfare"))]
    for name in ("mes", "greedy"):
        rows.append((f"welfare ({name})", (refs.get(name) or {}).get("welfare")))
    if summary.get("objective") is not None:  # the stated training objective (welfare / fair-share mix)
        rows.append(("stated objective", summary["objective"]))
        for name in ("mes", "greedy"):
            rows.append((f"stated objective ({name})", (refs.get(name) or {}).get("objective")))
    rows.append(("EJR violations", summary.get("ejr_violations")))
    for name in ("mes", "greedy"):
        rows.append((f"EJR violations ({name})", (refs.get(name) or {}).get("ejr_violations")))
    return rows


def _loader(mechanism_fn, problem):
    """``mechjax.load``: the rule on a ``PBBatch`` (hard, feasible selection)."""
    from mechjax.budgeting.trained import validated_rule
    return validated_rule(mechanism_fn)


registry.LOADERS["budgeting"] = _loader

from mechjax.budgeting import tables as _tables  # noqa: E402,F401  (registers the pb_* results tables)
