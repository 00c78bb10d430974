"""Time the training of the default network (784-128-10) with the default settings.

MNIST's training split is not always on the machine, so this trains on
Fashion-MNIST's 60,000 training images (same shape and size) from
``--root`` (Debian's dataset-fashion-mnist by default), or, where that is
absent, on 60,000 random 28x28 images with random labels: the work per epoch
is the same, only the accuracy means nothing.

Run from the project root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/train.py
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from snnexp import ann
from snnexp.data import load_dataset
from snnexp.spec import load_experiment
from snnexp.trained import settings_of

CONF = Path(__file__).resolve().parents[1] / "conf"
FASHION = "/usr/share/datasets/fashion-mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", default=FASHION, help="directory of IDX files with the standard names"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides")
    args = parser.parse_args()

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        spec = load_experiment(compose(config_name="config", overrides=args.overrides))
    sizes, settings = ann.layer_sizes(spec.model), settings_of(spec)
    images, labels, source = _training_data(spec, args.root, sizes)
    print(f"network {'-'.join(map(str, sizes))}; {settings}")
    print(f"data: {len(labels)} images from {source}")
    print(f"load before: {_load()}")

    began = time.perf_counter()
    weights = ann.train(sizes, images, labels, settings)
    elapsed = time.perf_counter() - began

    print(f"load after: {_load()}")
    print(
        f"training time: {elapsed:.2f} s ({elapsed / settings.epochs:.2f} s per epoch)"
    )
    print(f"training-set accuracy: {ann.accuracy(weights, images, labels):.4f}")


def _training_data(spec, root: str, sizes: list[int]):
    if Path(root, "train-images-idx3-ubyte.gz").is_file():
        data = dataclasses.replace(spec.data, root=root, download=False, limit=None)
        train = load_dataset(data, "train")
        return train.images, train.labels, train.source
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60_000, sizes[0]), dtype=np.uint8)
    labels = rng.integers(0, sizes[-1], size=60_000)
    return images, labels, "synthetic random images (no IDX files at --root)"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min), {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
