"""Command line: ``python -m snnexp [overrides]`` or ``snnexp [overrides]``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnexp.errors import SnnexpError
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment

log = logging.getLogger("snnexp")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _run(cfg: DictConfig) -> float:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        spec = load_experiment(cfg)
        outcome = run_experiment(spec, run_dir)
    except (SnnexpError, NotImplementedError) as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"snnexp: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return outcome.correct / max(outcome.n_images, 1)


def main() -> None:
    """Entry point of the ``snnexp`` console script."""
    _run()


if __name__ == "__main__":
    main()
