"""Preference data: judgements as rankings of responses, with the annotator who gave each one.

A data set is ``rankings int [n, k]`` (response indices, best first; ``k = 2`` for a pairwise
comparison, ``k >= 3`` for a k-wise ranking of the ``k`` responses shown) plus ``annotator int [n]``
(who gave judgement ``i``). This is the voting module's ranking convention with one difference:
a judgement ranks the responses it was *shown*, a subset of the ``num_responses``; its
Plackett-Luce likelihood chooses among those only.

Files: PrefLib ``.soi`` (one order line per judgement, 1-based responses, annotators written as a
``# ANNOTATORS`` header; read and written with ``mechjax.voting.preflib``) and a plain CSV
``annotator,r1,r2,...,rk`` (best first). Every reader and ``check_preferences`` reject repeated
responses, responses outside ``0..num_responses-1`` and annotator arrays of another length with a
:class:`~mechjax.errors.DataError` naming the argument (or the file and line), before anything is
compiled.
"""

from __future__ import annotations

import csv
import os
from typing import NamedTuple, Optional

import numpy as np

from mechjax.errors import DataError


class PreferenceData(NamedTuple):
    """Judgements of annotators (numpy arrays).

    Attributes:
        rankings: ``int [n, k]`` response indices, best first.
        annotator: ``int [n]`` annotator id of each judgement, ``0..num_annotators-1``.
        num_responses: K, the number of responses judgements choose from.
        types: ``int [n]`` the annotator's hidden type when generated (else None).
    """

    rankings: np.ndarray
    annotator: np.ndarray
    num_responses: int
    types: Optional[np.ndarray] = None

    @property
    def num_annotators(self) -> int:
        return int(self.annotator.max()) + 1 if len(self.annotator) else 0


def check_preferences(rankings, num_responses: int, annotator=None, field: str = "rankings") -> tuple:
    """Validates judgements; returns ``(rankings int32 [n, k], annotator int32 [n])`` as numpy.

    Args:
        rankings: ``[n, k]`` integers, each row ``k`` distinct responses in ``0..num_responses-1``.
        num_responses: K.
        annotator: optional ``[n]`` non-negative integer ids (default: one annotator per judgement).
        field: the argument's name in messages.

    Raises:
        DataError: wrong shape or dtype, a repeated or out-of-range response, an annotator array of
            another length, negative ids.
    """
    if not isinstance(num_responses, (int, np.integer)) or isinstance(num_responses, bool) or num_responses < 2:
        raise DataError(f"num_responses must be an integer >= 2, got {num_responses!r}")
    r = np.asarray(rankings)
    if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] < 2:
        raise DataError(f"{field} must be [judgements >= 1, k >= 2] (k responses best first), got shape {r.shape}")
    if not np.issubdtype(r.dtype, np.integer):
        if not (np.issubdtype(r.dtype, np.floating) and np.all(r == np.round(r))):
            raise DataError(f"{field} must hold integer response indices, got dtype {r.dtype}")
    r = r.astype(np.int64)
    if r.shape[1] > num_responses:
        raise DataError(f"{field} ranks k={r.shape[1]} responses but num_responses={num_responses}")
    bad = (r < 0) | (r >= num_responses)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(f"{field}[{i}] = {r[i].tolist()}: response {r[i, j]} is outside 0..{num_responses - 1}")
    s = np.sort(r, axis=1)
    repeated = (s[:, 1:] == s[:, :-1]).any(1)
    if repeated.any():
        i = int(np.argmax(repeated))
        raise DataError(f"{field}[{i}] = {r[i].tolist()} repeats a response")
    if annotator is None:
        a = np.arange(len(r))
    else:
        a = np.asarray(annotator)
        if a.ndim != 1 or len(a) != len(r):
            raise DataError(f"annotator must be [n] with n = len({field}) = {len(r)}, got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"annotator must hold integer ids, got dtype {a.dtype}")
        if (a < 0).any():
            raise DataError(f"annotator ids must be >= 0, got {int(a.min())}")
    return r.astype(np.int32), a.astype(np.int32)


def compact_annotators(annotator) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, dense)``: the distinct ids in order and each judgement's index among them."""
    ids, dense = np.unique(np.asarray(annotator), return_inverse=True)
    return ids, dense.astype(np.int32)


# ----------------------------------------------------------------------------- PrefLib .soi

def write_soi(path, data: PreferenceData, names=None, overwrite: bool = False) -> None:
    """Writes judgements as a PrefLib ``.soi`` file, one order line per judgement, in data order.

    The annotator of line ``i`` is the ``i``-th id of the ``# ANNOTATORS`` header (space separated),
    so a round trip keeps both arrays. Other PrefLib readers see an ordinary soi file.
    """
    from mechjax.voting.preflib import PreflibElection, write_preflib

    rankings, annotator = check_preferences(data.rankings, data.num_responses, data.annotator)
    k = data.num_responses
    names = tuple(names) if names is not None else tuple(f"Response {i}" for i in range(1, k + 1))
    if len(names) != k:
        raise DataError(f"write_soi: {len(names)} names for {k} responses")
    election = PreflibElection(
        str(path), "soi", k, names, tuple(tuple(int(x) for x in row) for row in rankings),
        (1,) * len(rankings), (0,) * len(rankings),
        {"TITLE": "mechjax preference data", "ANNOTATORS": " ".join(map(str, annotator.tolist()))})
    write_preflib(path, election, overwrite=overwrite)


def read_soi(path) -> PreferenceData:
    """Reads a PrefLib ``.soc``/``.soi`` file as judgements (orders with count c become c rows).

    Orders of one response carry no comparison and are dropped. Annotators come from a
    ``# ANNOTATORS`` header when present (written by :func:`write_soi`), else each row is its own
    annotator (PrefLib files hold one order per voter).

    Raises:
        DataError: from the PrefLib parser (file and line), or an ANNOTATORS header of the wrong length.
    """
    from mechjax.voting.preflib import read_preflib

    election = read_preflib(path)
    rows, lines = [], []
    for order, count, line in zip(election.orders, election.counts, election.lines):
        rows += [order] * count
        lines += [line] * count
    header = election.header.get("ANNOTATORS")
    if header is not None:
        try:
            annotator = np.asarray([int(x) for x in header.split()], np.int64)
        except ValueError:
            raise DataError(f"{path}: # ANNOTATORS must be integers") from None
        if len(annotator) != len(rows):
            raise DataError(f"{path}: # ANNOTATORS has {len(annotator)} ids for {len(rows)} judgements")
    else:
        annotator = np.arange(len(rows))
    keep = [i for i, r in enumerate(rows) if len(r) >= 2]
    if not keep:
        raise DataError(f"{path}: no order ranks two or more responses")
    return _ragged(path, [rows[i] for i in keep], annotator[keep], election.num_alternatives,
                   [lines[i] for i in keep])


def _ragged(path, rows, annotator, num_responses, lines) -> PreferenceData:
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        k = min(lengths)
        i = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise DataError(f"{path}:{lines[i]}: judgements rank different numbers of responses "
                        f"({sorted(lengths)}); keep rows of one length (e.g. the first {k})")
    rankings, annotator = check_preferences(np.asarray(rows), num_responses, annotator, field=str(path))
    return PreferenceData(rankings, annotator, num_responses)


# ----------------------------------------------------------------------------- CSV

def write_csv(path, data: PreferenceData, overwrite: bool = False) -> None:
    """Writes ``annotator,r1,...,rk`` rows (0-based responses, best first) with a header line."""
    rankings, annotator = check_preferences(data.rankings, data.num_responses, data.annotator)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"# num_responses={data.num_responses}"])
        w.writerow(["annotator"] + [f"r{i + 1}" for i in range(rankings.shape[1])])
        for a, row in zip(annotator.tolist(), rankings.tolist()):
            w.writerow([a] + row)


def read_csv(path, num_responses: Optional[int] = None) -> PreferenceData:
    """Reads :func:`write_csv` files (the ``# num_responses=K`` line, or ``num_responses=``).

    Raises:
        DataError: naming the file and physical line of a malformed row.
    """
    path = os.fspath(path)
    rows, annotator, lines = [], [], []
    with open(path, newline="") as f:
        for lineno, fields in enumerate(csv.reader(f), 1):
            if not fields or not "".join(fields).strip():
                continue
            if fields[0].startswith("#"):
                key, _, value = fields[0][1:].strip().partition("=")
                if key.strip() == "num_responses" and num_responses is None:
                    try:
                        num_responses = int(value)
                    except ValueError:
                        raise DataError(f"{path}:{lineno}: num_responses must be an integer") from None
                continue
            if fields[0].strip() == "annotator":
                continue
            try:
                values = [int(x) for x in fields]
            except ValueError:
                raise DataError(f"{path}:{lineno}: expected integers 'annotator,r1,...,rk', got {fields}") from None
            if len(values) < 3:
                raise DataError(f"{path}:{lineno}: a judgement needs an annotator and >= 2 responses")
            if rows and len(values) - 1 != len(rows[0]):
                raise DataError(f"{path}:{lineno}: ranks {len(values) - 1} responses, earlier rows {len(rows[0])}")
            annotator.append(values[0])
            rows.append(values[1:])
            lines.append(lineno)
    if num_responses is None:
        raise DataError(f"{path}: no '# num_responses=K' line; pass num_responses=")
    if not rows:
        raise DataError(f"{path}: no judgements")
    try:
        return _ragged(path, rows, np.asarray(annotator), num_responses, lines)
    except DataError as err:
        text = str(err)
        i = text.find("[")
        if i >= 0 and text[len(path):].startswith("["):  # point at the physical line of the bad row
            row = int(text[i + 1:text.index("]", i)])
            raise DataError(f"{path}:{lines[row]}: " + text[text.index("]", i) + 4:]) from None
        raise
