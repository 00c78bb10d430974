"""Classify a dataset in batches on an engine and record what happened.

For each batch, as GeNN's batched tutorial does: write the scaled images into
the input variable, run the reset custom-update group, simulate
``present_timesteps`` steps, read the readout variable and predict by argmax.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from snnexp.conversion import ann_predictions, provide_weights
from snnexp.data import Dataset, load_dataset
from snnexp.engines import get_engine
from snnexp.errors import ConfigError
from snnexp.interrupts import deferred, interruptible
from snnexp.network import Network, VarRef
from snnexp.results import BatchLog, write_table
from snnexp.schema import ExperimentConfig
from snnexp.spec import build_network

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a run measured; ``summary()`` is the row of ``results.csv``."""

    spec: ExperimentConfig
    n_images: int = 0
    correct: int = 0
    status: str = "running"
    error: str = ""
    times: dict[str, float] = field(default_factory=dict)
    engine_times: dict[str, float] = field(default_factory=dict)
    predictions: list[np.ndarray] = field(default_factory=list)
    ann_predictions: np.ndarray | None = None  # the ANN's, for every image
    labels: np.ndarray | None = None
    readouts: list[np.ndarray] = field(default_factory=list)

    def summary(self) -> dict:
        sim = self.times.get("sim_time_s", 0.0)
        accuracy = self.correct / self.n_images if self.n_images else np.nan
        ann_accuracy = self._ann_accuracy()
        row = {
            "accuracy": accuracy,
            "ann_accuracy": ann_accuracy,
            "conversion_loss": ann_accuracy - accuracy,
            "n_images": self.n_images,
            "correct": self.correct,
            "batch_size": self.spec.batch_size,
            "engine": self.spec.engine.name,
            "present_timesteps": self.spec.present_timesteps,
            "dt": self.spec.dt,
            "precision": self.spec.precision,
            "build_time_s": self.times.get("build_time_s", np.nan),
            "load_time_s": self.times.get("load_time_s", np.nan),
            "sim_time_s": sim,
            "total_time_s": self.times.get("total_time_s", np.nan),
            "images_per_s": self.n_images / sim if sim > 0 else np.nan,
            "status": self.status,
            "error": self.error,
        }
        row.update(self.engine_times)
        return row

    def _ann_accuracy(self) -> float:
        """The ANN's accuracy on the images the spiking network has classified."""
        if self.ann_predictions is None or self.labels is None or not self.n_images:
            return np.nan
        done = slice(0, self.n_images)
        return float(np.mean(self.ann_predictions[done] == self.labels[done]))


def prepare(spec: ExperimentConfig) -> tuple[Dataset, Network]:
    """Load and check the dataset and weights; build the network description.

    Raises
    ------
    DataError, ConfigError
        For missing or malformed files, or data that does not fit the model.
    """
    dataset = load_dataset(spec.data)
    log.info(
        "Data: %d %s images of %s pixels from %s",
        len(dataset),
        spec.data.split,
        "x".join(map(str, dataset.image_shape)),
        dataset.source,
    )
    input_ref = VarRef.parse(spec.model.input)
    size = _input_size(spec, input_ref)
    if size != dataset.images.shape[1]:
        raise ConfigError(
            "model.input",
            f"{input_ref} has {size} neurons but the images have "
            f"{dataset.images.shape[1]} pixels; make the input population as "
            f"large as an image.",
        )
    if int(dataset.labels.max(initial=0)) >= _readout_size(spec):
        raise ConfigError(
            "model.readout",
            f"{spec.model.readout} has {_readout_size(spec)} neurons but the "
            f"labels go up to {dataset.labels.max()}; give the readout "
            f"population one neuron per class.",
        )
    weights = provide_weights(spec)
    return dataset, build_network(spec.model, weights)


def _input_size(spec: ExperimentConfig, ref: VarRef) -> int:
    model = spec.model
    if ref.target in model.current_sources:
        return model.populations[model.current_sources[ref.target].population].size
    return model.populations[ref.target].size


def _readout_size(spec: ExperimentConfig) -> int:
    return spec.model.populations[VarRef.parse(spec.model.readout).target].size


def run_experiment(spec: ExperimentConfig, run_dir: Path) -> RunOutcome:
    """Run ``spec`` and write its result files into ``run_dir``.

    SIGINT and SIGTERM stop the run after writing what it finished:
    ``results.csv`` with ``status=interrupted``, the finished batches and
    their predictions. A run that fails part-way writes ``status=failed``.

    Raises
    ------
    ConfigError, DataError
        For input that cannot run, before anything is built or written.
    snnexp.interrupts.Interrupted
        For SIGINT or SIGTERM, once the results so far are on disk.
    """
    with interruptible():
        return _run(spec, run_dir)


def _run(spec: ExperimentConfig, run_dir: Path) -> RunOutcome:
    started = time.perf_counter()
    outcome = RunOutcome(spec)
    dataset, network = prepare(spec)
    _check_memory(spec, network)
    outcome.labels = dataset.labels
    outcome.ann_predictions = ann_predictions(spec, network, dataset.images)
    outcome.times["load_time_s"] = time.perf_counter() - started

    log.info(
        "Engine: %s, batch size %d, %d timesteps of %g ms, %s precision",
        spec.engine.name,
        spec.batch_size,
        spec.present_timesteps,
        spec.dt,
        spec.precision,
    )
    built = time.perf_counter()
    engine = _load_engine(spec, run_dir)
    sim = engine.build(
        network, batch_size=spec.batch_size, dt=spec.dt, precision=spec.precision
    )
    outcome.times["build_time_s"] = time.perf_counter() - built

    _write_summary(outcome, run_dir)
    try:
        with BatchLog(run_dir / "batches.csv") as batches:
            _classify(spec, sim, dataset, outcome, batches)
        outcome.status = "completed"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        raise
    except Exception as error:
        outcome.status = "failed"
        outcome.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        with deferred():
            outcome.times["total_time_s"] = time.perf_counter() - started
            outcome.engine_times = sim.timings()
            sim.close()
            _write_outputs(outcome, dataset, run_dir)
    log.info(
        "Accuracy %.2f%% on %d images; simulation %.3f s, total %.3f s",
        100 * outcome.correct / max(outcome.n_images, 1),
        outcome.n_images,
        outcome.times["sim_time_s"],
        outcome.times["total_time_s"],
    )
    summary = outcome.summary()
    if not np.isnan(summary["ann_accuracy"]):
        log.info(
            "ANN accuracy %.2f%% on the same images; conversion loss %.2f points",
            100 * summary["ann_accuracy"],
            100 * summary["conversion_loss"],
        )
    log.info("Results written to %s", run_dir)
    return outcome


def _check_memory(spec: ExperimentConfig, network: Network) -> None:
    """Refuse a batch size whose state cannot fit in this machine's memory.

    For every batch row, a population holds its variables, ``Isyn``, its
    spikes and its postsynaptic input: the estimate counts four arrays of
    the population's size besides the variables.

    Raises
    ------
    ConfigError
        For ``batch_size`` when the estimate exceeds physical memory.
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    itemsize = 4 if spec.precision == "float" else 8
    per_row = sum(
        p.size * (len(p.model.vars) + 4) for p in network.populations.values()
    )
    weights = sum(s.g.nbytes for s in network.synapses.values())
    needed = spec.batch_size * per_row * itemsize + weights
    if needed > memory:
        raise ConfigError(
            "batch_size",
            f"got {spec.batch_size}, which needs about {needed / 2**30:.1f} GiB "
            f"for the network state but this machine has {memory / 2**30:.1f} "
            f"GiB; lower batch_size.",
        )


def _load_engine(spec: ExperimentConfig, run_dir: Path):
    """The engine of ``spec``; an engine whose module or library is not
    installed is a config problem with a fix, not a crash.

    Raises
    ------
    ConfigError
        For ``engine.name`` when the engine cannot be imported.
    """
    try:
        return get_engine(spec.engine.name, **_engine_options(spec, run_dir))
    except ImportError as error:
        raise ConfigError(
            "engine.name",
            f"the {spec.engine.name!r} engine cannot be loaded ({error}). "
            f"Install what it needs (PyGeNN for genn, see the README) or run "
            f"with engine=numpy.",
        ) from None


def _engine_options(spec: ExperimentConfig, run_dir: Path) -> dict:
    return {"config": spec.engine, "run_dir": run_dir}


def _classify(spec, sim, dataset: Dataset, outcome: RunOutcome, batches) -> None:
    model = spec.model
    input_ref, readout = VarRef.parse(model.input), VarRef.parse(model.readout)
    scale = np.dtype("float32" if spec.precision == "float" else "float64").type(
        spec.input_scale
    )
    outcome.times["sim_time_s"] = 0.0
    starts = range(0, len(dataset), spec.batch_size)
    bar = tqdm(starts, desc="batches", unit="batch", leave=False, disable=None)
    for number, start in enumerate(bar):
        images = dataset.images[start : start + spec.batch_size]
        labels = dataset.labels[start : start + spec.batch_size]

        began = time.perf_counter()
        sim.write(input_ref, images * scale)
        if model.reset_group is not None:
            sim.custom_update(model.reset_group)
        if spec.reset == "full":
            sim.clear_transients()
        sim.run(spec.present_timesteps)
        counts = sim.read(readout)[: len(images)]
        predicted = np.argmax(counts, axis=1)
        elapsed = time.perf_counter() - began

        correct = int(np.sum(predicted == labels))
        with deferred():
            outcome.predictions.append(predicted)
            outcome.readouts.append(counts)
            outcome.n_images += len(images)
            outcome.correct += correct
            outcome.times["sim_time_s"] += elapsed
            batches.append(number, len(images), correct, elapsed)
        bar.set_postfix(accuracy=f"{outcome.correct / outcome.n_images:.4f}")


def _write_summary(outcome: RunOutcome, run_dir: Path) -> None:
    """Write ``results.csv``.

    pandas is imported here rather than at the top because it takes about a
    second to import, and a run refused for bad input never needs it.
    """
    import pandas as pd

    write_table(pd.DataFrame([outcome.summary()]), run_dir / "results.csv")


def _write_outputs(outcome: RunOutcome, dataset: Dataset, run_dir: Path) -> None:
    import pandas as pd

    done = outcome.n_images
    predicted = (
        np.concatenate(outcome.predictions)
        if outcome.predictions
        else np.zeros(0, np.int64)
    )
    predictions = pd.DataFrame(
        {
            "index": np.arange(done),
            "label": dataset.labels[:done],
            "prediction": predicted,
        }
    )
    write_table(predictions, run_dir / "predictions.csv")
    _write_summary(outcome, run_dir)
