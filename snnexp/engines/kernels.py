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
def propagate_dense(spikes: np.ndarray, g: np.ndarray, in_syn: np.ndarray) -> None:
    """``in_syn[b] += g[i]`` for every (batch row b, neuron i) that spiked.

    Parameters
    ----------
    spikes
        (rows, pre) bool: the spikes of the source population.
    g
        (pre, post): the weights, shared by every batch row.
    in_syn
        (rows, post): the postsynaptic input of the target, changed in place.
    """
    rows, pre = spikes.shape
    post = g.shape[1]
    spiked = np.empty(pre, np.int64)
    for row in range(rows):
        # Gather the spiking neurons without a branch per neuron: spikes are
        # too irregular for the branch predictor.
        count = 0
        for i in range(pre):
            spiked[count] = i
            count += spikes[row, i]
        target = in_syn[row]
        for k in range(count):
            weights = g[spiked[k]]
            for j in range(post):
                target[j] += weights[j]
