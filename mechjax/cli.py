"""What ``experiments/*.py`` share: one clean message per error, and the presets a typo missed.

A :class:`~mechjax.errors.MechjaxError` (``ConfigError``, ``DataError``, ``NonFiniteError``,
``Interrupted``) or a Hydra composition error is printed as one message on stderr, without a
traceback, and the script exits with status 1 (130 after Ctrl-C). Full tracebacks: add
``debug=true`` to the command line or set ``MECHJAX_DEBUG=1``.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import traceback
from typing import Callable, Optional

from mechjax.errors import ConfigError, Interrupted, MechjaxError

DEBUG_ENV = "MECHJAX_DEBUG"
_DEBUG_ARG = re.compile(r"^\+{0,2}debug=(true|True|1|yes)$")


def available_presets(conf_dir: str, group: str) -> list[str]:
    """Every preset of config group ``group`` (``conf/<group>/**.yaml``), e.g. ``auction/additive_2x2``."""
    root = os.path.join(conf_dir, group)
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".yaml"):
                rel = os.path.relpath(os.path.join(folder, name[: -len(".yaml")]), root)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def missing_preset_error(conf_dir: str, missing: str) -> ConfigError:
    """A ConfigError for the missing config file ``missing`` (``problem/auction/additve_2x2``) that
    lists the group's presets and suggests the closest one."""
    group, _, name = missing.partition("/")
    options = available_presets(conf_dir, group)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    hint = f" Did you mean {group}={close[0]}?" if close else ""
    # a nested name (auction/additve_2x2) lists its own folder, a plain one (tny) the group's top
    # level (not trainer/preset/*, the experiments' own budgets); the other folders are named
    folder = name.rpartition("/")[0]
    nested = [o for o in options if folder and o.startswith(folder + "/")]
    shown = nested or [o for o in options if "/" not in o] or options
    others = sorted({o.split("/")[0] + "/" for o in options if o not in shown and "/" in o})
    listing = "\n".join(f"  {group}={o}" for o in shown) or "  (none)"
    if others:
        listing += f"\n  (and {', '.join(others)} presets: ls {os.path.join(conf_dir, group)})"
    where = f"'{group}/{folder}'" if nested else f"'{group}'"
    return ConfigError(f"{group}={name}: no such preset (no {os.path.join(conf_dir, missing)}.yaml).{hint}\n"
                       f"Available presets of {where}:\n{listing}")


# The sections that decide what a run trained: a trained run is evaluated with its own values.
TRAINING_SECTIONS = ("problem", "mechanism", "inner", "constraint", "optim", "trainer", "seed")


def training_overrides(overrides) -> list[str]:
    """The command-line overrides (``problem.num_items=3``, ``mechanism=vcg``, ...) that change a
    training section: ``experiments/evaluate.py run_dir=...`` refuses them instead of ignoring them."""
    found = []
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key.split(".")[0].split("/")[0] in TRAINING_SECTIONS:
            found.append(override)
    return found


def debug_requested(argv=None) -> bool:
    """``debug=true`` on the command line or ``MECHJAX_DEBUG=1`` in the environment."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    return env or any(_DEBUG_ARG.match(a) for a in argv)


def run(main: Callable[[], object], conf_dir: str, argv=None) -> None:
    """Runs a ``@hydra.main`` function, turning the library's and Hydra's errors into one message.

    Args:
        main: the decorated Hydra entry point.
        conf_dir: the ``conf/`` folder (to list presets after a typo).
        argv: the command line (default ``sys.argv[1:]``), read for ``debug=true``.
    """
    # Hydra would print its own shortened traceback and exit; let errors reach us instead.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    debug = debug_requested(argv)
    try:
        main()
    except (MechjaxError, KeyboardInterrupt) as err:
        _fail(err, debug, 130 if isinstance(err, (Interrupted, KeyboardInterrupt)) else 1)
    except Exception as err:  # Hydra's composition and override errors: the message says it all
        message = hydra_message(err, conf_dir)
        if message is None:
            raise
        _fail(err, debug, 1, message)


def hydra_message(err: BaseException, conf_dir: str) -> Optional[str]:
    """The one-line story of a Hydra / OmegaConf error (a missing preset lists its group), or None."""
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        return str(missing_preset_error(conf_dir, err.missing_cfg_file))
    if isinstance(err, (HydraException, OmegaConfBaseException)):
        return str(err).split("\nConfig search path")[0].strip()
    return None


def _fail(err: BaseException, debug: bool, status: int, message: Optional[str] = None) -> None:
    if debug:
        traceback.print_exception(type(err), err, err.__traceback__)
    if isinstance(err, KeyboardInterrupt):
        message = ("interrupted (Ctrl-C); rerun the same command with the same hydra.run.dir to continue: "
                   "training resumes from its last checkpoint, evaluation starts again")
    text = message or str(err)
    print(f"error: {text}", file=sys.stderr)
    if not debug:
        print(f"(full traceback: add debug=true or set {DEBUG_ENV}=1)", file=sys.stderr)
    sys.exit(status)
