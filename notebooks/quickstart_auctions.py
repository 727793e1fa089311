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
# # mechjax quickstart: learning an optimal auction with RegretNet
#
# One bidder wants two items with additive values drawn from U[0,1]. The revenue-optimal
# mechanism is known (revenue 0.549; Manelli & Vincent 2006). RegretNet learns it by gradient
# descent while an adversary searches for profitable misreports. Runs on Colab's CPU in a few minutes.

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

import mechjax
from mechjax.experiment import compose, evaluate, train
from mechjax.plot import allocation_map

# CI executes this notebook at tiny size so that it cannot silently rot.
TINY = os.environ.get("MECHJAX_NOTEBOOK_TINY") == "1"
STEPS = 20 if TINY else 10_000
print("jax", jax.__version__, "on", jax.devices())

# %% [markdown]
# ## Train
# The same Hydra configuration as `python experiments/train.py`, composed in Python. Every
# setting can be overridden exactly as on the command line.

# %%
overrides = ["problem=auction/additive_1x2", "mechanism=regretnet", f"trainer.steps={STEPS}",
             "progress=false", "plots=false"]
if TINY:
    overrides += ["trainer=tiny", "attack.steps=5", "attack.restarts=1", "attack.grid=5",
                  "attack.grid_init=1", "attack.num_samples=64", "attack.revenue_samples=256", "attack.batch_size=64", "attack.allow_weak=true"]
run_dir = tempfile.mkdtemp(prefix="mechjax_quickstart_")
summary = train(compose(overrides), run_dir)
print({k: summary[k] for k in ("revenue", "regret", "ir_violation", "steps", "wall_s")})

# %% [markdown]
# ## Look at the learned mechanism
# `mechjax.load` returns a plain jittable function `bids -> (allocations, payments)`.
# The optimal mechanism sells each item separately at low values and the bundle at high values;
# RegretNet's allocation map should show those regions.

# %%
mechanism, problem = mechjax.load(run_dir)
path = allocation_map(jax.jit(mechanism), [0, 0], [1, 1], os.path.join(run_dir, "allocation_map.png"))
plt.imshow(plt.imread(path)); plt.axis("off"); plt.show()

# %% [markdown]
# ## Evaluate with a stronger attacker
# Regret is reported by an attacker stronger than the one used in training: an exhaustive grid
# over misreports plus gradient ascent from many starts.

# %%
attack = [f"attack.steps={5 if TINY else 500}", f"attack.restarts={1 if TINY else 32}",
          f"attack.num_samples={64 if TINY else 4096}", f"attack.revenue_samples={256 if TINY else 131072}",
          f"attack.batch_size={64 if TINY else 512}",
          f"attack.grid={5 if TINY else 51}"] + (["attack.allow_weak=true"] if TINY else [])
strong = evaluate(compose(attack, config_name="evaluate"), run_dir=run_dir)
print(f"revenue {strong['revenue']:.4f}  regret {strong['regret']:.2e}  (optimum 0.549)")
assert np.isfinite(strong["revenue"]) and strong["regret"] >= 0
