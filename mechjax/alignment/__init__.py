"""Alignment as social choice: annotator populations with hidden types, reward models (BTL,
Plackett-Luce, distributional), EM mixtures of preference types, and egalitarian / MMRA policies,
each learner trained by the shared ``make_train``; measured against the generated truth.

Data are ``rankings int [n, k]`` (response indices, best first; ``k = 2`` for pairs) and
``annotator int [n]``, the voting module's ranking convention (a judgement ranks the responses it
was shown).

Contract: :func:`fit_reward`, :func:`fit_mixture`, :func:`maxmin_policy`, :func:`utilitarian_policy`,
:func:`load`. Pluralism: :func:`fit_ideal_point` / :func:`adapt_users` (ideal-point model, few-shot
users); loss design: :func:`fit_tournament_scores` (BTL, soft Copeland, soft Kemeny) with
:func:`learned_rule` for the voting module's audits.
"""

from mechjax.alignment.data import PreferenceData, check_preferences, read_csv, read_soi, write_csv, write_soi
from mechjax.alignment.fit import (
    MixtureFit,
    fit_distributional,
    fit_exact_btl,
    fit_mixture,
    fit_mixture_full,
    fit_reward,
)
from mechjax.alignment.ideal_point import (
    IdealPointPopulation,
    random_ideal_point_population,
    sample_user_judgements,
)
from mechjax.alignment.ideal_point_study import adapt_users, few_shot_study, fit_ideal_point
from mechjax.alignment.identifiability import adjusted_rand_index, twin_mixtures
from mechjax.alignment.loss_design import (
    LOSSES,
    fit_tournament_scores,
    learned_rule,
    loss_design_study,
    majority_criterion,
    profile_tournaments,
)
from mechjax.alignment.policies import (
    maxmin_policy,
    mmra_policy,
    policy_values,
    regrets,
    type_policies,
    utilitarian_policy,
)
from mechjax.alignment.populations import (
    Population,
    pair_probabilities,
    random_population,
    ranking_probabilities,
    sample_judgements,
)
from mechjax.alignment.social_choice import borda_scores, hidden_context_conditions, hidden_context_population


def load(run_dir: str, replica: int = 0, step=None):
    """The trained reward / mixture / policy of ``run_dir`` (``experiments/train.py +experiment=alignment_*``).

    Returns:
        A no-argument callable giving rewards ``[K]``, ``(rewards [T, K], weights [T])`` or a policy ``[K]``.
    """
    from mechjax import experiment  # late: the front door imports the domains
    from mechjax.alignment.config import AlignmentTask
    from mechjax.errors import ConfigError

    loaded, problem = experiment.load(run_dir, replica, step)  # wrapped by registry.LOADERS["alignment"]
    if not isinstance(problem, AlignmentTask):
        raise ConfigError(f"{run_dir} holds a {type(problem).__name__} run, not an alignment run; use mechjax.load")
    return loaded


__all__ = [
    "PreferenceData", "check_preferences", "read_csv", "read_soi", "write_csv", "write_soi",
    "MixtureFit", "fit_distributional", "fit_exact_btl", "fit_mixture", "fit_mixture_full", "fit_reward",
    "IdealPointPopulation", "random_ideal_point_population", "sample_user_judgements",
    "adapt_users", "few_shot_study", "fit_ideal_point",
    "LOSSES", "fit_tournament_scores", "learned_rule", "loss_design_study", "majority_criterion", "profile_tournaments",
    "adjusted_rand_index", "twin_mixtures",
    "maxmin_policy", "mmra_policy", "policy_values", "regrets", "type_policies", "utilitarian_policy",
    "Population", "pair_probabilities", "random_population", "ranking_probabilities", "sample_judgements",
    "borda_scores", "hidden_context_conditions", "hidden_context_population", "load",
]
