"""Weights trained from data, cached by everything that determines them.

The cache key is a hash of the layer sizes, the weight file names, the
training settings and checksums of the training images and labels, so a run
with the same settings on the same data reuses the weights and any change
trains anew. Each key has a folder holding the model's ``.npy`` files and
``metadata.json``; it is written under a temporary name and renamed into
place, so an interrupted run never leaves half an entry behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from snnexp import ann
from snnexp.data import Dataset, load_dataset
from snnexp.errors import DataError
from snnexp.schema import ExperimentConfig
from snnexp.weights import load_weights

log = logging.getLogger(__name__)

#: Changes whenever the meaning of cached files changes.
CACHE_FORMAT = 1

METADATA = "metadata.json"


def checksum(dataset: Dataset) -> str:
    """SHA-256 of the decoded images and labels (independent of compression)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(dataset.images).tobytes())
    digest.update(np.ascontiguousarray(dataset.labels).tobytes())
    return digest.hexdigest()


def settings_of(spec: ExperimentConfig) -> ann.TrainingSettings:
    w = spec.weights
    return ann.TrainingSettings(
        w.epochs, w.batch_size, w.optimiser, w.learning_rate, w.momentum, w.seed
    )


def cache_key(spec: ExperimentConfig, train_checksum: str) -> tuple[str, dict]:
    """The folder name of these settings and the settings it hashes."""
    model = spec.model
    keyed = {
        "format": CACHE_FORMAT,
        "sizes": ann.layer_sizes(model),
        "files": [
            model.synapses[n].weight_update.weights for n in ann.layer_chain(model)
        ],
        "training": dataclasses.asdict(settings_of(spec)),
        "input": "raw pixels 0..255",
        "train_sha256": train_checksum,
    }
    text = json.dumps(keyed, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], keyed


def trained_weights(spec: ExperimentConfig, train: Dataset) -> dict[str, np.ndarray]:
    """The weights for ``spec``: from the cache, or trained and cached now.

    Raises
    ------
    DataError
        If the test split cannot be loaded for the ANN's accuracy, the cache
        directory cannot be written or a cache entry is damaged.
    """
    key, keyed = cache_key(spec, checksum(train))
    folder = Path(spec.weights.cache_dir).expanduser() / key
    if (folder / METADATA).is_file():
        metadata = _read_metadata(folder)
        log.info(
            "Weights: cache hit %s (ANN test accuracy %.2f%%, trained in %.1f s)",
            folder,
            100 * metadata["ann_accuracy"],
            metadata["training_time_s"],
        )
        return load_weights(spec.model, str(folder))

    log.info(
        "Weights: cache miss for key %s; training %s for %d epochs (%s, "
        "learning rate %g, batch %d, seed %d) on %d images",
        key,
        "-".join(map(str, keyed["sizes"])),
        spec.weights.epochs,
        spec.weights.optimiser,
        spec.weights.learning_rate,
        spec.weights.batch_size,
        spec.weights.seed,
        len(train),
    )
    began = time.perf_counter()
    matrices = ann.train(keyed["sizes"], train.images, train.labels, settings_of(spec))
    elapsed = time.perf_counter() - began

    test = load_dataset(dataclasses.replace(spec.data, limit=None), "test")
    metadata = {
        **keyed,
        "key": key,
        "ann_accuracy": ann.accuracy(matrices, test.images, test.labels),
        "test_sha256": checksum(test),
        "n_train": len(train),
        "n_test": len(test),
        "training_time_s": round(elapsed, 3),
        "dataset": spec.data.name,
    }
    log.info(
        "Trained in %.1f s: ANN accuracy %.2f%% on %d test images",
        elapsed,
        100 * metadata["ann_accuracy"],
        len(test),
    )
    _store(folder, dict(zip(metadata["files"], matrices, strict=True)), metadata)
    log.info("Weights saved to %s", folder)
    return dict(zip(ann.layer_chain(spec.model), matrices, strict=True))


def _read_metadata(folder: Path) -> dict:
    try:
        metadata = json.loads((folder / METADATA).read_text())
        float(metadata["ann_accuracy"]), float(metadata["training_time_s"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{folder / METADATA} is unreadable ({error}); the cache entry is "
            f"damaged. Delete {folder} so that the weights are trained again."
        ) from None
    return metadata


def _store(folder: Path, files: dict[str, np.ndarray], metadata: dict) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        staging.chmod(0o755)
        for name, matrix in files.items():
            np.save(staging / name, matrix)
        (staging / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        try:
            os.replace(staging, folder)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (folder / METADATA).is_file():
                raise
    except OSError as error:
        raise DataError(
            f"cannot write trained weights into {folder} ({error}). Set "
            f"weights.cache_dir to a writable directory."
        ) from None
