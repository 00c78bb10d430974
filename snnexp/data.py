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
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mnist
import numpy as np

from snnexp.errors import DataError
from snnexp.schema import DataConfig

log = logging.getLogger(__name__)

#: IDX type codes and the size of one item in bytes.
IDX_TYPES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


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
    key = f"data.files.{split}"
    images = _read_idx(
        _locate(root, entry.images.name, entry.images.md5, cfg),
        f"{key}.images",
        images=True,
    )
    labels = _read_idx(
        _locate(root, entry.labels.name, entry.labels.md5, cfg),
        f"{key}.labels",
        images=False,
    )
    dataset = _as_dataset(images, labels, str(root), key)
    if cfg.limit is not None:
        dataset = Dataset(
            dataset.images[: cfg.limit],
            dataset.labels[: cfg.limit],
            dataset.image_shape,
            dataset.source,
        )
    return dataset


def _as_dataset(images: tuple, labels: tuple, source: str, key: str) -> Dataset:
    (image_path, image_data), (label_path, label_data) = images, labels
    if len(image_data) != len(label_data):
        raise DataError(
            f"{image_path} holds {len(image_data)} images but {label_path} holds "
            f"{len(label_data)} labels; the files named by {key} do not belong "
            f"together. Use the images and labels of one dataset and split."
        )
    if len(image_data) == 0:
        raise DataError(
            f"{image_path} holds no images; {key}.images must name a file with "
            f"at least one image."
        )
    if label_data.dtype.kind not in "iu":
        raise DataError(
            f"{label_path} (named by {key}.labels) holds {label_data.dtype} "
            f"values; labels must be whole class numbers (IDX type 0x08)."
        )
    flat = image_data.reshape(len(image_data), -1)
    if flat.dtype != np.uint8:
        raise DataError(
            f"{image_path} (named by {key}.images): expected pixels as unsigned "
            f"bytes (IDX type 0x08), "
            f"found {flat.dtype}. Convert the images to 8-bit greyscale."
        )
    return Dataset(flat, label_data.astype(np.int64), image_data.shape[1:], source)


def _read_idx(path: Path, key: str, images: bool) -> tuple[Path, np.ndarray]:
    """Check the IDX header of ``path`` and read it.

    Raises DataError for a header that is not IDX, an unknown item type, the
    wrong number of dimensions (images have 2 or more, labels 1), or a file
    that holds fewer or more items than its header promises.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            _check_header(stream.read(4 + 4 * 255), path, key, images)
            stream.seek(0)
            return path, mnist.parse_idx(stream)
    except DataError:
        raise
    except (
        mnist.IdxDecodeError,
        OSError,
        EOFError,
        ValueError,
        struct.error,
        MemoryError,
    ) as error:
        raise DataError(
            f"{path} (named by {key}) is not a valid IDX file ({error}). Delete "
            f"it so that it is downloaded again, or replace it with the original "
            f"file."
        ) from None


def _check_header(head: bytes, path: Path, key: str, images: bool) -> None:
    what = "images" if images else "labels"
    wanted = "2 or more dimensions" if images else "1 dimension"
    fix = (
        f"Replace it with the original file, or check that {key} names the {what} file."
    )
    if len(head) < 4 or head[:2] != b"\0\0":
        raise DataError(f"{path} (named by {key}) has no IDX header. {fix}")
    type_code, ndim = head[2], head[3]
    if type_code not in IDX_TYPES:
        raise DataError(
            f"{path} (named by {key}) has unknown IDX item type 0x{type_code:02x}. "
            f"{fix}"
        )
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{path} (named by {key}) ends inside its IDX header. {fix}")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    if (ndim < 2) if images else (ndim != 1):
        raise DataError(
            f"{path} (named by {key}) holds an array of shape {shape} but "
            f"{what} need {wanted}. {fix}"
        )


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
