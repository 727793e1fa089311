"""What a results table is, so that each domain can register its own (``registry.register_table``).

A table is produced by ``python experiments/reproduce.py table=<name>``, which writes
``experiments/results/<name>.md`` (and ``<name>.json`` when the table returns data) with a header
stating the command, seeds, commit, hardware and wall time. Two kinds:

* a **run table** (``rows``): each row is a Hydra preset trained by ``experiments/train.py`` (or,
  ``evaluate_only``, a classical mechanism evaluated by ``experiments/evaluate.py``), once per
  seed; ``render`` turns the ``(row, seed, summary)`` triples into the body;
* a **computed table** (``produce``): a library function that runs its own study and returns the
  body (markdown) and the data behind it.

Text in ``notes`` describes the method only: every number in a results file comes from the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional


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
        runs_root: a folder the table may keep its runs and intermediate files in (resumable).
        extra: further ``key=value`` arguments given on the command line (the table decides
            which it accepts and must reject the others).
    """

    seeds: tuple[int, ...]
    runs_root: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """A results table; exactly one of ``rows`` and ``produce`` is given.

    Attributes:
        title: the file's heading.
        rows: a run table's rows.
        render: ``[(row, seed, summary)] -> markdown`` for a run table (default: the auction table).
        produce: ``TableContext -> (markdown, data)`` for a computed table; ``data`` (JSON-able, or
            None) is written beside the markdown.
        notes: how the table was made (method, not results: no typed-in numbers).
        default_seeds: seeds used when the command gives none.
    """

    title: str
    rows: tuple[Row, ...] = ()
    render: Optional[Callable[[list], str]] = None
    produce: Optional[Callable[[TableContext], tuple[str, Any]]] = None
    notes: str = ""
    default_seeds: tuple[int, ...] = (0,)

    def __post_init__(self):
        if bool(self.rows) == (self.produce is not None):
            raise ValueError(f"table {self.title!r}: give exactly one of rows and produce")
