"""The ideal-point and loss-design results tables (``python experiments/reproduce.py table=alignment_<name>``).

Every number comes from the ``produce`` functions below; ``notes`` describe the method only.
"""

from __future__ import annotations

import numpy as np

from mechjax import registry
from mechjax.alignment.tables import _fmt, _mean_std, _table
from mechjax.errors import ConfigError
from mechjax.tables import Table, TableContext


def produce_ideal_point(ctx: TableContext):
    from mechjax.alignment.ideal_point_study import few_shot_study

    e = ctx.extra
    if e["train_users"] < 1 or e["test_users"] < 1 or e["heldout"] < 1:
        raise ConfigError("train_users, test_users and heldout must be >= 1")
    runs = [few_shot_study(seed, e["types"], e["responses"], e["dim"], e["train_users"], e["per_train_user"],
                           e["test_users"], e["heldout"], e["shots"], e["concentration"], e["rationality"],
                           e["spread"], e["steps"]) for seed in ctx.seeds]
    shots = runs[0]["shots"]
    rows = []
    for i, k in enumerate(shots):
        ideal, scratch = [r["ideal_point"][i] for r in runs], [r["scratch"][i] for r in runs]
        rows.append([k, _mean_std(ideal), _mean_std(scratch), _mean_std([r["shared"] for r in runs]),
                     _mean_std([r["oracle"] for r in runs]),
                     _mean_std([r["ideal_point"][i] - r["shared"] for r in runs]),
                     f"{sum(r['ideal_point'][i] > r['shared'] for r in runs)}/{len(runs)}",
                     f"{sum(r['ideal_point'][i] > r['scratch'][i] for r in runs)}/{len(runs)}"])
    body = [f"Held-out pair accuracy of {e['test_users']} unseen users ({e['heldout']} held-out pairs each) after "
            f"adapting on their first k pairs; mean ± std over seeds {', '.join(map(str, ctx.seeds))}.", "",
            _table(["k (user's pairs)", "ideal point (weights only)", "per-user from scratch", "single shared reward",
                    "true user reward (ceiling)", "ideal point minus shared", "ideal point > shared (seeds)",
                    "ideal point > scratch (seeds)"], rows), "",
            "Prototype recovery (fitted vs true prototype rewards on the identified scale, centred, best "
            "matching of prototypes):", ""]
    rec = [[str(r["seed"]), _fmt(r["recovery"]["rms_error"]), _fmt(r["recovery"]["relative_error"]),
            ", ".join(f"{c:.3f}" for c in r["recovery"]["correlations"]), _fmt(r["train_weight_error"])]
           for r in runs]
    body += [_table(["seed", "RMS error", "RMS error / RMS of truth", "correlation per prototype",
                     "training users' weight error (total variation, mean)"], rec)]
    return "\n".join(body), runs


def produce_loss_design(ctx: TableContext):
    from mechjax.alignment.loss_design import loss_design_study

    e = ctx.extra
    if e["profiles"] < 1 or e["voters"] < 1:
        raise ConfigError("profiles and voters must be >= 1")
    runs = [loss_design_study(seed, e["profiles"], e["candidates"], e["voters"], e["temperatures"], e["steps"])
            for seed in ctx.seeds]
    rows = []
    for j, row in enumerate(runs[0]["rows"]):
        rs = [r["rows"][j] for r in runs]
        cond = np.sum([r["condorcet"] for r in rs], 0)
        maj = np.sum([r["majority"] for r in rs], 0)
        rows.append([row["loss"], "-" if row["temperature"] is None else f"{row['temperature']:g}",
                     f"{100 * cond[0] / max(cond[1], 1):.1f}% ({cond[0]}/{cond[1]})",
                     f"{100 * maj[0] / max(maj[1], 1):.1f}% ({maj[0]}/{maj[1]})",
                     _mean_std([r["top_is_borda_winner"] for r in rs]),
                     _mean_std([r["top_is_copeland_winner"] for r in rs]),
                     _mean_std([r["top_is_kemeny_winner"] for r in rs]),
                     ", ".join(r["sixty_forty_top"] for r in rs)])
    total = sum(r["profiles"] for r in runs)
    body = [f"{total} impartial-culture profiles with a Condorcet winner ({e['voters']} voters, "
            f"{', '.join(map(str, e['candidates']))} candidates, seeds {', '.join(map(str, ctx.seeds))}); each "
            "loss's top response audited by mechjax.voting.axioms.condorcet_consistency and the majority criterion "
            "(applicable where a response is ranked first by a strict majority).", "",
            _table(["loss", "temperature", "Condorcet consistency", "majority criterion", "top = Borda winner",
                    "top = Copeland winner", "top = Kemeny winner", "60/40 top (per seed; A is the Condorcet winner)"],
                   rows)]
    return "\n".join(body), runs


registry.register_table("alignment_ideal_point", Table(
    title="Alignment: ideal-point model, few-shot adaptation to unseen users and prototype recovery",
    produce=produce_ideal_point, default_seeds=(0, 1, 2),
    options={"types": 3, "responses": 20, "dim": 2, "train_users": 500, "per_train_user": 20, "test_users": 200,
             "heldout": 40, "shots": (1, 2, 5, 10, 20), "concentration": 0.3, "rationality": 2.0, "spread": 1.5,
             "steps": 1500},
    notes="Truth: responses e_k ~ N(0, I_d), prototypes p_t ~ N(0, spread^2 I_d), user weights ~ Dirichlet(concentration), "
          "user reward -rationality |e_k - w_u P|^2, pairs with BTL noise. Fitted by make_train (Adam, full batch, "
          "cosine decay): the ideal-point model (embedding, prototypes, training users' softmax weights, plus 0.2 x "
          "(the users' mean weight entropy + 5 x each prototype's squared distance to its nearest user's ideal "
          "point), which picks the tightest prototypes); the single shared reward is one "
          "Plackett-Luce table on all training pairs. Unseen users: ideal point = only their weights, prototypes "
          "frozen, starting at the training users' mean weights with a Gaussian prior (0.01 x squared logit change); "
          "scratch = a free reward table per user with prior 0.01 x squared reward. Accuracy counts ties as 1/2."))
registry.register_table("alignment_loss_design", Table(
    title="Alignment: loss design is rule design (BTL, soft Copeland, soft Kemeny) audited for Condorcet and majority",
    produce=produce_loss_design, default_seeds=(0, 1, 2),
    options={"profiles": 200, "candidates": (3, 4, 5, 6), "voters": 9,
             "temperatures": (1.0, 0.3, 0.1, 0.03, 0.01), "steps": 1500},
    notes="Tournament P_ij = share of voters ranking i above j. btl: BTL loss on P; soft_copeland: BTL loss on "
          "sigmoid((P - 1/2) / temperature); soft_kemeny: minus the expected pairwise agreement "
          "sum P_ij sigmoid((z_i - z_j) / temperature) of the standardised scores z, each temperature warm-started "
          "from the previous one (the first from BTL) beside 4 random restarts, the best objective kept. All fitted "
          "by make_train (Adam, full batch, cosine decay), every profile at once. Winners compared with "
          "mechjax.voting.rules (borda, copeland, kemeny) on the same profiles; the 60/40 profile is fitted alongside."))
