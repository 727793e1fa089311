"""Reproduce a results table: run each preset for each seed, then write ``experiments/results/<table>.md``.

Every number in the written table comes from the runs this module launches; the file records the
command, seeds, commit, hardware and wall times, and the paper's number beside ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

from mechjax.provenance import REPO_DIR, git_commit, hardware  # noqa: F401  (re-exported for experiments/)
from mechjax.report import markdown_table, write_text
from mechjax.voting.report import render_mimicry, render_welfare



@dataclass(frozen=True)
class Row:
    """One line of a table: a preset, its paper number and our targets."""

    name: str
    overrides: tuple[str, ...]
    paper_revenue: Optional[float] = None
    paper_source: str = ""
    target: str = ""
    evaluate_only: bool = False  # a classical mechanism: evaluated once, not trained


@dataclass(frozen=True)
class Table:
    title: str
    rows: tuple[Row, ...]
    eval_overrides: tuple[str, ...] = ()
    notes: str = ""
    render: Optional[Callable[[list], str]] = None  # (row, seed, summary) triples -> markdown; default auctions


TABLES = {
    "regretnet": Table(
        title="RegretNet on the additive settings (issue: the spine)",
        rows=(
            Row("additive_1x2", ("+experiment=regretnet_1x2",), 0.554, "Duetting et al. 2019, Table 1",
                "revenue >= 0.54, regret <= 0.001 (optimum 0.549)"),
            Row("additive_1x2_asym", ("+experiment=regretnet_1x2_asym",), 9.734, "Duetting et al. 2019, Table 2",
                "revenue >= 9.6, regret <= 0.01 (optimum 9.781)"),
            Row("additive_2x2", ("+experiment=regretnet_2x2",), 0.878, "Duetting et al. 2019, Table 1",
                "revenue >= 0.86, regret <= 0.002"),
        ),
    ),
    "rochetnet": Table(
        title="RochetNet: single-bidder menus, DSIC by construction (issue: the auction model zoo)",
        rows=(
            Row("additive_1x2", ("+experiment=rochetnet_1x2",), 0.5491, "optimum (Manelli & Vincent 2006)",
                "revenue >= 0.548, regret 0 within 1e-5 (optimum 0.5491)"),
            Row("unit_1x2", ("+experiment=rochetnet_unit_1x2",), 0.3843, "optimum (Pavlov 2011)",
                "revenue >= 0.38, regret 0 within 1e-5 (optimum 0.3843)"),
            Row("unit_1x2_23", ("+experiment=rochetnet_unit_1x2_23",), 2.137, "optimum (Pavlov 2011)",
                "revenue >= 2.13, regret 0 within 1e-5 (optimum 2.137)"),
        ),
        notes="'paper revenue' here is the known optimal revenue of each setting (Manelli & Vincent 2006; "
              "Pavlov 2011), so 'diff vs paper' is the gap to the optimum. "
              "RochetNet trains with no adversary (a zero-step stand-in, see the presets) and no regret "
              "constraint: the training attacker named above does not apply. Its truthfulness is exact: the "
              "evaluation attacker, grid included, must find regret 0 up to float rounding (regret max <= 1e-5). "
              "Revenue is estimated on 2^20 samples at evaluation (the hard argmax over the menu).",
    ),
    "auction_zoo": Table(
        title="Set-based auction nets on 2x2 additive U[0,1] (issue: the auction model zoo)",
        rows=(
            Row("equivariantnet_2x2", ("+experiment=equivariantnet_2x2",), 0.878,
                "RegretNet, Duetting et al. 2019, Table 1", "revenue >= 0.86, regret <= 0.002"),
            Row("regretformer_2x2", ("+experiment=regretformer_2x2",), 0.878,
                "RegretNet, Duetting et al. 2019, Table 1", "revenue >= 0.86, regret <= 0.002"),
            Row("regretformer_2x2_budget", ("+experiment=regretformer_2x2_budget",), 0.878,
                "RegretNet, Duetting et al. 2019, Table 1", "revenue >= 0.86, regret <= 0.002 (budget 0.001)"),
        ),
        notes="'paper revenue' is RegretNet's 2x2 number, the reference both papers compare against. The "
              "set-based nets are sized for a CPU budget of about ten minutes of training each (see the presets); "
              "parameter counts are in experiments/results/equivariant_cross_size.md.",
    ),
}

MIMIC_TARGETS = ("plurality", "borda", "copeland", "maximin", "kemeny")
SMALL_ELECTIONS = ("problem.culture.num_voters=7", "problem.culture.num_candidates=4", "mechanism.dim=16",
                   "trainer.steps=1500", "trainer.batch_size=32", "trainer.checkpoint_every=500")


def _classical(name: str, preset: str, *overrides: str) -> Row:
    return Row(name, (f"+experiment={preset}", "mechanism=voting_rule", f"mechanism.rule={name}", *overrides),
               evaluate_only=True)


TABLES.update({
    "voting_mimicry": Table(
        title="Learned voting rules mimicking classical rules (issue: learned voting rules)",
        rows=(*(Row(t, ("+experiment=voting_mimic", f"problem.target={t}")) for t in MIMIC_TARGETS),
              *(_classical(t, "voting_mimic", f"problem.target={t}") for t in MIMIC_TARGETS)),
        render=render_mimicry,
        notes="Training: impartial culture, every batch 256 fresh profiles with 1..15 voters and 2..5 candidates "
              "(padded), cross-entropy to the target's winner set read as a uniform lottery; DeepSets rule "
              "(`mechanism=voting_net`), anonymous and neutral by construction. The 60-voter and 6- and "
              "7-candidate columns are sizes never seen in training. Classical rows evaluate the target rule itself "
              "with the same evaluator, so audits and manipulability sit side by side with its learned mimic.\n\n"
              "Reading: every mimic picks one of its target's winners on all held-out profiles at the training "
              "sizes (accuracy 100.0%); off-size accuracy is lowest for maximin at 60 voters and Kemeny at 7 "
              "candidates. Where the target ties, the mimic's lottery over the tied winners is not uniform. The "
              "set-valued audits read a lottery by its modes, so a mimic that leans to one tied winner meets "
              "Condorcet more often than its target's full tied set; the lottery checks (participation, "
              "manipulability) count any expected-utility gain above 1e-6, so a slight lean can fail them where "
              "the uniform lottery does not. The size of the best manipulation (mean best gain) is what to "
              "compare: each mimic's is within 0.02 of its target's.",
    ),
    "voting_welfare": Table(
        title="A learned welfare-maximising voting rule against classical rules (issue: learned voting rules)",
        rows=(Row("deepsets", ("+experiment=voting_welfare",)),
              Row("set_transformer", ("+experiment=voting_welfare", "mechanism=voting_set_transformer")),
              *(_classical(r, "voting_welfare") for r in ("plurality", "borda", "maximin"))),
        render=render_welfare,
        notes="Voters' utilities are Dirichlet(1) vectors over the candidates; a rule sees only the rankings they "
              "induce. Training maximises the expected utilitarian welfare of the outcome lottery on fresh batches "
              "of 1..15 voters and 2..5 candidates. Every row is measured on the same held-out profiles. The second "
              "table lists the welfare of every classical rule on those profiles (from the learned run's evaluator); "
              "the classical rows of the first add their audits and manipulability.",
    ),
    "voting_strategyproof": Table(
        title="Learned voting rules trained against exact manipulation (issue: learned voting rules)",
        rows=(Row("welfare", ("+experiment=voting_welfare", *SMALL_ELECTIONS)),
              Row("welfare_strategyproof", ("+experiment=voting_welfare_strategyproof",)),
              *(_classical(r, "voting_welfare", *SMALL_ELECTIONS[:2])
                for r in ("plurality", "borda", "copeland", "maximin", "random_dictatorship"))),
        render=render_welfare,
        notes="1..7 voters, 2..4 candidates, Dirichlet(1) utilities, DeepSets rules of width 16 trained 1500 steps on "
              "batches of 32. `welfare` maximises utilitarian welfare only; `welfare_strategyproof` adds every voter's "
              "exact manipulation regret (all 4! ballots tried inside the jitted step, `inner=exhaustive_ballots`) under "
              "the augmented Lagrangian. The evaluation search is the same exhaustive one on held-out profiles: it "
              "cannot be stronger than exact. A lottery rule is 'manipulable' whenever some gain exceeds 1e-6, so "
              "the mean best gain (per profile, the largest expected-utility gain any voter can get) is the measure "
              "to read; random dictatorship is strategyproof and scores 0 on both.\n\n"
              "Reading: pricing the exact regret cuts the learned rule's mean best manipulation gain about 700-fold "
              "(9.6e-2 to 1.4e-4), far below every deterministic classical rule (4.6e-2 to 1.1e-1), at a welfare "
              "of 0.329 against 0.349 unconstrained; random dictatorship, the strategyproof benchmark, reaches "
              "0.325 (at a fixed 7 x 4 the two are level, 0.289). The constrained rule is not exactly strategyproof: some gain above 1e-6 remains on 70% of "
              "the profiles.",
    ),
})


def run_table(name: str, seeds: list[int], runs_root: str, results_dir: str, extra: list[str] = ()) -> str:
    """Runs every row of table ``name`` for every seed (resuming finished/partial runs) and writes it.

    A learned row is trained by ``experiments/train.py``; an ``evaluate_only`` row (a classical
    mechanism) is evaluated once by ``experiments/evaluate.py``. ``table.render`` turns the
    summaries into the table's body; the header (command, commit, hardware, wall time) is common.
    """
    table = TABLES[name]
    started, commit = time.perf_counter(), git_commit()
    results = []
    for row in table.rows:
        for seed in seeds[:1] if row.evaluate_only else seeds:
            run_dir = os.path.join(runs_root, name, row.name if row.evaluate_only else f"{row.name}_seed{seed}")
            summary_path = os.path.join(run_dir, "summary.json")
            if not os.path.exists(summary_path):
                script = "evaluate.py" if row.evaluate_only else "train.py"
                cmd = [sys.executable, os.path.join(REPO_DIR, "experiments", script), *row.overrides,
                       *(() if row.evaluate_only else (f"seed={seed}", "progress=false")),
                       f"hydra.run.dir={run_dir}", *(() if row.evaluate_only else extra)]
                print("+", " ".join(cmd), flush=True)
                subprocess.run(cmd, cwd=REPO_DIR, check=True)
            with open(summary_path) as f:
                results.append((row, seed, json.load(f)))
    command = (f"python experiments/reproduce.py table={name} seeds={','.join(map(str, seeds))}"
               + ("" if not extra else " " + " ".join(extra)))
    text = "\n".join([
        f"# {table.title}", "",
        "Reproduce with:", "", "```bash", command, "```", "",
        f"- commit: `{commit}`" + ("" if git_commit() == commit else f" when the runs started (`{git_commit()}` when this file was written)"),
        f"- hardware: {hardware()}",
        f"- total wall time (training + evaluation, this invocation): {time.perf_counter() - started:.0f} s; "
        f"sum of the runs' own wall times (training + evaluation, from their summaries, including runs an "
        f"earlier invocation made): {_run_seconds(results):.0f} s",
        *([f"- commits recorded by the runs: {', '.join(sorted(recorded))}"] if (recorded := {
            s['commit'] for _, _, s in results if s.get('commit')}) else []),
        (table.render or render_auction_table)(results), "", table.notes, "",
    ])
    return write_text(os.path.join(results_dir, f"{name}.md"), text)


def _run_seconds(results: list) -> float:
    total = 0.0
    for row, _, s in results:
        total += (s.get("wall_s") or 0) + (0 if row.evaluate_only else (s.get("eval_wall_s") or 0))
    return total


def render_auction_table(results: list) -> str:
    """Revenue, regret (evaluation attacker) and wall times, one line per run."""
    rows = []
    for row, seed, s in results:
        rows.append({"setting": row.name, "seed": seed, "paper revenue": row.paper_revenue,
                     "revenue": round(s["revenue"], 4), "± stderr": round(s["revenue_stderr"], 4),
                     "diff vs paper": None if row.paper_revenue is None else round(s["revenue"] - row.paper_revenue, 4),
                     "regret": s["regret"], "regret max": s["regret_max"], "IR viol.": s["ir_violation"],
                     "steps": s["steps"], "train wall [s]": s["wall_s"], "eval wall [s]": s.get("eval_wall_s"),
                     "target": row.target, "_attack": s["attack"], "_flag": s.get("revenue_exceeds_optimum")})
    attack = rows[0]["_attack"] if rows else {}
    columns = ["setting", "seed", "paper revenue", "revenue", "± stderr", "diff vs paper", "regret", "regret max",
               "IR viol.", "steps", "train wall [s]", "eval wall [s]", "target"]
    flagged = [f"{r['setting']} seed {r['seed']}" for r in rows if r["_flag"]]
    return "\n".join([
        f"- evaluation attacker (stronger than training's 25 steps x 1 warm-started start): "
        f"{attack.get('steps')} Adam steps from {1 + attack.get('restarts', 0) + attack.get('grid_init', 0)} starts "
        f"(truthful, {attack.get('restarts')} random, {attack.get('grid_init')} best grid points) and an exhaustive "
        f"{attack.get('grid')}-point-per-item grid, on {attack.get('num_samples')} samples; revenue on "
        f"{attack.get('revenue_samples')} samples; evaluation seed {attack.get('seed')}",
        "- regret = expected ex post regret per bidder, averaged over bidders; regret max = the worst sample",
        f"- revenue above the known optimum by more than regret explains: {', '.join(flagged) if flagged else 'none'}",
        "", markdown_table(rows, columns),
    ])
