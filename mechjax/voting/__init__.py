"""Voting: preference profiles, classical rules, PrefLib data, axiom audits, manipulation, and
learned rules (``nets``, ``losses``, ``problem``) trained through ``mechjax.core.trainer``; a trained
rule loads with ``mechjax.voting.load(run_dir)``, and ``evaluate_voting`` measures any rule on
held-out profiles (mimicry, welfare, axioms, exhaustive manipulation).

``rankings`` are ``int [batch, voters, candidates]`` (each row a permutation, best first); rules
return ``bool [batch, candidates]`` winner sets with ties kept.
"""

from mechjax.voting import axioms, losses, manipulation, nets, preflib, problem, profiles, relaxed_search, rules
from mechjax.voting.axioms import AXIOMS, AxiomResult, audit
from mechjax.voting.evaluate import VotingEvalConfig, evaluate_voting
from mechjax.voting.losses import LossWeights
from mechjax.voting.manipulation import ManipulationResult, coalition_manipulation, single_voter_manipulation
from mechjax.voting.nets import Ballots, VotingNet, as_rule, ballots_from_rankings
from mechjax.voting.preflib import PreflibElection, from_rankings, read_preflib, write_preflib
from mechjax.voting.problem import VotingBatch, VotingProblem
from mechjax.voting.profiles import (
                           CULTURES,
                           CultureConfig,
                           Profile,
                           borda_utilities,
                           check_rankings,
                           dirichlet,
                           euclidean,
                           impartial_culture,
                           mallows,
                           margins,
                           pairwise_support,
                           plackett_luce,
                           single_peaked,
                           urn,
                           variable_size_profiles,
)
from mechjax.voting.relaxed_search import RelaxedSearch, deviation_gains, relaxed_manipulation
from mechjax.voting.rules import (
                           LOTTERIES,
                           RULES,
                           borda,
                           condorcet,
                           copeland,
                           get_rule,
                           instant_runoff,
                           instant_runoff_put,
                           instant_runoff_tb,
                           kemeny,
                           lowest_index,
                           maximin,
                           plurality,
                           random_dictatorship,
                           random_winner,
                           ranked_pairs,
                           ranked_pairs_tb,
                           schulze,
                           uniform_lottery,
)
from mechjax.voting.trained import load

__all__ = [
    "axioms", "losses", "manipulation", "nets", "preflib", "problem", "profiles", "relaxed_search", "rules",
    "RelaxedSearch", "deviation_gains", "relaxed_manipulation",
    "LossWeights", "Ballots", "VotingNet", "as_rule", "ballots_from_rankings", "VotingBatch",
    "VotingProblem", "variable_size_profiles", "load",
    "AXIOMS", "AxiomResult", "audit", "VotingEvalConfig", "evaluate_voting",
    "ManipulationResult", "coalition_manipulation", "single_voter_manipulation",
    "PreflibElection", "from_rankings", "read_preflib", "write_preflib",
    "CULTURES", "CultureConfig", "Profile", "borda_utilities", "check_rankings", "dirichlet",
    "euclidean", "impartial_culture", "mallows", "margins", "pairwise_support", "plackett_luce",
    "single_peaked", "urn",
    "LOTTERIES", "RULES", "borda", "condorcet", "copeland", "get_rule", "instant_runoff", "instant_runoff_put",
    "instant_runoff_tb", "kemeny", "lowest_index", "maximin", "plurality", "random_dictatorship", "random_winner",
    "ranked_pairs", "ranked_pairs_tb", "schulze", "uniform_lottery",
]
