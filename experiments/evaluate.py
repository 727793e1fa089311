"""Evaluate a trained run or a classical mechanism with the strong attacker.

    python experiments/evaluate.py run_dir=outputs/... attack.steps=2000 attack.restarts=100
    python experiments/evaluate.py run_dir=outputs/... attack=quick
    python experiments/evaluate.py problem=auction/additive_2x2 mechanism=vcg

The summary is written to this job's own run directory (printed at the end). A run without
``summary.json`` (interrupted or diverged) is evaluated at its latest good checkpoint, as the
output says. Errors print one message (``debug=true`` or ``MECHJAX_DEBUG=1`` for the traceback).
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax import cli  # noqa: E402
from mechjax.config import register_schemas  # noqa: E402
from mechjax.errors import ConfigError  # noqa: E402
from mechjax.experiment import DEFAULT_CONF_DIR, evaluate  # noqa: E402
from mechjax.report import summary_table  # noqa: E402

register_schemas()


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = HydraConfig.get().runtime.output_dir
    ignored = cli.training_overrides(HydraConfig.get().overrides.task) if cfg.get("run_dir") else []
    if ignored:
        raise ConfigError(f"run_dir=... is evaluated as it was trained (its own config.yaml), so {ignored} would be "
                          f"ignored; change only evaluation settings here, or train a new run")
    summary = evaluate(cfg, run_dir=cfg.get("run_dir"), out_dir=out_dir)
    print(summary_table(summary, title="evaluation"))
    print(f"written: {os.path.join(out_dir, 'summary.json')}")


if __name__ == "__main__":
    cli.run(main, DEFAULT_CONF_DIR)
