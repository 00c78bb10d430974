"""The engine's shared compiled helpers against plain Python loops.

Both paths of the NumPy engine propagate spikes and list them with these
helpers, so they are checked here against references written without them:
one addition at a time in the array's precision, in GeNN's order.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnexp.engines.kernels import compact, propagate


def _reference(spikes, g, in_syn, first_row):
    pre = g.shape[0]
    out = in_syn.copy()
    for spike in spikes:
        row, neuron = divmod(int(spike), pre)
        for j in range(g.shape[1]):
            out[first_row + row, j] = out[first_row + row, j] + g[neuron, j]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_propagate_adds_rows_in_order_to_the_last_bit(dtype, density):
    rng = np.random.default_rng(3)
    pre, post, rows = 37, 11, 5
    # Magnitudes 10 decades apart make the result depend on the order of
    # the additions.
    g = (rng.normal(size=(pre, post)) * 10.0 ** rng.integers(-5, 6, post)).astype(dtype)
    in_syn = rng.normal(size=(rows + 2, post)).astype(dtype)
    spikes = np.flatnonzero(rng.random((rows, pre)) < density)
    expected = _reference(spikes, g, in_syn, first_row=2)

    # Spare slots past ``count`` hold indices that must not be read.
    padded = np.concatenate([spikes, np.zeros(8, np.int64)])
    propagate(padded, spikes.size, g, in_syn, 2)
    assert np.array_equal(in_syn.view(np.uint8), expected.view(np.uint8))


def test_propagate_of_no_spikes_changes_nothing():
    g = np.ones((4, 3), np.float32)
    in_syn = np.full((2, 3), 0.5, np.float32)
    propagate(np.arange(8, dtype=np.int64), 0, g, in_syn, 0)
    assert (in_syn == 0.5).all()


@pytest.mark.parametrize("size", [8, 16, 784])
def test_compact_lists_the_flagged_neurons_after_the_earlier_ones(size):
    rng = np.random.default_rng(size)
    flags = (rng.random(size) < 0.1).astype(np.uint8)
    flags[-1] = 1
    out = np.full(5 + size + 1, -1, np.int64)
    out[:5] = [0, 1, 2, 3, 4]
    count = compact(flags.view(np.uint64), flags, 1000, out, 5)
    assert count == 5 + flags.sum()
    assert list(out[5:count]) == list(1000 + np.flatnonzero(flags))
    assert list(out[:5]) == [0, 1, 2, 3, 4]
