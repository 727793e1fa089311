"""The front door names no domain: what differs between kinds comes from registry hooks."""

import ast
import io
import os
import re
import tokenize

import pytest

from mechjax import config as config_lib
from mechjax import experiment, registry, report

from conftest import REPO_DIR, TINY, compose_config

FRONT_DOOR = ["mechjax/config.py", "mechjax/experiment.py", "mechjax/plot.py", "mechjax/report.py",
              "mechjax/cli.py", "mechjax/summary.py", "mechjax/validate.py", "mechjax/progress.py",
              "experiments/train.py", "experiments/evaluate.py"]


def _domain_words() -> set:
    registry.import_domains()
    words = set(registry.DOMAINS) | set(registry.PROBLEMS) | set(registry.MECHANISMS) | set(registry.CLASSICAL)
    words |= set(registry.EVALUATOR_SECTIONS.values())
    words |= {w.rstrip("s") for w in registry.DOMAINS}  # "auction" for "auctions"
    return {w.lower() for w in words}


def _code_tokens(path: str):
    """Names and string literals of ``path``, comments and docstrings left out (prose may give examples)."""
    source = open(path).read()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(body[0].lineno)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME or (tok.type == tokenize.STRING and tok.start[0] not in docstrings):
            yield tok


@pytest.mark.parametrize("path", FRONT_DOOR)
def test_front_door_code_names_no_domain(path):
    words = _domain_words()
    found = []
    for tok in _code_tokens(os.path.join(REPO_DIR, path)):
        text = tok.string.lower()
        for word in words:
            if word in text.replace("-", "_").split("_") + [text.strip("'\"")] or f".{word}" in text \
                    or f"{word}." in text or f"{word}s" == text.strip("'\""):
                found.append(f"line {tok.start[0]}: {tok.string} ({word})")
    assert not found, f"{path} names a domain: {found}"


def test_every_kind_can_register_console_rows():
    """summary_table uses only the kind's hook plus generic rows; an unknown kind still gets a table."""
    table = report.summary_table({"kind": "no_such_kind", "steps": 3, "train_wall_s": 1.5, "eval_wall_s": 2.5})
    assert re.search(r"training wall time \[s\] +1\.5", table) and re.search(r"evaluation wall time \[s\] +2\.5", table)
    registry.import_domains()
    rows = registry.SUMMARY_ROWS["auction"]({"revenue": 0.5, "regret": 0.001, "optimal_revenue": 0.55})
    assert ("revenue", 0.5) in rows and ("optimal revenue (known)", 0.55) in rows


def test_load_applies_the_kinds_loader(tmp_path, monkeypatch):
    """``load`` hands back what the kind's LOADERS hook makes of the mechanism (a classical run
    directory here: no training needed to reach the hook)."""
    import yaml
    cfg = config_lib.to_dict(compose_config([*TINY, "problem=auction/single_item_2", "mechanism=myerson"]))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    seen = []

    def loader(mechanism, problem):
        seen.append(problem)
        return ("wrapped", mechanism)

    monkeypatch.setitem(registry.LOADERS, "auction", loader)
    mechanism, problem = experiment.load(str(tmp_path))
    assert mechanism[0] == "wrapped" and seen == [problem]
    import mechjax
    assert mechjax.load(str(tmp_path))[0][0] == "wrapped"
    monkeypatch.delitem(registry.LOADERS, "auction")
    mechanism, _ = experiment.load(str(tmp_path))
    assert callable(mechanism)  # no hook: the mechanism itself


def test_top_level_flags_and_sections_are_the_only_keys():
    cfg = config_lib.to_dict(compose_config([*TINY]))
    config_lib.check_top_level(cfg)  # the shipped config passes
    cfg["debug"] = "yes"
    with pytest.raises(config_lib.ConfigError, match="debug"):
        config_lib.check_top_level(cfg)
