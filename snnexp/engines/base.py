"""The contract between the runner and an engine.

An engine turns a :class:`~snnexp.network.Network` into a running
:class:`Simulation`. The runner only ever writes an input variable, runs a
custom-update group, advances time and reads a variable back; engines know
nothing of datasets or result files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from snnexp.network import Network, VarRef

PRECISIONS = {"float": np.float32, "double": np.float64}


class Simulation(ABC):
    """A built network holding ``batch_size`` independent copies of its state."""

    batch_size: int

    @abstractmethod
    def write(self, ref: VarRef, values: np.ndarray) -> None:
        """Set the first ``len(values)`` batch rows of ``ref``; keep the others.

        ``values`` is (rows, size of the population or current source).
        """

    @abstractmethod
    def read(self, ref: VarRef) -> np.ndarray:
        """A copy of ``ref`` for every batch row: (batch_size, size)."""

    @abstractmethod
    def custom_update(self, group: str) -> None:
        """Run every custom update of ``group`` once."""

    @abstractmethod
    def run(self, timesteps: int) -> None:
        """Advance the simulation by ``timesteps`` steps of ``dt``."""

    def clear_transients(self) -> None:
        """Clear postsynaptic input and last-step spikes (``reset=full``)."""
        raise NotImplementedError(
            f"reset=full is not supported by the {type(self).__name__} engine; "
            f"use reset=genn or engine=numpy."
        )

    def close(self) -> None:  # noqa: B027 - most engines hold nothing to release
        """Release what the simulation holds (threads, a loaded model)."""

    def timings(self) -> dict[str, float]:
        """Engine-measured times in seconds, added as columns of results.csv."""
        return {}


class Engine(ABC):
    name: str

    @abstractmethod
    def build(
        self, network: Network, *, batch_size: int, dt: float, precision: str
    ) -> Simulation:
        """Build ``network`` for ``batch_size`` rows, ``dt`` ms and a precision."""
