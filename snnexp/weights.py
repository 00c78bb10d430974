"""Weight matrices: one ``.npy`` file per synapse group, (source, target)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from snnexp.errors import DataError
from snnexp.schema import ModelConfig

log = logging.getLogger(__name__)


def load_weights(model: ModelConfig, directory: str) -> dict[str, np.ndarray]:
    """Load and check the weights of every synapse group of ``model``.

    Raises
    ------
    DataError
        If ``directory`` or a file is missing, a file is not a NumPy array of
        floats (checked from its header before any data is read), its shape
        does not match (source size, target size) or it holds NaN or infinite
        values.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DataError(
            f"weights.dir={directory!r} is not a directory. Set weights.dir to "
            f"the directory holding the model's .npy weight files."
        )
    weights = {}
    for name, syn in model.synapses.items():
        path = root / syn.weight_update.weights
        shape = (model.populations[syn.source].size, model.populations[syn.target].size)
        weights[name] = _load_matrix(path, name, shape)
    log.info("Weights: %d matrices from %s", len(weights), root)
    return weights


def _load_matrix(path: Path, synapse: str, shape: tuple[int, int]) -> np.ndarray:
    key = f"model.synapses.{synapse}.weight_update.weights"
    if not path.is_file():
        raise DataError(
            f"{path}: no such weight file (named by {key}). Check weights.dir "
            f"and the file name."
        )
    _check_header(path, key, synapse, shape)
    try:
        matrix = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as error:
        raise DataError(
            f"{path} (named by {key}) is not a readable NumPy .npy array "
            f"({error}); save the weights with numpy.save."
        ) from None
    if not np.isfinite(matrix).all():
        raise DataError(
            f"{path} (named by {key}) holds NaN or infinite values; retrain or "
            f"repair the weights."
        )
    return matrix


def _check_header(path: Path, key: str, synapse: str, shape: tuple) -> None:
    """Check dtype and shape from the .npy header, before reading any data,
    so that a wrong file never makes NumPy allocate what its header claims."""
    try:
        with open(path, "rb") as stream:
            version = np.lib.format.read_magic(stream)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            found, _fortran, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise DataError(
            f"{path} (named by {key}) is not a NumPy .npy file ({error}); save "
            f"the weights with numpy.save."
        ) from None
    if dtype.kind != "f":
        raise DataError(
            f"{path} (named by {key}) holds {dtype} values; expected a matrix "
            f"of floats (float32 or float64). Save it with .astype(numpy.float32)."
        )
    if tuple(found) != shape:
        raise DataError(
            f"{path} (named by {key}) has shape {tuple(found)} but synapse group "
            f"{synapse!r} needs {shape} (source size, target size). Use the "
            f"weights of this model, or fix the population sizes."
        )
