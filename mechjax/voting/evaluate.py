"""Evaluating a voting rule, learned or classical, on held-out profiles.

One call measures what a researcher reports for a rule:

* **mimicry**: how often the rule's most likely winner is one of the target rule's winners, on
  profiles drawn like the training ones and at other sizes (``sizes``: more voters, more
  candidates than in training);
* **welfare**: utilitarian, egalitarian and Nash welfare of the outcome lottery, next to the same
  welfare of every classical rule on the same profiles and the utilitarian optimum a rule that saw
  the utilities (not just the rankings) could reach;
* **axioms**: satisfaction rates from ``axioms.audit`` (satisfied / applicable);
* **manipulability**: the fraction of profiles in which some voter gains by misreporting, found by
  exhaustive search over all ``m!`` ballots of every voter (``manipulation``) when
  ``m <= manipulation.MAX_CANDIDATES``, and above that by the relaxed-ballot search
  (``relaxed_search``: gradient ascent over relaxed ballots, rounding, local search), whose
  every reported manipulation is a real ballot, so its rate is a lower bound. The training-time
  relaxed adversary's gains are never reported.

The rule enters as a ``Ballots -> winner probabilities`` function (what the registry's learned and
classical voting mechanisms are). Held-out profiles come from ``seed``, a key no training run uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mechjax import progress
from mechjax.errors import ConfigError
from mechjax.validate import check_fields
from mechjax.voting import axioms as axioms_lib
from mechjax.voting import losses
from mechjax.voting.manipulation import MAX_CANDIDATES, single_voter_manipulation
from mechjax.voting.nets import Ballots, ballots_from_rankings
from mechjax.voting.profiles import CultureConfig, borda_utilities
from mechjax.voting.relaxed_search import RelaxedSearch, relaxed_manipulation
from mechjax.voting.rules import KEMENY_MAX_CANDIDATES, RANKED_PAIRS_MAX_CANDIDATES, RULES, uniform_lottery

_LIMITS = {"kemeny": KEMENY_MAX_CANDIDATES, "ranked_pairs": RANKED_PAIRS_MAX_CANDIDATES,
           "ranked_pairs_tb": RANKED_PAIRS_MAX_CANDIDATES}
WELFARE = ("utilitarian", "egalitarian", "nash")


@dataclass(frozen=True)
class VotingEvalConfig:
    """``voting_eval``: what the voting evaluator measures and on how many held-out profiles.

    Attributes:
        seed: seed of the held-out profiles (independent of every training key).
        profiles: profiles for accuracy and welfare, drawn like the training batches.
        sizes: extra ``[voters, candidates]`` sizes for accuracy and welfare (fixed-size profiles of
            the training culture); null means the training maxima, 4x the voters, and one and two
            more candidates.
        welfare_rules: classical rules whose welfare is reported next to the rule's.
        audit_profiles: profiles (training maxima) for the axiom audits; 0 skips them.
        axioms: which audits (names of ``axioms.AXIOMS``).
        manipulation_profiles: profiles (training maxima) for the manipulation search (exhaustive
            up to ``manipulation.MAX_CANDIDATES`` candidates, the relaxed-ballot search above); 0 skips it.
        relaxed_search: settings of the relaxed-ballot search (``RelaxedSearch`` fields), or null
            for its defaults.
        chunk_size: profiles per compiled call.
    """

    seed: int = 1_000_003
    profiles: int = 4000
    sizes: Optional[Sequence[Sequence[int]]] = None
    welfare_rules: Sequence[str] = ("plurality", "borda", "copeland", "maximin", "kemeny",
                                    "instant_runoff", "schulze", "ranked_pairs")
    audit_profiles: int = 1000
    axioms: Sequence[str] = ("condorcet", "pareto", "anonymity", "neutrality", "monotonicity", "participation")
    manipulation_profiles: int = 300
    relaxed_search: Optional[dict] = None
    chunk_size: int = 2048

    def __post_init__(self):
        for name in ("seed", "profiles", "audit_profiles", "manipulation_profiles"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"voting_eval.{name} must be an integer >= 0, got {value!r}")
        if self.profiles < 1:
            raise ConfigError("voting_eval.profiles must be >= 1")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ConfigError(f"voting_eval.chunk_size must be an integer >= 1, got {self.chunk_size!r}")
        for size in self.sizes or ():
            if (len(size) != 2 or not all(isinstance(s, int) for s in size) or size[0] < 1 or size[1] < 2):
                raise ConfigError(f"voting_eval.sizes entries must be [voters >= 1, candidates >= 2], got {list(size)}")
        self.search()  # bad relaxed-search settings fail here, before anything is compiled
        unknown = [r for r in self.welfare_rules if r not in RULES]
        if unknown:
            raise ConfigError(f"voting_eval.welfare_rules: unknown rules {unknown}; expected some of {sorted(RULES)}")
        unknown = [a for a in self.axioms if a not in axioms_lib.AXIOMS]
        if unknown:
            raise ConfigError(f"voting_eval.axioms: unknown axioms {unknown}; expected some of {axioms_lib.AXIOMS}")

    def search(self) -> RelaxedSearch:
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in (self.relaxed_search or {}).items()}
        settings = check_fields(RelaxedSearch, settings, "voting_eval.relaxed_search")  # types, finiteness
        try:
            return RelaxedSearch(**settings)
        except TypeError as err:
            raise ConfigError(f"voting_eval.relaxed_search: {err}") from err

    def eval_sizes(self, num_voters: int, num_candidates: int) -> list[tuple[int, int]]:
        if self.sizes is not None:
            return [tuple(s) for s in self.sizes]
        return [(num_voters, num_candidates), (4 * num_voters, num_candidates),
                (num_voters, num_candidates + 1), (num_voters, num_candidates + 2)]


def as_ranking_rule(mechanism: Callable) -> Callable:
    """``(rankings, weights=None) -> winner probabilities`` from a ``Ballots`` mechanism."""
    return lambda rankings, weights=None: mechanism(ballots_from_rankings(jnp.asarray(rankings), weights))


def _chunked(mechanism: Callable, ballots: Ballots, chunk: int) -> np.ndarray:
    outs = []
    for start, stop, idx in axioms_lib.chunk_indices(ballots.ranks.shape[0], chunk):
        outs.append(np.asarray(mechanism(jax.tree.map(lambda x: x[idx], ballots)))[: stop - start])
    return np.concatenate(outs)


def _welfare(probs, utilities, weights) -> dict:
    probs, utilities, weights = (jnp.asarray(x, jnp.float32) for x in (probs, utilities, weights))
    return {name: float(jnp.mean(getattr(losses, name)(probs, utilities, weights))) for name in WELFARE}


def _accuracy(probs, target) -> float:
    top = np.argmax(probs, -1)
    return float(np.take_along_axis(np.asarray(target), top[:, None], -1).mean())


def _rule_fits(name: str, m: int) -> bool:
    return m <= _LIMITS.get(name, m)


def evaluate_voting(mechanism: Callable, problem, cfg: Optional[VotingEvalConfig] = None) -> dict:
    """Measures ``mechanism`` (``Ballots -> winner probabilities``) on held-out profiles of ``problem``.

    Args:
        mechanism: the rule on ``Ballots``; jit it first for speed.
        problem: the ``VotingProblem`` it was trained on (culture, target, sizes).
        cfg: what to measure (defaults: ``VotingEvalConfig()``).

    Returns:
        A flat dict of numbers plus ``welfare_classical`` and ``sizes`` tables (JSON-ready).
    """
    cfg = cfg or VotingEvalConfig()
    stages = 2 + bool(cfg.audit_profiles and cfg.axioms) + bool(cfg.manipulation_profiles)
    with progress.bar(stages, "evaluate: held-out profiles", "stage") as bar:
        return _evaluate(mechanism, problem, cfg, bar)


def _evaluate(mechanism: Callable, problem, cfg: VotingEvalConfig, bar) -> dict:
    key = jax.random.key(cfg.seed)
    k_main, k_sizes, k_audit, k_manip = jax.random.split(key, 4)
    n, m = problem.num_agents, problem.num_candidates
    summary: dict = {"eval_profiles": cfg.profiles, "eval_seed": cfg.seed, "target": problem.target}

    # --- profiles drawn like the training batches (variable sizes and padding included)
    batch = jax.jit(problem.sample, static_argnums=1)(k_main, cfg.profiles)
    probs = _chunked(mechanism, batch.ballots, cfg.chunk_size)
    mask = np.asarray(batch.ballots.candidate_mask)
    if problem.target is not None:
        summary["accuracy"] = _accuracy(probs, batch.target)
        summary["target_probability"] = float((probs * np.asarray(batch.target)).sum(-1).mean())
    summary.update({f"welfare_{k}": v for k, v in _welfare(probs, batch.utilities, batch.ballots.weights).items()})
    mean_u = np.einsum("bn,bnm->bm", np.asarray(batch.ballots.weights), np.asarray(batch.utilities))
    mean_u /= np.asarray(batch.ballots.weights).sum(-1, keepdims=True)
    summary["welfare_utilitarian_optimum"] = float(np.where(mask, mean_u, -np.inf).max(-1).mean())
    classical, classical_lotteries = {}, {}
    weights_int = jnp.asarray(batch.ballots.weights, jnp.int32)
    for name in cfg.welfare_rules:
        if not _rule_fits(name, m):
            continue
        winners = RULES[name](batch.rankings, weights_int) & batch.ballots.candidate_mask
        classical_lotteries[name] = uniform_lottery(winners)
        classical[name] = _welfare(classical_lotteries[name], batch.utilities, batch.ballots.weights)
    summary["welfare_classical"] = classical
    if classical:
        best = max(classical, key=lambda r: classical[r]["utilitarian"])
        # paired on the same profiles: per-profile welfare difference, its mean and standard error
        diff = np.asarray(losses.utilitarian(jnp.asarray(probs), batch.utilities, batch.ballots.weights)
                          - losses.utilitarian(classical_lotteries[best], batch.utilities, batch.ballots.weights))
        summary["best_classical_utilitarian"] = {
            "rule": best, "welfare": classical[best]["utilitarian"], "difference": float(diff.mean()),
            "difference_stderr": float(diff.std(ddof=1) / np.sqrt(len(diff)))}

    bar.update(1)
    bar.set_description("evaluate: other sizes")
    # --- other sizes: fixed-size profiles of the same culture
    rule = as_ranking_rule(mechanism)
    sizes = []
    for i, (sn, sm) in enumerate(cfg.eval_sizes(n, m)):
        culture = CultureConfig(**{**problem.culture.__dict__, "num_voters": sn, "num_candidates": sm,
                                   "strengths": None})
        profile = culture.sample(jax.random.fold_in(k_sizes, i), cfg.profiles)
        p = axioms_lib.evaluate(rule, profile.rankings, None, cfg.chunk_size)
        row = {"voters": sn, "candidates": sm}
        if problem.target is not None and _rule_fits(problem.target, sm):
            target = np.asarray(RULES[problem.target](profile.rankings))
            row["accuracy"] = _accuracy(p, target)
        utilities = profile.utilities if profile.utilities is not None else borda_utilities(profile.rankings)
        row["welfare_utilitarian"] = _welfare(p, utilities, np.ones((cfg.profiles, sn)))["utilitarian"]
        sizes.append(row)
    summary["sizes"] = sizes
    bar.update(1)
    bar.set_description("evaluate: axioms")

    # --- axiom audits and exhaustive manipulation at the training maxima
    fixed = problem.culture
    if cfg.audit_profiles and cfg.axioms:
        profile = fixed.sample(k_audit, cfg.audit_profiles)
        options = {"participation": {"utilities": None if profile.utilities is None else np.asarray(profile.utilities)}}
        results = axioms_lib.audit(rule, np.asarray(profile.rankings), jax.random.fold_in(k_audit, 1), axioms=tuple(cfg.axioms), **options)
        summary["axioms"] = {a: {"rate": r.rate if r.num_applicable else None, "applicable": r.num_applicable}
                             for a, r in results.items()}
        bar.update(1)
    bar.set_description("evaluate: manipulation")
    if cfg.manipulation_profiles:
        profile = fixed.sample(k_manip, cfg.manipulation_profiles)
        started = time.perf_counter()
        if m <= MAX_CANDIDATES:
            result = single_voter_manipulation(rule, profile.rankings, profile.utilities, chunk_size=cfg.chunk_size)
            attacker = f"exhaustive: each of {n} voters x all {m}! ballots"
        else:
            search = cfg.search()
            result = relaxed_manipulation(mechanism, profile.rankings, profile.utilities,
                                          key=jax.random.fold_in(k_manip, 1), search=search)
            attacker = (f"relaxed-ballot search, each of {n} voters (a lower bound: every reported ballot is real "
                        f"and re-scored): {search}")
        summary["manipulability"] = result.rate
        summary["manipulation"] = {"attacker": attacker,
                                   "profiles": cfg.manipulation_profiles,
                                   "mean_best_gain": float(np.maximum(result.gain, 0).max(-1).mean()),
                                   "wall_s": round(time.perf_counter() - started, 2)}
        bar.update(1)
    return summary

