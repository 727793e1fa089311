"""The independent exact reference (mechjax/budgeting/exact_reference.py) that the pb_agreement
table uses where pabutools would take hours: it must equal our rules and pabutools on tie-heavy
random elections, and our rules on real ones."""

import glob
import os

import numpy as np
import pytest

from mechjax.budgeting import exact_reference, peers, read_pabulib
from mechjax.budgeting.synthetic import random_election

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "pabulib")
REAL = sorted(glob.glob(os.path.join(DATA, "*.pb")), key=os.path.getsize)
needs_data = pytest.mark.skipif(not REAL, reason=f"no pabulib data at {DATA} (../shared/data/pabulib)")
needs_pabutools = pytest.mark.skipif(not peers.available(), reason="pabutools (the [peers] extra) is not installed")
RULES = ("mes_budget_increase_greedy", "mes", "greedy")


def _reference(election, rule):
    names, costs, budget, groups = exact_reference.election_from_pabutools(*peers.to_pabutools(election))
    return {names[p] for p in exact_reference.outcome(rule, costs, budget, groups)}


@needs_pabutools
@pytest.mark.parametrize("max_voters,max_projects,count", [(12, 6, 80), (40, 12, 30)])
def test_reference_equals_ours_on_tie_heavy_random_elections(max_voters, max_projects, count):
    rng = np.random.default_rng(max_voters)
    differ = []
    for index in range(count):
        election = random_election(rng, max_voters, max_projects)
        for rule in RULES:
            if _reference(election, rule) != peers.ours(rule, election):
                differ.append((index, rule))
    assert not differ


@needs_pabutools
@pytest.mark.peers
def test_reference_equals_pabutools_on_random_elections():
    rng = np.random.default_rng(7)
    for _ in range(15):
        election = random_election(rng, 20, 8)
        instance, profile = peers.to_pabutools(election)
        for rule in RULES:
            assert _reference(election, rule) == peers.run_pabutools(rule, instance, profile)


@needs_data
@needs_pabutools
def test_reference_equals_ours_on_small_real_elections():
    for path in REAL[:12]:
        expected = peers.ours("mes_budget_increase_greedy", read_pabulib(path))
        funded, _, runs = exact_reference.run_file(path)
        assert set(funded) == expected, os.path.basename(path)
        assert runs >= 1
