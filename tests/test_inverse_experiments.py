"""The DIML results tables (``mechjax.inverse.tables``) and the anonymous benchmark, at tiny size.

Numbers are meaningless here: the tests check that each registered table runs its study, renders
what it ran, and states its method without typed-in numbers.
"""

import importlib.util
import os
import re

import pytest

from mechjax import registry
from mechjax.errors import ConfigError
from mechjax.tables import TableContext, parse_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIML_TABLES = ("diml_table", "diml_table_neural", "diml_beta_ablation", "diml_identifiability", "diml_anonymous")


def _produce(name, seeds=(0,), **given):
    registry.import_domains()
    table = registry.TABLES[name]
    options = parse_options(table, {k: str(v) for k, v in given.items()}, name)
    return table.produce(TableContext(seeds=seeds, runs_root="", extra=options))


def test_every_diml_table_is_registered_and_its_notes_type_in_no_numbers():
    registry.import_domains()
    for name in DIML_TABLES:
        table = registry.TABLES[name]
        assert table.produce is not None and table.title
        assert not re.search(r"\d", table.notes), f"{name}: notes must describe the method, not numbers"
        assert os.path.exists(os.path.join(ROOT, "experiments", "results", f"{name}.md"))


def test_tables_reject_options_they_do_not_take():
    with pytest.raises(ConfigError, match="games"):
        _produce("diml_table", games="chess", tiny="true")
    with pytest.raises(ConfigError, match="does not take"):
        parse_options(registry.TABLES["diml_identifiability"], {"tiny": "true"}, "diml_identifiability")
    with pytest.raises(ConfigError, match="multipliers"):
        _produce("diml_beta_ablation", multipliers="0,1", tiny="true")


@pytest.mark.slow
def test_estimator_table_and_beta_ablation_run_their_studies():
    body, data = _produce("diml_table", tiny="true", games="public_goods",
                          estimators="trivial,behaviour_cloning,diml")
    assert "behaviour cloning" in body and "DIML" in body and "## public_goods" in body
    assert set(data["public_goods"][0]) == {"_instance", "trivial", "behaviour_cloning", "diml"}
    row = data["public_goods"][0]["diml"]
    assert {"mse_heldout", "correlation_heldout", "mse_all", "nll", "kl_0", "fit_s"} <= set(row)
    body, data = _produce("diml_beta_ablation", tiny="true", game="public_goods", multipliers="2.0")
    assert "beta_fit" in body and set(data) == {"2"} and "diml" in data["2"][0]


@pytest.mark.slow
def test_identifiability_table_tells_gauge_shifts_from_a_real_change():
    body, rows = _produce("diml_identifiability", game="public_goods", episodes=4, steps=6, fit_steps=2, kl_episodes=4)
    assert "| u vs u + c_i |" in body
    assert rows[0]["u vs u + c_i"]["equivalent"] and rows[0]["u vs u + c_i(a_-i)"]["equivalent"]
    assert rows[0]["DIML vs DIML + c_i"]["equivalent"]
    assert not rows[0]["u vs u + 0.5 on one action (control)"]["equivalent"]


@pytest.mark.slow
def test_anonymous_benchmark_prints_the_registered_table(capsys):
    path = os.path.join(ROOT, "benchmarks", "bench_diml_anonymous.py")
    spec = importlib.util.spec_from_file_location("bench_diml_anonymous", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--agents", "6", "--seeds", "1", "--tiny", "--models", "anonymous_neural"])
    assert "wall s per epoch" in capsys.readouterr().out
    assert rows[0]["n"] == 6 and rows[0]["anonymous_neural"]["epochs"] > 0
