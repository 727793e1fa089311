"""Liquid democracy: delegation graphs, truth-tracking, power, and learned delegation rules.

* ``resolve(delegate) -> (caster, weight)``: pointer-jumping resolution of one or a batch of
  delegation graphs (``delegate[i] == i`` casts; votes caught in a cycle get caster -1, weight 0);
  ``resolve_full`` adds path lengths and cycle members, ``resolve_ranked`` back-up proxies.
* ``accuracy(weight, competence)``: exact probability that the weighted majority is correct
  (ties count half); ``accuracy_monte_carlo`` cross-checks it.
* ``power``: max weight, Gini, Banzhaf values of the weighted majority game.
* ``graphs``: network families and the Kahng et al. instances; ``rules``: direct, local,
  weighted and GreedyCap delegation; ``cost``: representing everyone under a budget.
* ``DelegationProblem`` / ``DelegationNet``: a learned rule under a power cap, trained by
  ``mechjax.core.trainer``; ``load(run_dir)`` returns it; ``repair_delegates`` / ``capped_draws``:
  the cap repair that makes every realised delegation graph respect the cap (how a learned rule is
  deployed); ``fluid``: delegation-weighted federated aggregation.
"""

from mechjax.delegation import accuracy as accuracy_lib
from mechjax.delegation import graphs, policy, power, rules
from mechjax.delegation import resolve as resolve_lib
from mechjax.delegation.accuracy import accuracy, accuracy_monte_carlo, check_competence
from mechjax.delegation.evaluate import DelegationEvalConfig, evaluate_delegation
from mechjax.delegation.graphs import Instance, experts_instance, star_instance
from mechjax.delegation.nets import DelegationNet
from mechjax.delegation.policy import evaluate_policy, expected_weight
from mechjax.delegation.power import banzhaf, banzhaf_brute_force, gini, max_weight, normalized
from mechjax.delegation.problem import DelegationBatch, DelegationProblem
from mechjax.delegation.repair import capped_draws, reference_repair, repair_delegates
from mechjax.delegation.resolve import (
                                        Resolution,
                                        reference_resolve,
                                        reference_resolve_ranked,
                                        resolve,
                                        resolve_full,
                                        resolve_ranked,
)
from mechjax.delegation.rules import RULE_NAMES, DelegationInputs, greedy_cap_delegates, make_rule
from mechjax.delegation.trained import load

__all__ = [
    "accuracy_lib", "graphs", "policy", "power", "resolve_lib", "rules",
    "accuracy", "accuracy_monte_carlo", "check_competence", "DelegationEvalConfig", "evaluate_delegation",
    "Instance", "experts_instance", "star_instance", "DelegationNet", "evaluate_policy", "expected_weight",
    "banzhaf", "banzhaf_brute_force", "gini", "max_weight", "normalized", "DelegationBatch",
    "DelegationProblem", "Resolution", "reference_resolve", "reference_resolve_ranked", "resolve",
    "resolve_full", "resolve_ranked", "RULE_NAMES", "DelegationInputs", "greedy_cap_delegates", "make_rule",
    "load", "capped_draws", "reference_repair", "repair_delegates",
]
