"""Summaries of runs: several seeds folded into one (per-seed values and spread kept), and the
check that nothing non-finite is written to ``summary.json``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mechjax.errors import NonFiniteError

_NOT_AVERAGED = ("eval_seed", "seed")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _mean(values: list) -> Any:
    """Mean of per-seed values: numbers averaged, equal-length number lists averaged entry-wise,
    dicts folded key by key; anything else kept when all seeds agree, else the per-seed list."""
    first = values[0]
    if all(v == first and type(v) is type(first) for v in values):
        return first  # the same in every seed (settings, sample counts): kept as is
    if all(_is_number(v) for v in values):
        return float(np.mean(values))
    if all(isinstance(v, dict) for v in values) and all(v.keys() == first.keys() for v in values):
        return {k: (first[k] if k in _NOT_AVERAGED else _mean([v[k] for v in values])) for k in first}
    if (all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1
            and all(_is_number(x) for v in values for x in v)):
        return [float(x) for x in np.mean(np.asarray(values, dtype=float), axis=0)]
    if all(v == first for v in values):
        return first
    return list(values)


def spread(values: list[float]) -> dict:
    """``{mean, std, min, max}`` of per-seed values (std with ddof=0: the seeds run, not a sample)."""
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()), "max": float(arr.max())}


def _numeric_paths(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in _NOT_AVERAGED:
                yield from _numeric_paths(v, f"{prefix}{k}.")
    elif _is_number(node):
        yield prefix[:-1]


def _get(node, path: str):
    for part in path.split("."):
        node = node[part]
    return node


def combine_seeds(per_seed: list[dict]) -> dict:
    """One summary for several seed replicas.

    Every number is the mean over seeds (lists of numbers entry-wise, nested dicts key by key);
    each top-level number and number list ``k`` that differs between seeds also gets ``k_seeds``
    (the per-seed values); ``seed_spread`` maps every such numeric field (dotted path, e.g.
    ``axioms.condorcet.rate``) to its ``{mean, std, min, max}``; values equal in every seed
    (settings, sample counts) are kept as they are; ``per_seed`` keeps every replica's own summary. A field whose
    non-numeric value differs between seeds becomes the list of per-seed values.
    """
    if len(per_seed) == 1:
        return dict(per_seed[0])
    summary = _mean(per_seed)
    for key, first in per_seed[0].items():
        if key in _NOT_AVERAGED:
            continue
        varies = any(s.get(key) != first for s in per_seed)
        if varies and (_is_number(first) or (isinstance(first, list) and first and all(_is_number(x) for x in first))):
            summary[f"{key}_seeds"] = [s[key] for s in per_seed]
    paths = [p for p in _numeric_paths(per_seed[0])
             if all(_has(s, p) for s in per_seed) and len({_get(s, p) for s in per_seed}) > 1]
    summary["seed_spread"] = {p: spread([_get(s, p) for s in per_seed]) for p in paths}
    summary["num_seeds"] = len(per_seed)
    summary["per_seed"] = per_seed
    return summary


def _has(node, path: str) -> bool:
    try:
        return _is_number(_get(node, path))
    except (KeyError, TypeError):
        return False


def check_finite(obj: Any, where: str = "summary.json") -> None:
    """Raises NonFiniteError naming the first non-finite number in ``obj`` (a JSON-ready tree)."""
    for path, value in _leaves(obj, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise NonFiniteError(f"{where}: '{path}' is {value}; refusing to write a non-finite result "
                                 f"(the mechanism or its evaluation produced NaN/inf)")


def _leaves(node, prefix):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, node
