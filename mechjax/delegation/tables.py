"""The ``delegation_*`` results tables (``python experiments/reproduce.py table=delegation_<name>``).

Each ``produce`` runs its study from the seeds given and returns the markdown body and the data;
nothing here holds a result.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Optional

import jax
import numpy as np
import yaml

from mechjax import registry
from mechjax.delegation.accuracy import accuracy, accuracy_monte_carlo
from mechjax.delegation.fluid import FluidSetting, aggregate_errors
from mechjax.delegation.graphs import experts_instance, random_delegations, star_instance
from mechjax.delegation.policy import evaluate_policy
from mechjax.delegation.power import banzhaf, banzhaf_brute_force, banzhaf_sampled
from mechjax.delegation.resolve import (
    POLICIES,
    reference_resolve,
    reference_resolve_ranked,
    resolve_full,
    resolve_ranked,
)
from mechjax.delegation.rules import RULE_NAMES, DelegationInputs, make_rule
from mechjax.errors import ConfigError
from mechjax.tables import Table


def _md(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _positive(ctx, name):
    value = ctx.extra[name]
    if value < 1:
        raise ConfigError(f"table option {name} must be >= 1, got {value}")
    return value


# ---------------------------------------------------------------- resolution vs the Python reference

def produce_resolution(ctx):
    graphs, ranked = _positive(ctx, "graphs"), _positive(ctx, "ranked_graphs")
    rows, data = [], []
    for seed in ctx.seeds:
        rng = np.random.default_rng(seed)
        agree = {"caster": 0, "weight": 0, "path_length": 0}
        total = lost = 0
        sizes = rng.integers(1, 65, graphs)
        started = time.perf_counter()
        for n in np.unique(sizes):
            count = int((sizes == n).sum())
            delegate = np.asarray(random_delegations(jax.random.key(seed * 1000 + int(n)), count, int(n),
                                                     float(rng.uniform(0.05, 0.5))))
            res = jax.device_get(resolve_full(delegate))
            for b in range(count):
                ref = reference_resolve(delegate[b])
                for key, ours, theirs in zip(agree, (res.caster[b], res.weight[b], res.path_length[b]), ref):
                    agree[key] += int(np.array_equal(ours, theirs))
                lost += int((ref[0] < 0).sum())
                total += 1
        ranked_agree = {p: 0 for p in POLICIES}
        for b in range(ranked):
            n = int(rng.integers(2, 17))
            proxies = rng.integers(-1, n, size=(n, 3))
            proxies[:, 0] = rng.integers(0, n, size=n)
            for p in POLICIES:
                ours = jax.device_get(resolve_ranked(proxies, p))
                ref = reference_resolve_ranked(proxies, p)
                ranked_agree[p] += int(all(np.array_equal(a, r) for a, r in
                                           zip((ours.caster, ours.weight, ours.path_length), ref)))
        wall = time.perf_counter() - started
        rows.append((seed, total, f"{agree['caster']}/{total}", f"{agree['weight']}/{total}",
                     f"{agree['path_length']}/{total}", lost, *(f"{ranked_agree[p]}/{ranked}" for p in POLICIES),
                     f"{wall:.1f}"))
        data.append(dict(seed=seed, graphs=total, agree=agree, lost_votes=lost, ranked_graphs=ranked,
                         ranked_agree=ranked_agree, wall_s=wall))
    body = _md(("seed", "graphs (n = 1..64)", "casters agree", "weights agree", "path lengths agree",
                "votes lost in cycles", *(f"ranked `{p}` agree" for p in POLICIES), "wall [s]"), rows)
    return body, data


# ---------------------------------------------------------------- exact accuracy vs Monte Carlo; Banzhaf

def produce_accuracy(ctx):
    instances, samples = _positive(ctx, "instances"), _positive(ctx, "samples")
    rows, data = [], []
    for seed in ctx.seeds:
        rng = np.random.default_rng(seed)
        zs = []
        for n in (5, 15, 31, 61):
            count = instances // 4
            delegate = np.asarray(random_delegations(jax.random.key(seed * 7 + n), count, n, float(rng.uniform(0.2, 0.7))))
            weight = np.asarray(resolve_full(delegate).weight)
            competence = rng.uniform(0.3, 0.8, (count, n))
            exact = np.asarray(accuracy(weight, competence))
            mc, se = accuracy_monte_carlo(jax.random.key(seed * 11 + n), weight, competence, samples)
            zs.append((np.asarray(mc) - exact) / np.maximum(np.asarray(se), 1.0 / samples))
        z = np.concatenate(zs)
        small = [rng.integers(0, 6, int(rng.integers(1, 11))) for _ in range(200)]
        bz_exact = max(float(np.abs(np.asarray(banzhaf(w, "exact")) - banzhaf_brute_force(w)).max()) for w in small)
        games = rng.integers(0, 8, (200, 30))
        ex = np.asarray(banzhaf(games, "exact"))
        sa = np.asarray(banzhaf_sampled(jax.random.key(seed), games, samples))
        se_b = np.sqrt(np.maximum(ex * (1 - ex), 1.0 / samples) / samples)
        zb = (sa - ex) / se_b
        rows.append((seed, len(z), f"{np.mean(np.abs(z) < 2):.3f}", f"{np.mean(np.abs(z) < 3):.4f}",
                     f"{np.abs(z).max():.2f}", f"{np.mean(z ** 2):.3f}", f"{bz_exact:.1e}",
                     f"{np.mean(np.abs(zb) < 3):.4f}", f"{np.abs(zb).max():.2f}"))
        data.append(dict(seed=seed, instances=int(len(z)), samples=samples, within_2se=float(np.mean(np.abs(z) < 2)),
                         within_3se=float(np.mean(np.abs(z) < 3)), max_abs_z=float(np.abs(z).max()),
                         mean_z2=float(np.mean(z ** 2)), banzhaf_dp_vs_brute_force_max_abs=bz_exact,
                         banzhaf_sampled_within_3se=float(np.mean(np.abs(zb) < 3))))
    body = _md(("seed", "instances", "|z| < 2", "|z| < 3", "max |z|", "mean z^2", "Banzhaf DP vs enumeration (max abs diff, 200 games)",
                "sampled Banzhaf |z| < 3 (200 games x 30 players)", "max |z|"), rows)
    return body, data


# ---------------------------------------------------------------- Kahng, Mackenzie and Procaccia

def _cap_for(n: int) -> int:
    return max(2, math.ceil(math.sqrt(n)))


def produce_kahng(ctx):
    sizes = tuple(int(s) for s in ctx.extra["sizes"])
    per_seed, draws = _positive(ctx, "instances"), _positive(ctx, "draws")
    families = {"star": lambda k, n: star_instance(k, per_seed, n),
                "experts": lambda k, n: experts_instance(k, per_seed, n, _cap_for(n))}
    data, blocks = [], []
    for family, make in families.items():
        rows = []
        for n in sizes:
            acc = {r: [] for r in RULE_NAMES}
            mw = {r: [] for r in RULE_NAMES}
            for seed in ctx.seeds:
                inst = make(jax.random.key(seed * 100_003 + n), n)
                inputs = DelegationInputs(inst.estimate, inst.adjacency)
                for rule in RULE_NAMES:
                    policy = make_rule(rule, alpha=0.05, prob=0.5, cap=_cap_for(n))(inputs)
                    rep = jax.device_get(evaluate_policy(jax.random.key(seed), policy, inst.competence, draws))
                    acc[rule].append(float(rep.accuracy.mean()))
                    mw[rule].append(float(rep.realized_max_weight.mean()))
            cells = [f"{np.mean(acc[r]):.4f} ± {np.std(acc[r]):.4f}" for r in RULE_NAMES]
            rows.append((n, _cap_for(n), *cells, *(f"{np.mean(mw[r]):.1f}" for r in ("local_best", "greedy_cap"))))
            data.append(dict(family=family, n=n, cap=_cap_for(n), accuracy=acc, realized_max_weight=mw))
        header = ("n", "cap", *RULE_NAMES, "max weight local_best", "max weight greedy_cap")
        blocks.append(f"### {family}\n\n" + _md(header, rows))
    return "\n\n".join(blocks), data


# ---------------------------------------------------------------- the learned rule

LEARNED_RULES = ("mechanism", "direct", "local_best", "local_random", "weighted", "greedy_cap")


def _finished_summary(run_dir: str, cfg) -> Optional[dict]:
    """The summary of a run in ``run_dir`` trained to the end and evaluated under exactly ``cfg``
    (training and evaluation settings alike), or None: a table's runs folder is resumable, so a
    seed trained and evaluated earlier (e.g. in a parallel process) is read, not redone."""
    from mechjax import config as config_lib  # late: the front door imports the domains
    from mechjax.experiment import CONFIG_FILE, SUMMARY_FILE

    config_path, summary_path = os.path.join(run_dir, CONFIG_FILE), os.path.join(run_dir, SUMMARY_FILE)
    if not (os.path.exists(config_path) and os.path.exists(summary_path)):
        return None
    if os.path.getmtime(summary_path) < os.path.getmtime(config_path):  # a later call did not finish
        return None
    with open(config_path) as f:
        saved = yaml.safe_load(f)
    if saved != config_lib.build(cfg).cfg:
        return None
    with open(summary_path) as f:
        summary = json.load(f)
    return summary if summary.get("steps") == saved["trainer"]["steps"] else None


def _learned_runs(ctx) -> list:
    from mechjax import experiment  # late: the front door imports the domains

    summaries = []
    for seed in ctx.seeds:
        overrides = [f"+experiment={ctx.extra['preset']}", f"seed={seed}", "progress=false"]
        if ctx.extra["steps"]:
            overrides.append(f"trainer.steps={ctx.extra['steps']}")
        cfg = experiment.compose(overrides)
        run_dir = os.path.join(ctx.runs_root, f"seed_{seed}")
        summaries.append(_finished_summary(run_dir, cfg) or experiment.train(cfg, run_dir))
    return summaries


def produce_learned(ctx):
    summaries = _learned_runs(ctx)
    s0 = summaries[0]
    cap = s0["cap"]
    rows, repair_rows, data = [], [], []
    for rule in LEARNED_RULES:
        per = [s if rule == "mechanism" else s["rules"][rule] for s in summaries if rule == "mechanism" or rule in s["rules"]]
        if not per:
            continue
        get = lambda k: np.array([p[k] for p in per])  # noqa: E731
        acc, gain = get("accuracy"), get("gain_over_direct")
        name = ("learned (delegation_net" + (" + cap repair)" if s0.get("repair") else ")")) if rule == "mechanism" else rule
        rows.append((name, f"{acc.mean():.4f} ± {acc.std():.4f}",
                     f"{gain.mean():+.4f} (se {np.mean(get('gain_over_direct_se')):.4f})",
                     f"{get('realized_max_weight_mean').mean():.2f}", f"{get('realized_max_weight_max').max():g}",
                     "yes" if all(get("cap_respected")) else "no", f"{get('draws_over_cap').mean():.4f}",
                     f"{get('expected_max_weight_max').max():.2f}", f"{get('gini').mean():.3f}"))
        repair_rows.append((name, f"{get('accuracy_unrepaired').mean():.4f}", f"{get('accuracy_repaired').mean():.4f}",
                            f"{get('repair_cost').mean():+.4f} (se {np.mean(get('repair_cost_se')):.4f})",
                            f"{get('repair_fires').mean():.4f}", f"{get('repaired_voters').mean():.4f}"))
        data.append(dict(rule=rule, per_seed=per))
    seed_rows = [(seed, f"{s['accuracy']:.4f}", f"{s['gain_over_direct']:+.4f}", f"{s['realized_max_weight_max']:g}",
                  "yes" if s["cap_respected"] else "no", f"{s['repair_fires']:.4f}", f"{s['repaired_voters']:.5f}",
                  f"{s['repair_cost']:+.5f}", f"{s['expected_max_weight_max']:.2f}",
                  "yes" if s["cap_respected_expected"] else "no", f"{s.get('train_wall_s', float('nan')):.0f}",
                  f"{s.get('eval_wall_s', float('nan')):.0f}")
                 for seed, s in zip(ctx.seeds, summaries)]
    head = (f"{s0['graphs']} held-out {s0['family']} networks of {s0['num_voters']} voters, cap {cap:g}, "
            f"{s0['draws']} delegation draws per network; seeds {list(ctx.seeds)}; "
            f"training steps {s0.get('steps')}.\n\n")
    body = (head + "### Accuracy and power (what each rule deploys)\n\n"
            + _md(("rule", "accuracy (mean ± sd over seeds)", "gain over direct", "realised max weight (mean)",
                   "realised max weight (worst draw, every network and seed)", f"cap {cap:g} respected in every draw",
                   "draws over cap", "E[max weight] before repair, worst network", "Gini"), rows)
            + "\n\n### The learned rule, seed by seed\n\n"
            + _md(("seed", "accuracy", "gain over direct", "realised max weight (worst draw)",
                   "cap respected in every draw", "repair fires (fraction of draws)", "repaired voters (fraction)",
                   "accuracy cost of the repair", "E[max weight] before repair, worst network",
                   "expected weights within cap (before repair)", "training wall [s]", "evaluation wall [s]"), seed_rows)
            + "\n\n### The cap repair applied to every rule (same draws)\n\n"
            + _md(("rule", "accuracy without repair", "accuracy with repair", "cost of the repair",
                   "repair fires (fraction of draws)", "repaired voters (fraction)"), repair_rows))
    return body, data


# ---------------------------------------------------------------- fluid aggregation

def produce_fluid(ctx):
    federations = _positive(ctx, "federations")
    rows, data = [], []
    for lying in (False, True):
        for poisoned in (0.0, 0.1, 0.2, 0.3):
            setting = FluidSetting(poisoned=poisoned, lying=lying)
            cap = _cap_for(setting.clients)
            errs = [aggregate_errors(seed * 10_000 + f, setting, cap) for seed in ctx.seeds for f in range(federations)]
            mean = {k: np.mean([e[k] for e in errs]) for k in errs[0]}
            rows.append(("lie: claim competence 1" if lying else "honest estimates", f"{poisoned:.0%}",
                         *(f"{mean[k]:.3f}" for k in ("mean", "median", "delegation_local_best",
                                                      "delegation_greedy_cap")),
                         f"{mean['max_weight_local_best']:.1f}", f"{mean['max_weight_greedy_cap']:.1f}"))
            data.append(dict(lying=lying, poisoned=poisoned, cap=cap, federations=len(errs), mean=mean))
    body = _md(("poisoned clients' competence", "poisoned", "weighted mean", "coordinate median",
                "delegation local_best", "delegation greedy_cap", "max weight local_best",
                "max weight greedy_cap"), rows)
    return body, data


registry.register_table("delegation_resolution", Table(
    title="Delegation resolution: pointer jumping vs a plain-Python reference (liquid democracy)",
    produce=produce_resolution, default_seeds=(0,),
    options={"graphs": 10_000, "ranked_graphs": 2_000},
    notes="Random delegation graphs (each voter casts with a per-size probability in [0.05, 0.5], else "
          "delegates to a uniformly random other voter, so cycles are common), n uniform in 1..64. "
          "`resolve_full` (batched pointer jumping, JAX) against `reference_resolve` (a chain walk with a "
          "visited set, pure Python): casters (-1 in cycles), weights and path lengths must be identical. "
          "Ranked back-up proxies (k = 3, -1 padding) under both cycle policies against "
          "`reference_resolve_ranked`."))

registry.register_table("delegation_accuracy", Table(
    title="Exact weighted-majority accuracy vs Monte Carlo; Banzhaf dynamic program vs enumeration",
    produce=produce_accuracy, default_seeds=(0,),
    options={"instances": 1000, "samples": 20_000},
    notes="Instances: resolved random delegation graphs of n = 5, 15, 31, 61 voters (a quarter each) with "
          "competences U[0.3, 0.8]. z = (Monte Carlo - exact) / Monte Carlo standard error; if the dynamic "
          "program is right, z is approximately standard normal (|z| < 3 in about 99.7% of instances, "
          "mean z^2 about 1). Banzhaf: the prefix/suffix dynamic program against enumeration of all "
          "coalitions on 200 games of 1..10 players, and the coalition-sampling estimator against the "
          "dynamic program on 200 games of 30 players (weights 0..7)."))

registry.register_table("delegation_kahng", Table(
    title="Local vs capped delegation as n grows (after Kahng, Mackenzie and Procaccia 2021)",
    produce=produce_kahng, default_seeds=(0, 1, 2),
    options={"sizes": (11, 31, 101, 301, 1001), "instances": 4, "draws": 16},
    notes="Accuracy = exact probability of a correct majority decision, averaged over `draws` delegation "
          "graphs per instance (random rules) and `instances` competence draws per seed; mean ± sd over "
          "seeds. `star`: a hub of competence 0.75 approved by every leaf (leaves U[0.55, 0.65]), the "
          "instance family on which a local rule harms: direct voting tends to 1 while every leaf "
          "delegating to the hub stays at 0.75. `experts`: complete graph, ceil(sqrt n) experts of "
          "competence 0.8 among voters U[0.40, 0.48], on which delegation is needed for a gain. "
          "Rules: local_best (delegate to the most competent approved neighbour), local_random "
          "(probability 0.5), weighted (softmax over estimates, temperature 0.05), greedy_cap "
          "(non-local, cap = max(2, ceil(sqrt n))); approval margin alpha = 0.05. The last two columns "
          "are the mean realised largest weight."))

registry.register_table("delegation_learned", Table(
    title="Learned delegation under a power cap vs direct, local and capped rules (held-out networks)",
    produce=produce_learned, default_seeds=(0, 1, 2),
    options={"preset": "delegation_learned", "steps": 0},
    notes="Each seed trains `+experiment=<preset>` (steps=0 keeps the preset's) through the one trainer "
          "(score-function gradient of the exact accuracy of the deployed graphs, augmented Lagrangian on "
          "every voter's expected weight <= cap - cap_margin) and evaluates it with `delegation_eval` on "
          "held-out networks, the baselines on the same networks and draw keys. The learned rule is "
          "deployed with the cap repair (`mechjax/delegation/repair.py`): each drawn delegation graph is "
          "repaired bottom-up, a voter's delegation kept only if her proxy's held weight stays <= cap, "
          "else she casts. 'Cap respected' is the strong, per-realisation sense: in every drawn graph of "
          "every held-out network (and every seed) every caster holds at most cap votes; it implies "
          "every expected weight is <= cap too. Baselines are reported as defined (no repair) in the "
          "first block; the last block applies the same repair to every rule on the same draws, with "
          "how often it changes a drawn graph and the paired accuracy difference. A seed already trained "
          "and evaluated under exactly these settings in the table's runs folder is read, not redone."))

registry.register_table("delegation_fluid", Table(
    title="Fluid aggregation: delegation-weighted federated regression with poisoned clients",
    produce=produce_fluid, default_seeds=(0, 1, 2),
    options={"federations": 20},
    notes="50 clients fit y = x.theta* + noise (10 dimensions, 15..199 samples, noise sd U[0.3, 4]) and send "
          "least-squares estimates; poisoned clients send theta* + 5 u (u a common unit direction). "
          "Competence estimates: percentile of each update's loss on a 50-point server validation set "
          "(honest), or 1 claimed by every poisoned client (lie). Delegation on G(50, 0.3) with "
          "local_best or greedy_cap (cap ceil(sqrt 50) = 8), approval margin 0.05; the aggregate is the "
          "delegation-weighted mean of casters' updates. Entries: mean ||theta_hat - theta*|| over "
          "`federations` federations per seed and the seeds."))
