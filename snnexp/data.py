"""Datasets of images and labels in IDX files, such as MNIST.

Files already in ``data.root`` are used as they are, gzip-compressed or not.
Missing ones are downloaded with the ``mnist`` package from ``data.mirror``
into a temporary folder beside them, checked against their checksums and only
then moved into place, so an interrupted download never leaves a broken file.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mnist
import numpy as np

from snnexp.errors import DataError
from snnexp.schema import DataConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Flattened images, (n, pixels) uint8, and labels, (n,) int64."""

    images: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(cfg: DataConfig, split: str | None = None) -> Dataset:
    """Load ``split`` (default ``cfg.split``), downloading missing files.

    Raises
    ------
    DataError
        If a file is missing and cannot be downloaded, fails its checksum,
        is not an IDX file, or images and labels do not fit together.
    """
    split = split or cfg.split
    if split not in cfg.files:
        raise DataError(
            f"data.files has no entry for split {split!r}; it lists "
            f"{', '.join(cfg.files) or 'none'}. Add the file names under "
            f"data.files.{split}."
        )
    root = Path(cfg.root).expanduser()
    entry = cfg.files[split]
    images = _read_idx(_locate(root, entry.images.name, entry.images.md5, cfg))
    labels = _read_idx(_locate(root, entry.labels.name, entry.labels.md5, cfg))
    dataset = _as_dataset(images, labels, str(root), entry)
    if cfg.limit is not None:
        dataset = Dataset(dataset.images[: cfg.limit], dataset.labels[: cfg.limit],
                          dataset.image_shape, dataset.source)
    return dataset


def _as_dataset(images: tuple, labels: tuple, source: str, entry) -> Dataset:
    (image_path, image_data), (label_path, label_data) = images, labels
    if image_data.ndim < 2:
        raise DataError(
            f"{image_path}: expected images (an IDX file of 2 or more "
            f"dimensions) but it has shape {image_data.shape}. Check that "
            f"data.files names the images file as `images`."
        )
    if label_data.ndim != 1:
        raise DataError(
            f"{label_path}: expected labels (a 1-dimensional IDX file) but it "
            f"has shape {label_data.shape}. Check data.files.*.labels."
        )
    if len(image_data) != len(label_data):
        raise DataError(
            f"{image_path} holds {len(image_data)} images but {label_path} holds "
            f"{len(label_data)} labels; the files do not belong together."
        )
    flat = image_data.reshape(len(image_data), -1)
    if flat.dtype != np.uint8:
        raise DataError(f"{image_path}: expected unsigned bytes, found {flat.dtype}.")
    return Dataset(flat, label_data.astype(np.int64), image_data.shape[1:], source)


def _read_idx(path: Path) -> tuple[Path, np.ndarray]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            return path, mnist.parse_idx(stream)
    except (mnist.IdxDecodeError, OSError, EOFError, ValueError) as error:
        raise DataError(
            f"{path} is not a valid IDX file ({error}). Delete it so that it is "
            f"downloaded again, or replace it with the original file."
        ) from None


def _locate(root: Path, name: str, md5: str | None, cfg: DataConfig) -> Path:
    """The path of ``name`` in ``root``, with or without ``.gz``, or download it."""
    plain = name.removesuffix(".gz")
    candidates = [root / name, root / plain, root / f"{plain}.gz"]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in dict.fromkeys(candidates))
    if not cfg.download or not cfg.mirror:
        raise DataError(
            f"{name} not found (looked for {looked}) and downloads are off. Put "
            f"the file there, or set data.root=<directory holding the IDX files>."
        )
    return _download(root, name, md5, cfg.mirror, looked)


def _download(root: Path, name: str, md5: str | None, mirror: str, looked: str):
    log.info("Downloading %s from %s into %s", name, mirror, root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            mnist.datasets_url = mirror if mirror.endswith("/") else mirror + "/"
            fetched = Path(mnist.download_file(name, target_dir=tmp, force=True))
            _verify(fetched, md5, mirror)
            target = root / name
            os.replace(fetched, target)
            return target
    except DataError:
        raise
    except (OSError, ValueError) as error:
        raise DataError(
            f"{name} not found (looked for {looked}) and downloading it from "
            f"{mirror} failed: {error}. Without network access, put the IDX "
            f"files in a directory and set data.root=<that directory>."
        ) from None


def _verify(path: Path, md5: str | None, mirror: str) -> None:
    if md5 is None:
        return
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != md5:
        raise DataError(
            f"{path.name} from {mirror} has md5 {digest.hexdigest()}, expected "
            f"{md5}; the mirror served a different file. Set data.mirror to "
            f"another mirror."
        )


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file, gzip-compressed if ``.gz``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if Path(path).suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + array.tobytes())
