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


def random_sets(extra):
    """``(label, count, max voters, max projects, cardinal)`` of each random-election set of the table."""
    return (("small approval", extra["random_small"], 30, 10, False),
            ("large approval", extra["random_large"], 400, 30, False),
            ("small cardinal", extra["random_cardinal"], 30, 10, True))


def _random_agreement(ctx):
    from mechjax.budgeting.agreement import compare_random
    lines, data = [], {}
    for label, count, voters, projects, cardinal in random_sets(ctx.extra):
        if count == 0:
            continue
        seed = ctx.seeds[0] if ctx.seeds else 0
        tally = compare_random(count, seed=seed, max_voters=voters, max_projects=projects, cardinal=cardinal,
                               rules=("greedy", "phragmen", "mes", "mes_greedy", "mes_budget_increase_greedy"),
                               cache_path=os.path.join(ctx.runs_root, "random.jsonl"))
        data[label] = tally
        zero = _budget_zero(os.path.join(ctx.runs_root, "random.jsonl"), seed, voters, projects, cardinal, count)
        data[label + " (budget 0)"] = zero
        for rule, (same, total) in tally.items():
            note = f" ({zero} with budget 0: against pabutools's mes_greedy)" if rule == "mes_budget_increase_greedy" else ""
            lines.append(f"| {label} ({count}, <= {voters} voters, <= {projects} projects) | {rule} | "
                         f"{same} / {total}{note} |")
    return lines, data


def _budget_zero(cache_path, seed, voters, projects, cardinal, count) -> int:
    """How many of the set's first ``count`` random elections have a budget of 0 (from the cache)."""
    import json
    indices = set()
    with open(cache_path) as handle:
        for line in handle:
            r = json.loads(line)
            if (r["seed"], r["max_voters"], r["max_projects"], r["cardinal"]) == (seed, voters, projects, cardinal) \
                    and r["index"] < count and r.get("budget_zero"):
                indices.add(r["index"])
    return len(indices)


def _real_records(ctx, paths):
    from mechjax.budgeting import exact_reference
    from mechjax.budgeting.agreement import cached_records, compare_real
    timeout = ctx.extra["timeout"] or None
    caches = []
    for rules_, cache in ((("mes_budget_increase_greedy",), "real.jsonl"), (_OTHER_RULES, "real_other_rules.jsonl")):
        caches.append(os.path.join(ctx.runs_root, cache))
        if ctx.extra["compute_missing"]:
            compare_real(paths, rules_, timeout, caches[-1], multiprofile=True)
    reference_cache = os.path.join(ctx.runs_root, "real_reference.jsonl")
    if ctx.extra["reference"]:
        exact_reference.fill_cache(paths, _REFERENCE_RULES, reference_cache)
    return cached_records(paths, ("mes_budget_increase_greedy",) + _OTHER_RULES, caches, reference_cache)

_REFERENCE_RULES = ("mes_budget_increase_greedy", "mes", "greedy")


def _speed_line(rule, records):
    rows = [r for r in records if r["rule"] == rule]
    done = [r for r in rows if r["pabutools_seconds"] is not None]
    if not done:
        return []
    ours_all = sum(r["ours_seconds"] for r in rows)
    ours_done, theirs_done = sum(r["ours_seconds"] for r in done), sum(r["pabutools_seconds"] for r in done)
    slow = max(done, key=lambda r: r["pabutools_seconds"])
    ours_slow = max(rows, key=lambda r: r["ours_seconds"])
    timed_out = [r for r in rows if r["pabutools"] is None and not r.get("not_run")]
    not_run = [r for r in rows if r.get("not_run")]
    theirs_slow = (f"{ours_slow['pabutools_seconds']:.1f} s" if ours_slow["pabutools_seconds"] is not None else
                   "not finished")
    line = (f"\n**{rule}**: ours {ours_all:.1f} s over all {len(rows)} elections. On the {len(done)} pabutools "
            f"finished: ours {ours_done:.1f} s vs pabutools {theirs_done:.1f} s "
            f"({theirs_done / max(ours_done, 1e-9):.0f}x). pabutools's slowest: {slow['file']} ({slow['voters']} voters, "
            f"{slow['projects']} projects), pabutools {slow['pabutools_seconds']:.1f} s vs ours {slow['ours_seconds']:.2f} s "
            f"({slow['pabutools_seconds'] / max(slow['ours_seconds'], 1e-9):.0f}x); our slowest: {ours_slow['file']} "
            f"({ours_slow['voters']} voters, {ours_slow['projects']} projects), ours {ours_slow['ours_seconds']:.2f} s vs "
            f"pabutools {theirs_slow}.")
    if timed_out:
        bound = theirs_done + sum(r["timeout"] for r in timed_out)
        line += (f" pabutools did not finish {len(timed_out)} within its time limit; counting each as its limit, "
                 f"pabutools >= {bound:.1f} s in total (>= {bound / max(ours_all, 1e-9):.0f}x ours).")
    if not_run:
        line += f" pabutools was not run on {len(not_run)} (its background job had not reached them)."
    return [line]


def produce_agreement(ctx):
    paths = sorted(glob.glob(os.path.join(_data_dir(), "*.pb")))
    random_lines, random_data = _random_agreement(ctx)
    records = _real_records(ctx, paths) if ctx.extra["real"] else []
    lines = ["## Real pabulib elections", "",
             f"{len(paths)} files. Our outcome is compared with pabutools's where pabutools finished, and with the "
             "independent exact reference (mechjax/budgeting/exact_reference.py) on every election it was run on.", "",
             "| rule | elections | identical to pabutools / compared | pabutools timed out | pabutools not run | "
             "identical to the exact reference / compared | reference identical to pabutools / both ran | "
             "compared with neither |", "|---|---|---|---|---|---|---|---|"]
    for rule in ("mes_budget_increase_greedy",) + _OTHER_RULES:
        rows = [r for r in records if r["rule"] == rule]
        done = [r for r in rows if r["agree"] is not None]
        ref = [r for r in rows if r["agree_reference"] is not None]
        both = [r for r in rows if r["agree"] is not None and r["reference"] is not None]
        neither = [r for r in rows if r["agree"] is None and r["agree_reference"] is None]
        timed_out = sum(1 for r in rows if r["pabutools"] is None and not r.get("not_run"))
        lines.append(f"| {rule} | {len(rows)} | {sum(r['agree'] for r in done)} / {len(done)} | {timed_out} | "
                     f"{sum(1 for r in rows if r.get('not_run'))} | "
                     + (f"{sum(r['agree_reference'] for r in ref)} / {len(ref)}" if rule in _REFERENCE_RULES else "-")
                     + " | " + (f"{sum(r['reference'] == r['pabutools'] for r in both)} / {len(both)}"
                                if rule in _REFERENCE_RULES else "-") + f" | {len(neither)} |")
    for rule in ("mes_budget_increase_greedy",) + _OTHER_RULES:
        lines += _speed_line(rule, records)
    mismatches = [f"{r['rule']}: {r['file']}" for r in records if r["agree"] is False or r["agree_reference"] is False]
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


def _objective(s, fmt):
    return "-" if s.get("objective") is None else f"{s['objective']:{fmt}}"


def render_learned(results):
    lines = ["| run | seed | rule | elections | feasible | Jaccard with MES | exact match with MES | welfare | "
             "fair share | stated objective | covered share | EJR violations | EJR unknown |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row, seed, summary in results:
        entries = [("learned", summary)] + [(f"{name} (reference)", ref) for name, ref in
                                            (summary.get("references") or {}).items()]
        for label, s in entries:
            lines.append(f"| {row.name} | {seed} | {label} | {s.get('elections')} | {s.get('feasible_rate'):.3f} | "
                         f"{s.get('jaccard_mes'):.3f} | {s.get('exact_match_mes'):.3f} | {s.get('welfare'):.4f} | "
                         f"{s.get('fair_share', float('nan')):.4f} | {_objective(s, '.4f')} | "
                         f"{s.get('covered_share'):.3f} | {s.get('ejr_violations')} | {s.get('ejr_unknown')} |")
    seeds = sorted({seed for _, seed, _ in results})
    if len(seeds) > 1:  # the learned rules' mean and spread over seeds (the references do not depend on the seed)
        lines += ["", f"Learned rules over seeds {', '.join(map(str, seeds))} (mean ± standard deviation):", "",
                  "| run | Jaccard with MES | exact match with MES | welfare | fair share | stated objective | "
                  "covered share | EJR violations |", "|---|---|---|---|---|---|---|---|"]
        for name in dict.fromkeys(row.name for row, _, _ in results):
            runs = [s for row, _, s in results if row.name == name]

            def stat(key, fmt):
                if any(s.get(key) is None for s in runs):
                    return "-"
                values = np.array([float(s[key]) for s in runs])
                return f"{values.mean():{fmt}} ± {values.std():{fmt}}"
            lines.append(f"| {name} | {stat('jaccard_mes', '.3f')} | {stat('exact_match_mes', '.3f')} | "
                         f"{stat('welfare', '.4f')} | {stat('fair_share', '.4f')} | {stat('objective', '.4f')} | "
                         f"{stat('covered_share', '.3f')} | {stat('ejr_violations', '.1f')} |")
    if results:
        weighed = {row.name: summary.get("objective_weights") for row, _, summary in results
                   if summary.get("objective") is not None}
        lines += ["", f"Held-out cities: {', '.join(results[0][2].get('holdout_units') or [])}. "
                  f"{results[0][2].get('input', '')}. Fair share: the mean over voters of min(1, share / fair share), "
                  "a voter's share being the funded approved projects' costs split among their supporters and the fair "
                  "share min(1 / voters, the share of all their approved projects), on the whole election (budget = 1). "
                  "Stated objective: the run's training objective, welfare weight x welfare + fair-share weight x fair "
                  "share (`-` for mimicry)" + "".join(f"; {name} weighs them {weights}" for name, weights in weighed.items())
                  + "."]
    return "\n".join(lines) + "\n"


registry.register_table("pb_agreement", Table(
    title="Participatory budgeting: agreement with pabutools (real and random elections)",
    produce=produce_agreement,
    options={"real": True, "compute_missing": True, "reference": True, "timeout": 900.0, "random_small": 1000,
             "random_large": 300, "random_cardinal": 200},
    notes=("Our rules (mechjax.budgeting.rules) against pabutools with its default lexicographic tie-breaking: "
           "greedy utilitarian welfare (Cost_Sat), sequential Phragmén (approval elections only), MES (Cost_Sat; "
           "Additive_Cardinal_Sat for the cardinal random elections), MES + greedy, and MES + exhaustion_by_budget_increase "
           "(1% steps) + greedy. Real elections: pabutools parses the file itself (parse_pabulib) and runs in a child "
           "process stopped after `timeout` seconds per election and rule (a timed-out run is not compared); records "
           "marked `pabutools_profile: multiprofile` ran pabutools on `profile.as_multiprofile()` (identical ballots "
           "merged with a count; pabutools's rules depend on voters only through such counts, so the outcome is the "
           "same, and it is faster). Times are the rule alone, no parsing, on a shared 2-core CPU: pabutools ran in "
           "background jobs beside other work (some niced), so its times are upper bounds of what it needs on an idle "
           "machine; "
           "the per-election records are cached (resumable) in the table's runs folder and filled by background jobs "
           "(`python -m mechjax.budgeting.agreement --cache <runs>/pb_agreement/real.jsonl --rules "
           "mes_budget_increase_greedy --multiprofile`; `compute_missing=true` runs the missing ones here instead). "
           "Where pabutools did not finish, the outcome is compared with an independent exact reference "
           "(mechjax/budgeting/exact_reference.py: MES + budget increase + greedy, plain MES and greedy written from the "
           "rules' definitions with gmpy2 rationals on pabutools's parse of the file, sharing no code with ours; cached "
           "in real_reference.jsonl, filled here when `reference=true`); the table also counts how often that reference "
           "equals pabutools where both ran. Our rules are rerun on every record when the table is made (our time = best "
           "of 2). Random elections: mechjax.budgeting.synthetic.random_election (few distinct costs, duplicated "
           "projects and ballots, fractional budgets: many exact ties), pabutools built from our arrays; election i of a "
           "set is the i-th drawn from numpy.random.default_rng(seed), cached per election in random.jsonl "
           "(`python -m mechjax.budgeting.agreement --random COUNT --cache <runs>/pb_agreement/random.jsonl "
           "[--max-voters V --max-projects P --cardinal]`)."),
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
              target="100% feasible; welfare, fair share, stated objective, EJR vs MES / greedy")),
    render=render_learned,
    notes=("Set networks trained by make_train on synthetic elections (Euclidean and real elections of other cities, "
           "resampled; pb_mimic_mes: 16-32 voters, 2-48 projects, 1000 steps; pb_welfare_proportional: 20-40 voters, 2-12 "
           "projects, 2000 steps), evaluated by the budgeting evaluator on every approval election "
           "of the held-out cities, beside MES, greedy and Phragmén on the same elections."),
))
