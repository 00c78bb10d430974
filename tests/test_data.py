"""Datasets: files used where they are, downloads checked and moved into place.

The mirror is a local directory served through a ``file://`` address, so the
real download path (the ``mnist`` package's fetch, the checksum, the move)
runs without a network.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from snnexp.data import load_dataset, write_idx
from snnexp.errors import DataError
from snnexp.schema import DataConfig, DataFileConfig, SplitFilesConfig

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    """A directory holding 5 images of 2x3 pixels and their labels."""
    served = tmp_path / "mirror"
    served.mkdir()
    images = np.arange(30, dtype=np.uint8).reshape(5, 2, 3)
    write_idx(served / IMAGES, images)
    write_idx(served / LABELS, np.array([0, 1, 2, 1, 0], np.uint8))
    return served


def _config(root, mirror, images_md5=None, labels_md5=None) -> DataConfig:
    files = SplitFilesConfig(
        DataFileConfig(IMAGES, images_md5), DataFileConfig(LABELS, labels_md5)
    )
    return DataConfig(
        name="tiny", root=str(root), mirror=mirror.as_uri() + "/", files={"test": files}
    )


def test_missing_files_are_downloaded_checked_and_kept(tmp_path, mirror):
    root = tmp_path / "root"
    cfg = _config(root, mirror, _md5(mirror / IMAGES), _md5(mirror / LABELS))

    dataset = load_dataset(cfg)

    assert dataset.images.shape == (5, 6)
    assert list(dataset.labels) == [0, 1, 2, 1, 0]
    assert sorted(p.name for p in root.iterdir()) == sorted([IMAGES, LABELS])
    (mirror / IMAGES).unlink()
    assert len(load_dataset(cfg)) == 5  # the second run reads the local copy


def test_a_wrong_checksum_leaves_nothing_behind(tmp_path, mirror):
    root = tmp_path / "root"
    cfg = _config(root, mirror, images_md5="0" * 32)

    with pytest.raises(DataError, match=r"md5 .* expected 0{32}.*data\.mirror"):
        load_dataset(cfg)
    assert list(root.iterdir()) == []


def test_a_file_the_mirror_lacks_names_the_root_to_set(tmp_path, mirror):
    (mirror / LABELS).unlink()
    cfg = _config(tmp_path / "root", mirror)

    with pytest.raises(DataError, match=r"downloading it from .* data\.root="):
        load_dataset(cfg)
