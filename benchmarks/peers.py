"""mechjax against its peers on the same work, in one command (issue #13; never run in CI).

    python benchmarks/peers.py [--only auctions,voting,budgeting,inverse,memory]
        [--optimaler PATH] [--repeats 3] [--quick] [--out benchmarks/results/peers]

Sections (each says what it skipped and why when a peer or data is missing):

- auctions: outer training steps/s of mechjax's RegretNet, EquivariantNet and RegretFormer against
  the PyTorch ones of ``dimonenka/optimaler`` (``--optimaler``: a local clone; torch and easydict
  installed by the user), 2x2 and 3x10, batch 128 / 25 and 512 / 50 attack steps; alternating timed
  blocks; the machine's matmul peak (jax and torch); mechjax's achieved GFLOP/s
  (``peers_auctions.py``).
- voting: ``benchmarks/peers_voting.py``'s ``run(quick)`` (classical rules vs pref_voting).
- budgeting: greedy, Phragmen, MES vs pabutools on real pabulib elections (``peers_budgeting.py``).
- inverse: DIML against published reference figures, if the repository has any.
- memory: peak resident memory of the main job and of the 5x10 setting (``peers_memory.py``).

Writes ``OUT.md`` and ``OUT.json`` with the machine, the load average before and after, the date,
the commit and the versions. ``--quick`` runs tiny sizes (a smoke check; its numbers mean nothing
and it writes to ``benchmarks/results/peers_quick.*`` unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

SECTIONS = ("auctions", "budgeting", "inverse", "voting", "memory")
VERSIONED = ("jax", "jaxlib", "flax", "torch", "pref_voting", "pabutools", "numpy")


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def versions() -> dict:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (+ uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def voting(quick: bool, log) -> dict:
    path = os.path.join(HERE, "peers_voting.py")
    if not os.path.exists(path):
        return {"rows": [], "skipped": ["voting: benchmarks/peers_voting.py is not there"]}
    spec = importlib.util.spec_from_file_location("peers_voting", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if importlib.util.find_spec("pref_voting") is None:
        log("  pref_voting is not installed: ours only")
    rows = module.run(quick)
    table = module.format_table(rows).splitlines() if hasattr(module, "format_table") else []
    skipped = [] if importlib.util.find_spec("pref_voting") else ["voting: pref_voting is not installed"]
    return {"rows": rows, "skipped": skipped, "table": table}


def inverse(log) -> dict:
    """DIML has no installed peer implementation; the comparison would be against published figures,
    which a results file states as the paper's number. Report them if any file has some."""
    files = sorted(glob.glob(os.path.join(ROOT, "experiments", "results", "diml_*.md")))
    with_reference = []
    for path in files:
        with open(path) as handle:
            text = handle.read().lower()
        if "paper's" in text or "published" in text or "reference figure" in text:
            with_reference.append(os.path.basename(path))
    if not with_reference:
        names = ", ".join(os.path.basename(p) for p in files) or "none"
        return {"rows": [], "skipped": [
            "inverse: no DIML peer implementation to run, and no published reference figures in "
            f"experiments/results/diml_*.md ({names}) to compare with; ours are in those files"]}
    return {"rows": [{"file": name} for name in with_reference], "skipped": [],
            "table": [f"- DIML reference comparisons: experiments/results/{name}" for name in with_reference]}


def run_section(name: str, args, log, partial=None) -> dict:
    started = time.perf_counter()
    if name == "auctions":
        import peers_auctions

        def progress(section):
            partial({**section, "table": peers_auctions.markdown(section), "targets": peers_auctions.targets(section),
                     "wall_s": time.perf_counter() - started})
        section = peers_auctions.run(args.quick, args.optimaler, args.repeats, args.block_s, log,
                                     progress if partial else None)
        section["table"] = peers_auctions.markdown(section)
        section["targets"] = peers_auctions.targets(section)
    elif name == "voting":
        section = voting(args.quick, log)
    elif name == "budgeting":
        import peers_budgeting
        section = peers_budgeting.run(args.quick, args.repeats, log=log)
        section["table"] = peers_budgeting.markdown(section)
    elif name == "inverse":
        section = inverse(log)
    else:
        import peers_memory
        section = peers_memory.run(args.quick, log, args.memory_timeout)
        section["table"] = peers_memory.markdown(section)
    section["wall_s"] = time.perf_counter() - started
    return section


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# mechjax against its peers", "",
             f"- command: `{report['command']}`",
             f"- date (UTC): {report['date']}; commit: {report['commit']}",
             f"- machine: {m['cpu']}, {m['cores']} cores; {m['platform']}; Python {m['python']}",
             f"- load average (1, 5, 15 min) before: {report['load_before']}, after: {report['load_after']}",
             "- versions: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in report["versions"].items()),
             f"- wall time: {report['wall_s']:.0f} s", ""]
    for source in report.get("merged", []):
        lines.insert(-1, f"- section(s) {', '.join(source['sections'])} from `{source['command']}` "
                         f"({source['date']}, commit {source['commit']}, load before {source['load_before']}, "
                         f"after {source['load_after']}, wall {source['wall_s']:.0f} s)")
    # per source (this run, then each merged report): its sections and its worst 1-minute load
    sources = [(report["sections"].keys() - {k for src in report.get("merged", []) for k in src["sections"]},
                max(report["load_before"][0], report["load_after"][0]))]
    sources += [(src["sections"], max(src["load_before"][0], src["load_after"][0])) for src in report.get("merged", [])]
    loaded = [(sorted(names), load) for names, load in sources if names and load > m["cores"]]
    if loaded:
        where = "; ".join(f"{', '.join(names)}: {load:.0f}" for names, load in loaded)
        lines += [f"**Warning: the 1-minute load average exceeded the {m['cores']} cores while these sections ran "
                  f"({where}). Other jobs took most of the CPU; their absolute rates are far below this machine's, "
                  "and ratios carry that noise (alternation spreads it over both sides, not away). Repeat them on an "
                  "idle machine before quoting a figure.**", ""]
    missing = [s for s in report.get("requested", []) if s not in report["sections"]]
    if missing:
        lines += [f"**Not (yet) run: {', '.join(missing)}** (the command was stopped or is still running).", ""]
    if report["quick"]:
        lines += ["**--quick: tiny sizes, a smoke check; these numbers are not measurements.**", ""]
    notes = {
        "auctions": "Outer training steps per second after warm-up (the warm-up, mechjax's compilation, is "
                    "reported apart), median over alternating timed blocks of about the same length "
                    "(ours, peer, ours, peer, ...); ratio = ours / peer. GFLOP/s: XLA's FLOP count of one outer "
                    "step (attack forward + input gradient per step, outer forward + backward) x steps/s.",
        "voting": "From `benchmarks/peers_voting.py` (its docstring says how each side is timed).",
        "budgeting": "Elections per second over the set (rule time only, files parsed beforehand); ratio = "
                     "pabutools time / ours.",
        "memory": "Peak resident memory (`ru_maxrss` of the child) of a whole `experiments/train.py` run: "
                  "training and the evaluation after it.",
    }
    for name in SECTIONS:
        section = report["sections"].get(name)
        if section is None:
            continue
        lines += [f"## {name}", ""]
        if name in notes:
            lines += [notes[name], ""]
        lines += section.get("table", [])
        if section.get("targets"):
            lines += ["", "Issue 13 targets:", ""] + [f"- {t}" for t in section["targets"]]
        if section.get("skipped"):
            lines += ["", "Skipped:", ""] + [f"- {s}" for s in section["skipped"]]
        lines += ["", f"(section wall time {section['wall_s']:.0f} s)", ""]
    return "\n".join(lines) + "\n"


def merge(paths: list[str], out: str) -> dict:
    """One report from several runs' JSON: the first run's, plus the sections it lacks from later ones
    (each such source listed in the header with its own command, date, load and commit)."""
    reports = []
    for path in paths:
        with open(path) as handle:
            reports.append(json.load(handle))
    merged = reports[0]
    merged.setdefault("merged", [])
    for other in reports[1:]:
        taken = [name for name in other["sections"] if name not in merged["sections"]]
        if not taken:
            continue
        merged["sections"].update({name: other["sections"][name] for name in taken})
        merged["merged"].append({"sections": taken, **{k: other[k] for k in (
            "command", "date", "commit", "load_before", "load_after", "wall_s")}})
        merged["requested"] = list(dict.fromkeys(merged.get("requested", []) + taken))
    with open(out + ".json", "w") as handle:
        json.dump(merged, handle, indent=1, default=str)
    with open(out + ".md", "w") as handle:
        handle.write(markdown(merged))
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--optimaler", default=None, help="a local clone of github.com/dimonenka/optimaler")
    parser.add_argument("--repeats", type=int, default=3, help="alternating (ours, peer) timed pairs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke check of the command")
    parser.add_argument("--block-s", type=float, default=None, help="seconds per timed auction block")
    parser.add_argument("--memory-timeout", type=float, default=None,
                        help="seconds per memory job; past it the job is stopped and its peak so far recorded")
    parser.add_argument("--out", default=None, help="output path without extension")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="run nothing: rewrite --out from earlier reports; sections the first lacks come "
                             "from the later ones (e.g. a memory section run on its own)")
    args = parser.parse_args(argv)
    if args.merge:
        if not args.out:
            parser.error("--merge needs --out")
        return merge(args.merge, args.out)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    out = args.out or os.path.join(HERE, "results", "peers_quick" if args.quick else "peers")

    def log(message):
        print(message, flush=True)

    report = {"command": "python benchmarks/peers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
              "commit": commit(), "machine": machine(), "versions": versions(), "quick": args.quick, "requested": only,
              "load_before": [round(x, 2) for x in os.getloadavg()], "sections": {}}
    started = time.perf_counter()

    def write():
        report["wall_s"] = time.perf_counter() - started
        report["load_after"] = [round(x, 2) for x in os.getloadavg()]
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out + ".json", "w") as handle:
            json.dump(report, handle, indent=1, default=str)
        with open(out + ".md", "w") as handle:
            handle.write(markdown(report))

    for name in only:
        log(f"== {name}")
        try:
            report["sections"][name] = run_section(
                name, args, log, lambda section: (report["sections"].__setitem__(name, section), write()))
        except Exception as error:  # one broken section must not lose the others' measurements
            report["sections"][name] = {"rows": [], "skipped": [f"{name}: failed: {type(error).__name__}: {error}"],
                                        "wall_s": 0.0}
            log(f"  {name} failed: {error}")
        for reason in report["sections"][name].get("skipped", []):
            log(f"  skipped: {reason}")
        write()  # after every section, so a stopped run keeps what it measured
    log(f"wrote {out}.md and {out}.json")
    return report


if __name__ == "__main__":
    main()
