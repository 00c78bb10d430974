"""From ANN weights to the weights the spiking network gets.

The weights come from ``weights.dir`` (``weights.source=pretrained``) or are
trained on the dataset's training split and cached (``trained``). Then
``weights.normalise=data`` optionally rescales them layer by layer from the
ANN's activations on the training split (Diehl et al. 2015).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from snnexp import ann
from snnexp.data import Dataset, load_dataset
from snnexp.errors import ConfigError, DataError
from snnexp.network import Network
from snnexp.schema import ExperimentConfig
from snnexp.weights import load_weights

log = logging.getLogger(__name__)

SOURCES = ("trained", "pretrained")
NORMALISATIONS = ("none", "data")


def check_weights_config(spec: ExperimentConfig) -> None:
    """Validate ``weights.*`` against the model and data, before anything runs.

    Raises
    ------
    ConfigError
        Naming the key of a bad choice or value, a missing ``weights.dir``,
        a model that is not one chain of synapse groups, a missing training
        split or a population without the threshold param.
    """
    w = spec.weights
    _choice("weights.source", w.source, SOURCES, "weights=")
    _choice("weights.normalise", w.normalise, NORMALISATIONS)
    if w.source == "pretrained" and w.dir is None:
        raise ConfigError(
            "weights.dir",
            "no value is set. Set it, e.g. "
            "`weights.dir=/path/to/npy/files`, or use weights=trained.",
        )
    if w.source == "trained":
        _check_training(spec)
    if w.normalise == "data":
        _check_normalisation(spec)


def _choice(key: str, value: str, choices: tuple[str, ...], hint: str = "") -> None:
    if value not in choices:
        raise ConfigError(
            key,
            f"got {value!r}; expected one of {', '.join(choices)}."
            f" Set e.g. `{hint or key + '='}{choices[0]}`.",
        )


def _check_training(spec: ExperimentConfig) -> None:
    w = spec.weights
    for key, value in (("epochs", w.epochs), ("batch_size", w.batch_size)):
        if value < 1:
            raise ConfigError(f"weights.{key}", f"got {value}; it must be >= 1.")
    _choice("weights.optimiser", w.optimiser, ann.OPTIMISERS)
    if not (math.isfinite(w.learning_rate) and w.learning_rate > 0):
        raise ConfigError(
            "weights.learning_rate",
            f"got {w.learning_rate}; use a number > 0, e.g. 0.001.",
        )
    if not 0 <= w.momentum < 1:
        raise ConfigError(
            "weights.momentum", f"got {w.momentum}; use a number in [0, 1), e.g. 0.9."
        )
    ann.layer_chain(spec.model)
    _needs_train_split(spec, "weights.source=trained")


def _check_normalisation(spec: ExperimentConfig) -> None:
    w = spec.weights
    if not 0 < w.percentile <= 100:
        raise ConfigError(
            "weights.percentile",
            f"got {w.percentile}; use a number in (0, 100], e.g. 99.9.",
        )
    for name in ann.layer_chain(spec.model):
        target = spec.model.synapses[name].target
        params = spec.model.populations[target].params
        if w.threshold_param not in params:
            raise ConfigError(
                "weights.threshold_param",
                f"got {w.threshold_param!r}, but population {target!r} has no such "
                f"param (it has {', '.join(params) or 'none'}). Name the param "
                f"that holds its firing threshold.",
            )
    _needs_train_split(spec, "weights.normalise=data")


def _needs_train_split(spec: ExperimentConfig, why: str) -> None:
    if "train" not in spec.data.files:
        raise ConfigError(
            "data.files.train",
            f"{why} needs the training split, but data.files lists only "
            f"{', '.join(spec.data.files) or 'nothing'}. Add data.files.train "
            f"with the images and labels file names.",
        )


def provide_weights(spec: ExperimentConfig) -> dict[str, np.ndarray]:
    """The weight matrix of every synapse group, ready for the spiking network.

    Raises
    ------
    DataError
        For missing or malformed weight or data files, or a layer that the
        training data leaves silent, so it cannot be normalised.
    """
    train = None
    if spec.weights.source == "trained" or spec.weights.normalise == "data":
        train = _training_split(spec)

    if spec.weights.source == "trained":
        from snnexp.trained import trained_weights

        weights = trained_weights(spec, train)
    else:
        weights = load_weights(spec.model, spec.weights.dir)

    if spec.weights.normalise == "data":
        weights = _normalised(spec, weights, train)
    elif spec.weights.source == "trained":
        log.warning(
            "Trained weights are used at the scale training left them "
            "(weights.normalise=none), which rarely suits the neurons' "
            "thresholds and input_scale, so layers may stay silent. Set "
            "weights.normalise=data instead."
        )
    return weights


def _training_split(spec: ExperimentConfig) -> Dataset:
    train = load_dataset(dataclasses.replace(spec.data, limit=None), "train")
    log.info("Training data: %d images from %s", len(train), train.source)
    return train


def _normalised(
    spec: ExperimentConfig, weights: dict[str, np.ndarray], train: Dataset
) -> dict[str, np.ndarray]:
    chain = ann.layer_chain(spec.model)
    thresholds = [
        spec.model.populations[spec.model.synapses[n].target].params[
            spec.weights.threshold_param
        ]
        for n in chain
    ]
    try:
        scaled, factors = ann.normalise(
            [weights[n] for n in chain],
            train.images,
            spec.weights.percentile,
            thresholds,
        )
    except ValueError as error:
        raise DataError(
            f"weights.normalise=data: {error} on the training data; the weights "
            f"cannot drive that layer. Check the weights, or set "
            f"weights.normalise=none."
        ) from None
    log.info(
        "Normalisation: %gth percentile of ReLU activations on %d training "
        "images; layer scale factors %s",
        spec.weights.percentile,
        len(train),
        ", ".join(f"{f:.4g}" for f in factors),
    )
    return {**weights, **dict(zip(chain, scaled, strict=True))}


def ann_predictions(
    spec: ExperimentConfig, network: Network, images: np.ndarray
) -> np.ndarray | None:
    """The ANN's class for each image, or None if the model is not a chain.

    Uses the network's own weights: normalisation scales each layer by a
    positive factor, which leaves the ANN's argmax unchanged.
    """
    try:
        chain = ann.layer_chain(spec.model)
    except ConfigError:
        return None
    return ann.predict([network.synapses[n].g for n in chain], images)
