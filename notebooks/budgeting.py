# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Participatory budgeting with mechjax
#
# A city funds projects from citizens' ballots under a hard budget. We load a real pabulib
# election, run the Method of Equal Shares (with the budget-increase and greedy completions used
# in practice), greedy utilitarian welfare and sequential Phragmén, audit proportionality (EJR,
# PJR, coverage, inequality of satisfaction), and plot what each rule funds. All rules decide ties
# exactly and agree with pabutools.

# %%
# Install mechjax from the repository (on Colab); locally, use the checkout you are in.
import os
import subprocess
import sys

REPO = os.environ.get("MECHJAX_REPO", "https://github.com/mechjax/mechjax")
if "google.colab" in sys.modules:
    subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, "/content/mechjax"], check=False)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/mechjax"], check=True)
    sys.path.insert(0, "/content/mechjax")

# %%

import matplotlib.pyplot as plt
import numpy as np

from mechjax.budgeting import audit, make_election, read_pabulib, rules
from mechjax.budgeting.synthetic import random_election

TINY = os.environ.get("MECHJAX_NOTEBOOK_TINY") == "1"

# %% [markdown]
# ## A real election
# We take Amsterdam's election 289 (7,045 voters, 38 projects) when the pabulib folder is there
# (tiny mode: a small one), else a random election.

# %%
candidates = ["netherlands_assen_2024_.pb"] if TINY else ["netherlands_amsterdam_289_.pb", "netherlands_assen_2024_.pb"]
folders = [os.path.join(p, "shared", "data", "pabulib") for p in ("..", "../..", "/work")]
paths = [os.path.join(f, c) for c in candidates for f in folders if os.path.exists(os.path.join(f, c))]
if paths:
    election = read_pabulib(paths[0])
    print(election.meta.get("description"), "-", election.num_voters, "voters,", election.num_projects,
          "projects, budget", election.budget)
else:
    election = random_election(np.random.default_rng(0), 200, 15)
    print("no pabulib data found: a random election of", election.num_voters, "voters")

# %% [markdown]
# ## Three rules

# %%
outcomes = {
    "MES (+ budget increase + greedy)": rules.equal_shares(election),
    "MES (no completion)": rules.equal_shares(election, completion="none"),
    "greedy (approvals)": rules.greedy(election),
    "Phragmén": rules.phragmen(election),
}
reports = {name: audit(election, funded) for name, funded in outcomes.items()}
print(f"{'rule':36s} {'funded':>6s} {'budget used':>11s} {'covered':>8s} {'Gini':>6s}  EJR   EJR-1  PJR")
for name, r in reports.items():
    print(f"{name:36s} {r['num_funded']:6d} {r['budget_used']:11.3f} {r['covered_share']:8.3f} "
          f"{r['satisfaction_gini']:6.3f}  {str(r['ejr']):5s} {str(r['ejr_up_to_one']):5s}  {r['pjr']}")

# %% [markdown]
# ## What each rule funds
# Each project is a point (cost, supporters); a marker shows which rules fund it.

# %%
support = election.approvals.sum(axis=0)
fig, ax = plt.subplots(figsize=(8, 5))
ax.scatter(election.costs, support, s=60, facecolors="none", edgecolors="grey", label="all projects")
for (name, funded), marker in zip(outcomes.items(), ("o", ".", "x", "+")):
    ax.scatter(election.costs[funded], support[funded], marker=marker, s=40, label=name)
ax.set_xscale("log")
ax.set_xlabel("cost")
ax.set_ylabel("supporters")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Who is satisfied
# A voter's satisfaction is the cost of the funded projects they support. MES spreads it more
# evenly (fewer voters with nothing).

# %%
fig, ax = plt.subplots(figsize=(8, 4))
for name, funded in outcomes.items():
    satisfaction = election.approvals[:, funded].astype(float) @ election.costs[funded] / election.budget
    ax.plot(np.sort(satisfaction), np.linspace(0, 1, len(satisfaction)), label=name)
ax.set_xlabel("satisfaction (share of the budget)")
ax.set_ylabel("share of voters with at most this")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Exact ties
# Two identical projects and room for one: pabutools breaks the tie by project id as a string,
# so "10" beats "9"; other orders are selectable.

# %%
tied = make_election([5, 5], 5, approvals=[[1, 1], [1, 1]], project_ids=["9", "10"])
print("lexicographic:", rules.equal_shares(tied, completion="none"),
      " index order:", rules.equal_shares(tied, completion="none", tie_breaking="index"))

# %% [markdown]
# ## A learned rule
# `python experiments/train.py +experiment=pb_mimic_mes` trains a set network to mimic MES on
# synthetic elections (always within budget: a greedy selection by learned scores), and
# `+experiment=pb_welfare_proportional` one that maximises welfare plus a fair-share surrogate.
# Both are evaluated on the real elections of cities held out from training.
