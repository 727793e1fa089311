"""A group chosen on the command line wins over an experiment preset's values (compose only).

An experiment preset (``conf/experiment/*.yaml``, package ``_global_``) keeps its training budget and
evaluation attacker in group options of their own (``conf/trainer/preset/``, ``conf/attack/preset/``)
that it selects in its defaults list, not in ``trainer:`` / ``attack:`` keys of its body: body keys
merge after the groups and would silently outrank ``trainer=tiny`` / ``attack=quick`` (a smoke run
that trains the full 40,000 steps at tiny's batch size).
"""

import os

import pytest
from omegaconf import OmegaConf

from conftest import CONF_DIR, compose_config

PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.endswith(".yaml"))


@pytest.fixture(scope="module")
def group_values():
    """The trainer section of ``trainer=tiny`` and the attack section of ``attack=quick``, no preset."""
    tiny = OmegaConf.to_container(compose_config(["trainer=tiny"]).trainer, resolve=True)
    quick = OmegaConf.to_container(compose_config(["attack=quick"]).attack, resolve=True)
    return tiny, quick


def test_the_group_options_differ_from_the_defaults(group_values):
    # otherwise "equals tiny's" below could hold without the group having been applied
    assert PRESETS, f"no experiment presets in {CONF_DIR}/experiment"
    tiny, quick = group_values
    base = compose_config([])
    assert tiny != OmegaConf.to_container(base.trainer, resolve=True)
    assert quick != OmegaConf.to_container(base.attack, resolve=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_trainer_tiny_wins_over_the_preset(preset, group_values):
    cfg = compose_config([f"+experiment={preset}", "trainer=tiny"])
    assert OmegaConf.to_container(cfg.trainer, resolve=True) == group_values[0]


@pytest.mark.parametrize("preset", PRESETS)
def test_attack_quick_wins_over_the_preset(preset, group_values):
    cfg = compose_config([f"+experiment={preset}", "attack=quick"])
    if "attack" in cfg:  # every training config has one today (the auction evaluator's)
        assert OmegaConf.to_container(cfg.attack, resolve=True) == group_values[1]


@pytest.mark.parametrize("preset", PRESETS)
def test_a_dotted_trainer_key_wins_over_the_preset(preset):
    assert compose_config([f"+experiment={preset}", "trainer.steps=7"]).trainer.steps == 7
