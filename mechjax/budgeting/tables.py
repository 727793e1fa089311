"""Results tables of the budgeting domain (``python experiments/reproduce.py table=pb_*``).

* ``pb_agreement``: identical funded sets to pabutools on every real election (greedy, Phragmén,
  MES, MES + budget increase + greedy) and on random tie-heavy elections, with both libraries' times;
* ``pb_rules_comparison``: MES vs greedy vs Phragmén on every real election (audits), with plots;
* ``pb_learned``: the learned rules (presets ``pb_mimic_mes``, ``pb_welfare_proportional``) on the
  real elections of held-out cities, beside MES, greedy and Phragmén.
"""

from __future__ import annotations

import glob
import os

import numpy as np

from mechjax import registry
from mechjax.tables import Row, Table

_OTHER_RULES = ("greedy", "mes", "phragmen")


def _data_dir():
    from mechjax.budgeting.problem import default_data_dir
    return default_data_dir()


def _results_dir():
    from mechjax.reproduce import RESULTS_DIR  # lazily: a domain never imports the front door at import time
    return RESULTS_DIR


def produce_agreement(ctx):
    from mechjax.budgeting.agreement import compare_random, compare_real, load_cache, remeasure
    paths = sorted(glob.glob(os.path.join(_data_dir(), "*.pb")))
    timeout = ctx.extra["timeout"] or None
    random_lines = []
    random_data = {}
    for label, count, voters, projects, cardinal in (
            ("small approval", ctx.extra["random_small"], 30, 10, False),
            ("large approval", ctx.extra["random_large"], 400, 30, False),
            ("small cardinal", ctx.extra["random_cardinal"], 30, 10, True)):
        if count == 0:
            continue
        seed = ctx.seeds[0] if ctx.seeds else 0
        tally = compare_random(count, seed=seed, max_voters=voters, max_projects=projects, cardinal=cardinal,
                               rules=("greedy", "phragmen", "mes", "mes_greedy", "mes_budget_increase_greedy"))
        random_data[label] = tally
        for rule, (same, total) in tally.items():
            random_lines.append(f"| {label} ({count}, <= {voters} voters, <= {projects} projects) | {rule} | {same} / {total} |")
    records = []
    if ctx.extra["real"]:
        for rules_, cache in ((("mes_budget_increase_greedy",), "real.jsonl"), (_OTHER_RULES, "real_other_rules.jsonl")):
            cache = os.path.join(ctx.runs_root, cache)
            if ctx.extra["compute_missing"]:
                records += compare_real(paths, rules_, timeout, cache)
            else:
                records += [r for r in load_cache(cache).values() if r["rule"] in rules_]
        remeasure(records, {os.path.basename(p): p for p in paths})
    lines = ["## Real pabulib elections", "",
             f"{len(paths)} files; a rule's elections are those run so far (all of them unless the run was "
             f"stopped: compute_missing={ctx.extra['compute_missing']}).", "",
             "| rule | elections | compared | identical | pabutools timed out | ours total [s] | pabutools total on compared [s] |",
             "|---|---|---|---|---|---|---|"]
    for rule in ("mes_budget_increase_greedy",) + _OTHER_RULES:
        rows = [r for r in records if r["rule"] == rule]
        done = [r for r in rows if r["agree"] is not None]
        lines.append(f"| {rule} | {len(rows)} | {len(done)} | {sum(r['agree'] for r in done)} | {len(rows) - len(done)} | "
                     f"{sum(r['ours_seconds'] for r in rows):.1f} | {sum(r['pabutools_seconds'] for r in done):.1f} |")
    for rule in ("mes_budget_increase_greedy",) + _OTHER_RULES:
        done = [r for r in records if r["rule"] == rule and r["pabutools_seconds"] is not None]
        if not done:
            continue
        ours_total, theirs_total = sum(r["ours_seconds"] for r in done), sum(r["pabutools_seconds"] for r in done)
        slow = max(done, key=lambda r: r["pabutools_seconds"])
        ours_slow = max(done, key=lambda r: r["ours_seconds"])
        lines.append(f"\n{rule}: on the {len(done)} elections pabutools finished, ours {ours_total:.1f} s vs pabutools "
                     f"{theirs_total:.1f} s ({theirs_total / max(ours_total, 1e-9):.0f}x). pabutools's slowest: "
                     f"{slow['file']} ({slow['voters']} voters, {slow['projects']} projects), pabutools "
                     f"{slow['pabutools_seconds']:.1f} s vs ours {slow['ours_seconds']:.2f} s "
                     f"({slow['pabutools_seconds'] / max(slow['ours_seconds'], 1e-9):.0f}x); our slowest: "
                     f"{ours_slow['file']}, ours {ours_slow['ours_seconds']:.2f} s vs pabutools "
                     f"{ours_slow['pabutools_seconds']:.1f} s.")
    mismatches = [f"{r['rule']}: {r['file']}" for r in records if r["agree"] is False]
    lines += ["", f"Mismatches: {', '.join(mismatches) if mismatches else 'none'}.", "",
              "## Random elections (tie-heavy)", "",
              "| elections | rule | identical / compared |", "|---|---|---|", *random_lines]
    return "\n".join(lines) + "\n", {"real": records, "random": random_data}


def produce_rules_comparison(ctx):
    from mechjax.budgeting import audit, read_pabulib, rules
    paths = sorted(glob.glob(os.path.join(_data_dir(), "*.pb")), key=os.path.getsize)
    names = ("mes", "greedy", "phragmen")
    data = []
    for path in paths:
        election = read_pabulib(path)
        outcomes = {"mes": rules.equal_shares(election), "greedy": rules.greedy(election),
                    "phragmen": rules.phragmen(election)}
        row = {"file": os.path.basename(path), "voters": election.num_voters, "projects": election.num_projects,
               "vote_type": election.vote_type}
        for name in names:
            report = audit(election, outcomes[name], max_nodes=ctx.extra["ejr_max_nodes"], max_funded_pjr=-1)
            row[name] = {k: report[k] for k in ("ejr", "ejr_up_to_one", "budget_used", "covered_share",
                                                 "satisfaction_gini", "welfare", "num_funded", "feasible")}
        data.append(row)
    lines = ["| rule | feasible | mean budget used | mean covered share | mean satisfaction Gini | mean welfare | "
             "EJR holds | EJR fails | EJR unknown | EJR-up-to-one fails |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        rs = [d[name] for d in data]
        lines.append(f"| {name} | {sum(r['feasible'] for r in rs)}/{len(rs)} | {np.mean([r['budget_used'] for r in rs]):.3f} | "
                     f"{np.mean([r['covered_share'] for r in rs]):.3f} | {np.mean([r['satisfaction_gini'] for r in rs]):.3f} | "
                     f"{np.mean([r['welfare'] for r in rs]):.4f} | {sum(r['ejr'] is True for r in rs)} | "
                     f"{sum(r['ejr'] is False for r in rs)} | {sum(r['ejr'] is None for r in rs)} | "
                     f"{sum(r['ejr_up_to_one'] is False for r in rs)} |")
    same = sum(all(d["mes"][k] == d["greedy"][k] for k in ("num_funded", "budget_used")) for d in data)
    lines += ["", f"{len(data)} elections; MES and greedy fund sets of equal size and cost in {same}.", ""]
    lines += _comparison_plots(data, names)
    return "\n".join(lines) + "\n", data


def _comparison_plots(data, names):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = os.path.join(_results_dir(), "pb_rules_comparison.png")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes, ("covered_share", "budget_used", "satisfaction_gini")):
        for name, marker in zip(names[1:], ("o", "x")):
            ax.scatter([d["mes"][metric] for d in data], [d[name][metric] for d in data], s=10, marker=marker, label=name)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_xlabel(f"MES {metric}")
        ax.set_ylabel(f"other rule's {metric}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return [f"![MES vs greedy and Phragmén on every real election]({os.path.basename(out)})"]


def render_learned(results):
    lines = ["| run | seed | rule | elections | feasible | Jaccard with MES | exact match with MES | welfare | "
             "covered share | EJR violations | EJR unknown |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row, seed, summary in results:
        entries = [("learned", summary)] + [(f"{name} (reference)", ref) for name, ref in
                                            (summary.get("references") or {}).items()]
        for label, s in entries:
            lines.append(f"| {row.name} | {seed} | {label} | {s.get('elections')} | {s.get('feasible_rate'):.3f} | "
                         f"{s.get('jaccard_mes'):.3f} | {s.get('exact_match_mes'):.3f} | {s.get('welfare'):.4f} | "
                         f"{s.get('covered_share'):.3f} | {s.get('ejr_violations')} | {s.get('ejr_unknown')} |")
    if results:
        lines += ["", f"Held-out cities: {', '.join(results[0][2].get('holdout_units') or [])}. "
                  f"{results[0][2].get('input', '')}."]
    return "\n".join(lines) + "\n"


registry.register_table("pb_agreement", Table(
    title="Participatory budgeting: agreement with pabutools (real and random elections)",
    produce=produce_agreement,
    options={"real": True, "compute_missing": True, "timeout": 900.0, "random_small": 1000, "random_large": 60, "random_cardinal": 200},
    notes=("Our rules (mechjax.budgeting.rules) against pabutools with its default lexicographic tie-breaking: "
           "greedy utilitarian welfare (Cost_Sat), sequential Phragmén (approval elections only), MES (Cost_Sat; "
           "Additive_Cardinal_Sat for the cardinal random elections), MES + greedy, and MES + exhaustion_by_budget_increase "
           "(1% steps) + greedy. Real elections: pabutools parses the file itself (parse_pabulib) and runs in a child "
           "process stopped after `timeout` seconds per election and rule (a timed-out run is not compared). Times are "
           "the rule alone, no parsing; the per-election records are cached (resumable) in the table's runs folder, "
           "also written by benchmarks/bench_budgeting.py; our rules are rerun on every cached record when the table is "
           "made (funded sets compared again, our time = best of 2), pabutools's outcome and time come from the cache. Random elections: mechjax.budgeting.synthetic.random_election "
           "(few distinct costs, duplicated projects and ballots, fractional budgets: many exact ties)."),
))

registry.register_table("pb_rules_comparison", Table(
    title="Participatory budgeting: MES vs greedy vs Phragmén on every real pabulib election",
    produce=produce_rules_comparison,
    options={"ejr_max_nodes": 20000},
    notes=("Every one of the real elections in ../shared/data/pabulib: MES (cost utilities, budget increase, greedy "
           "completion), greedy utilitarian (cost satisfaction), sequential Phragmén (on the projects each ballot "
           "names, for every vote type). Audits from mechjax.budgeting.audit under cost satisfaction; EJR by exact "
           "search of cohesive sets, unknown past ejr_max_nodes. Welfare = mean satisfaction / budget."),
))

registry.register_table("pb_learned", Table(
    title="Participatory budgeting: learned rules on real elections of held-out cities",
    rows=(Row("pb_mimic_mes", ("+experiment=pb_mimic_mes",), target="100% feasible; Jaccard with MES"),
          Row("pb_welfare_proportional", ("+experiment=pb_welfare_proportional",),
              target="100% feasible; welfare and EJR vs MES / greedy")),
    render=render_learned,
    notes=("Set networks trained by make_train on synthetic elections (Euclidean and real elections of other cities, "
           "resampled; 20-40 voters, 2-12 projects), evaluated by the budgeting evaluator on every approval election "
           "of the held-out cities, beside MES, greedy and Phragmén on the same elections."),
))
