"""Compiled kernels of the NumPy engine, for work that NumPy cannot vectorise.

Spike propagation through a DENSE StaticPulse synapse group is event-driven
in GeNN: each presynaptic neuron that spiked adds its row of ``g`` to
``inSyn``. Spikes are sparse (a few percent of neurons per step), so a dense
matrix product wastes most of its work, and the order of the additions
matters to the last bit: GeNN's CPU backend adds the rows of the spiking
neurons in ascending order, one float addition at a time, and so does this
kernel. It is compiled by Numba once and cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def propagate_spikes(spiked: np.ndarray, g: np.ndarray, in_syn: np.ndarray) -> None:
    """``in_syn[row] += g[neuron]`` for every spike, in ascending order.

    Parameters
    ----------
    spiked
        Flat indices ``row * pre + neuron`` of the source population's spikes
        (pre neurons per row), ascending.
    g
        (pre, post): the weights, shared by every batch row.
    in_syn
        (rows, post): the postsynaptic input of the target, changed in place.
    """
    pre, post = g.shape
    row, row_end = 0, pre
    for k in range(spiked.size):
        # Indices ascend, so the row only moves forward: no division needed.
        while spiked[k] >= row_end:
            row += 1
            row_end += pre
        weights = g[spiked[k] - row_end + pre]
        target = in_syn[row]
        for j in range(post):
            target[j] += weights[j]
