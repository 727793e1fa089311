"""Reading and writing PrefLib ordinal files: ``.soc`` (strict complete) and ``.soi`` (strict incomplete).

A PrefLib file is ``#`` header lines (``# NUMBER ALTERNATIVES: m``, ``# ALTERNATIVE NAME i: ...``,
...) followed by ``count: a,b,c`` lines, alternatives numbered from 1, best first. We keep the
file as it is (unique orders with their counts, 0-based) in a ``PreflibElection`` and convert to
the ranking contract on request with ``to_profile``:

* complete orders map to rankings directly; counts become ``weights`` (or rows, with
  ``expand=True``); orders with count 0 are dropped;
* incomplete orders (``.soi``) are rejected by default (``incomplete="error"``: DataError naming
  the file and line); ``incomplete="drop"`` discards them; ``incomplete="bottom"`` appends the
  unranked alternatives below the ranked ones in index order. That imposes an arbitrary strict
  order among unranked alternatives (PrefLib's own ``.toc`` completion ties them instead, which
  our strict rankings cannot express), so it favours low indices on truncated ballots.
* ties (``{a,b}`` in ``.toc``/``.toi``) and other data types (``.cat``, ``.wmd``, ...) are not
  supported: DataError naming the file (and the line, for a tie inside a soc/soi file).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from mechjax.errors import DataError
from mechjax.voting.profiles import Profile, check_rankings

SUPPORTED = ("soc", "soi")
INCOMPLETE = ("error", "drop", "bottom")


@dataclass(frozen=True)
class PreflibElection:
    """One PrefLib ordinal file, as written.

    Attributes:
        path: where it was read from (used in error messages), or a label.
        data_type: ``"soc"`` or ``"soi"``.
        num_alternatives: m.
        alternative_names: m names (``"Alternative i"`` where the header names none).
        orders: unique orders, 0-based alternatives, best first (incomplete for soi).
        counts: number of voters casting each order.
        lines: 1-based line number of each order in the file (0 when built in memory).
        header: the other ``# KEY: value`` header fields.
    """

    path: str
    data_type: str
    num_alternatives: int
    alternative_names: tuple
    orders: tuple
    counts: tuple
    lines: tuple
    header: dict = field(default_factory=dict, compare=False)

    @property
    def num_voters(self) -> int:
        return int(sum(self.counts))

    def is_complete(self) -> bool:
        return all(len(o) == self.num_alternatives for o in self.orders)

    def to_profile(self, incomplete: str = "error", expand: bool = False) -> Profile:
        """The election as a batch of one profile.

        Args:
            incomplete: ``"error"``, ``"drop"`` or ``"bottom"`` (see the module docstring).
            expand: one row per voter (weights None) instead of one row per unique order with
                its count in ``weights``.

        Returns:
            ``Profile(rankings [1, rows, m], None, weights [1, rows] or None)``.
        """
        if incomplete not in INCOMPLETE:
            raise DataError(f"preflib incomplete= must be one of {INCOMPLETE}, got {incomplete!r}")
        m = self.num_alternatives
        rows, counts = [], []
        for order, count, line in zip(self.orders, self.counts, self.lines):
            if len(order) < m:
                if incomplete == "error":
                    raise DataError(f"{self.path}:{line}: incomplete order {_format(order)} ranks "
                                    f"{len(order)} of {m} alternatives; pass incomplete='drop' or "
                                    "'bottom' to use this file")
                if incomplete == "drop":
                    continue
                order = tuple(order) + tuple(a for a in range(m) if a not in set(order))
            if count > 0:
                rows.append(order)
                counts.append(count)
        if not rows:
            raise DataError(f"{self.path}: no voters left after incomplete={incomplete!r}")
        rankings = np.asarray(rows, np.int32)
        if expand:
            return Profile(np.repeat(rankings, counts, axis=0)[None])
        return Profile(rankings[None], None, np.asarray(counts, np.int32)[None])


def _format(order) -> str:
    return ",".join(str(a + 1) for a in order)


def read_preflib(path: str | os.PathLike) -> PreflibElection:
    """Parses a ``.soc`` or ``.soi`` file, validating every line.

    Raises:
        DataError: unsupported data type, malformed header or order line (message names the file
            and line), or counts inconsistent with the header.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in SUPPORTED:
        raise DataError(f"{path}: PrefLib data type {ext!r} is not supported (only strict orders: "
                        f"{SUPPORTED}; ties and categorical data cannot be ranking arrays)")
    with open(path, encoding="utf-8") as handle:
        text = handle.read().splitlines()

    header, names = {}, {}
    orders, counts, lines = [], [], []
    header_lines = {}
    for lineno, raw in enumerate(text, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if not sep:
                raise DataError(f"{path}:{lineno}: header line without ':': {raw!r}")
            key, value = key.strip().upper(), value.strip()
            if key.startswith("ALTERNATIVE NAME"):
                names[_int(key.rsplit(" ", 1)[-1], path, lineno, "alternative number")] = value
            else:
                header[key] = value
                header_lines[key] = lineno
            continue
        if "NUMBER ALTERNATIVES" not in header:
            raise DataError(f"{path}:{lineno}: order line before the '# NUMBER ALTERNATIVES' header")
        m = _int(header["NUMBER ALTERNATIVES"], path, header_lines["NUMBER ALTERNATIVES"],
                 "NUMBER ALTERNATIVES")
        count_text, sep, order_text = line.partition(":")
        if not sep:
            raise DataError(f"{path}:{lineno}: expected 'count: a,b,...', got {raw!r}")
        count = _int(count_text, path, lineno, "count")
        if count < 0:
            raise DataError(f"{path}:{lineno}: negative count {count}")
        if "{" in order_text or "}" in order_text:
            raise DataError(f"{path}:{lineno}: ties ('{{...}}') are not supported in strict orders")
        order = tuple(_int(a, path, lineno, "alternative") - 1 for a in order_text.split(","))
        bad = [a + 1 for a in order if not 0 <= a < m]
        if bad:
            raise DataError(f"{path}:{lineno}: alternatives {bad} outside 1..{m}")
        if len(set(order)) != len(order):
            raise DataError(f"{path}:{lineno}: an alternative appears twice in {order_text.strip()}")
        if ext == "soc" and len(order) != m:
            raise DataError(f"{path}:{lineno}: soc order ranks {len(order)} of {m} alternatives")
        orders.append(order)
        counts.append(count)
        lines.append(lineno)

    if "NUMBER ALTERNATIVES" not in header:
        raise DataError(f"{path}: missing '# NUMBER ALTERNATIVES' header")
    m = _int(header["NUMBER ALTERNATIVES"], path, header_lines["NUMBER ALTERNATIVES"],
             "NUMBER ALTERNATIVES")
    if m < 1:
        raise DataError(f"{path}:{header_lines['NUMBER ALTERNATIVES']}: NUMBER ALTERNATIVES must be >= 1")
    declared = header.get("DATA TYPE", ext).lower()
    if declared != ext:
        raise DataError(f"{path}:{header_lines['DATA TYPE']}: DATA TYPE {declared!r} does not match "
                        f"the extension {ext!r}")
    for key, actual in (("NUMBER VOTERS", sum(counts)), ("NUMBER UNIQUE ORDERS", len(orders))):
        if key in header and _int(header[key], path, header_lines[key], key) != actual:
            raise DataError(f"{path}:{header_lines[key]}: {key} says {header[key]} but the file "
                            f"has {actual}")
    if not orders:
        raise DataError(f"{path}: no order lines")
    return PreflibElection(
        path=path, data_type=ext, num_alternatives=m,
        alternative_names=tuple(names.get(i, f"Alternative {i}") for i in range(1, m + 1)),
        orders=tuple(orders), counts=tuple(counts), lines=tuple(lines), header=header)


def _int(text, path, lineno, what) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise DataError(f"{path}:{lineno}: {what} must be an integer, got {str(text).strip()!r}") from None


def from_rankings(rankings, weights=None, names=None, title: str = "mechjax profile",
                  label: str = "<memory>") -> PreflibElection:
    """One profile as a PrefLib election, identical ballots merged, most frequent first.

    Args:
        rankings: ``[voters, candidates]`` (one profile; index a batch first).
        weights: optional ``[voters]`` ballot counts.
        names: optional alternative names.
        title: the ``# TITLE`` header.
        label: the election's ``path`` for messages.
    """
    rankings = np.asarray(rankings)
    if rankings.ndim != 2:
        raise DataError(f"from_rankings: rankings must be [voters, candidates], got {rankings.shape}")
    w = np.ones(len(rankings), np.int64) if weights is None else np.asarray(weights)
    check_rankings(rankings[None], w[None])
    tally = Counter()
    for row, count in zip(map(tuple, rankings.tolist()), w.tolist()):
        tally[row] += int(count)
    items = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    m = rankings.shape[1]
    names = tuple(names) if names is not None else tuple(f"Alternative {i}" for i in range(1, m + 1))
    if len(names) != m:
        raise DataError(f"from_rankings: {len(names)} names for {m} candidates")
    return PreflibElection(label, "soc", m, names, tuple(o for o, _ in items),
                           tuple(c for _, c in items), (0,) * len(items), {"TITLE": title})


def write_preflib(path: str | os.PathLike, election: PreflibElection, overwrite: bool = False) -> None:
    """Writes ``election`` as ``.soc`` (all orders complete) or ``.soi``; the extension must match.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        DataError: the extension does not fit the orders.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    kind = "soc" if election.is_complete() else "soi"
    if ext not in SUPPORTED or (ext == "soc" and kind != "soc"):
        raise DataError(f"{path}: cannot write {kind} data to a .{ext} file")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    head = {k: v for k, v in election.header.items()
            if k not in ("FILE NAME", "DATA TYPE", "NUMBER ALTERNATIVES", "NUMBER VOTERS",
                         "NUMBER UNIQUE ORDERS")}
    out = [f"# FILE NAME: {os.path.basename(path)}", f"# TITLE: {head.pop('TITLE', '')}",
           f"# DATA TYPE: {ext}"]
    out += [f"# {k}: {v}" for k, v in head.items()]
    out += [f"# NUMBER ALTERNATIVES: {election.num_alternatives}",
            f"# NUMBER VOTERS: {election.num_voters}",
            f"# NUMBER UNIQUE ORDERS: {len(election.orders)}"]
    out += [f"# ALTERNATIVE NAME {i}: {name}" for i, name in enumerate(election.alternative_names, 1)]
    out += [f"{count}: {_format(order)}" for order, count in zip(election.orders, election.counts)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")
