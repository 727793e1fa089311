"""Reading and writing PrefLib ordinal files: ``.soc`` (strict complete) and ``.soi`` (strict incomplete).

A PrefLib file is ``#`` header lines (``# NUMBER ALTERNATIVES: m``, ``# ALTERNATIVE NAME i: ...``,
...) followed by ``count: a,b,c`` lines, alternatives numbered from 1, best first. We keep the
file as it is (its order lines with their counts, 0-based) in a ``PreflibElection`` and convert to
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

What ``read_preflib`` accepts (the format as PrefLib writes it; anything else is a DataError
naming the file and the physical line):

* UTF-8 without byte-order mark; lines end with ``\n``, ``\r\n`` or ``\r``. Control characters
  other than tab (including ``\x0b``, ``\x0c``, ``\x1c``-``\x1f``, U+0085, U+2028, U+2029) and
  U+FEFF are rejected anywhere. Empty lines are skipped.
* Header lines come before the first order line and read ``# KEY: value``, KEY one of
  ``HEADER_KEYS``, ``EXTENSION_KEYS`` or ``ALTERNATIVE NAME <i>``, each at most once; values lose surrounding spaces
  and tabs. ``NUMBER ALTERNATIVES`` is required, ``1..MAX_ALTERNATIVES``. Alternative names are
  all absent or exactly one for each of ``1..m``. ``DATA TYPE``, ``NUMBER VOTERS`` and ``NUMBER
  UNIQUE ORDERS``, when present, must match the extension, the sum of the counts and the number
  of order lines.
* Order lines read ``count: a,b,c`` exactly: one optional space after the colon, no other
  blanks; numbers are ASCII digits without sign, ``_`` or leading zeros (``0`` is a valid count,
  ``07`` is not); alternatives are in ``1..m``, distinct, all ``m`` of them in ``.soc``; the counts
  add up to at most ``MAX_TOTAL_COUNT`` (the rules count in int32). An order may appear on several
  lines (PrefLib writes each once; a file of one line per judgement repeats them): each line is
  kept as written, so ``NUMBER UNIQUE ORDERS`` counts order lines.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from mechjax.errors import DataError
from mechjax.voting.profiles import Profile, check_rankings

SUPPORTED = ("soc", "soi")
INCOMPLETE = ("error", "drop", "bottom")
HEADER_KEYS = ("FILE NAME", "TITLE", "DESCRIPTION", "DATA TYPE", "MODIFICATION TYPE", "RELATES TO",
               "RELATED FILES", "PUBLICATION DATE", "MODIFICATION DATE", "NUMBER ALTERNATIVES",
               "NUMBER VOTERS", "NUMBER UNIQUE ORDERS")
# Headers mechjax itself adds (other PrefLib readers ignore them): the annotator of each order line
# in mechjax.alignment's preference files.
EXTENSION_KEYS = ("ANNOTATORS",)
MAX_ALTERNATIVES = 100_000  # caps what a header can make us allocate; far above any real file
MAX_TOTAL_COUNT = int(np.iinfo(np.int32).max)  # rules count ballots in int32
MAX_PROFILE_CELLS = 1 << 28  # to_profile refuses to build rankings larger than 1 GiB of int32

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_HEADER = re.compile(r"# ([^:]*):(.*)")
_NAME_KEY = re.compile(r"ALTERNATIVE NAME ([0-9]+)")
_NATURAL = re.compile(r"0|[1-9][0-9]*")
_ORDER = re.compile(r"([0-9]+): ?([0-9]+(?:,[0-9]+)*)")


@dataclass(frozen=True)
class PreflibElection:
    """One PrefLib ordinal file, as written.

    Attributes:
        path: where it was read from (used in error messages), or a label.
        data_type: ``"soc"`` or ``"soi"``.
        num_alternatives: m.
        alternative_names: m names (``"Alternative i"`` where the header names none).
        orders: the order lines, 0-based alternatives, best first (incomplete for soi).
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
                ranked = set(order)
                order = tuple(order) + tuple(a for a in range(m) if a not in ranked)
            if count > 0:
                rows.append(order)
                counts.append(count)
        if not rows:
            raise DataError(f"{self.path}: no voters left after incomplete={incomplete!r}")
        total = sum(counts)
        if total > MAX_TOTAL_COUNT:
            raise DataError(f"{self.path}: the counts add up to {total}, more than "
                            f"{MAX_TOTAL_COUNT} (int32 weights)")
        cells = (total if expand else len(rows)) * m
        if cells > MAX_PROFILE_CELLS:
            raise DataError(f"{self.path}: the profile would hold {cells} rankings entries "
                            f"(> {MAX_PROFILE_CELLS}); " + ("use expand=False (weights)" if expand
                                                           else "the file is too large to rank"))
        rankings = np.asarray(rows, np.int32)
        if expand:
            return Profile(np.repeat(rankings, counts, axis=0)[None])
        return Profile(rankings[None], None, np.asarray(counts, np.int32)[None])


def _format(order) -> str:
    return ",".join(str(a + 1) for a in order)


def read_preflib(path: str | os.PathLike) -> PreflibElection:
    """Parses a ``.soc`` or ``.soi`` file, validating every line (grammar: the module docstring).

    Reads the file once, in memory linear in its size: declared sizes are checked against
    ``MAX_ALTERNATIVES`` / ``MAX_TOTAL_COUNT`` and against the lines actually present before
    anything is allocated from them.

    Raises:
        DataError: unsupported data type, or any malformed byte, header or order line, or sizes
            and totals inconsistent with the header; the message starts ``<path>:<line>:`` with the
            physical line (``\\n``, ``\\r\\n`` and ``\\r`` end lines; nothing else does).
        OSError: the file cannot be opened.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in SUPPORTED:
        raise DataError(f"{path}: PrefLib data type {ext!r} is not supported (only strict orders: "
                        f"{SUPPORTED}; ties and categorical data cannot be ranking arrays)")
    with open(path, "rb") as handle:
        data = handle.read()
    return _Parser(path, ext, data).parse()


class _Parser:
    def __init__(self, path, ext, data):
        self.path, self.ext, self.data = path, ext, data
        self.header, self.names = {}, {}  # key -> (value, line); index -> (name, line)
        self.orders, self.counts, self.lines = [], [], []
        self.m, self.total = None, 0

    def fail(self, lineno, message):
        raise DataError(f"{self.path}:{lineno}: {message}")

    def parse(self) -> PreflibElection:
        text = self.decode()
        lines = _LINE_BREAK.split(text)
        if lines[-1] == "":  # the terminator of the last line, not a line
            lines.pop()
        for lineno, line in enumerate(lines, 1):
            if not line:
                continue
            if line.startswith("#"):
                if self.orders:
                    self.fail(lineno, f"header line after the orders (first order on line "
                                      f"{self.lines[0]}): {_clip(line)}")
                self.header_line(line, lineno)
                continue
            if self.m is None:
                self.m = self.finish_header(lineno)
            self.order_line(line, lineno)
        last = max(len(lines), 1)
        if self.m is None:
            self.m = self.finish_header(last, at_end=True)
            self.fail(last, "no order lines ('count: a,b,...') in the file")
        for key, actual in (("NUMBER VOTERS", self.total), ("NUMBER UNIQUE ORDERS", len(self.orders))):
            if key in self.header and self.number(key, 0, MAX_TOTAL_COUNT) != actual:
                value, lineno = self.header[key]
                self.fail(lineno, f"{key} says {value} but the file has {actual}")
        names = {i: name for i, (name, _) in self.names.items()}
        return PreflibElection(
            path=self.path, data_type=self.ext, num_alternatives=self.m,
            alternative_names=tuple(names.get(i, f"Alternative {i}") for i in range(1, self.m + 1)),
            orders=tuple(self.orders), counts=tuple(self.counts), lines=tuple(self.lines),
            header={key: value for key, (value, _) in self.header.items()})

    def decode(self) -> str:
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError as err:
            lineno = len(_LINE_BREAK_BYTES.findall(self.data, 0, err.start)) + 1
            self.fail(lineno, f"not UTF-8 text (byte {self.data[err.start]:#04x} at offset "
                              f"{err.start}); PrefLib files are UTF-8")
        bad = _FORBIDDEN.search(text)
        if bad:
            lineno = len(_LINE_BREAK.findall(text, 0, bad.start())) + 1
            if bad.group() == "\ufeff":
                self.fail(lineno, "byte-order mark U+FEFF in the text; save the file as UTF-8 without BOM")
            self.fail(lineno, f"control character U+{ord(bad.group()):04X} in the text (only '\\n', "
                              "'\\r\\n' or '\\r' may end a line; only tabs and spaces are blank)")
        return text

    def header_line(self, line, lineno):
        found = _HEADER.fullmatch(line)
        if not found:
            self.fail(lineno, f"header line must read '# KEY: value', got {_clip(line)}")
        key, value = found.group(1), found.group(2).strip(" \t")
        name = _NAME_KEY.fullmatch(key)
        if name:
            index = _natural(name.group(1), 1, MAX_ALTERNATIVES)
            if index is None:
                self.fail(lineno, f"alternative number {_clip(name.group(1))} must be an integer in "
                                  f"1..{MAX_ALTERNATIVES} without sign or leading zeros")
            if index in self.names:
                self.fail(lineno, f"ALTERNATIVE NAME {index} is given twice (first on line "
                                  f"{self.names[index][1]})")
            self.names[index] = (value, lineno)
            return
        if key not in HEADER_KEYS and key not in EXTENSION_KEYS:
            self.fail(lineno, f"unknown header {_clip(key)}; PrefLib headers are {HEADER_KEYS} and "
                              "'ALTERNATIVE NAME <i>'")
        if key in self.header:
            self.fail(lineno, f"{key} is given twice (first on line {self.header[key][1]})")
        self.header[key] = (value, lineno)

    def number(self, key, low, high) -> int:
        value, lineno = self.header[key]
        number = _natural(value, low, high)
        if number is None:
            self.fail(lineno, f"{key} must be an integer in {low}..{high} (ASCII digits, no sign, "
                              f"no leading zeros), got {_clip(value)}")
        return number

    def finish_header(self, lineno, at_end=False) -> int:
        """Checks the header once it is complete (at the first order line) and returns m."""
        if "NUMBER ALTERNATIVES" not in self.header:
            self.fail(lineno, "end of file without a '# NUMBER ALTERNATIVES' header" if at_end
                      else "order line before the '# NUMBER ALTERNATIVES' header")
        m = self.number("NUMBER ALTERNATIVES", 1, MAX_ALTERNATIVES)
        for key in ("NUMBER VOTERS", "NUMBER UNIQUE ORDERS"):
            if key in self.header:
                self.number(key, 0, MAX_TOTAL_COUNT)
        if "DATA TYPE" in self.header and self.header["DATA TYPE"][0] != self.ext:
            self.fail(self.header["DATA TYPE"][1], f"DATA TYPE {_clip(self.header['DATA TYPE'][0])} "
                                                   f"does not match the extension {self.ext!r}")
        for index, (_, line) in sorted(self.names.items(), key=lambda kv: kv[1][1]):
            if index > m:
                self.fail(line, f"ALTERNATIVE NAME {index} is outside 1..{m} (NUMBER ALTERNATIVES)")
        if self.names and len(self.names) != m:
            missing = next(i for i in range(1, m + 1) if i not in self.names)
            self.fail(self.header["NUMBER ALTERNATIVES"][1],
                      f"NUMBER ALTERNATIVES is {m} but the file names {len(self.names)} "
                      f"alternatives (no ALTERNATIVE NAME {missing})")
        return m

    def order_line(self, line, lineno):
        found = _ORDER.fullmatch(line)
        if not found:
            self.fail(lineno, _explain_order(line))
        count_text, order_text = found.groups()
        tokens = order_text.split(",")
        if not _NATURAL.fullmatch(count_text) or not all(map(_NATURAL.fullmatch, tokens)):
            self.fail(lineno, _explain_order(line))
        count = _natural(count_text, 0, MAX_TOTAL_COUNT)
        if count is None:
            self.fail(lineno, f"count {_clip(count_text, 30, quote=False)} exceeds {MAX_TOTAL_COUNT} "
                              "(int32 ballot counts)")
        self.total += count
        if self.total > MAX_TOTAL_COUNT:
            self.fail(lineno, f"the counts add up to {self.total} by this line, more than "
                              f"{MAX_TOTAL_COUNT} (int32 ballot counts)")
        order = []
        for token in tokens:
            alternative = _natural(token, 1, self.m)
            if alternative is None:
                self.fail(lineno, f"alternatives [{_clip(token, 30, quote=False)}] outside 1..{self.m}")
            order.append(alternative - 1)
        order = tuple(order)
        if len(set(order)) != len(order):
            twice = next(a + 1 for a in order if order.count(a) > 1)
            self.fail(lineno, f"an alternative appears twice in {_clip(order_text)} ({twice})")
        if self.ext == "soc" and len(order) != self.m:
            self.fail(lineno, f"soc order ranks {len(order)} of {self.m} alternatives")
        self.orders.append(order)
        self.counts.append(count)
        self.lines.append(lineno)


def _clip(text: str, limit: int = 80, quote: bool = True) -> str:
    """``repr(text)`` (or the text), shortened: a message quotes the offending text, never a
    megabyte of it."""
    show = repr if quote else str
    return show(text) if len(text) <= limit else show(text[:limit]) + f"... ({len(text)} characters)"


def _natural(text: str, low: int, high: int) -> int | None:
    """``text`` as an int in ``low..high`` if it is ASCII digits without sign or leading zeros.

    Python's ``int`` also takes ``+3``, ``1_1``, `` 3`` and non-ASCII digits such as ``'３'``; a
    data file must not. The length test keeps huge numbers from being converted at all.
    """
    if not _NATURAL.fullmatch(text) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _explain_order(line: str) -> str:
    """Why ``line`` is not ``count: a,b,...`` (the most specific reason we can name)."""
    if "{" in line or "}" in line:
        return "ties ('{...}') are not supported in strict orders"
    count, sep, order = line.partition(":")
    if not sep:
        return f"expected 'count: a,b,...', got {_clip(line)}"
    if not _NATURAL.fullmatch(count):
        return (f"count must be an integer (ASCII digits, no sign, spaces or leading zeros), "
                f"got {_clip(count)}")
    order = order[1:] if order.startswith(" ") else order
    for token in order.split(","):
        if not _NATURAL.fullmatch(token) or token == "0":
            return (f"alternative must be an integer >= 1 (ASCII digits, no sign, spaces or "
                    f"leading zeros), got {_clip(token)} in {_clip(line)}")
    return f"expected 'count: a,b,...', got {_clip(line)}"


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
        DataError: the extension does not fit the orders, or the file would not read back as this
            election (the message names the line it would fail on).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    kind = "soc" if election.is_complete() else "soi"
    if ext not in SUPPORTED or (ext == "soc" and kind != "soc"):
        raise DataError(f"{path}: cannot write {kind} data to a .{ext} file")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    texts = [*((f"header {k}", v) for k, v in election.header.items()),
             *((f"ALTERNATIVE NAME {i}", v) for i, v in enumerate(election.alternative_names, 1))]
    for what, text in texts:
        if _LINE_BREAK.search(str(text)) or _FORBIDDEN.search(str(text)):
            raise DataError(f"{path}: {what} = {_clip(str(text))} holds a line break or control "
                            "character; nothing was written")
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
    data = ("\n".join(out) + "\n").encode("utf-8", errors="surrogateescape")
    # What we write must read back as this election (no line break in a name, int32 counts, ...).
    again = _Parser(path, ext, data).parse()
    if (again.orders, again.counts, again.alternative_names) != (
            tuple(map(tuple, election.orders)), tuple(election.counts), tuple(election.alternative_names)):
        raise DataError(f"{path}: the election would not read back as written (names with leading "
                        "or trailing blanks?); nothing was written")
    with open(path, "wb") as handle:
        handle.write(data)
