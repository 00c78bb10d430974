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
        floats, its shape does not match (source size, target size) or it
        holds NaN or infinite values.
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
        shape = (model.populations[syn.source].size,
                 model.populations[syn.target].size)
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
    try:
        matrix = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(
            f"{path} is not a NumPy .npy array ({error}); save the weights "
            f"with numpy.save."
        ) from None
    if not isinstance(matrix, np.ndarray) or not np.issubdtype(
        matrix.dtype, np.floating
    ):
        raise DataError(
            f"{path} holds {getattr(matrix, 'dtype', type(matrix).__name__)} "
            f"values; expected a float32 or float64 matrix."
        )
    if matrix.shape != shape:
        raise DataError(
            f"{path} has shape {matrix.shape} but synapse group {synapse!r} "
            f"needs {shape} (source size, target size). Use the weights of "
            f"this model, or fix the population sizes."
        )
    if not np.isfinite(matrix).all():
        raise DataError(
            f"{path} holds NaN or infinite values; retrain or repair the weights."
        )
    return matrix
