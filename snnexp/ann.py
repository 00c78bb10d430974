"""The bias-free ReLU network that a spiking model is converted from.

The ANN has one weight matrix per synapse group along the chain from the
population that takes the input to the population that gives the readout.
Its input is the raw pixel value, 0..255, as for GeNN's tutorial weights: the
spiking network receives ``pixel * input_scale``, and a bias-free ReLU network
only scales when its input does, so both see the same image.

Training feeds ``pixel / 255`` for well-conditioned gradients and divides the
first matrix by 255 afterwards, which gives exactly the raw-pixel network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from snnexp.errors import ConfigError
from snnexp.network import VarRef
from snnexp.schema import ModelConfig

log = logging.getLogger(__name__)

#: Optimisers that :func:`train` offers.
OPTIMISERS = ("adam", "sgd")

PIXEL_MAX = 255.0


def layer_chain(model: ModelConfig) -> list[str]:
    """Synapse-group names from the input population to the readout population.

    Raises
    ------
    ConfigError
        If the synapse groups do not form one chain from the population that
        takes the input to the population that gives the readout, each
        population feeding exactly one other.
    """
    start, stop = _input_population(model), VarRef.parse(model.readout).target
    outgoing: dict[str, list[str]] = {}
    for name, syn in model.synapses.items():
        outgoing.setdefault(syn.source, []).append(name)

    chain, population = [], start
    while population != stop:
        leaving = outgoing.get(population, [])
        if len(leaving) != 1 or len(chain) == len(model.synapses):
            raise ConfigError(
                "model.synapses",
                f"population {population!r} has {len(leaving)} outgoing synapse "
                f"groups ({', '.join(leaving) or 'none'}); a converted ANN needs "
                f"one chain from {start!r} to {stop!r}. Use weights=pretrained "
                f"for other topologies.",
            )
        chain.append(leaving[0])
        population = model.synapses[leaving[0]].target
    return chain


def layer_sizes(model: ModelConfig) -> list[int]:
    """Neurons per layer along :func:`layer_chain`, input first."""
    chain = layer_chain(model)
    first = model.synapses[chain[0]].source
    return [model.populations[first].size] + [
        model.populations[model.synapses[name].target].size for name in chain
    ]


def _input_population(model: ModelConfig) -> str:
    target = VarRef.parse(model.input).target
    if target in model.current_sources:
        return model.current_sources[target].population
    return target


def forward(weights: Sequence[np.ndarray], images: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer for ``images`` (raw pixels), input first.

    Hidden layers are rectified; the last layer is returned before the ReLU,
    as the logits that the prediction and the loss use.
    """
    activations = [np.asarray(images, np.float32)]
    for number, matrix in enumerate(weights):
        current = activations[-1] @ matrix
        last = number == len(weights) - 1
        activations.append(current if last else np.maximum(current, 0.0))
    return activations


def predict(
    weights: Sequence[np.ndarray], images: np.ndarray, chunk: int = 10_000
) -> np.ndarray:
    """The ANN's class for each image: argmax of the last layer, (n,) int64."""
    parts = [
        np.argmax(forward(weights, images[start : start + chunk])[-1], axis=1)
        for start in range(0, len(images), chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def accuracy(
    weights: Sequence[np.ndarray], images: np.ndarray, labels: np.ndarray
) -> float:
    """Fraction of ``images`` the ANN classifies as ``labels``."""
    return float(np.mean(predict(weights, images) == labels)) if len(labels) else 0.0


@dataclass(frozen=True)
class TrainingSettings:
    """How :func:`train` learns; every field is part of the weight cache key."""

    epochs: int
    batch_size: int
    optimiser: str
    learning_rate: float
    momentum: float
    seed: int


def train(
    sizes: Sequence[int],
    images: np.ndarray,
    labels: np.ndarray,
    settings: TrainingSettings,
) -> list[np.ndarray]:
    """Train a bias-free ReLU network by softmax cross-entropy on the last layer.

    Parameters
    ----------
    sizes
        Neurons per layer, input first.
    images
        (n, sizes[0]) raw pixels, 0..255.
    labels
        (n,) class indices below ``sizes[-1]``.

    Returns
    -------
    list of numpy.ndarray
        float32 (pre, post) matrices for raw-pixel input.
    """
    rng = np.random.default_rng(settings.seed)
    weights = [
        (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    optimiser = _make_optimiser(settings, weights)
    targets = np.eye(sizes[-1], dtype=np.float32)

    bar = tqdm(
        range(settings.epochs), desc="training", unit="epoch", leave=False, disable=None
    )
    for epoch in bar:
        began = time.perf_counter()
        order = rng.permutation(len(labels))
        losses = []
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            x = images[batch].astype(np.float32) / np.float32(PIXEL_MAX)
            loss, grads = _loss_and_gradients(weights, x, targets[labels[batch]])
            optimiser.step(weights, grads)
            losses.append(loss)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        log.debug(
            "Epoch %d: loss %.4f in %.2f s",
            epoch + 1,
            np.mean(losses),
            time.perf_counter() - began,
        )

    weights[0] = weights[0] / np.float32(PIXEL_MAX)
    return weights


def _loss_and_gradients(
    weights: list[np.ndarray], x: np.ndarray, targets: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    activations = forward(weights, x)
    logits = activations[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    loss = -float(np.mean(np.sum(targets * np.log(probabilities + 1e-12), axis=1)))

    delta = (probabilities - targets) / np.float32(len(x))
    grads = [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        grads[layer] = activations[layer].T @ delta
        if layer:
            delta = (delta @ weights[layer].T) * (activations[layer] > 0)
    return loss, grads


def _make_optimiser(settings: TrainingSettings, weights: list[np.ndarray]):
    if settings.optimiser == "adam":
        return _Adam(settings.learning_rate, weights)
    return _Momentum(settings.learning_rate, settings.momentum, weights)


class _Momentum:
    """Stochastic gradient descent with (heavy-ball) momentum."""

    def __init__(self, rate: float, momentum: float, weights: list[np.ndarray]):
        self.rate, self.momentum = np.float32(rate), np.float32(momentum)
        self.velocity = [np.zeros_like(w) for w in weights]

    def step(self, weights: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for w, v, g in zip(weights, self.velocity, grads, strict=True):
            v *= self.momentum
            v -= self.rate * g
            w += v


class _Adam:
    """Adam (Kingma and Ba 2015) with its published default betas."""

    def __init__(
        self,
        rate: float,
        weights: list[np.ndarray],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.rate, self.betas, self.eps = rate, betas, np.float32(eps)
        self.first = [np.zeros_like(w) for w in weights]
        self.second = [np.zeros_like(w) for w in weights]
        self.steps = 0

    def step(self, weights: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        size = np.float32(
            self.rate * np.sqrt(1 - beta2**self.steps) / (1 - beta1**self.steps)
        )
        for w, m, s, g in zip(weights, self.first, self.second, grads, strict=True):
            m *= np.float32(beta1)
            m += np.float32(1 - beta1) * g
            s *= np.float32(beta2)
            s += np.float32(1 - beta2) * g * g
            w -= size * m / (np.sqrt(s) + self.eps)


def normalise(
    weights: Sequence[np.ndarray],
    images: np.ndarray,
    percentile: float,
    thresholds: Sequence[float],
) -> tuple[list[np.ndarray], list[float]]:
    """Data-based normalisation (Diehl et al. 2015) for IF neurons.

    Layer ``l`` is scaled by ``theta_l * lambda_(l-1) / lambda_l``, where
    ``lambda_l`` is the ``percentile`` of layer ``l``'s ReLU activations on
    ``images`` (``lambda_0`` that of the pixels) and ``theta_l`` the firing
    threshold of its target population. Then the neurons at that percentile
    of every layer fire at the rate of the brightest input pixel, so no layer
    is starved of spikes or saturated. Positive factors keep the argmax, so
    the ANN's predictions do not change.

    Parameters
    ----------
    percentile
        In (0, 100], e.g. 99.9.
    thresholds
        One firing threshold per matrix, for its target population.

    Returns
    -------
    The scaled matrices and the factor each was multiplied by.

    Raises
    ------
    ValueError
        If a layer is silent at that percentile, so it cannot be scaled.
    """
    activations = forward(weights, images)
    activations[-1] = np.maximum(activations[-1], 0.0)
    peaks = [float(np.percentile(a, percentile)) for a in activations]
    silent = [layer for layer, peak in enumerate(peaks) if peak <= 0.0]
    if silent:
        raise ValueError(
            f"layer {silent[0]} has no activation above 0 at the {percentile}th "
            f"percentile"
        )
    factors = [
        theta * peaks[layer] / peaks[layer + 1]
        for layer, theta in enumerate(thresholds)
    ]
    scaled = [(m * f).astype(m.dtype) for m, f in zip(weights, factors, strict=True)]
    return scaled, factors
