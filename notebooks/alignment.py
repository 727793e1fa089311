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
# # Alignment as social choice: RLHF is a vote
#
# A reward model fitted to pairwise comparisons from many annotators *aggregates* their
# preferences, so it implements some voting rule. This notebook shows which one (Borda), what goes
# wrong when annotators differ in ways the data does not reveal (hidden context), how to recover the
# annotator types (EM) and when pairs are not enough to do so, and two ways to serve everyone:
# the egalitarian (max-min) policy and min-max regret aggregation (MMRA).

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

from mechjax import alignment as al
from mechjax.alignment import social_choice as sc
from mechjax.alignment.policy_studies import opposed_population, score

# CI executes this notebook at tiny size so that it cannot silently rot.
TINY = os.environ.get("MECHJAX_NOTEBOOK_TINY") == "1"
STEPS = 200 if TINY else 2000
print("jax", jax.__version__, "on", jax.devices())

# %% [markdown]
# ## 1. The 60/40 election
# 60% of annotators rank A > B > C, 40% rank B > C > A. A beats both others head to head (the
# Condorcet winner), yet the BTL reward model, like the Borda count, prefers B.

# %%
ex = sc.sixty_forty(steps=STEPS)
print("Condorcet winner:", ex["condorcet"], " Borda winner:", ex["borda"], " BTL top:", ex["btl"])
print("BTL rewards (A, B, C):", np.round(ex["rewards"], 3))

# %% [markdown]
# ## 2. BTL = Borda on random populations
# Fitted on a population's exact comparison probabilities, BTL orders responses as their Borda
# scores (the sum of each response's win probabilities). The fit below runs on the library's one
# trainer, every population side by side.

# %%
pops = sc.random_populations(0, 50 if TINY else 500)
k = max(p.num_responses for p in pops)
probs = np.zeros((len(pops), k, k))
mask = np.zeros((len(pops), k), bool)
for i, p in enumerate(pops):
    probs[i, :p.num_responses, :p.num_responses] = al.pair_probabilities(p)
    mask[i, :p.num_responses] = True
rewards = al.fit_exact_btl(probs, mask, steps=STEPS * 2)
pairs = [sc.agreement(rewards[i, :p.num_responses], sc.borda_scores(probs[i, :p.num_responses, :p.num_responses]))
         for i, p in enumerate(pops)]
print(f"pairs ordered as Borda: {sum(a for _, a in pairs)} / {sum(c for c, _ in pairs)}")

# %% [markdown]
# ## 3. Hidden context
# Responses `a` in [0, 1]. Below 0.8 everyone's utility is `a`; above it half the annotators value
# `2a` and the other half 0. Expected utility is highest at `a = 1`, but the BTL reward, like Borda,
# peaks just below 0.8.

# %%
res = sc.hidden_context(rationality=2.0, grid=41 if TINY else 101, steps=STEPS, dpl=False)
a = np.asarray(res["a"])
norm = lambda x: (np.asarray(x) - np.min(x)) / np.ptp(x)  # noqa: E731
plt.figure(figsize=(5, 3))
plt.plot(a, norm(res["btl"]), label="BTL reward")
plt.plot(a, norm(res["borda"]), "--", label="Borda score")
plt.plot(a, norm(res["expected_utility"]), ":", label="expected utility")
plt.axvline(0.8, color="grey", lw=0.5)
plt.legend()
plt.show()
print("BTL peak", res["btl_peak"], " expected-utility peak", res["utility_peak"])

# %% [markdown]
# ## 4. Recovering annotator types with EM, and when pairs cannot
# Give every annotator a few 3-way rankings and EM recovers two opposed types and who is who.
# With ONE judgement per annotator, pairs can be hopeless: the two mixtures below give exactly the
# same pairwise probabilities, yet different 3-way rankings.

# %%
pop = opposed_population(3.0)
data = al.sample_judgements(pop, jax.random.key(0), 300 if TINY else 2000, 5, k=3)
fit = al.fit_mixture_full(data.rankings, data.annotator, pop.num_responses, 2, jax.random.key(1), steps=STEPS)
print("weights", np.round(fit.weights, 2), " assignment ARI", round(al.adjusted_rand_index(data.types[::5], fit.assignment), 3))
twin_a, twin_b = al.twin_mixtures()
print("max pairwise difference:", np.abs(al.pair_probabilities(twin_a) - al.pair_probabilities(twin_b)).max())
print("3-way ranking probabilities:\n", np.round(al.ranking_probabilities(twin_a, range(3))[1], 3),
      "\n", np.round(al.ranking_probabilities(twin_b, range(3))[1], 3))

# %% [markdown]
# ## 5. Who is left behind: utilitarian vs max-min vs MMRA
# Two types with opposed tastes on four of six responses; the majority grows from 1:1 to 10:1.
# The utilitarian policy (what one reward model aims at) follows the majority; the max-min policy
# protects the worst-off type; MMRA minimises the worst type's regret.

# %%
beta, ref = 0.5, np.full(6, 1 / 6)
rows = []
for ratio in (1.0, 3.0, 10.0):
    p = opposed_population(ratio)
    r = p.rationality * p.utilities
    for name, pi in (("utilitarian", al.utilitarian_policy(r, p.weights, ref, beta)),
                     ("max-min", al.maxmin_policy(r, ref, beta)), ("MMRA", al.mmra_policy(r, ref, beta))):
        rows.append((ratio, name, score(pi, r, p.weights)["worst"], al.regrets(pi, r, ref, beta).max()))
for row in rows:
    print(f"{row[0]:>4}:1  {row[1]:<12} worst-type reward {row[2]:6.3f}   worst-type regret {row[3]:6.3f}")
fig, ax = plt.subplots(figsize=(5, 3))
for j, name in enumerate(("utilitarian", "max-min", "MMRA")):
    ax.bar(np.arange(3) + 0.27 * j, [r[2] for r in rows if r[1] == name], width=0.27, label=name)
ax.set_xticks(np.arange(3) + 0.27, ["1:1", "3:1", "10:1"])
ax.set_ylabel("worst type's expected reward")
ax.legend()
plt.show()

# %% [markdown]
# ## 6. The same through the front door
# `experiments/train.py +experiment=alignment_maxmin` trains the max-min policy with the library's
# trainer: the inner solver picks the worst-off types, the policy ascends against them.

# %%
from mechjax.experiment import compose, train  # noqa: E402

run_dir = tempfile.mkdtemp()
cfg = compose(["+experiment=alignment_maxmin", "progress=false", "plots=false",
               f"trainer.steps={200 if TINY else 2000}", "trainer.steps_per_chunk=100", "trainer.checkpoint_every=100"])
summary = train(cfg, run_dir)
print("learned worst-type value", round(summary["worst_type_value"], 4),
      " exact max-min", round(summary["maxmin_worst_type_value"], 4))
print("loaded policy", np.round(al.load(run_dir)(), 3))

# %% [markdown]
# ## 7. Loss design is rule design
# The loss you fit a reward with *is* a voting rule on the tournament of responses. BTL is Borda;
# fitting BTL to a tempered majority tournament (soft Copeland) or maximising a soft pairwise
# agreement (soft Kemeny) moves the top response to the Condorcet winner as the temperature falls.
# On the 60/40 profile (60% A>B>C, 40% B>C>A), A beats both B and C head to head:

# %%
from mechjax.alignment import loss_design as ld  # noqa: E402

rankings, weights = ld.SIXTY_FORTY[0][None], ld.SIXTY_FORTY[1][None]
probs = ld.profile_tournaments(rankings, weights)
mask = np.ones((1, 3), bool)
temps = (1.0, 0.3, 0.1, 0.03)
for loss in ld.LOSSES:
    scores = ld.fit_tournament_scores(probs, mask, loss, (1.0,) if loss == "btl" else temps,
                                      steps=200 if TINY else 1500)
    tops = ["ABC"[int(np.argmax(s[0]))] for s in scores]
    print(f"{loss:<14}", "top:", ", ".join(f"{t} (tau {tau:g})" for t, tau in zip(tops, temps)) if loss != "btl"
          else tops[0])

# %% [markdown]
# ## 8. Pluralistic alignment: ideal points and few-shot users
# Users are mixtures of a few prototypes (ideal points in a shared response embedding). Fit the
# prototypes on many users; a new user is then just T - 1 numbers, learned from a handful of pairs.
# `python experiments/reproduce.py table=alignment_ideal_point` runs the full study.

# %%
from mechjax.alignment import ideal_point_study as ips  # noqa: E402

few = ips.few_shot_study(seed=0, num_types=3, num_responses=12, train_users=100 if TINY else 500,
                         per_train_user=20, test_users=40 if TINY else 200, heldout=20,
                         shots=(1, 5, 20), steps=300 if TINY else 1500)
print("prototype correlations (matched):", np.round(few["recovery"]["correlations"], 3))
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(few["shots"], few["ideal_point"], "o-", label="ideal point (weights only)")
ax.plot(few["shots"], few["scratch"], "s-", label="per-user from scratch")
ax.axhline(few["shared"], color="grey", ls="--", label="one shared reward")
ax.axhline(few["oracle"], color="k", ls=":", label="true user reward")
ax.set(xlabel="pairs from the new user", ylabel="held-out accuracy", xscale="log")
ax.legend(fontsize=8)
plt.show()
