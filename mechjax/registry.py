"""Name -> builder tables for the pieces a config can choose. Domains register on import.

* ``PROBLEMS[kind](section: dict) -> problem``
* ``MECHANISMS[name](section: dict, problem, kind) -> factory (rngs -> nnx.Module) | classical fn``
* ``INNERS[kind](section: dict, problem) -> inner solver``
* ``CONSTRAINTS[kind](section: dict) -> constraint``
* ``EVALUATORS[kind](mechanism_fn, problem, section: dict) -> summary dict``, where ``section`` is
  the config section named by ``EVALUATOR_SECTIONS[kind]`` (``attack`` for auctions,
  ``voting_eval`` for voting)
* ``TABLES[name] -> tables.Table``: the results tables ``experiments/reproduce.py table=<name>`` makes

Domains are listed in ``DOMAINS`` and imported by :func:`import_domains`; each domain's
``mechjax/<domain>/registry.py`` fills these tables. A domain never imports the front door
(``config``, ``experiment``, ``reproduce``).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from mechjax.errors import ConfigError
from mechjax.validate import check_fields

PROBLEMS: dict[str, Callable] = {}
MECHANISMS: dict[str, Callable] = {}
CLASSICAL: dict[str, Callable] = {}
INNERS: dict[str, Callable] = {}
CONSTRAINTS: dict[str, Callable] = {}
EVALUATORS: dict[str, Callable] = {}
EVALUATOR_SECTIONS: dict[str, str] = {}
TABLES: dict[str, Any] = {}
# Optional per-kind hooks, so the front door names no domain:
SUMMARY_ROWS: dict[str, Callable] = {}  # kind -> (summary) -> [(label, value)]: headline rows of the console table
PLOTS: dict[str, Callable] = {}  # kind -> (run_dir, mechanism_fn, problem, history) -> None: plots beside curves.png
LOADERS: dict[str, Callable] = {}  # kind -> (mechanism_fn, problem) -> the callable load(run_dir) hands users
CHECKS: dict[str, Callable] = {}  # kind -> (experiment, cfg) -> None: cross-section checks before training

# The domains, in import order. A domain's import error fails loudly: it is never an "unknown choice".
DOMAINS: tuple[str, ...] = ("auctions", "voting", "inverse", "delegation", "budgeting", "alignment")


def import_domains() -> None:
    """Imports every domain's registry (idempotent)."""
    for domain in DOMAINS:
        importlib.import_module(f"mechjax.{domain}.registry")


def register_table(name: str, table: Any) -> None:
    """Registers results table ``name`` (a :class:`mechjax.tables.Table`); names are unique."""
    if name in TABLES and TABLES[name] is not table:
        raise ValueError(f"results table {name!r} is registered twice")
    TABLES[name] = table


def register(table: dict, name: str):
    def deco(fn):
        table[name] = fn
        return fn
    return deco


EVALUATOR_CONFIGS: dict[str, type] = {}


def register_evaluator(kind: str, section: str, config_cls: type):
    """Registers the evaluator of problem ``kind``; it reads config section ``section``, a ``config_cls``."""
    def deco(fn):
        EVALUATORS[kind] = fn
        EVALUATOR_SECTIONS[kind] = section
        EVALUATOR_CONFIGS[kind] = config_cls
        return fn
    return deco


def evaluator_for(kind: str, cfg: dict) -> Callable:
    """``mechanism_fn, problem -> summary`` for problem ``kind``, bound to its section of ``cfg``.

    The section is validated here, so a bad evaluation setting fails before training starts.
    """
    fn = lookup(EVALUATORS, kind, "problem.kind")
    name = EVALUATOR_SECTIONS[kind]
    section = dict(cfg.get(name) or {})
    from_section(EVALUATOR_CONFIGS[kind], section, name)
    return lambda mechanism_fn, problem: fn(mechanism_fn, problem, section)


def lookup(table: dict, name: Any, field: str) -> Callable:
    """``table[name]`` or a ConfigError that names ``field`` and lists the choices."""
    if name not in table:
        raise ConfigError(f"{field}: unknown choice {name!r}; expected one of {sorted(table)}")
    return table[name]


def from_section(cls, section: dict, prefix: str, drop: tuple[str, ...] = (), **extra):
    """Builds dataclass ``cls`` from a config section, naming ``prefix.<key>`` for unknown keys.

    Values are checked against the field annotations first (:func:`mechjax.validate.check_fields`):
    a wrong type or a non-finite float fails naming ``prefix.<key>``.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in section.items():
        if key in drop:
            continue
        if key not in names:
            raise ConfigError(f"{prefix}.{key} is not a setting of {cls.__name__}; expected one of {sorted(names)}")
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    kwargs = check_fields(cls, kwargs, prefix)
    kwargs.update(extra)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{prefix}: {err}") from err
