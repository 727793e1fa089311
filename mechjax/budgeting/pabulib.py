"""Reading and writing pabulib ``.pb`` files (META / PROJECTS / VOTES), strictly.

The grammar we accept, so a file either parses to exactly what it says or fails with a
``DataError`` naming ``<file>:<line>`` (physical lines, as an editor counts them: only ``\\n``,
``\\r\\n`` and ``\\r`` end a line):

* UTF-8 (a byte-order mark only at the start); no control characters other than tab, no
  U+0085/U+2028/U+2029; empty lines are skipped anywhere, whitespace-only lines are errors.
* Sections ``META``, ``PROJECTS``, ``VOTES`` in that order, each followed by its header row.
  Rows are ``;``-separated; a field may be double-quoted (``""`` inside is a quote) to hold ``;``;
  a quoted field must close on its line. Fields are taken verbatim (no stripping).
* META: header ``key;value``; unique keys; required ``num_projects``, ``num_votes``, ``budget``,
  ``vote_type`` (approval, choose-1, cumulative, scoring, ordinal). Numbers are ASCII digits;
  costs and budgets may carry a decimal point or a decimal comma (``1234,50``).
* PROJECTS: header starts ``project_id;cost``; ids unique and non-empty; as many rows as
  ``num_projects``.
* VOTES: header starts ``voter_id;vote`` (then ``points`` for cumulative/scoring); ids unique;
  ``vote`` a comma-separated list of known, distinct project ids (possibly empty); ``points`` one
  integer per project; as many rows as ``num_votes``. Ballots must respect the META limits
  ``min_length``, ``max_length``, ``max_sum_cost``, ``min_sum_cost`` (cost of the ballot's
  projects), ``min_points``, ``max_points``, ``min_sum_points``, ``max_sum_points``; choose-1
  ballots name at most one project.

Memory is bounded by the election itself: the file is streamed line by line.
"""

from __future__ import annotations

import codecs
import itertools
import os
import re
from fractions import Fraction

import numpy as np

from mechjax.budgeting.election import VOTE_TYPES, Election
from mechjax.errors import DataError

_INT = re.compile(r"[0-9]+\Z")
_SIGNED_INT = re.compile(r"-?[0-9]+\Z")
_DECIMAL = re.compile(r"[0-9]+(?:[.,][0-9]+)?\Z")
_BAD_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029\ufeff]")
_CHUNK = 1 << 16
REQUIRED_META = ("num_projects", "num_votes", "budget", "vote_type")
LIMITS = ("min_length", "max_length", "min_sum_cost", "max_sum_cost",
          "min_points", "max_points", "min_sum_points", "max_sum_points")


def _lines(path):
    """Yields ``(line_number, text)`` for each physical line, decoded strictly."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    number, pending, first = 0, b"", True
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            data = pending + chunk
            parts = re.split(rb"(\r\n|\r|\n)", data)
            # keep the last (possibly incomplete) line, and a trailing \r that may start \r\n
            if chunk:
                if len(parts) >= 2 and parts[-2] == b"\r" and parts[-1] == b"":
                    pending = parts[-3] + b"\r"
                    parts = parts[:-3]
                else:
                    pending = parts[-1]
                    parts = parts[:-1]
            else:
                parts = parts if parts[-1] != b"" else parts[:-1]
            for i in range(0, len(parts), 2):
                raw = parts[i]
                number += 1
                if first:
                    first = False
                    if raw.startswith(codecs.BOM_UTF8):
                        raw = raw[3:]
                try:
                    text = decoder.decode(raw, final=True)
                except UnicodeDecodeError as err:
                    raise DataError(f"{path}:{number}: not UTF-8 ({err.reason} at byte {err.start})") from None
                yield number, text
            if not chunk:
                return


def _fields(text, path, number):
    """Splits one row on ``;``, honouring double quotes."""
    if '"' not in text:
        return text.split(";")
    fields, i, n = [], 0, len(text)
    while True:
        if i < n and text[i] == '"':
            value, i = [], i + 1
            while True:
                j = text.find('"', i)
                if j < 0:
                    raise DataError(f"{path}:{number}: unterminated quoted field")
                value.append(text[i:j])
                if j + 1 < n and text[j + 1] == '"':
                    value.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            fields.append("".join(value))
            if i == n:
                return fields
            if text[i] != ";":
                raise DataError(f"{path}:{number}: text after a closing quote")
            i += 1
        else:
            j = text.find(";", i)
            value = text[i:] if j < 0 else text[i:j]
            if '"' in value:
                raise DataError(f"{path}:{number}: stray double quote in an unquoted field")
            fields.append(value)
            if j < 0:
                return fields
            i = j + 1


def _number(text, pattern, what, path, number):
    if not pattern.match(text):
        raise DataError(f"{path}:{number}: {what} must be a non-negative number in ASCII digits, got {text!r}")
    return Fraction(text.replace(",", "."))


def read_pabulib(path, strict: bool = False) -> Election:
    """Reads a pabulib ``.pb`` file into an :class:`Election`, validating everything.

    Args:
        path: the ``.pb`` file.
        strict: also reject ballots that break the META limits (``min_length``, ``max_sum_cost``,
            ...) and approval ballots naming a project twice. Real pabulib files contain such
            ballots (the polls accepted them), so by default they are kept (a repeated approval
            once) and every case is listed, ``<file>:<line>: ...``, in ``Election.issues``.

    Returns:
        The election; ``meta``, extra project and voter columns are kept for :func:`write_pabulib`.

    Raises:
        DataError: naming ``<path>:<line>`` for any malformed or inconsistent content.
    """
    path = os.fspath(path)
    section, header = None, None
    meta, meta_lines = {}, {}
    ids, costs, project_extra, cost_lines = [], [], [], []
    index = {}
    voter_ids, voter_seen, ballots, points_rows, voter_extra, vote_lines = [], set(), [], [], [], []
    vote_type, headers, issues = None, {}, []
    last = 0
    for number, text in _lines(path):
        last = number
        if text == "":
            continue
        if _BAD_CHARS.search(text):
            bad = _BAD_CHARS.search(text).group()
            raise DataError(f"{path}:{number}: control or line-separator character {bad!r}")
        if text.strip() == "":
            raise DataError(f"{path}:{number}: whitespace-only line")
        fields = _fields(text, path, number)
        if len(fields) == 1 and fields[0] in ("META", "PROJECTS", "VOTES"):
            expected = {None: "META", "META": "PROJECTS", "PROJECTS": "VOTES"}.get(section)
            if fields[0] != expected:
                raise DataError(f"{path}:{number}: section {fields[0]} where {expected or 'end of file'} was expected")
            if fields[0] == "PROJECTS":
                vote_type = _check_meta(meta, meta_lines, path, number)
            if fields[0] == "VOTES" and len(ids) != int(meta["num_projects"]):
                raise DataError(f"{path}:{number}: {len(ids)} projects listed, META num_projects says {meta['num_projects']}")
            section, header = fields[0], None
            continue
        if section is None:
            raise DataError(f"{path}:{number}: expected META as the first line")
        if header is None:
            header = fields
            _check_header(section, header, vote_type, path, number)
            headers[section] = header
            continue
        if len(fields) != len(header):
            raise DataError(f"{path}:{number}: {len(fields)} fields, the {section} header has {len(header)}")
        if section == "META":
            key, value = fields
            if key in meta:
                raise DataError(f"{path}:{number}: META key {key!r} repeated (first on line {meta_lines[key]})")
            meta[key], meta_lines[key] = value, number
        elif section == "PROJECTS":
            pid = fields[0]
            if pid == "" or "," in pid:
                raise DataError(f"{path}:{number}: project_id must be non-empty and without commas, got {pid!r}")
            if pid in index:
                raise DataError(f"{path}:{number}: project_id {pid!r} repeated")
            index[pid] = len(ids)
            ids.append(pid)
            costs.append(_number(fields[1], _DECIMAL, "cost", path, number))
            cost_lines.append(number)
            project_extra.append(tuple(fields[2:]))
        else:
            _read_vote(fields, header, vote_type, index, path, number, voter_seen,
                       voter_ids, ballots, points_rows, voter_extra, issues)
            vote_lines.append(number)
    if section != "VOTES" or header is None:
        raise DataError(f"{path}:{last + 1}: file ends before the {'VOTES header' if section == 'VOTES' else 'VOTES section'}")
    if len(voter_ids) != int(meta["num_votes"]):
        raise DataError(f"{path}:{last + 1}: {len(voter_ids)} votes listed, META num_votes says {meta['num_votes']} "
                        f"(line {meta_lines['num_votes']})")
    _check_limits(meta, costs, ballots, points_rows, vote_lines, path, issues)
    if issues and strict:
        raise DataError(issues[0])
    num_voters, num_projects = len(ballots), len(ids)
    approvals = np.zeros((num_voters, num_projects), dtype=bool)
    lengths = np.fromiter((len(b) for b in ballots), dtype=np.int64, count=num_voters)
    rows = np.repeat(np.arange(num_voters), lengths)
    cols = np.fromiter(itertools.chain.from_iterable(ballots), dtype=np.int64, count=int(lengths.sum()))
    approvals[rows, cols] = True
    scores = ranks = None
    if vote_type in ("cumulative", "scoring"):
        scores = np.zeros((num_voters, num_projects))
        scores[rows, cols] = np.fromiter(itertools.chain.from_iterable(points_rows), dtype=np.float64, count=len(cols))
    if vote_type == "ordinal":
        ranks = np.zeros((num_voters, num_projects), dtype=np.int32)
        starts = np.cumsum(lengths) - lengths
        ranks[rows, cols] = np.arange(len(cols)) - np.repeat(starts, lengths) + 1
    budget = _number(meta["budget"], _DECIMAL, "budget", path, meta_lines["budget"])
    return Election(
        project_ids=tuple(ids), costs=np.array([float(c) for c in costs]), budget=float(budget),
        approvals=approvals, exact_costs=tuple(costs), exact_budget=budget, vote_type=vote_type,
        scores=scores, ranks=ranks, voter_ids=tuple(voter_ids), meta=dict(meta),
        project_columns=tuple(headers["PROJECTS"][2:]), project_meta=tuple(project_extra),
        voter_columns=tuple(headers["VOTES"][_vote_columns(vote_type):]), voter_meta=tuple(voter_extra),
        source=path, issues=tuple(issues))


def _vote_columns(vote_type):
    return 3 if vote_type in ("cumulative", "scoring") else 2


def _check_meta(meta, lines, path, number):
    for key in REQUIRED_META:
        if key not in meta:
            raise DataError(f"{path}:{number}: META lacks {key!r} (required before PROJECTS)")
    for key in ("num_projects", "num_votes"):
        _number(meta[key], _INT, key, path, lines[key])
    _number(meta["budget"], _DECIMAL, "budget", path, lines["budget"])
    if meta["vote_type"] not in VOTE_TYPES:
        raise DataError(f"{path}:{lines['vote_type']}: vote_type {meta['vote_type']!r} is not one of {VOTE_TYPES}")
    for key in LIMITS:
        if key in meta:
            pattern = _DECIMAL if key.endswith("cost") else _INT
            _number(meta[key], pattern, key, path, lines[key])
    return meta["vote_type"]


def _check_header(section, header, vote_type, path, number):
    expected = {"META": ["key", "value"], "PROJECTS": ["project_id", "cost"],
                "VOTES": ["voter_id", "vote"] + (["points"] if vote_type in ("cumulative", "scoring") else [])}[section]
    if header[:len(expected)] != expected or (section == "META" and len(header) != 2):
        raise DataError(f"{path}:{number}: {section} header must start {';'.join(expected)}, got {';'.join(header)!r}")
    if len(set(header)) != len(header) or "" in header:
        raise DataError(f"{path}:{number}: {section} header has an empty or repeated column")
    if section == "VOTES" and "points" in header[2:] and vote_type not in ("cumulative", "scoring"):
        raise DataError(f"{path}:{number}: a points column in a {vote_type} election")


def _read_vote(fields, header, vote_type, index, path, number, seen, voter_ids, ballots, points_rows, extra,
               issues):
    voter = fields[0]
    if voter in seen:
        raise DataError(f"{path}:{number}: voter_id {voter!r} repeated")
    seen.add(voter)
    names = fields[1].split(",") if fields[1] != "" else []
    try:
        ballot = [index[name] for name in names]
    except KeyError as err:
        raise DataError(f"{path}:{number}: vote names project {err.args[0]!r}, not in PROJECTS") from None
    if len(set(ballot)) != len(ballot):
        if vote_type not in ("approval", "choose-1"):
            raise DataError(f"{path}:{number}: vote names a project twice")
        issues.append(f"{path}:{number}: vote names a project twice (kept once)")
        ballot = list(dict.fromkeys(ballot))
    if vote_type == "choose-1" and len(ballot) > 1:
        raise DataError(f"{path}:{number}: a choose-1 vote names {len(ballot)} projects")
    if vote_type in ("cumulative", "scoring"):
        raw = fields[2].split(",") if fields[2] != "" else []
        if len(raw) != len(ballot):
            raise DataError(f"{path}:{number}: {len(raw)} points for {len(ballot)} projects")
        pattern = _INT if vote_type == "cumulative" else _SIGNED_INT
        for value in raw:
            if not pattern.match(value):
                raise DataError(f"{path}:{number}: points must be {'non-negative ' if pattern is _INT else ''}"
                                f"integers, got {value!r}")
        points_rows.append([int(value) for value in raw])
    voter_ids.append(voter)
    ballots.append(ballot)
    extra.append(tuple(fields[_vote_columns(vote_type):]))


def _check_limits(meta, costs, ballots, points_rows, vote_lines, path, issues):
    limit = {k: Fraction(meta[k].replace(",", ".")) for k in LIMITS if k in meta}
    if not limit:
        return
    for v, ballot in enumerate(ballots):
        where = f"{path}:{vote_lines[v]}"
        size = len(ballot)
        if "min_length" in limit and size < limit["min_length"]:
            issues.append(f"{where}: vote names {size} projects, META min_length is {meta['min_length']}")
        if "max_length" in limit and size > limit["max_length"]:
            issues.append(f"{where}: vote names {size} projects, META max_length is {meta['max_length']}")
        if "max_sum_cost" in limit or "min_sum_cost" in limit:
            total = sum((costs[j] for j in ballot), Fraction(0))
            if "max_sum_cost" in limit and total > limit["max_sum_cost"]:
                issues.append(f"{where}: the vote's projects cost {total}, META max_sum_cost is {meta['max_sum_cost']}")
            if "min_sum_cost" in limit and 0 < total < limit["min_sum_cost"]:
                issues.append(f"{where}: the vote's projects cost {total}, META min_sum_cost is {meta['min_sum_cost']}")
        if points_rows:
            points = points_rows[v]
            for key, bad in (("min_points", lambda p: p < limit["min_points"]),
                             ("max_points", lambda p: p > limit["max_points"])):
                if key in limit and any(bad(p) for p in points):
                    issues.append(f"{where}: a point value outside META {key} = {meta[key]}")
            if "max_sum_points" in limit and sum(points) > limit["max_sum_points"]:
                issues.append(f"{where}: points sum to {sum(points)}, META max_sum_points is {meta['max_sum_points']}")
            if "min_sum_points" in limit and 0 < sum(points) < limit["min_sum_points"]:
                issues.append(f"{where}: points sum to {sum(points)}, META min_sum_points is {meta['min_sum_points']}")


def _format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise DataError(f"cost or budget {value} has no finite decimal form; pabulib cannot store it")
    digits = max(twos, fives)
    scaled = value * 10 ** digits
    text = str(scaled.numerator).rjust(digits + 1, "0")
    return f"{text[:-digits]}.{text[-digits:]}"


def _quote(field: str) -> str:
    if _BAD_CHARS.search(field):
        raise DataError(f"field {field[:40]!r} holds a line break or control character; pabulib cannot store it")
    if ";" in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def write_pabulib(election: Election, path) -> None:
    """Writes ``election`` as a pabulib ``.pb`` file that :func:`read_pabulib` reads back equal.

    META keeps the election's own keys in order, with ``num_projects``, ``num_votes``, ``budget``
    and ``vote_type`` set from the arrays; extra project and voter columns are written back.

    Args:
        election: the election.
        path: the file to write (overwritten).
    """
    num_voters, num_projects = election.approvals.shape
    meta = dict(election.meta)
    budget = meta.get("budget", "")
    if not (_DECIMAL.match(budget) and Fraction(budget.replace(",", ".")) == election.exact_budget):
        budget = _format_number(election.exact_budget)  # keep the file's own spelling when it is exact
    meta.update(num_projects=str(num_projects), num_votes=str(num_voters), budget=budget,
                vote_type=election.vote_type)
    cardinal = election.vote_type in ("cumulative", "scoring")
    voter_ids = election.voter_ids if len(election.voter_ids) == num_voters else ("",) * num_voters
    if len(set(voter_ids)) != num_voters:
        voter_ids = tuple(str(v + 1) for v in range(num_voters))
    lines = ["META", "key;value"]
    lines += [f"{_quote(k)};{_quote(v)}" for k, v in meta.items()]
    lines += ["PROJECTS", ";".join(["project_id", "cost", *election.project_columns])]
    for j, pid in enumerate(election.project_ids):
        extra = election.project_meta[j] if election.project_meta else ()
        lines.append(";".join([_quote(pid), _format_number(election.exact_costs[j]), *map(_quote, extra)]))
    lines += ["VOTES", ";".join(["voter_id", "vote", *(["points"] if cardinal else []), *election.voter_columns])]
    if election.ranks is not None:
        rows, cols = np.nonzero(election.ranks)
        order = np.lexsort((election.ranks[rows, cols], rows))  # best first within each ballot
        rows, cols = rows[order], cols[order]
    else:
        rows, cols = np.nonzero(election.approvals)
    bounds = np.searchsorted(rows, np.arange(num_voters + 1))
    ids = np.array(election.project_ids, dtype=object)
    extra = election.voter_meta if election.voter_meta else [()] * num_voters
    for v in range(num_voters):
        chosen = cols[bounds[v]:bounds[v + 1]]
        row = [_quote(voter_ids[v]), ",".join(ids[chosen])]
        if cardinal:
            row.append(",".join(str(int(x)) for x in election.scores[v, chosen]))
        row += [_quote(x) for x in extra[v]]
        lines.append(";".join(row))
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines) + "\n")
