"""The NumPy engine against expectations worked out by hand.

Each test builds a network of one or two integrate-and-fire neurons whose
membrane trajectory can be followed step by step on paper (dt = 1 ms,
threshold 5, reset to 0, no leak). Every test runs twice: on the compiled
kernel and on the NumPy operations.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from snnexp.engines.numpy_engine import NumpyEngine
from snnexp.network import (
    CurrentSource,
    CurrentSourceModel,
    CustomUpdate,
    CustomUpdateModel,
    Network,
    NeuronModel,
    Population,
    SynapseGroup,
    VarRef,
)

IF = NeuronModel(
    "if",
    ("Vthr",),
    {"V": "scalar", "SpikeCount": "unsigned int"},
    sim_code="V += Isyn * dt;",
    threshold_condition_code="V >= Vthr",
    reset_code="V = 0.0;\nSpikeCount++;",
)
CONSTANT = CurrentSourceModel(
    "cs", (), {"magnitude": "scalar"}, "injectCurrent(magnitude);"
)
RESET = CustomUpdateModel(
    "reset",
    (),
    {},
    {"V": "scalar", "SpikeCount": "unsigned int"},
    "V = 0.0;\nSpikeCount = 0;",
)


def _population(name, size=1, threshold=5.0):
    return Population(name, size, IF, {"Vthr": threshold}, {"V": 0.0, "SpikeCount": 0})


def _network(
    weight=None, target_threshold=1e9, size=1, psm="DeltaCurr", psm_params=None
):
    """``pre`` driven by a current source; optionally ``pre -> post``."""
    populations = {"pre": _population("pre", size)}
    synapses, resets = {}, {}
    for name in ["pre", "post"] if weight is not None else ["pre"]:
        ref = {"V": VarRef(name, "V"), "SpikeCount": VarRef(name, "SpikeCount")}
        resets[f"{name}_reset"] = CustomUpdate(
            f"{name}_reset", "Reset", RESET, {}, {}, ref
        )
    if weight is not None:
        populations["post"] = _population("post", size, target_threshold)
        g = np.full((size, size), weight, np.float32)
        synapses["pre_post"] = SynapseGroup(
            "pre_post",
            "pre",
            "post",
            g,
            postsynaptic_model=psm,
            postsynaptic_params=psm_params or {},
        )
    sources = {"drive": CurrentSource("drive", CONSTANT, "pre", {}, {"magnitude": 0.0})}
    return Network("test", populations, synapses, sources, resets)


_JIT = {"jit": True}


@pytest.fixture(autouse=True, params=[True, False], ids=["kernel", "numpy-ops"])
def _path(request):
    """Run the test on the compiled kernel and again on NumPy operations."""
    _JIT["jit"] = request.param
    yield
    _JIT["jit"] = True


def _build(network, batch_size=1, precision="float"):
    sim = NumpyEngine(jit=_JIT["jit"]).build(
        network, batch_size=batch_size, dt=1.0, precision=precision
    )
    assert (sim.kernel is not None) == _JIT["jit"]
    return sim


def _drive(sim, *currents):
    sim.write(VarRef("drive", "magnitude"), np.array(currents, np.float32)[:, None])


def _read(sim, text):
    return sim.read(VarRef.parse(text))[:, 0]


def test_constant_current_spike_times():
    # I = 2: V = 2, 4, 6 -> spike at steps 2, 5, 8; V = 2 after step 9.
    sim = _build(_network())
    _drive(sim, 2.0)
    counts = []
    for _ in range(10):
        sim.run(1)
        counts.append(int(_read(sim, "pre.SpikeCount")[0]))
    assert counts == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    assert _read(sim, "pre.V")[0] == pytest.approx(2.0)


def test_threshold_is_inclusive():
    # I = 2.5 reaches exactly 5.0 on the second step: a spike every 2 steps.
    sim = _build(_network())
    _drive(sim, 2.5)
    sim.run(10)
    assert _read(sim, "pre.SpikeCount")[0] == 5


def test_spike_reaches_the_next_population_one_step_later():
    # pre spikes every step (I = 5); post sums g = 1 per spike, one step late.
    sim = _build(_network(weight=1.0))
    _drive(sim, 5.0)
    posts = []
    for _ in range(4):
        sim.run(1)
        posts.append(float(_read(sim, "post.V")[0]))
    assert _read(sim, "pre.SpikeCount")[0] == 4
    assert posts == [0.0, 1.0, 2.0, 3.0]


def test_delta_current_input_is_consumed_once():
    # One spike of pre (I = 5 for one step) adds g once, not on every step.
    sim = _build(_network(weight=3.0))
    _drive(sim, 5.0)
    sim.run(1)
    _drive(sim, 0.0)
    sim.run(5)
    assert _read(sim, "post.V")[0] == pytest.approx(3.0)


def test_reset_custom_update_keeps_last_step_spikes():
    # GeNN's Reset zeroes V and SpikeCount only: the spike pre emitted in the
    # last step is still delivered after the reset.
    sim = _build(_network(weight=2.0))
    _drive(sim, 5.0)
    sim.run(3)
    sim.custom_update("Reset")
    assert _read(sim, "pre.V")[0] == 0.0
    assert _read(sim, "post.SpikeCount")[0] == 0
    assert _read(sim, "post.V")[0] == 0.0
    _drive(sim, 0.0)
    sim.run(1)
    assert _read(sim, "post.V")[0] == pytest.approx(2.0)


def test_clear_transients_drops_pending_spikes():
    sim = _build(_network(weight=2.0))
    _drive(sim, 5.0)
    sim.run(3)
    sim.custom_update("Reset")
    sim.clear_transients()
    _drive(sim, 0.0)
    sim.run(1)
    assert _read(sim, "post.V")[0] == 0.0


def test_custom_update_touches_only_its_references():
    network = _network(weight=1.0)
    only_pre = {"pre_reset": network.custom_updates["pre_reset"]}
    sim = _build(
        Network(
            "t",
            network.populations,
            network.synapses,
            network.current_sources,
            only_pre,
        )
    )
    _drive(sim, 5.0)
    sim.run(3)
    sim.custom_update("Reset")
    assert _read(sim, "pre.SpikeCount")[0] == 0
    assert _read(sim, "post.V")[0] == pytest.approx(2.0)


def test_batch_rows_have_their_own_state_but_share_weights():
    sim = _build(_network(weight=0.5), batch_size=2)
    _drive(sim, 5.0, 2.5)
    sim.run(4)
    assert list(_read(sim, "pre.SpikeCount")) == [4, 2]
    # Row 0 delivered spikes from steps 0-2, row 1 from step 1: 3 and 1 x 0.5.
    assert list(_read(sim, "post.V")) == pytest.approx([1.5, 0.5])


def test_partial_write_keeps_the_other_rows():
    sim = _build(_network(), batch_size=3)
    _drive(sim, 1.0, 2.0, 3.0)
    sim.write(VarRef("drive", "magnitude"), np.array([[4.0]], np.float32))
    assert list(_read(sim, "drive.magnitude")) == [4.0, 2.0, 3.0]


def test_exponential_current_decays_with_tau():
    # ExpCurr: Isyn = init * inSyn, then inSyn *= exp(-dt / tau).
    tau = 2.0
    sim = _build(_network(weight=1.0, psm="ExpCurr", psm_params={"tau": tau}))
    _drive(sim, 5.0)
    sim.run(1)
    _drive(sim, 0.0)
    sim.run(4)
    decay = np.exp(-1.0 / tau)
    init = tau * (1.0 - decay)
    expected = init * (1 + decay + decay**2 + decay**3)  # steps 1 to 4
    assert _read(sim, "post.V")[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("precision", "dtype"), [("float", np.float32), ("double", np.float64)]
)
def test_precision_sets_state_dtype(precision, dtype):
    sim = _build(_network(), precision=precision)
    assert sim.read(VarRef("pre", "V")).dtype == dtype
    assert sim.read(VarRef("pre", "SpikeCount")).dtype == np.uint32


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only"
)
def test_default_threads_follow_the_cpu_affinity():
    # As under a batch scheduler: the process may use one of the cores.
    code = (
        "import os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from snnexp.engines.numpy_engine import NumpyEngine\n"
        "print(NumpyEngine().threads)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"
