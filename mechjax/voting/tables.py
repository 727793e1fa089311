"""The voting results tables (``python experiments/reproduce.py table=<name>``), registered here.

Run tables: ``voting_mimicry``, ``voting_welfare``, ``voting_strategyproof``. Computed tables
(studies in ``mechjax.voting.studies``): ``voting_audit_classical``, ``voting_relaxed_attack``.
"""

from __future__ import annotations

import os

from mechjax import registry
from mechjax.errors import ConfigError
from mechjax.tables import Row, Table, TableContext
from mechjax.voting.report import render_mimicry, render_welfare
from mechjax.voting.studies.audit import OPTIONS as AUDIT_OPTIONS
from mechjax.voting.studies.audit import audit_study
from mechjax.voting.studies.relaxed_attack import relaxed_attack_study

MIMIC_TARGETS = ("plurality", "borda", "copeland", "maximin", "kemeny")
SMALL_ELECTIONS = ("problem.culture.num_voters=7", "problem.culture.num_candidates=4", "mechanism.dim=16",
                   "trainer.steps=1500", "trainer.batch_size=32", "trainer.checkpoint_every=500")


def _classical(name: str, preset: str, *overrides: str) -> Row:
    return Row(name, (f"+experiment={preset}", "mechanism=voting_rule", f"mechanism.rule={name}", *overrides),
               evaluate_only=True)


def _one_seed(ctx: TableContext, table: str) -> int:
    if len(ctx.seeds) != 1:
        raise ConfigError(f"seeds: table={table} takes one seed, got {list(ctx.seeds)}")
    return ctx.seeds[0]


registry.register_table("voting_mimicry", Table(
    title="Learned voting rules mimicking classical rules (issue: learned voting rules)",
    rows=(*(Row(t, ("+experiment=voting_mimic", f"problem.target={t}")) for t in MIMIC_TARGETS),
          *(_classical(t, "voting_mimic", f"problem.target={t}") for t in MIMIC_TARGETS)),
    render=render_mimicry,
    notes="Training: impartial culture, every batch fresh profiles of variable size (padded; see "
          "`conf/experiment/voting_mimic.yaml`), cross-entropy to the target's winner set read as a uniform lottery; "
          "DeepSets rule (`mechanism=voting_net`), anonymous and neutral by construction. The fixed-size columns "
          "beyond the training maxima are sizes never seen in training. Classical rows evaluate the target rule "
          "itself with the same evaluator, so audits and manipulability sit side by side with its learned mimic.\n\n"
          "How to read the audits: where the target ties, a mimic's lottery over the tied winners need not be "
          "uniform. The set-valued audits read a lottery by its modes, so a mimic that leans to one tied winner can "
          "meet Condorcet more often than its target's full tied set; the lottery checks (participation, "
          "manipulability) count any expected-utility gain above 1e-6, so a slight lean can fail them where the "
          "uniform lottery does not. The size of the best manipulation (mean best gain) is the measure to compare.",
))

registry.register_table("voting_welfare", Table(
    title="A learned welfare-maximising voting rule against classical rules (issue: learned voting rules)",
    rows=(Row("deepsets", ("+experiment=voting_welfare",)),
          Row("set_transformer", ("+experiment=voting_welfare", "mechanism=voting_set_transformer")),
          *(_classical(r, "voting_welfare") for r in ("plurality", "borda", "maximin"))),
    render=render_welfare,
    notes="Voters' utilities are Dirichlet(1) vectors over the candidates; a rule sees only the rankings they "
          "induce. Training maximises the expected utilitarian welfare of the outcome lottery on fresh batches of "
          "variable size (see `conf/experiment/voting_welfare.yaml`). Every row is measured on the same held-out "
          "profiles. The second table lists the welfare of every classical rule on those profiles (from the learned "
          "run's evaluator); the classical rows of the first add their audits and manipulability.",
))

registry.register_table("voting_strategyproof", Table(
    title="Learned voting rules trained against exact manipulation (issue: learned voting rules)",
    rows=(Row("welfare", ("+experiment=voting_welfare", *SMALL_ELECTIONS)),
          Row("welfare_strategyproof", ("+experiment=voting_welfare_strategyproof",)),
          *(_classical(r, "voting_welfare", *SMALL_ELECTIONS[:2])
            for r in ("plurality", "borda", "copeland", "maximin", "random_dictatorship"))),
    render=render_welfare,
    notes=f"Small elections (`{' '.join(SMALL_ELECTIONS)}` on top of `+experiment=voting_welfare`; the "
          "strategyproof preset uses the same sizes), Dirichlet(1) utilities. `welfare` maximises utilitarian "
          "welfare only; `welfare_strategyproof` adds every voter's exact manipulation regret (all m! ballots tried "
          "inside the jitted step, `inner=exhaustive_ballots`) under the augmented Lagrangian. The evaluation "
          "search is the same exhaustive one on held-out profiles: it cannot be stronger than exact. A lottery rule "
          "is 'manipulable' whenever some gain exceeds 1e-6, so the mean best gain (per profile, the largest "
          "expected-utility gain any voter can get) is the measure to read. Random dictatorship is strategyproof, "
          "so both of its measures must be 0: a check of the attacker.",
))


def _audit(ctx: TableContext):
    return audit_study(_one_seed(ctx, "voting_audit_classical"), ctx.extra)


registry.register_table("voting_audit_classical", Table(
    title="Axiom audit of classical voting rules (impartial culture, n <= 55, m <= 5)",
    produce=_audit, options=AUDIT_OPTIONS))


RELAXED_OPTIONS = {"profiles": 200, "net_profiles": 100, "voters": 11, "sizes": (4, 5), "temperatures": (0.01, 0.05),
                   "nets": ("plurality",), "net_seed": 0, "big": 8, "big_profiles": 30, "big_net_profiles": 20}


def _relaxed_attack(ctx: TableContext):
    seed, options = _one_seed(ctx, "voting_relaxed_attack"), ctx.extra
    for name in ("profiles", "net_profiles", "voters", "big_profiles", "big_net_profiles"):
        if options[name] < 1:
            raise ConfigError(f"{name} must be >= 1, got {options[name]}")
    if any(not 2 <= m <= 6 for m in options["sizes"]):
        raise ConfigError(f"sizes: the exhaustive reference needs 2..6 candidates, got {options['sizes']}")
    if options["big"] and not 2 <= options["big"] <= 9:
        raise ConfigError(f"big must be 0 (off) or 2..9 candidates (closed-form reference), got {options['big']}")
    if any(not t > 0 for t in options["temperatures"]):
        raise ConfigError(f"temperatures must be > 0, got {options['temperatures']}")
    from mechjax import experiment  # the front door, at call time only
    nets = {}
    for target in options["nets"]:
        run = f"{target}_seed{options['net_seed']}"
        run_dir = os.path.join(ctx.runs_of("voting_mimicry"), run)
        if not os.path.exists(os.path.join(run_dir, "summary.json")):
            raise ConfigError(f"nets: {run_dir} holds no finished run; make it with `python experiments/reproduce.py "
                              f"table=voting_mimicry seeds={options['net_seed']}` or pass nets= (none)")
        nets[f"VotingNet mimicking {target} (voting_mimicry/{run})"] = experiment.load(run_dir)[0]
    return relaxed_attack_study(seed, options, nets)


registry.register_table("voting_relaxed_attack", Table(
    title="Relaxed-ballot manipulation search vs the exhaustive search",
    produce=_relaxed_attack, options=RELAXED_OPTIONS))
