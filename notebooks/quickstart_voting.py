# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # mechjax quickstart: learning a voting rule
#
# A voting rule maps a profile of rankings to a winner. Here a DeepSets network, anonymous and
# neutral by construction, learns the Kemeny-Young rule from examples. We then check it on
# profiles larger than any it saw in training, audit its axioms next to classical rules, and
# search every possible misreport of every voter for manipulations. Runs on Colab's CPU in a few minutes.

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
import numpy as np

import mechjax.voting as mv
from mechjax.experiment import compose, train

# CI executes this notebook at tiny size so that it cannot silently rot.
TINY = os.environ.get("MECHJAX_NOTEBOOK_TINY") == "1"
STEPS = 20 if TINY else 1500
PROFILES = 64 if TINY else 2000
print("jax", jax.__version__, "on", jax.devices())

# %% [markdown]
# ## Profiles and classical rules
# Rankings are `int [batch, voters, candidates]`, best first. Every rule returns the winner set
# as a boolean mask, ties kept, and runs on a whole batch at once.

# %%
profile = mv.impartial_culture(jax.random.key(0), PROFILES, 11, 5)
for name in ("plurality", "borda", "copeland", "kemeny", "instant_runoff"):
    winners = np.asarray(mv.RULES[name](profile.rankings))
    print(f"{name:15s} mean winner-set size {winners.sum(-1).mean():.3f}")

# %% [markdown]
# ## Learn Kemeny
# The same Hydra configuration as `python experiments/train.py +experiment=voting_mimic
# problem.target=kemeny`. Training profiles have 1..15 voters and 2..5 candidates; the evaluator
# also measures accuracy at 60 voters and at 6 and 7 candidates.

# %%
overrides = ["+experiment=voting_mimic", "problem.target=kemeny", f"trainer.steps={STEPS}",
             "progress=false", "plots=false"]
if TINY:
    overrides += ["trainer=tiny", "trainer.train_size=0", "mechanism.dim=8", "mechanism.depth=1",
                  "voting_eval.profiles=128", "voting_eval.audit_profiles=16", "voting_eval.manipulation_profiles=4",
                  "voting_eval.chunk_size=128", "voting_eval.sizes=[[15,6]]", "voting_eval.axioms=[condorcet]",
                  "voting_eval.welfare_rules=[borda]"]
else:
    overrides += ["trainer.checkpoint_every=500", "voting_eval.manipulation_profiles=100"]
run_dir = tempfile.mkdtemp(prefix="mechjax_voting_")
summary = train(compose(overrides), run_dir)
print("held-out accuracy", summary["accuracy"])
for row in summary["sizes"]:
    print(f"  {row['voters']:3d} voters x {row['candidates']} candidates: accuracy {row['accuracy']:.3f}")

# %% [markdown]
# ## Use the trained rule
# `mechjax.voting.load` returns a jittable function from rankings to winner probabilities. A
# neutral rule takes any number of voters and candidates.

# %%
rule = mv.load(run_dir)
big = mv.impartial_culture(jax.random.key(1), PROFILES, 31, 6).rankings
probs = np.asarray(rule(big))
kemeny = np.asarray(mv.kemeny(big))
print("31 voters x 6 candidates: top choice is a Kemeny winner in",
      f"{kemeny[np.arange(len(probs)), probs.argmax(-1)].mean():.1%} of profiles")

# %% [markdown]
# ## Audit axioms, learned and classical alike
# Satisfaction = satisfied / applicable over sampled profiles (Hornischer & Terzopoulou 2025).
# Anonymity and neutrality hold by construction for the learned rule.

# %%
audit_profiles = mv.impartial_culture(jax.random.key(2), PROFILES // 4, 11, 5).rankings
axioms = ("condorcet", "anonymity", "neutrality", "monotonicity", "participation")
for name, r in (("learned", rule), ("kemeny", mv.kemeny), ("plurality", mv.plurality)):
    results = mv.audit(r, np.asarray(audit_profiles), jax.random.key(3), axioms=axioms)
    print(f"{name:10s}", "  ".join(f"{a} {res.rate:.1%}" for a, res in results.items()))

# %% [markdown]
# ## Manipulation, searched exhaustively
# For every voter, every one of the 4! = 24 ballots is tried; a profile is manipulable if some
# voter's expected Borda utility strictly rises.

# %%
small = mv.impartial_culture(jax.random.key(4), 16 if TINY else 200, 5, 4).rankings
for name, r in (("learned", rule), ("kemeny", mv.kemeny), ("borda", mv.borda)):
    print(f"{name:10s} manipulable in {mv.single_voter_manipulation(r, small).rate:.1%} of profiles")
