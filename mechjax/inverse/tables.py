"""The DIML results tables, registered with ``registry.register_table``.

``python experiments/reproduce.py table=<name> [seeds=0,1,2,3,4] [option=value ...]`` writes
``experiments/results/<name>.md`` and ``.json``; the header (command, seeds, commit, hardware,
wall time) is ``reproduce``'s. Every number in a body comes from the study run by that command;
``tiny=true`` shrinks any study to a seconds-long smoke run (numbers meaningless).

* ``diml_table`` / ``diml_table_neural``: DIML against every baseline (``evaluate.run_instance``);
* ``diml_beta_ablation``: DIML fitted with a misspecified inverse temperature;
* ``diml_identifiability``: gauge-equivalent mechanisms are indistinguishable (``studies``);
* ``diml_anonymous``: wall time per epoch and recovery on large anonymous games (``studies``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mechjax import registry
from mechjax.errors import ConfigError
from mechjax.inverse import evaluate, studies
from mechjax.inverse.fit import FitConfig
from mechjax.tables import Table, TableContext

NAMES = {"trivial": "trivial (all payoffs equal)", "behaviour_cloning": "behaviour cloning",
         "tabular_mle": "tabular MLE", "parametric_mle": "parametric MLE (correct family)",
         "diml": "**DIML (neural payoff map)**"}
# How the weight decays of InstanceConfig were chosen (development seeds, never reported); stated,
# not rerun, by the tables that use them.
TUNING = {"dev_seeds": (100, 101), "diml_weight_decay": (0.03, 0.3, 1, 3, 10), "mle_weight_decay": (0.1, 1, 3)}
FIVE_SEEDS = (0, 1, 2, 3, 4)


def mean_sd(values, digits: int = 4) -> str:
    """``mean ± sample sd`` of the non-None ``values`` (``n/a`` when there are none)."""
    values = np.asarray([v for v in values if v is not None], np.float64)
    if values.size == 0:
        return "n/a"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1) if values.size > 1 else 0.0:.{digits}f}"


def tiny(cfg: evaluate.InstanceConfig) -> evaluate.InstanceConfig:
    """A seconds-long configuration for smoke tests."""
    small = FitConfig(steps=20, steps_per_chunk=10, batch_size=16, burn_in=8)
    return dataclasses.replace(cfg, episodes=16, steps=12, heldout_episodes=8, kl_episodes=16, fit=small,
                               diml_fit=small, counterfactual=cfg.counterfactual[:1])


def _instance_config(options: dict) -> evaluate.InstanceConfig:
    cfg = evaluate.InstanceConfig()
    return tiny(cfg) if options.get("tiny") else cfg


def _check_choices(values, allowed, field: str) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown or not values:
        raise ConfigError(f"{field} must be a non-empty subset of {list(allowed)}, got {list(values)}")


def _shifted(cfg: evaluate.InstanceConfig) -> str:
    return ", ".join(f"{chr(65 + i)}: alpha={c.alpha}, beta={c.beta}, epsilon={c.epsilon}"
                     for i, c in enumerate(cfg.counterfactual))


def _estimator_section(game: str, runs: list[dict], cfg: evaluate.InstanceConfig) -> str:
    lines = [f"## {game}", "",
             f"Counterfactual learners ({_shifted(cfg)}); KL(true || learned) of expected joint-action visitation "
             f"(product of the agents' policies averaged over simulated states), {cfg.kl_episodes} runs x "
             f"{cfg.steps + 1} steps per mechanism, common random numbers.", "",
             "| estimator | payoff-diff MSE, held-out contexts | trivial / estimator (mean; worst seed) "
             "| payoff-diff correlation, held-out | payoff-diff MSE, all contexts | held-out NLL per agent-step "
             "| KL shifted A | KL shifted B | fit s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in evaluate.ESTIMATORS:
        if name not in runs[0]:
            continue
        rows = [r[name] for r in runs]
        ratio = [r["trivial"]["mse_heldout"] / r[name]["mse_heldout"] if "trivial" in r else np.nan for r in runs]
        cells = [NAMES[name], mean_sd([x["mse_heldout"] for x in rows]), f"{np.mean(ratio):.1f}x; {np.min(ratio):.1f}x",
                 mean_sd([x.get("correlation_heldout") for x in rows], 3), mean_sd([x.get("mse_all") for x in rows]),
                 mean_sd([x["nll"] for x in rows]), mean_sd([x.get("kl_0") for x in rows]),
                 mean_sd([x.get("kl_1") for x in rows]), mean_sd([x["fit_s"] for x in rows], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    inst = [r["_instance"] for r in runs]
    lines += ["", f"True mechanism: held-out NLL {mean_sd([i['true_nll'] for i in inst])}; KL between two independent "
              "simulations of the true mechanism (the sampling-noise floor): "
              f"A {mean_sd([i.get('kl_floor_0') for i in inst])}, B {mean_sd([i.get('kl_floor_1') for i in inst])}.",
              "", "Per-seed payoff-diff MSE on held-out contexts:", "",
              "| estimator | " + " | ".join(f"seed {i['seed']}" for i in inst) + " |", "|---|" + "---|" * len(inst)]
    for name in evaluate.ESTIMATORS:
        if name in runs[0]:
            lines.append(f"| {name} | " + " | ".join(f"{r[name]['mse_heldout']:.4f}" for r in runs) + " |")
    return "\n".join(lines) + "\n"


def _settings(cfg: evaluate.InstanceConfig) -> str:
    return (f"Data per seed: {cfg.episodes} training and {cfg.heldout_episodes} held-out episodes x {cfg.steps + 1} "
            f"joint actions of {cfg.learner}. MLE baselines: {cfg.fit}. DIML: {cfg.diml_fit}. Weight decay "
            f"was chosen on development seeds {list(TUNING['dev_seeds'])} (never reported; not rerun by this command) "
            f"by held-out NLL: DIML among {list(TUNING['diml_weight_decay'])}, tabular MLE among "
            f"{list(TUNING['mle_weight_decay'])}.")


def produce_estimator_table(ctx: TableContext) -> tuple[str, dict]:
    """``diml_table`` / ``diml_table_neural``: every estimator on every game and seed."""
    options = ctx.extra
    _check_choices(options["games"], evaluate.GAMES, "games")
    _check_choices(options["estimators"], evaluate.ESTIMATORS, "estimators")
    cfg = _instance_config(options)
    runs = {game: [evaluate.run_instance(game, seed, cfg, tuple(options["estimators"])) for seed in ctx.seeds]
            for game in options["games"]}
    body = _settings(cfg) + "\n\n" + "\n".join(_estimator_section(game, runs[game], cfg) for game in runs)
    return body, runs


ESTIMATOR_NOTES = (
    "Each seed draws its own mechanism, training and held-out trajectories of logit-Q learners, fits every "
    "estimator on the training trajectories and scores it (`mechjax.inverse.evaluate.run_instance`). "
    "Payoff-diff MSE: mean over contexts, agents and own actions of the squared error of "
    "u_i(a, a_-i) - mean_b u_i(b, a_-i), the identified part of a payoff map; held-out contexts are the joint "
    "actions of the held-out trajectories; the correlation is that of the same gauge-fixed payoffs. Every "
    "likelihood estimator is trained by `mechjax.inverse.fit` through `mechjax.core.trainer.make_train` with the "
    "shared optimiser (AdamW decaying weight matrices and payoff tables only). Behaviour cloning counts each "
    "agent's action given the previous joint action, with a pseudo-count toward her marginal action "
    "frequencies, and inverts a static logit response for its payoffs. Mean ± sample sd over seeds.")


def produce_beta_ablation(ctx: TableContext) -> tuple[str, dict]:
    """``diml_beta_ablation``: DIML fitted assuming beta_fit = m * beta for each multiplier m."""
    options = ctx.extra
    _check_choices((options["game"],), evaluate.GAMES, "game")
    if not options["multipliers"] or min(options["multipliers"]) <= 0:
        raise ConfigError(f"multipliers must be positive numbers, got {list(options['multipliers'])}")
    base = _instance_config(options)
    runs = {}
    for m in options["multipliers"]:
        cfg = dataclasses.replace(base, fit_learner=base.learner.replace(beta=base.learner.beta * m))
        runs[m] = [evaluate.run_instance(options["game"], seed, cfg, estimators=("trivial", "diml")) for seed in ctx.seeds]
    lines = [f"DIML training: {base.diml_fit}; data as `diml_table` ({base.episodes} episodes x {base.steps + 1} "
             f"joint actions of {base.learner}).", "",
             f"## {options['game']}: DIML fitted with beta_fit = m x beta (true beta = {base.learner.beta})", "",
             f"Counterfactual learners ({_shifted(base)}), KL(true || learned) of expected joint-action visitation "
             "with common random numbers. Held-out NLL is scored under the learner the fit assumed.", "",
             "| m = beta_fit / beta | payoff-diff MSE, held-out contexts | payoff-diff correlation, held-out "
             "| held-out NLL per agent-step | KL shifted A | KL shifted B |", "|---|---|---|---|---|---|"]
    for m in options["multipliers"]:
        rows = [r["diml"] for r in runs[m]]
        lines.append(f"| {m:g} | " + " | ".join(mean_sd([x.get(k) for x in rows])
                                                for k in ("mse_heldout", "correlation_heldout", "nll", "kl_0",
                                                          "kl_1")) + " |")
    trivial = [r["trivial"] for r in runs[options["multipliers"][0]]]
    lines += ["", f"Trivial estimator for scale: MSE {mean_sd([x['mse_heldout'] for x in trivial])}, KL A "
              f"{mean_sd([x.get('kl_0') for x in trivial])}, KL B {mean_sd([x.get('kl_1') for x in trivial])}.", "",
              "Per-seed KL shifted A:", "", "| m | " + " | ".join(f"seed {s}" for s in ctx.seeds) + " |",
              "|---|" + "---|" * len(ctx.seeds)]
    for m in options["multipliers"]:
        lines.append(f"| {m:g} | " + " | ".join(f"{r['diml']['kl_0']:.4f}" for r in runs[m]) + " |")
    return "\n".join(lines) + "\n", {f"{k:g}": v for k, v in runs.items()}


BETA_NOTES = (
    "Data come from logit-Q learners; DIML (neural payoff map) is fitted assuming beta_fit = m x beta for each "
    "multiplier m. Only beta * u is identified from behaviour, so a wrong beta_fit rescales the learned payoffs by "
    "beta / beta_fit: the held-out NLL (scored under the assumed learner) barely moves and the scale-free "
    "correlation stays high, while predictions for learners with a stated different (alpha, beta, epsilon) degrade. "
    "Mean ± sample sd over seeds.")


def produce_identifiability(ctx: TableContext) -> tuple[str, list]:
    """``diml_identifiability``: gauge shifts change nothing observable; the control does."""
    options = ctx.extra
    _check_choices((options["game"],), ("congestion", "public_goods", "neural"), "game")
    for field in ("episodes", "steps", "fit_steps", "kl_episodes"):
        if options[field] < 1:
            raise ConfigError(f"{field} must be >= 1, got {options[field]}")
    cfg = studies.IdentifiabilityConfig(options["game"], options["episodes"], options["steps"], options["fit_steps"],
                                        options["kl_episodes"])
    rows = [studies.identifiability_instance(seed, cfg) for seed in ctx.seeds]
    pairs = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    lines = [f"Data: {cfg.episodes} episodes x {cfg.steps + 1} joint actions per seed of {studies.LEARNER} playing a "
             f"{cfg.game} game. Shifted learner for the KL: {studies.SHIFTED}, expected joint-action visitation over "
             f"{cfg.kl_episodes} runs per mechanism, common random numbers. DIML: neural payoff map, {cfg.fit_steps} "
             "steps.", "",
             "| pair | raw payoff MSE (not gauge-fixed) | max abs log-lik gap, any observed action "
             "| payoff-diff MSE (metric) | `metrics.equivalent` | visitation KL, shifted learner |",
             "|---|---|---|---|---|---|"]
    for pair in pairs:
        vals = [r[pair] for r in rows]
        lines.append(f"| {pair} | {mean_sd([v['raw_payoff_mse'] for v in vals], 3)} | "
                     f"{max(v['max_loglik_gap'] for v in vals):.2e} (max over seeds) | "
                     f"{max(v['payoff_diff_mse'] for v in vals):.2e} (max over seeds) | "
                     f"{sum(v['equivalent'] for v in vals)}/{len(vals)} seeds | "
                     f"{mean_sd([v['kl_shifted'] for v in vals])} |")
    return "\n".join(lines) + "\n", rows


IDENTIFIABILITY_NOTES = (
    "For each seed: a mechanism u, data from logit-Q learners playing it, and two shifted mechanisms, u + c_i (an "
    "agent-specific constant) and u + c_i(a_-i) (a constant per agent and others' joint action), drawn by "
    "`mechjax.testing.inverse.gauge_shift`. Reported: how far apart the raw payoff tensors are, the largest "
    "difference in the log-likelihood of any observed action, and what the library's comparison metrics say; the "
    "same for a DIML estimate and its shift, so fitted models obey it too. The control row changes one payoff "
    "difference and must be told apart. Single-precision arithmetic: gaps at the level of its rounding are rounding.")


def produce_anonymous(ctx: TableContext) -> tuple[str, list]:
    """``diml_anonymous``: per (n, seed), both anonymous payoff maps fitted and timed."""
    options = ctx.extra
    _check_choices(options["models"], studies.ANONYMOUS_MODELS, "models")
    if not options["agents"] or min(options["agents"]) < 2:
        raise ConfigError(f"agents must be integers >= 2, got {list(options['agents'])}")
    cfg = studies.AnonymousConfig(models=tuple(options["models"]))
    if options["tiny"]:
        cfg = dataclasses.replace(cfg, episodes=4, steps=6, heldout=2, kl_episodes=4, batch=8, window=4, burn_in=2,
                                  fit_steps=4, chunk=2)
    rows = [studies.anonymous_instance(n, seed, cfg) for n in options["agents"] for seed in ctx.seeds]
    lines = [f"Games: {studies.ANONYMOUS_ACTIONS} actions. Data per seed: {cfg.episodes} episodes x {cfg.steps + 1} "
             f"joint actions of {studies.LEARNER}; held-out "
             f"{cfg.heldout} episodes. Training: batch {cfg.batch} windows of {cfg.window} joint actions, history "
             f"replay burn-in {cfg.burn_in}, {cfg.fit_steps} outer steps in chunks of {cfg.chunk}; "
             f"{rows[0]['steps_per_epoch']} outer steps per epoch. KL: expected per-step action shares of "
             f"{studies.SHIFTED}, {cfg.kl_episodes} runs per mechanism, common random numbers. Optimiser settings "
             f"per model (not tuned): {studies.ANONYMOUS_MODELS}.", "",
             "| n | model | wall s per epoch | ms per outer step | first chunk s (compile) | epochs trained "
             "| payoff-diff MSE, held-out contexts | trivial MSE | held-out NLL | true NLL | KL shifted (shares) "
             "| trivial KL |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in sorted({r["n"] for r in rows}):
        sub = [r for r in rows if r["n"] == n]
        for model in cfg.models:
            x = [r[model] for r in sub]
            lines.append(f"| {n} | {model} | {mean_sd([v['epoch_s'] for v in x], 3)} | "
                         f"{mean_sd([v['step_ms'] for v in x], 1)} | {mean_sd([v['first_chunk_s'] for v in x], 1)} | "
                         f"{x[0]['epochs']:.0f} | {mean_sd([v['mse'] for v in x])} | "
                         f"{mean_sd([r['trivial_mse'] for r in sub])} | {mean_sd([v['nll'] for v in x])} | "
                         f"{mean_sd([r['true_nll'] for r in sub])} | {mean_sd([v['kl'] for v in x])} | "
                         f"{mean_sd([r['trivial_kl'] for r in sub])} |")
    return "\n".join(lines) + "\n", rows


ANONYMOUS_NOTES = (
    "Per (n, seed): an anonymous game (payoff from own action and the others' action shares, never a "
    "dense tensor), training data of logit-Q learners, and two DIML fits through the shared trainer: the "
    "unstructured anonymous neural map and the correctly specified parametric family. An epoch is one pass over "
    "the data in windows; its wall time is the median chunk time after compilation, per step, times the steps per "
    "epoch (`mechjax.inverse.studies.anonymous_instance`). Timings depend on the machine and its load. Joint "
    "actions are too many to histogram, so the KL compares per-step action shares. Mean ± sample sd over seeds.")

_ESTIMATOR_OPTIONS = {"estimators": evaluate.ESTIMATORS, "tiny": False}

registry.register_table("diml_table", Table(
    title="DIML vs baselines: congestion tolls and public goods", produce=produce_estimator_table,
    notes=ESTIMATOR_NOTES, default_seeds=FIVE_SEEDS,
    options={"games": ("congestion", "public_goods"), **_ESTIMATOR_OPTIONS}))
registry.register_table("diml_table_neural", Table(
    title="DIML vs baselines: an unstructured (neural) mechanism", produce=produce_estimator_table,
    notes=ESTIMATOR_NOTES + " The neural game's correct family is the full table, so parametric MLE is tabular MLE.",
    default_seeds=FIVE_SEEDS, options={"games": ("neural",), **_ESTIMATOR_OPTIONS}))
registry.register_table("diml_beta_ablation", Table(
    title="DIML ablation: misspecified beta", produce=produce_beta_ablation, notes=BETA_NOTES,
    default_seeds=FIVE_SEEDS, options={"game": "congestion", "multipliers": (0.5, 1.0, 2.0), "tiny": False}))
registry.register_table("diml_identifiability", Table(
    title="Identifiability: payoff differences only", produce=produce_identifiability, notes=IDENTIFIABILITY_NOTES,
    default_seeds=FIVE_SEEDS,
    options={"game": "congestion", "episodes": 128, "steps": 60, "fit_steps": 500, "kl_episodes": 256}))
registry.register_table("diml_anonymous", Table(
    title="DIML on large anonymous games", produce=produce_anonymous, notes=ANONYMOUS_NOTES, default_seeds=(0, 1, 2),
    options={"agents": (40, 80, 120), "models": tuple(studies.ANONYMOUS_MODELS), "tiny": False}))
