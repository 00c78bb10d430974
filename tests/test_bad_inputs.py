"""Bad input of every kind, end to end through ``python -m snnexp``.

Each case starts the real command line on the tiny dataset with one thing
wrong (a config value, model code, a weight file or a data file) and checks
that it ends with a non-zero exit status, one message that names the key or
file and says how to fix it, no traceback, and no result files.

Starting Python and Hydra takes about a second, so the cases that go through
the command line run once, side by side, in a module-scoped fixture, and each
test then checks its own case. Cases that repeat a kind of mistake already
covered there run in-process through the same validation and runner.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from snnexp.errors import SnnexpError
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment

from .conftest import ROOT, make_tiny_data

SIM_CODE = "model.neuron_models.if.sim_code"
W01 = "model.synapses.input_hidden.weight_update.weights"
IMAGES = "data.files.test.images"


@dataclass(frozen=True)
class Case:
    """One bad input: overrides, an optional file to spoil, what must be said.

    ``spoil`` gets a copy of the tiny data and returns further overrides.
    """

    overrides: tuple[str, ...]
    says: tuple[str, ...]
    spoil: Callable[[dict, Path], list[str]] | None = None
    status: int = 2
    env: dict = field(default_factory=dict)


def _weights(make: Callable[[Path], None]):
    """A spoiler that replaces weights_0_1.npy by what ``make`` writes."""

    def spoil(tiny: dict, case_dir: Path) -> list[str]:
        weights = case_dir / "weights"
        shutil.copytree(tiny["weights"], weights)
        target = weights / "weights_0_1.npy"
        target.unlink()
        make(target)
        return [f"weights.dir={weights}"]

    return spoil


def _data(images: bytes | None = None, labels: bytes | None = None):
    """A spoiler that replaces the tiny IDX images and/or labels."""

    def spoil(tiny: dict, case_dir: Path) -> list[str]:
        root = case_dir / "idx"
        shutil.copytree(tiny["root"], root)
        if images is not None:
            (root / "t10k-images-idx3-ubyte.gz").unlink()
            (root / "t10k-images-idx3-ubyte").write_bytes(images)
        if labels is not None:
            (root / "t10k-labels-idx1-ubyte").write_bytes(labels)
        return [f"data.root={root}"]

    return spoil


def _used_run_dir(tiny: dict, case_dir: Path) -> list[str]:
    run_dir = case_dir / "earlier"
    run_dir.mkdir()
    (run_dir / "results.csv").write_text("accuracy\n0.97\n")
    return [f"hydra.run.dir={run_dir}"]


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


GOOD_IMAGES = np.zeros((10, 4, 4), np.uint8)
GOOD_LABELS = np.zeros(10, np.uint8)
GOOD_W = np.zeros((16, 8), np.float32)
NESTED = "V = " + "(" * 100 + "1" + ")" * 100 + ";"

CASES: dict[str, Case] = {
    # run settings
    "batch_size zero": Case(("batch_size=0",), ("batch_size", "got 0", ">= 1")),
    "batch_size text": Case(("batch_size=abc",), ("batch_size", "abc", "Fix")),
    "batch_size beyond GeNN": Case(
        ("batch_size=99999999999",), ("batch_size", "<= 4294967295")
    ),
    "batch_size beyond memory": Case(
        ("batch_size=4294967295",), ("batch_size", "GiB", "lower batch_size")
    ),
    "dt negative": Case(("dt=-1",), ("dt", "got -1.0", "> 0 ms")),
    "dt nan": Case(("dt=nan",), ("dt", "got nan", "> 0 ms")),
    "present_timesteps zero": Case(
        ("present_timesteps=0",), ("present_timesteps", ">= 1")
    ),
    "precision unknown": Case(
        ("precision=half",), ("precision", "'half'", "float, double", "precision=float")
    ),
    "reset unknown": Case(("reset=none",), ("reset", "'none'", "reset=genn")),
    "engine name unknown": Case(
        ("engine.name=gpu",), ("engine.name", "'gpu'", "engine=numpy")
    ),
    "input_scale infinite": Case(("input_scale=inf",), ("input_scale", "inf")),
    "data.limit zero": Case(("data.limit=0",), ("data.limit", ">= 1")),
    "data.split unknown": Case(
        ("data.split=validation",), ("data.split", "'validation'", "test, train")
    ),
    "weights.dir missing": Case(
        ("weights.dir=/nonexistent/weights",),
        ("weights.dir", "/nonexistent/weights", "Set weights.dir"),
    ),
    "run dir holds results": Case(
        (), ("hydra.run.dir", "already holds", "new directory"), spoil=_used_run_dir
    ),
    # model structure and references
    "population size negative": Case(
        ("model.populations.hidden.size=-3",), ("model.populations.hidden.size", ">= 1")
    ),
    "neuron model misspelt": Case(
        ("model.populations.hidden.model=lif",),
        ("model.populations.hidden.model", "'lif'", "did you mean 'if'"),
    ),
    "synapse source unknown": Case(
        ("model.synapses.input_hidden.source=nowhere",),
        ("model.synapses.input_hidden.source", "'nowhere'", "input, hidden, output"),
    ),
    "synapse target misspelt": Case(
        ("model.synapses.input_hidden.target=hiden",),
        ("model.synapses.input_hidden.target", "did you mean 'hidden'"),
    ),
    "readout var misspelt": Case(
        ("model.readout=output.Vm",), ("model.readout", "'Vm'", "did you mean 'V'")
    ),
    "input without var": Case(
        ("model.input=nothing",), ("model.input", "'nothing'", "<name>.<var>")
    ),
    "reset group unknown": Case(
        ("model.reset_group=Bogus",), ("model.reset_group", "'Bogus'", "Reset")
    ),
    "var ref to unknown var": Case(
        ("model.custom_updates.input_reset.var_refs.V=input.Q",),
        ("model.custom_updates.input_reset.var_refs.V", "'Q'", "V, SpikeCount"),
    ),
    "param infinite": Case(
        ("model.populations.hidden.params.Vthr=inf",),
        ("model.populations.hidden.params.Vthr", "finite"),
    ),
    "param undeclared": Case(
        ("+model.populations.hidden.params.tau=3",),
        ("model.populations.hidden.params.tau", "no param 'tau'", "Vthr"),
    ),
    "param without value": Case(
        ("model.synapses.input_hidden.postsynaptic.model=ExpCurr",),
        ("model.synapses.input_hidden.postsynaptic.params.tau", "Add `tau:"),
    ),
    "unsigned var negative": Case(
        ("model.populations.input.vars.SpikeCount=-1",),
        ("model.populations.input.vars.SpikeCount", "unsigned int", "0 to"),
    ),
    "var type unknown": Case(
        ("model.neuron_models.if.vars.V=strng",),
        ("model.neuron_models.if.vars.V", "'strng'", "scalar"),
    ),
    "param hides built-in": Case(
        ("model.neuron_models.if.params=[Vthr,dt]",),
        ("model.neuron_models.if.params", "'dt'", "rename"),
    ),
    "input smaller than image": Case(
        ("model.populations.input.size=15",), ("model.input", "15", "16 pixels")
    ),
    "readout smaller than labels": Case(
        ("model.populations.output.size=2",), ("model.readout", "one neuron per class")
    ),
    # model code
    "undeclared identifier": Case(
        (f"{SIM_CODE}='V += Isyn * dt + foo;'",),
        (SIM_CODE, "unknown identifier 'foo'", "Declare it"),
    ),
    "python statement": Case(
        (f"{SIM_CODE}='import os'",), (SIM_CODE, "syntax error", "not Python")
    ),
    "dunder import": Case(
        (f'{SIM_CODE}=\'__import__("os").system("true");\'',),
        (SIM_CODE, "not supported"),
    ),
    "undeclared function": Case(
        (f"{SIM_CODE}='exec(\"x\");'",), (SIM_CODE, "unknown function 'exec'")
    ),
    "preprocessor line": Case(
        (f"{SIM_CODE}='#include <stdio.h>'",), (SIM_CODE, "preprocessor", "remove it")
    ),
    "unbalanced brace": Case(
        (f"{SIM_CODE}='{{ V = 1;'",), (SIM_CODE, "never closed", "'}'")
    ),
    "loop": Case(
        (f"{SIM_CODE}='while (V > 0) {{ V -= 1; }}'",),
        (SIM_CODE, "while loop", "GeNN engine"),
    ),
    "deeply nested": Case((f"{SIM_CODE}='{NESTED}'",), (SIM_CODE, "nest", "flatten")),
    "very long": Case((f"{SIM_CODE}='{'V += 1.0; ' * 1500}'",), (SIM_CODE, "long")),
    "empty condition": Case(
        ("model.neuron_models.if.threshold_condition_code=''",),
        ("threshold_condition_code", "empty", "V >= Vthr"),
    ),
    "assigns a param": Case(
        (f"{SIM_CODE}='Vthr = 1;'",), (SIM_CODE, "'Vthr' is read-only")
    ),
    # weight files
    "weights wrong shape": Case(
        (),
        (W01, "(8, 16)", "needs (16, 8)"),
        spoil=_weights(lambda p: np.save(p, GOOD_W.T)),
    ),
    "weights integers": Case(
        (),
        (W01, "int32", "float32"),
        spoil=_weights(lambda p: np.save(p, GOOD_W.astype(np.int32))),
    ),
    "weights nan": Case(
        (),
        (W01, "NaN", "repair"),
        spoil=_weights(lambda p: np.save(p, np.full_like(GOOD_W, np.nan))),
    ),
    "weights not npy": Case(
        (),
        (W01, "not a NumPy .npy file", "numpy.save"),
        spoil=_weights(lambda p: p.write_text("0.1, 0.2\n")),
    ),
    "weights truncated": Case(
        (),
        (W01, "numpy.save"),
        spoil=_weights(lambda p: p.write_bytes(_npy_bytes(GOOD_W)[:-7])),
    ),
    "weights file missing": Case(
        (), (W01, "no such weight file", "weights.dir"), spoil=_weights(lambda p: None)
    ),
    # data files
    "data not idx": Case(
        (), (IMAGES, "no IDX header"), spoil=_data(images=b"P5 4 4 255\n")
    ),
    "data truncated": Case(
        (),
        (IMAGES, "wrong number of items"),
        spoil=_data(images=_idx(GOOD_IMAGES)[:-9]),
    ),
    "data images are labels": Case(
        (),
        (IMAGES, "shape (10,)", "2 or more dimensions"),
        spoil=_data(images=_idx(GOOD_LABELS)),
    ),
    "data counts disagree": Case(
        (),
        ("data.files.test", "10 images", "9 labels"),
        spoil=_data(labels=_idx(GOOD_LABELS[:9])),
    ),
    "data not bytes": Case(
        (),
        (IMAGES, "int32", "8-bit"),
        spoil=_data(images=_idx(GOOD_IMAGES.astype(">i4"), 0x0C)),
    ),
    "data labels as floats": Case(
        (),
        ("data.files.test.labels", "float32", "whole class numbers"),
        spoil=_data(labels=_idx(GOOD_LABELS.astype(">f4"), 0x0D)),
    ),
    "data label beyond readout": Case(
        (),
        ("model.readout", "labels go up to 7"),
        spoil=_data(labels=_idx(np.full(10, 7, np.uint8))),
    ),
    "data missing": Case(
        ("data.root=/nonexistent/mnist",),
        ("t10k-images-idx3-ubyte", "downloads are off", "data.root="),
    ),
}

#: Hydra's own errors for overrides it cannot apply: exit status 1.
HYDRA_CASES: dict[str, Case] = {
    "unknown config group option": Case(
        ("engine=gpu",), ("Could not find 'engine/gpu'", "numpy"), status=1
    ),
    "malformed override": Case(
        ("batch_size=[1,2",), ("'[1,2'", "override_grammar"), status=1
    ),
    "unknown key": Case(("bath_size=3",), ("bath_size", "not in struct"), status=1),
}


#: Cases checked in-process: each repeats a kind of mistake that a case run
#: through the command line already covers.
IN_PROCESS = {
    "batch_size beyond GeNN",
    "dt negative",
    "present_timesteps zero",
    "reset unknown",
    "input_scale infinite",
    "data.limit zero",
    "population size negative",
    "synapse target misspelt",
    "input without var",
    "reset group unknown",
    "param infinite",
    "param without value",
    "param hides built-in",
    "readout smaller than labels",
    "empty condition",
    "assigns a param",
    "weights truncated",
    "data images are labels",
    "data not bytes",
    "data missing",
    "data labels as floats",
}
END_TO_END = [name for name in CASES if name not in IN_PROCESS]


def _npy_bytes(array: np.ndarray) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _run_case(tiny: dict, base: Path, name: str, case: Case):
    case_dir = base / name.replace(" ", "_")
    case_dir.mkdir()
    overrides = list(tiny["overrides"]) + list(case.overrides)
    if case.spoil is not None:
        overrides += case.spoil(tiny, case_dir)
    if not any(o.startswith("hydra.run.dir=") for o in overrides):
        overrides.append(f"hydra.run.dir={case_dir / 'run'}")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **case.env}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run(
        [sys.executable, "-m", "snnexp", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, case_dir


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    """Every case run once through ``python -m snnexp``, a few at a time."""
    base = tmp_path_factory.mktemp("bad_inputs")
    tiny = make_tiny_data(base)
    every = {**{name: CASES[name] for name in END_TO_END}, **HYDRA_CASES}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(_run_case, tiny, base, name, case)
            for name, case in every.items()
        }
        return {name: future.result() for name, future in futures.items()}


def test_at_least_thirty_distinct_bad_inputs_go_through_the_command_line():
    assert len(END_TO_END) >= 30
    assert set(CASES) >= IN_PROCESS
    distinct = {CASES[name].overrides + (CASES[name].spoil,) for name in END_TO_END}
    assert len(distinct) == len(END_TO_END)


@pytest.mark.parametrize("name", END_TO_END)
def test_bad_input_gives_one_clear_message(outcomes, name):
    done, case_dir = outcomes[name]
    case = CASES[name]

    assert done.returncode == case.status, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("snnexp: error: ")
    for fragment in case.says:
        assert fragment in errors[0]
    assert not list(case_dir.rglob("predictions.csv"))
    assert not list(case_dir.rglob("batches.csv"))


@pytest.mark.parametrize("name", sorted(IN_PROCESS))
def test_bad_input_is_refused_before_anything_is_built(
    tmp_path, tiny_data, compose_config, name
):
    case = CASES[name]
    overrides = list(tiny_data["overrides"]) + list(case.overrides)
    if case.spoil is not None:
        spoilt = tmp_path / "spoilt"
        spoilt.mkdir()
        overrides += case.spoil(tiny_data, spoilt)
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    with pytest.raises((SnnexpError, NotImplementedError)) as caught:
        run_experiment(load_experiment(compose_config(*overrides)), run_dir)

    for fragment in case.says:
        assert fragment in str(caught.value)
    assert list(run_dir.iterdir()) == []


@pytest.mark.parametrize("name", list(HYDRA_CASES))
def test_bad_override_gets_hydras_message_without_traceback(outcomes, name):
    done, _case_dir = outcomes[name]

    assert done.returncode == HYDRA_CASES[name].status
    assert "Traceback" not in done.stderr
    for fragment in HYDRA_CASES[name].says:
        assert fragment in done.stderr


def test_existing_results_are_left_alone(outcomes):
    _done, case_dir = outcomes["run dir holds results"]
    earlier = case_dir / "earlier"

    assert (earlier / "results.csv").read_text() == "accuracy\n0.97\n"
    assert not (earlier / ".hydra").exists()


def test_full_error_shows_the_traceback(tmp_path, tiny_data):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snnexp",
            *tiny_data["overrides"],
            "batch_size=0",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "ConfigError: batch_size: got 0" in done.stderr


def test_gzip_images_that_are_not_gzip_are_reported(tmp_path, tiny_data):
    images = tiny_data["root"] / "t10k-images-idx3-ubyte.gz"
    whole = gzip.compress(_idx(tiny_data["images"]))
    images.write_bytes(whole[: len(whole) // 2])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snnexp",
            *tiny_data["overrides"],
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert IMAGES in done.stderr
