"""What a results table is, so that each domain can register its own (``registry.register_table``).

A table is produced by ``python experiments/reproduce.py table=<name>``, which writes
``experiments/results/<name>.md`` (and ``<name>.json`` when the table returns data) with a header
stating the command, seeds, commit, hardware, wall time and date. Two kinds:

* a **run table** (``rows``): each row is a Hydra preset trained by ``experiments/train.py`` (or,
  ``evaluate_only``, a classical mechanism evaluated by ``experiments/evaluate.py``), once per
  seed; its ``render`` (required: the domain knows its summaries) turns the ``(row, seed, summary)``
  triples into the body (``summary`` is the run's ``summary.json`` with the run's resolved config
  added under ``"config"``);
* a **computed table** (``produce``): a library function that runs its own study and returns the
  body (markdown) and the data behind it.

Text in ``notes`` describes the method only: every number in a results file comes from the runs,
and any "reading" of the results is computed from them by ``render`` / ``produce``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from mechjax.errors import ConfigError


@dataclass(frozen=True)
class Row:
    """One line of a run table: a preset, the published number it is compared with and a target.

    Attributes:
        name: the row's label (and its run directory's name).
        overrides: Hydra overrides of the run, e.g. ``("+experiment=regretnet_2x2",)``.
        paper_revenue: the published (or known optimal) number beside ours, if any.
        paper_source: where ``paper_revenue`` comes from.
        target: what the row should reach, as text.
        evaluate_only: a classical mechanism: evaluated once, not trained.
    """

    name: str
    overrides: tuple[str, ...]
    paper_revenue: Optional[float] = None
    paper_source: str = ""
    target: str = ""
    evaluate_only: bool = False


@dataclass(frozen=True)
class TableContext:
    """What ``reproduce`` hands a computed table.

    Attributes:
        seeds: the seeds asked for (``seeds=0,1,2``).
        runs_root: this table's own folder for runs and intermediate files (resumable),
            ``<runs>/<table name>``.
        extra: the table's ``options``, parsed from the command line's ``key=value`` arguments
            (defaults filled in; unknown keys were already rejected).
    """

    seeds: tuple[int, ...]
    runs_root: str
    extra: dict = field(default_factory=dict)

    def runs_of(self, table: str) -> str:
        """The runs folder of another table (e.g. the trained nets a study evaluates further)."""
        return os.path.join(os.path.dirname(os.path.abspath(self.runs_root)), table)


@dataclass(frozen=True)
class Table:
    """A results table; exactly one of ``rows`` and ``produce`` is given.

    Attributes:
        title: the file's heading.
        rows: a run table's rows.
        render: ``[(row, seed, summary)] -> markdown``, required for a run table.
        produce: ``TableContext -> (markdown, data)`` for a computed table; ``data`` (JSON-able, or
            None) is written beside the markdown.
        notes: how the table was made (method, not results: no typed-in numbers).
        default_seeds: seeds used when the command gives none.
        options: a computed table's command-line settings, name -> default; the default's type
            (int, float, bool, str, or a tuple of them written comma-separated) is how the
            value is parsed. The table checks ranges itself (raising ``ConfigError``).
    """

    title: str
    rows: tuple[Row, ...] = ()
    render: Optional[Callable[[list], str]] = None
    produce: Optional[Callable[[TableContext], tuple[str, Any]]] = None
    notes: str = ""
    default_seeds: tuple[int, ...] = (0,)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if bool(self.rows) == (self.produce is not None):
            raise ValueError(f"table {self.title!r}: give exactly one of rows and produce")
        if self.rows and self.render is None:
            raise ValueError(f"table {self.title!r}: a run table needs render=(results -> markdown)")
        if self.rows and self.options:
            raise ValueError(f"table {self.title!r}: a run table takes Hydra overrides, not options")


def _parse_scalar(text: str, like: Any, name: str) -> Any:
    if isinstance(like, bool):
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"{name} must be true or false, got {text!r}")
        return text.lower() == "true"
    kind = type(like) if like is not None else str
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be {kind.__name__}, got {text!r}") from None


def parse_options(table: Table, given: Mapping[str, str], table_name: str = "") -> dict:
    """The table's options: its defaults, overridden by ``given`` (raw ``key=value`` strings).

    Raises:
        ConfigError: for a key the table does not take, or a value of the wrong type.
    """
    where = f"table={table_name} " if table_name else ""
    unknown = sorted(set(given) - set(table.options))
    if unknown:
        accepted = ", ".join(sorted(table.options)) or "none"
        raise ConfigError(f"{where}does not take {', '.join(unknown)}; its options: {accepted}")
    parsed = dict(table.options)
    for key, text in given.items():
        default = table.options[key]
        if isinstance(default, tuple):
            like = default[0] if default else ""
            parsed[key] = tuple(_parse_scalar(t.strip(), like, key) for t in text.split(",") if t.strip())
        else:
            parsed[key] = _parse_scalar(text, default, key)
    return parsed
