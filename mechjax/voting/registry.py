"""Config builders for voting: the ``voting`` problem kind, the learned ``voting_net`` rule, the
classical rules as ``mechanism=voting_rule``, and the voting evaluator (section ``voting_eval``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import flax.nnx as nnx
import jax.numpy as jnp

from mechjax import registry
from mechjax.errors import ConfigError
from mechjax.voting.evaluate import VotingEvalConfig, evaluate_voting
from mechjax.voting.losses import LossWeights
from mechjax.voting.nets import MIXERS, Ballots, VotingNet
from mechjax.voting.problem import ExhaustiveBallots, VotingProblem
from mechjax.voting.profiles import CultureConfig
from mechjax.voting.rules import LOTTERIES, RULES, lowest_index, uniform_lottery


@dataclass(frozen=True)
class VotingConfig:
    """``problem=voting/<preset>``: elections to learn a rule on.

    Attributes:
        kind: always ``voting``.
        culture: the sampling culture (``CultureConfig`` fields: ``name``, ``num_voters``,
            ``num_candidates`` (maxima with ``variable_sizes``), ``phi``, ``alpha``, ...).
        loss: objective weights (``LossWeights`` fields: ``mimicry``, ``utilitarian``,
            ``egalitarian``, ``nash``, ``condorcet``, ``pareto``, ``anonymity``, ``neutrality``,
            ``participation``).
        target: classical rule to mimic, or null.
        variable_sizes: draw the number of voters and candidates per profile (padding).
        manipulation: add per-voter manipulation regret against relaxed ballots (train it with
            ``inner=adversary`` and a constraint).
        sinkhorn_iterations: iterations of the relaxed-ballot projection.
    """

    kind: str = "voting"
    culture: Optional[dict] = None
    loss: Optional[dict] = None
    target: Optional[str] = "borda"
    variable_sizes: bool = False
    manipulation: bool = False
    sinkhorn_iterations: int = 30

    def build(self) -> VotingProblem:
        try:
            culture = registry.from_section(CultureConfig, dict(self.culture or {}), "problem.culture")
        except ConfigError as err:  # CultureConfig names its own fields "culture.<x>"
            message = str(err)
            raise ConfigError(message if message.startswith("problem.") else "problem." + message) from err
        loss = registry.from_section(LossWeights, dict(self.loss or {}), "problem.loss")
        return VotingProblem(culture=culture, loss=loss, target=self.target, variable_sizes=self.variable_sizes,
                             manipulation=self.manipulation, sinkhorn_iterations=self.sinkhorn_iterations)


@registry.register(registry.PROBLEMS, "voting")
def build_voting_problem(section: dict) -> VotingProblem:
    return registry.from_section(VotingConfig, section, "problem").build()


def _require_voting(kind: str, name: str) -> None:
    if kind != "voting":
        raise ConfigError(f"mechanism.name={name} needs problem.kind=voting, got {kind!r}")


@dataclass(frozen=True)
class VotingNetConfig:
    """``mechanism=voting_net``: DeepSets or set-transformer rule, anonymous by construction.

    Attributes:
        name: always ``voting_net``.
        mixer: ``deepsets`` (pooled means) or ``attention`` (set-transformer style).
        dim: token width.
        depth: voter/candidate mixing blocks.
        heads: attention heads (``mixer=attention``; divides ``dim``).
        neutral: candidate-equivariant (True) or with a learned embedding per candidate index.
    """

    name: str = "voting_net"
    mixer: str = "deepsets"
    dim: int = 32
    depth: int = 2
    heads: int = 4
    neutral: bool = True

    def __post_init__(self):
        if self.mixer not in MIXERS:
            raise ConfigError(f"mechanism.mixer must be one of {MIXERS}, got {self.mixer!r}")


@registry.register(registry.MECHANISMS, "voting_net")
def build_voting_net(section: dict, problem: VotingProblem, kind: str):
    _require_voting(kind, "voting_net")
    cfg = registry.from_section(VotingNetConfig, section, "mechanism")

    def factory(rngs: nnx.Rngs) -> VotingNet:
        return VotingNet(problem.num_candidates, cfg.dim, cfg.depth, cfg.mixer, cfg.heads, cfg.neutral, rngs=rngs)

    nnx.eval_shape(lambda: factory(nnx.Rngs(0)))  # fail on bad sizes now (nothing runs or compiles), not inside jit
    return factory


@dataclass(frozen=True)
class VotingRuleConfig:
    """``mechanism=voting_rule``: a classical rule as a mechanism (evaluation, not training).

    Attributes:
        name: always ``voting_rule``.
        rule: a key of ``rules.RULES`` (``borda``, ``copeland``, ...) or of ``rules.LOTTERIES``
            (``random_dictatorship``).
        tie_break: ``uniform`` (the winner set as a uniform lottery) or ``lowest_index``.
    """

    name: str = "voting_rule"
    rule: str = "borda"
    tie_break: str = "uniform"

    def __post_init__(self):
        if self.rule not in RULES and self.rule not in LOTTERIES:
            raise ConfigError(f"mechanism.rule must be one of {sorted(RULES) + sorted(LOTTERIES)}, got {self.rule!r}")
        if self.tie_break not in ("uniform", "lowest_index"):
            raise ConfigError(f"mechanism.tie_break must be uniform or lowest_index, got {self.tie_break!r}")


def classical_mechanism(rule: str, tie_break: str = "uniform"):
    """A classical rule on ``Ballots`` (hard ballots): winner set -> lottery over real candidates."""
    fn = RULES.get(rule)

    def mechanism(ballots: Ballots, training: bool = False):
        rankings = jnp.argsort(jnp.argmax(ballots.ranks, -1), -1)
        if fn is None:  # a lottery rule
            return LOTTERIES[rule](rankings, ballots.weights) * ballots.candidate_mask
        winners = fn(rankings, ballots.weights.astype(jnp.int32)) & ballots.candidate_mask
        return uniform_lottery(lowest_index(winners) if tie_break == "lowest_index" else winners)

    return mechanism


@registry.register(registry.CLASSICAL, "voting_rule")
def build_voting_rule(section: dict, problem: VotingProblem, kind: str):
    _require_voting(kind, "voting_rule")
    cfg = registry.from_section(VotingRuleConfig, section, "mechanism")
    return classical_mechanism(cfg.rule, cfg.tie_break)


@dataclass(frozen=True)
class _ExhaustiveBallotsConfig:
    kind: str = "exhaustive_ballots"


EXHAUSTIVE_MAX_CANDIDATES = 5  # 120 ballots per voter and profile


@registry.register(registry.INNERS, "exhaustive_ballots")
def build_exhaustive_ballots(section: dict, problem) -> ExhaustiveBallots:
    registry.from_section(_ExhaustiveBallotsConfig, section, "inner")
    if not isinstance(problem, VotingProblem):
        raise ConfigError("inner=exhaustive_ballots needs problem.kind=voting")
    if problem.num_candidates > EXHAUSTIVE_MAX_CANDIDATES:
        raise ConfigError(f"inner=exhaustive_ballots tries all m! ballots: it needs problem.culture.num_candidates "
                          f"<= {EXHAUSTIVE_MAX_CANDIDATES}, got {problem.num_candidates}; use inner=adversary")
    return ExhaustiveBallots(problem)


@registry.register_evaluator("voting", section="voting_eval", config_cls=VotingEvalConfig)
def evaluate(mechanism_fn, problem: VotingProblem, section: Optional[dict]) -> dict:
    return evaluate_voting(mechanism_fn, problem, registry.from_section(VotingEvalConfig, dict(section or {}), "voting_eval"))


@registry.register(registry.SUMMARY_ROWS, "voting")
def summary_rows(summary: dict) -> list:
    """Console rows of a voting summary: accuracy, welfare next to the best classical rule, axioms,
    manipulability."""
    best = summary.get("best_classical_utilitarian") or {}
    rows = [("accuracy vs target", summary.get("accuracy")),
            ("utilitarian welfare", summary.get("welfare_utilitarian")),
            (f"best classical ({best.get('rule')})" if best else "best classical", best.get("welfare"))]
    for axiom, result in (summary.get("axioms") or {}).items():
        rows.append((f"{axiom} satisfaction", result.get("rate")))
    rows.append(("manipulable (exhaustive)" if "exhaustive" in str((summary.get("manipulation") or {}).get("attacker"))
                 else "manipulable (lower bound)", summary.get("manipulability")))
    return rows

from mechjax.voting import tables as _tables  # noqa: E402,F401  (registers the voting results tables)
from mechjax.voting.trained import validated_ballot_rule  # noqa: E402

registry.LOADERS["voting"] = validated_ballot_rule  # mechjax.load: the net on Ballots, input checked
