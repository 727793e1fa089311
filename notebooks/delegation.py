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
# # Liquid democracy with mechjax
#
# Every voter casts her vote or delegates it to a proxy, who may delegate again. This notebook
# resolves delegation graphs (pointer jumping, batched), computes the exact probability that the
# weighted majority decides a binary issue correctly, measures power (max weight, Gini, Banzhaf),
# reproduces the harm of local delegation rules (Kahng, Mackenzie and Procaccia) and trains a
# delegation rule under a power cap with the library's one trainer.

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
import tempfile

import jax
import matplotlib.pyplot as plt
import numpy as np

import mechjax.delegation as md
from mechjax.experiment import compose, train

# CI executes this notebook at tiny size so that it cannot silently rot.
TINY = os.environ.get("MECHJAX_NOTEBOOK_TINY") == "1"
print("jax", jax.__version__, "on", jax.devices())

# %% [markdown]
# ## Resolving delegations
# `delegate[i] == i` means voter i casts; votes caught in a cycle are lost (caster -1).

# %%
delegate = np.array([1, 2, 2, 4, 3, 3, 6, 6])
caster, weight = md.resolve(delegate)
print("caster", np.asarray(caster))
print("weight", np.asarray(weight))
res = md.resolve_full(delegate)
print("path length", np.asarray(res.path_length), "on a cycle", np.asarray(res.on_cycle))

# %% [markdown]
# ## A picture: a network, who delegates to whom, and who holds the votes

# %%
def draw(ax, adjacency, delegate, competence, title):
    n = len(delegate)
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], -1)
    for i, j in zip(*np.nonzero(np.triu(adjacency))):
        ax.plot(*xy[[i, j]].T, color="0.85", lw=0.8, zorder=1)
    for i, j in enumerate(delegate):
        if i != j:
            ax.annotate("", xy=xy[j], xytext=xy[i], arrowprops=dict(arrowstyle="->", color="tab:blue", lw=1.2))
    w = np.asarray(md.resolve(np.asarray(delegate))[1])
    sc = ax.scatter(*xy.T, s=40 + 60 * w, c=competence, cmap="viridis", vmin=0.3, vmax=0.8, zorder=3,
                    edgecolors="k")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.axis("off")
    return sc


n = 16
key = jax.random.key(0)
adjacency = np.asarray(md.graphs.erdos_renyi(key, 1, n, 0.3))
competence = np.asarray(jax.random.uniform(jax.random.key(1), (1, n), minval=0.3, maxval=0.8))
inputs = md.DelegationInputs(competence, adjacency)
fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
for ax, rule in zip(axes, ("direct", "local_best", "greedy_cap")):
    d = np.asarray(md.make_rule(rule, cap=3)(inputs)).argmax(-1)[0]
    w = np.asarray(md.resolve(d)[1])
    acc = float(md.accuracy(w, competence[0]))
    sc = draw(ax, adjacency[0], d, competence[0], f"{rule}: accuracy {acc:.3f}, max weight {w.max()}")
fig.colorbar(sc, ax=axes, shrink=0.7, label="competence")
plt.show()

# %% [markdown]
# ## Exact accuracy and power
# The accuracy is a dynamic program over the casters' weights; Monte Carlo only cross-checks it.

# %%
w = np.array([5, 3, 1, 1, 1, 0])
p = np.array([0.7, 0.6, 0.55, 0.55, 0.55, 0.9])
print("exact accuracy", float(md.accuracy(w, p)))
mc, se = md.accuracy_monte_carlo(jax.random.key(0), w, p, samples=20_000)
print(f"Monte Carlo {float(mc):.4f} +- {float(se):.4f}")
print("Banzhaf", np.round(np.asarray(md.banzhaf(w)), 4), "= brute force", np.round(md.banzhaf_brute_force(w), 4))
print("Gini", float(md.gini(w)), "max weight", int(md.max_weight(w)))

# %% [markdown]
# ## Local rules can harm (Kahng, Mackenzie and Procaccia)
# A competent hub whom every leaf approves: a local rule hands it every vote, so accuracy stays at
# the hub's competence while direct voting tends to 1. GreedyCap (non-local, weight cap) does not.

# %%
sizes = (11, 31) if TINY else (11, 31, 101, 301)
rows = []
for n in sizes:
    inst = md.star_instance(jax.random.key(n), 2, n)
    x = md.DelegationInputs(inst.estimate, inst.adjacency)
    cap = int(np.ceil(np.sqrt(n)))
    accs = [float(md.evaluate_policy(jax.random.key(0), md.make_rule(r, cap=cap)(x), inst.competence, 4).accuracy.mean())
            for r in ("direct", "local_best", "greedy_cap")]
    rows.append(accs)
    print(n, ["%.4f" % a for a in accs])
plt.figure(figsize=(5, 3.5))
for k, r in enumerate(("direct", "local_best", "greedy_cap")):
    plt.plot(sizes, [row[k] for row in rows], marker="o", label=r)
plt.xscale("log"); plt.xlabel("voters"); plt.ylabel("P(correct)"); plt.legend(); plt.title("star instances")
plt.show()

# %% [markdown]
# ## A learned delegation rule under a power cap
# A message-passing network maps competence estimates and the network to delegation
# probabilities; the trainer maximises the exact probability of a correct decision (score-function
# gradient) while the augmented Lagrangian keeps every voter's expected weight below the cap.
# A bound on expectations does not bound one random delegation graph, so the rule is *deployed*
# through the cap repair: in each drawn graph, a delegation that would push a caster above the cap
# is turned into casting. Every realised caster then holds at most `cap` votes.

# %%
overrides = ["+experiment=delegation_learned", "progress=false", "plots=false"]
if TINY:
    overrides += ["trainer.steps=10", "trainer.batch_size=8", "trainer.steps_per_chunk=5",
                  "trainer.checkpoint_every=10", "mechanism.dim=8", "mechanism.depth=1", "problem.num_voters=9",
                  "problem.draws=4", "delegation_eval.graphs=32", "delegation_eval.draws=4",
                  "delegation_eval.chunk_size=32", "delegation_eval.rules=[direct,local_best,greedy_cap]"]
else:
    overrides += ["trainer.steps=600", "delegation_eval.graphs=500"]
run_dir = tempfile.mkdtemp()
summary = train(compose(overrides), run_dir)
print(f"learned: accuracy {summary['accuracy']:.4f}, worst realised weight {summary['realized_max_weight_max']:g} "
      f"(cap {summary['cap']:g}, respected in every draw: {summary['cap_respected']}), repair fired in "
      f"{summary['repair_fires']:.2%} of draws at an accuracy cost of {summary['repair_cost']:+.4f}")
for rule, s in summary["rules"].items():
    print(f"{rule:13s} accuracy {s['accuracy']:.4f}, worst realised weight {s['realized_max_weight_max']:g}")

# %%
policy = md.load(run_dir)
problem = md.DelegationProblem(num_voters=summary["num_voters"])
batch = problem.sample(jax.random.key(7), 1)
d = np.asarray(policy(batch.inputs.estimate, batch.inputs.adjacency))[0]
deployed = np.asarray(policy.sample(jax.random.key(8), batch.inputs.estimate, batch.inputs.adjacency))[0, 0]
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
draw(axes[0], np.asarray(batch.inputs.adjacency)[0], d.argmax(-1), np.asarray(batch.competence)[0],
     "learned rule (most likely choices)")
draw(axes[1], np.asarray(batch.inputs.adjacency)[0], deployed, np.asarray(batch.competence)[0],
     f"one deployed draw (max weight {int(np.asarray(md.resolve(deployed)[1]).max())} <= cap {policy.cap:g})")
plt.show()
