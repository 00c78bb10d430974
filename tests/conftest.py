"""Shared fixtures: composed configs, a tiny IDX dataset, the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from snnexp.data import write_idx

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED = ROOT.parent / "shared" / "data"
SHARED_MNIST = SHARED / "mnist"
SHARED_WEIGHTS = SHARED / "weights" / "mnist-784-128-10"

needs_shared_data = pytest.mark.skipif(
    not (SHARED_MNIST.is_dir() and SHARED_WEIGHTS.is_dir()),
    reason=f"the reference MNIST data and weights are not at {SHARED}",
)


@pytest.fixture
def compose_config():
    """Compose conf/ with Hydra's compose API and the given overrides."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict:
    """A 4x4-pixel, 3-class dataset of 10 images and weights for 16-8-3.

    Each image lights one of three horizontal bands; the weights route each
    band to its own hidden neurons and on to its own output neuron, so a
    faithful engine classifies all of them correctly. A training split of 60
    such images, with noise, lets an ANN learn the same routing.
    """
    return make_tiny_data(tmp_path)


def make_tiny_data(tmp_path: Path, n_images: int = 10) -> dict:
    """The files and overrides of :func:`tiny_data`, with ``n_images`` images."""
    rng = np.random.default_rng(7)
    labels, images = _band_images(rng, n_images)
    root = tmp_path / "idx"
    root.mkdir()
    write_idx(root / "t10k-images-idx3-ubyte.gz", images)
    write_idx(root / "t10k-labels-idx1-ubyte", labels)
    train_labels, train_images = _band_images(rng, 60, noise=40)
    write_idx(root / "train-images-idx3-ubyte.gz", train_images)
    write_idx(root / "train-labels-idx1-ubyte", train_labels)

    w_in = np.zeros((16, 8), np.float32)
    w_out = np.zeros((8, 3), np.float32)
    for band in range(3):
        w_in[4 * band : 4 * band + 4, 2 * band : 2 * band + 2] = 1.5
        w_out[2 * band : 2 * band + 2, band] = 3.0
    weights = tmp_path / "weights"
    weights.mkdir()
    np.save(weights / "weights_0_1.npy", w_in)
    np.save(weights / "weights_1_2.npy", w_out)
    overrides = [
        f"data.root={root}",
        "data.download=false",
        "weights=pretrained",
        f"weights.dir={weights}",
        "model.populations.input.size=16",
        "model.populations.hidden.size=8",
        "model.populations.output.size=3",
        "batch_size=4",
        "present_timesteps=20",
    ]
    return {
        "root": root,
        "weights": weights,
        "labels": labels,
        "images": images,
        "overrides": overrides,
    }


def _band_images(rng, count: int, noise: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 4x4 images, each lighting the row of its label (0, 1 or 2)."""
    labels = rng.integers(0, 3, size=count).astype(np.uint8)
    images = rng.integers(0, noise + 1, size=(count, 4, 4)).astype(np.uint8)
    for n, label in enumerate(labels):
        images[n, label] = 200 + 5 * (n % 10)
    return labels, images
