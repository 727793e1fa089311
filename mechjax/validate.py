"""Checks a config value against a dataclass field's annotation, naming the field on failure.

One small checker serves every domain (called by :func:`mechjax.registry.from_section`), so
``mechanism.hidden=abc`` or ``optim.lr=inf`` fail with a :class:`~mechjax.errors.ConfigError` that
names the field before any dataclass or network is built. It understands the annotations config
dataclasses use: ``int``, ``float``, ``bool``, ``str``, ``dict``, ``Any``, ``Optional[X]``,
``Union[...]``, ``Sequence[X]``, ``tuple[X, ...]``, ``tuple[X, Y]`` and bare ``tuple``/``list``.

Every float must be finite (a NaN learning rate or multiplier only fails after compilation
otherwise); a field that may legitimately be infinite says so with
``dataclasses.field(metadata={"allow_inf": True})``. Bools are not ints here (``hidden=[true]``
is a mistake), ints are accepted where floats are expected, strings are not sequences.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import typing
from typing import Any

from mechjax.errors import ConfigError

_MISSING = object()


def field_types(cls) -> dict[str, Any]:
    """``{field name: resolved annotation}`` of dataclass ``cls`` (``{}`` if they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation naming something the module cannot resolve: skip type checks
        return {}


def check_fields(cls, values: dict, prefix: str) -> dict:
    """Type-checks ``values`` (field -> value) against ``cls``'s annotations.

    Args:
        cls: a dataclass.
        values: the settings about to be passed to ``cls``.
        prefix: the config path of the section, e.g. ``mechanism`` or ``problem.culture``.

    Returns:
        ``values`` with lists turned into tuples and ints into floats where floats are declared.

    Raises:
        ConfigError: naming ``prefix.<field>``, the expected type and the value given.
    """
    hints = field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for name, value in values.items():
        hint = hints.get(name, Any)
        allow_inf = bool(fields[name].metadata.get("allow_inf")) if name in fields else False
        out[name] = convert(value, hint, f"{prefix}.{name}", allow_inf)
    return out


def convert(value: Any, hint: Any, path: str, allow_inf: bool = False) -> Any:
    """``value`` checked (and normalised) against annotation ``hint``; ConfigError naming ``path``."""
    result = _convert(value, hint, allow_inf)
    if result is _MISSING:
        raise ConfigError(f"{path} must be {describe(hint)}, got {value!r}")
    if isinstance(result, _NonFinite):
        raise ConfigError(f"{path} must be a finite number, got {result.value!r}")
    return result


class _NonFinite:
    def __init__(self, value):
        self.value = value


def _convert(value, hint, allow_inf):
    if hint is Any or hint is object:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None and type(None) in args:
            return None
        for arm in args:
            if arm is type(None):
                continue
            result = _convert(value, arm, allow_inf)
            if isinstance(result, _NonFinite):
                return result
            if result is not _MISSING:
                return result
        return _MISSING
    if hint is type(None):
        return None if value is None else _MISSING
    if hint is bool:
        return value if isinstance(value, bool) else _MISSING
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISSING
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _MISSING
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not allow_inf):
            return _NonFinite(value)
        return value
    if hint is str:
        return value if isinstance(value, str) else _MISSING
    if hint in (dict,) or origin in (dict, collections.abc.Mapping):
        return value if isinstance(value, collections.abc.Mapping) else _MISSING
    if hint in (tuple, list):
        return tuple(value) if _is_sequence(value) else _MISSING
    if origin in (tuple, list, collections.abc.Sequence):
        if not _is_sequence(value):
            return _MISSING
        items = list(value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(items) != len(args):
                return _MISSING
            arms = list(args)
        else:
            arms = [args[0] if args else Any] * len(items)
        out = []
        for item, arm in zip(items, arms):
            result = _convert(item, arm, allow_inf)
            if result is _MISSING or isinstance(result, _NonFinite):
                return result
            out.append(result)
        return tuple(out)
    if isinstance(hint, type):
        return value if isinstance(value, hint) else _MISSING
    return value  # an annotation this checker does not model: the dataclass checks it


def _is_sequence(value) -> bool:
    return isinstance(value, collections.abc.Sequence) and not isinstance(value, (str, bytes))


def describe(hint, plural: bool = False) -> str:
    """Plain words for an annotation: ``an integer``, ``a list of integers``, ``null or a number``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        arms = [describe(a, plural) for a in args if a is not type(None)]
        words = " or ".join(arms)
        return f"null or {words}" if type(None) in args else words
    names = {bool: ("true or false", "booleans"), int: ("an integer", "integers"),
             float: ("a finite number", "finite numbers"), str: ("a string", "strings"),
             dict: ("a mapping", "mappings"), tuple: ("a list", "lists"), list: ("a list", "lists")}
    if hint in names:
        return names[hint][plural]
    if origin in (dict, collections.abc.Mapping):
        return names[dict][plural]
    if origin in (tuple, list, collections.abc.Sequence):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return f"{'lists' if plural else 'a list'} of {len(args)} ({', '.join(describe(a) for a in args)})"
        inner = describe(args[0], plural=True) if args else "values"
        return f"{'lists' if plural else 'a list'} of {inner}"
    return getattr(hint, "__name__", str(hint))
