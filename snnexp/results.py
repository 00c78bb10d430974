"""Result files of a run: ``results.csv``, ``batches.csv``, ``predictions.csv``.

Whole tables are written atomically (a temporary file, then a rename), so a
reader never sees half a file. ``batches.csv`` grows by one flushed line per
batch, so an interrupted run keeps every batch it finished.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

BATCH_COLUMNS = ["batch", "size", "correct", "sim_time_s"]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as CSV, replacing it atomically."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, "w", newline="") as stream:
            frame.to_csv(stream, index=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, so replaced files get the permissions of new ones
    rather than the owner-only ones of a temporary file."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class BatchLog:
    """``batches.csv``, one line appended and flushed per finished batch."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Held open across batches and closed by close() or the with block.
        self._stream = open(self.path, "x", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._stream)
        self._writer.writerow(BATCH_COLUMNS)
        self._stream.flush()

    def append(self, batch: int, size: int, correct: int, sim_time_s: float) -> None:
        self._writer.writerow([batch, size, correct, f"{sim_time_s:.6f}"])
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> BatchLog:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
