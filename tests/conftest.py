import os

import pytest
from mechjax import experiment

CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
REPO_DIR = os.path.dirname(CONF_DIR)

# A weak, fast evaluation attacker for smoke runs only (never for reported numbers).
TINY_ATTACK = ["attack.steps=5", "attack.restarts=1", "attack.grid=3", "attack.grid_init=1",
               "attack.num_samples=64", "attack.revenue_samples=256", "attack.batch_size=64", "attack.allow_weak=true"]
TINY = ["trainer=tiny", "progress=false", "plots=false", *TINY_ATTACK]


def compose_config(overrides=(), config_name="config"):
    """The config that ``experiments/train.py <overrides>`` would see."""
    return experiment.compose(overrides, config_name=config_name, conf_dir=CONF_DIR)


@pytest.fixture
def compose_cfg():
    return compose_config
