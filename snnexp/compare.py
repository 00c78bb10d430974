"""Parity check: ``python -m snnexp.compare [overrides]``.

Runs one experiment on the ``numpy`` engine and on the ``genn`` engine, each
into its own subdirectory of the run directory (``numpy/``, ``genn/``, with
the usual result files), then compares them image by image: the prediction
and the output spike counts. ``comparison.csv`` holds one row per image; the
log gives the number of matching images and the first differences. The exit
status is 1 when any prediction differs, so the command can gate a CI job.

The config is ``conf/compare.yaml``: ``config.yaml`` with ``engine=genn``,
whose ``engine.*`` keys (backend, preferences, timing) set up the GeNN side.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnexp.errors import ConfigError, SnnexpError
from snnexp.results import write_table
from snnexp.runner import RunOutcome, run_experiment
from snnexp.schema import EngineConfig, ExperimentConfig
from snnexp.spec import load_experiment

log = logging.getLogger("snnexp.compare")

#: How many differing images the log lists.
SHOWN_DIFFERENCES = 5


@dataclass
class Comparison:
    """Image-by-image agreement of two runs; ``table`` is comparison.csv."""

    table: pd.DataFrame

    @property
    def n_images(self) -> int:
        return len(self.table)

    @property
    def matching_predictions(self) -> int:
        return int(self.table["predictions_match"].sum())

    @property
    def matching_spike_counts(self) -> int:
        return int(self.table["spike_counts_match"].sum())

    def differences(self) -> pd.DataFrame:
        table = self.table
        return table[~(table["predictions_match"] & table["spike_counts_match"])]


def compare_engines(spec: ExperimentConfig, run_dir: Path) -> Comparison:
    """Run ``spec`` on both engines under ``run_dir`` and compare the runs.

    Raises
    ------
    ConfigError
        When ``spec`` does not select the genn engine (its settings are the
        GeNN side of the comparison).
    SnnexpError
        Whatever either run raises for bad input.
    """
    if spec.engine.name != "genn":
        raise ConfigError(
            "engine",
            f"got {spec.engine.name!r}; the comparison runs numpy against genn "
            f"and takes the GeNN settings from `engine`. Leave `engine=genn`.",
        )
    outcomes = {}
    for engine in (EngineConfig(name="numpy"), spec.engine):
        engine_dir = Path(run_dir) / engine.name
        engine_dir.mkdir(parents=True, exist_ok=True)
        log.info("Running on the %s engine into %s", engine.name, engine_dir)
        outcomes[engine.name] = run_experiment(
            dataclasses.replace(spec, engine=engine), engine_dir
        )

    labels = pd.read_csv(Path(run_dir) / "numpy" / "predictions.csv")["label"]
    comparison = Comparison(_table(outcomes["numpy"], outcomes["genn"], labels))
    write_table(comparison.table, Path(run_dir) / "comparison.csv")
    _log_summary(comparison)
    return comparison


def _table(reference: RunOutcome, other: RunOutcome, labels) -> pd.DataFrame:
    ours, theirs = _counts(reference), _counts(other)
    n = min(len(ours), len(theirs))
    ours, theirs = ours[:n], theirs[:n]
    return pd.DataFrame(
        {
            "index": np.arange(n),
            "label": np.asarray(labels)[:n],
            "prediction_numpy": np.argmax(ours, axis=1),
            "prediction_genn": np.argmax(theirs, axis=1),
            "predictions_match": np.argmax(ours, axis=1) == np.argmax(theirs, axis=1),
            "spike_counts_numpy": [_as_text(row) for row in ours],
            "spike_counts_genn": [_as_text(row) for row in theirs],
            "spike_counts_match": np.all(ours == theirs, axis=1),
        }
    )


def _counts(outcome: RunOutcome) -> np.ndarray:
    if not outcome.readouts:
        return np.zeros((0, 0), np.int64)
    return np.concatenate(outcome.readouts).astype(np.int64)


def _as_text(row: np.ndarray) -> str:
    return " ".join(str(v) for v in row)


def _log_summary(comparison: Comparison) -> None:
    n = comparison.n_images
    log.info(
        "Predictions match on %d of %d images; output spike counts on %d",
        comparison.matching_predictions,
        n,
        comparison.matching_spike_counts,
    )
    for row in comparison.differences().head(SHOWN_DIFFERENCES).itertuples():
        log.warning(
            "Image %d (label %d): numpy predicts %d from spike counts [%s], genn "
            "predicts %d from [%s]; check the model code and precision for an "
            "operation the engines evaluate differently.",
            row.index,
            row.label,
            row.prediction_numpy,
            row.spike_counts_numpy,
            row.prediction_genn,
            row.spike_counts_genn,
        )


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
def _run(cfg: DictConfig) -> int:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        comparison = compare_engines(load_experiment(cfg), run_dir)
    except SnnexpError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"snnexp: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if comparison.matching_predictions != comparison.n_images:
        raise SystemExit(1)
    return comparison.matching_predictions


if __name__ == "__main__":
    _run()
