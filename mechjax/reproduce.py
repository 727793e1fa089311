"""Write a results table: ``python experiments/reproduce.py table=<name>``.

Knows no domain: every table is registered by its domain (``registry.register_table``, see
:mod:`mechjax.tables`). A run table trains each row's preset per seed with ``experiments/train.py``
(resuming a run found in ``<runs>/<name>/``) or evaluates a classical row with
``experiments/evaluate.py``; a computed table runs its ``produce`` function. Either way the result
is ``experiments/results/<name>.md`` (and ``<name>.json`` when there is data) under a common
header: the command to repeat it, seeds, commit, hardware, wall time and date. An existing
results file is replaced only with ``overwrite=true``.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from mechjax import registry
from mechjax.errors import ConfigError
from mechjax.provenance import REPO_DIR, git_commit, hardware  # noqa: F401  (REPO_DIR, hardware: public names)
from mechjax.report import write_text
from mechjax.tables import Row, Table, TableContext, parse_options  # noqa: F401  (re-exported)

RESULTS_DIR = os.path.join(REPO_DIR, "experiments", "results")
RUNS_DIR = os.path.join(REPO_DIR, "experiments", "runs")
# Results files written by an older command, waiting to be regenerated (one "- `name`: ..." line each).
PENDING_FILE = "PENDING.md"
COMMAND = "python experiments/reproduce.py"
USAGE = (f"usage: {COMMAND} table=<name>|list [seeds=0,1] [overwrite=true] [runs=<dir>] "
         "[rows=<row>,... (run tables)] [<table option>=<value> ...] [<Hydra override> ... (run tables)]")

registry.import_domains()
TABLES = registry.TABLES  # every registered table (the domains are imported above)


@dataclass
class Request:
    """A parsed command line."""

    table: Optional[str]  # None: list the tables
    seeds: Optional[tuple[int, ...]] = None  # None: the table's default seeds
    overwrite: bool = False
    runs: Optional[str] = None
    options: dict = field(default_factory=dict)  # raw key=value strings (the table parses them)
    overrides: tuple[str, ...] = ()  # Hydra overrides for a run table's training runs
    rows: tuple[str, ...] = ()  # a run table's rows to run (empty: all), e.g. the ones a CPU can afford


def _is_override(arg: str) -> bool:
    key = arg.split("=", 1)[0]
    return arg.startswith(("+", "~")) or "." in key


def parse_args(argv: Sequence[str]) -> Request:
    """Parses ``key=value`` arguments; anything else (or a repeated key) is a ``ConfigError``."""
    request, seen = Request(table=None), set()
    for arg in argv:
        if "=" not in arg:
            raise ConfigError(f"argument {arg!r} is not key=value; {USAGE}")
        key, value = arg.split("=", 1)
        if _is_override(arg):
            request.overrides += (arg,)
            continue
        if key in seen:
            raise ConfigError(f"{key} is given twice")
        seen.add(key)
        if key == "table":
            request.table = None if value == "list" else value
        elif key == "seeds":
            try:
                request.seeds = tuple(int(s) for s in value.split(","))
            except ValueError:
                raise ConfigError(f"seeds must be comma-separated integers, got {value!r}") from None
            if len(set(request.seeds)) != len(request.seeds):
                raise ConfigError(f"seeds lists a seed twice: {value!r}")
        elif key == "overwrite":
            if value.lower() not in ("true", "false"):
                raise ConfigError(f"overwrite must be true or false, got {value!r}")
            request.overwrite = value.lower() == "true"
        elif key == "runs":
            request.runs = value
        elif key == "rows":
            request.rows = tuple(r.strip() for r in value.split(",") if r.strip())
            if not request.rows or len(set(request.rows)) != len(request.rows):
                raise ConfigError(f"rows must name each row once, comma-separated, got {value!r}")
        else:
            request.options[key] = value
    return request


def list_tables() -> str:
    """One line per registered table: name, kind and title."""
    width = max((len(n) for n in TABLES), default=0)
    lines = []
    for name, t in sorted(TABLES.items()):
        lines.append(f"{name.ljust(width)}  {'runs' if t.rows else 'computed':8}  {t.title}")
        if t.options:
            options = " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in t.options.items())
            lines.append(f"{''.ljust(width)}  {'':8}  options (defaults): {options}")
    return "\n".join([f"tables ({COMMAND} table=<name>; run tables take Hydra overrides):", *lines])


def get_table(name: str) -> Table:
    if name not in TABLES:
        raise ConfigError(f"table={name!r} is unknown; choose one of {sorted(TABLES)} (table=list shows titles)")
    return TABLES[name]


def results_paths(name: str, results_dir: str = RESULTS_DIR) -> tuple[str, str]:
    return os.path.join(results_dir, f"{name}.md"), os.path.join(results_dir, f"{name}.json")


def _refuse_overwrite(paths: Sequence[str]) -> None:
    for path in paths:
        if os.path.exists(path):
            raise ConfigError(f"{os.path.relpath(path, REPO_DIR)} exists; add overwrite=true to replace it")


def _command(name: str, seeds: tuple[int, ...], request: Request) -> str:
    parts = [COMMAND, f"table={name}", f"seeds={','.join(map(str, seeds))}",
             *([f"rows={','.join(request.rows)}"] if request.rows else []),
             *(f"{k}={v}" for k, v in request.options.items()), *request.overrides]
    if request.runs:
        parts.append(f"runs={request.runs}")
    return " ".join([*parts, "overwrite=true"])  # repeating it replaces the file this wrote


def reproduce(request: Request, results_dir: str = RESULTS_DIR) -> list[str]:
    """Runs or computes ``request.table`` and writes its results file(s); returns their paths."""
    name = request.table
    table = get_table(name)
    seeds = request.seeds or tuple(table.default_seeds)
    if table.rows:
        if request.options:
            raise ConfigError(f"table={name} is a run table: it takes seeds, runs, overwrite and Hydra overrides "
                              f"(e.g. trainer.steps=...), not {', '.join(sorted(request.options))}")
        options = {}
        unknown = [r for r in request.rows if r not in {row.name for row in table.rows}]
        if unknown:
            raise ConfigError(f"rows: table={name} has no row {', '.join(unknown)}; "
                              f"its rows: {', '.join(row.name for row in table.rows)}")
    else:
        if request.rows:
            raise ConfigError(f"rows= selects rows of a run table; table={name} is a computed table")
        if request.overrides:
            raise ConfigError(f"table={name} is a computed table: it takes no Hydra overrides "
                              f"({' '.join(request.overrides)})")
        options = parse_options(table, request.options, name)
    md_path, json_path = results_paths(name, results_dir)
    if not request.overwrite:
        _refuse_overwrite((md_path, json_path))
    runs_root = os.path.join(os.path.abspath(request.runs or RUNS_DIR), name)
    command = _command(name, seeds, request)
    started, commit = time.perf_counter(), git_commit()
    meta_extra: list[str] = []
    if table.rows:
        results = _run_rows(table, seeds, runs_root, request.overrides, request.rows)
        body = table.render(results)
        data = [{"row": row.name, "seed": seed, "summary": {k: v for k, v in s.items() if k != "config"}}
                for row, seed, s in results]
        meta_extra.append(f"- sum of the runs' own wall times (training + evaluation, from their summaries, "
                          f"including runs an earlier invocation made): {_run_seconds(results):.0f} s")
        if request.rows:
            meta_extra.append(f"- rows: {', '.join(request.rows)} only (a part of the table; without rows= "
                              f"every row runs, resuming the runs already made)")
        recorded = sorted({s["commit"] for _, _, s in results if s.get("commit")})
        if recorded:
            meta_extra.append(f"- commits recorded by the runs: {', '.join(f'`{c}`' for c in recorded)}")
    else:
        body, data = table.produce(TableContext(seeds=seeds, runs_root=runs_root, extra=options))
    wall = time.perf_counter() - started
    now = git_commit()
    meta = {"table": name, "command": command, "seeds": list(seeds), "options": options, "rows": list(request.rows),
            "commit": now, "commit_at_start": commit, "hardware": hardware(), "wall_s": round(wall, 1),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    text = "\n".join([
        f"# {table.title}", "", "Reproduce with:", "", "```bash", command, "```", "",
        f"- seeds: {', '.join(map(str, seeds))}",
        f"- commit: `{now}`" + ("" if now == commit else f" (`{commit}` when this invocation started)"),
        f"- hardware: {meta['hardware']}",
        f"- total wall time (this invocation): {wall:.0f} s",
        *meta_extra,
        f"- date: {meta['date']}", "",
        body.strip("\n"), "",
        *([table.notes.strip(), ""] if table.notes.strip() else []),
    ])
    if not request.overwrite:  # the file may have appeared while this ran
        _refuse_overwrite((md_path, json_path))
    paths = [write_text(md_path, text)]
    if data is not None:
        os.makedirs(os.path.dirname(json_path), exist_ok=True)
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "data": data}, f, indent=1, default=_jsonable)
            f.write("\n")
        paths.append(json_path)
    elif os.path.exists(json_path):  # overwrite=true: a stale JSON must not outlive its table
        os.remove(json_path)
    clear_pending(name, results_dir)
    return paths


def run_table(name: str, seeds: list[int], runs_root: str = RUNS_DIR, results_dir: str = RESULTS_DIR,
              extra: Sequence[str] = (), overwrite: bool = False) -> str:
    """Writes table ``name`` (kept for callers of earlier versions); returns the markdown's path."""
    request = parse_args([f"table={name}", f"seeds={','.join(map(str, seeds))}", f"runs={runs_root}",
                          f"overwrite={str(overwrite).lower()}", *extra])
    return reproduce(request, results_dir)[0]


def _run_rows(table: Table, seeds: tuple[int, ...], runs_root: str, overrides: tuple[str, ...],
              only: Sequence[str] = ()) -> list:
    results = []
    for row in table.rows:
        if only and row.name not in only:
            continue
        for seed in seeds[:1] if row.evaluate_only else seeds:
            run_dir = os.path.join(runs_root, row.name if row.evaluate_only else f"{row.name}_seed{seed}")
            summary_path = os.path.join(run_dir, "summary.json")
            if not os.path.exists(summary_path):
                script = "evaluate.py" if row.evaluate_only else "train.py"
                cmd = [sys.executable, os.path.join(REPO_DIR, "experiments", script), *row.overrides,
                       *(() if row.evaluate_only else (f"seed={seed}", "progress=false", *overrides)),
                       f"hydra.run.dir={run_dir}"]
                print("+", " ".join(cmd), flush=True)
                subprocess.run(cmd, cwd=REPO_DIR, check=True)
            with open(summary_path) as f:
                summary = json.load(f)
            summary["config"] = _run_config(run_dir)
            results.append((row, seed, summary))
    return results


def _run_config(run_dir: str) -> dict:
    import yaml
    for path in (os.path.join(run_dir, "config.yaml"), os.path.join(run_dir, ".hydra", "config.yaml")):
        if os.path.exists(path):
            with open(path) as f:
                return yaml.safe_load(f) or {}
    return {}


def _run_seconds(results: list) -> float:
    total = 0.0
    for row, _, s in results:
        total += (s.get("wall_s") or 0) + (0 if row.evaluate_only else (s.get("eval_wall_s") or 0))
    return total


def _jsonable(value: Any):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__array__"):
        return np.asarray(value).tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"results data holds a {type(value).__name__}, which JSON cannot store")


def pending(results_dir: str = RESULTS_DIR) -> dict[str, str]:
    """Tables whose results file predates ``reproduce``: name -> the note in ``PENDING.md``."""
    path = os.path.join(results_dir, PENDING_FILE)
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("- `") and "`:" in line:
                name, note = line[3:].split("`:", 1)
                out[name] = note.strip()
    return out


def clear_pending(name: str, results_dir: str = RESULTS_DIR) -> None:
    """Drops ``name``'s line from ``PENDING.md`` (its file was just regenerated)."""
    path = os.path.join(results_dir, PENDING_FILE)
    if name not in pending(results_dir):
        return
    with open(path) as f:
        lines = f.readlines()
    with open(path, "w") as f:
        f.writelines(line for line in lines if not line.startswith(f"- `{name}`:"))


def main(argv: Sequence[str]) -> int:
    """The CLI of ``experiments/reproduce.py``; returns the exit status."""
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__.strip(), "", USAGE, "", list_tables(), sep="\n")
        return 0
    try:
        request = parse_args(argv)
        if request.table is None:
            if [a for a in argv if a != "table=list"]:
                raise ConfigError(f"give table=<name> (table=list lists them); {USAGE}")
            print(list_tables())
            return 0
        paths = reproduce(request)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {os.path.relpath(path, os.getcwd())}")
    print(open(paths[0]).read())
    return 0

