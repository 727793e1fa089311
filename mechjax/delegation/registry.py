"""Config builders for liquid democracy: the ``delegation`` problem kind, the learned
``delegation_net`` rule, the classical rules as ``mechanism=delegation_rule``, the evaluator
(section ``delegation_eval``) and the ``delegation_*`` results tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mechjax import registry
from mechjax.delegation import tables  # noqa: F401  (registers the delegation_* results tables)
from mechjax.delegation.evaluate import DelegationEvalConfig, evaluate_delegation
from mechjax.delegation.nets import DelegationNet
from mechjax.delegation.problem import DelegationProblem
from mechjax.delegation.rules import RULE_NAMES, make_rule
from mechjax.delegation.trained import validating
from mechjax.errors import ConfigError, DataError


@registry.register(registry.PROBLEMS, "delegation")
def build_delegation_problem(section: dict) -> DelegationProblem:
    """``problem=delegation/<preset>``: the section's keys are the fields of ``DelegationProblem`` (plus ``kind``)."""
    return registry.from_section(DelegationProblem, section, "problem", drop=("kind",))


def _require(kind: str, name: str) -> None:
    if kind != "delegation":
        raise ConfigError(f"mechanism.name={name} needs problem.kind=delegation, got {kind!r}")


@dataclass(frozen=True)
class DelegationNetConfig:
    """``mechanism=delegation_net``: the message-passing delegation rule (``nets.DelegationNet``).

    Attributes:
        name: always ``delegation_net``.
        dim: hidden width.
        depth: message-passing rounds.
    """

    name: str = "delegation_net"
    dim: int = 32
    depth: int = 2

    def __post_init__(self):
        for field in ("dim", "depth"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < (1 if field == "dim" else 0):
                raise ConfigError(f"mechanism.{field} must be a {'positive' if field == 'dim' else 'non-negative'} "
                                  f"integer, got {value!r}")


@registry.register(registry.MECHANISMS, "delegation_net")
def build_delegation_net(section: dict, problem, kind: str):
    _require(kind, "delegation_net")
    cfg = registry.from_section(DelegationNetConfig, section, "mechanism")
    return lambda rngs: DelegationNet(cfg.dim, cfg.depth, rngs=rngs)


@dataclass(frozen=True)
class DelegationRuleConfig:
    """``mechanism=delegation_rule``: a classical rule (``rules.RULE_NAMES``) as a mechanism.

    Attributes:
        name: always ``delegation_rule``.
        rule: ``direct``, ``local_best``, ``local_random``, ``weighted`` or ``greedy_cap``.
        alpha: approval margin.
        threshold: ``local_best``'s minimum number of approved neighbours.
        prob: ``local_random``'s delegation probability.
        temperature: ``weighted``'s temperature.
        cap: ``greedy_cap``'s weight cap; null uses ``problem.cap``.
    """

    name: str = "delegation_rule"
    rule: str = "greedy_cap"
    alpha: float = 0.05
    threshold: int = 1
    prob: float = 0.5
    temperature: float = 0.05
    cap: Optional[float] = None

    def __post_init__(self):
        if self.rule not in RULE_NAMES:
            raise ConfigError(f"mechanism.rule must be one of {RULE_NAMES}, got {self.rule!r}")
        if self.cap is not None and self.cap < 0:
            raise ConfigError(f"mechanism.cap must be >= 0 (or null for problem.cap), got {self.cap}")


@registry.register(registry.CLASSICAL, "delegation_rule")
def build_delegation_rule(section: dict, problem, kind: str):
    _require(kind, "delegation_rule")
    cfg = registry.from_section(DelegationRuleConfig, section, "mechanism")
    try:
        fn = make_rule(cfg.rule, cfg.alpha, cfg.threshold, cfg.prob, cfg.temperature,
                       problem.cap if cfg.cap is None else cfg.cap)
    except DataError as err:
        raise ConfigError(f"mechanism.{err}") from err
    return lambda inputs, training=False: fn(inputs)


@registry.register_evaluator("delegation", section="delegation_eval", config_cls=DelegationEvalConfig)
def evaluate(mechanism_fn, problem: DelegationProblem, section: Optional[dict]) -> dict:
    cfg = registry.from_section(DelegationEvalConfig, dict(section or {}), "delegation_eval")
    return evaluate_delegation(mechanism_fn, problem, cfg)


def _summary_rows(summary: dict) -> list:
    rows = [("accuracy", summary.get("accuracy")), ("gain over direct", summary.get("gain_over_direct")),
            ("worst realised weight", summary.get("realized_max_weight_max")),
            ("cap respected in every draw", summary.get("cap_respected")),
            ("max expected weight (before repair)", summary.get("expected_max_weight_max")),
            ("repair fires (fraction of draws)", summary.get("repair_fires"))]
    for rule, values in (summary.get("rules") or {}).items():
        rows.append((f"{rule} accuracy", values.get("accuracy")))
    return rows


registry.SUMMARY_ROWS["delegation"] = _summary_rows
registry.LOADERS["delegation"] = lambda mechanism_fn, problem: validating(mechanism_fn)
