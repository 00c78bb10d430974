"""Benchmark the NumPy engine on the reference experiment.

Runs GeNN's batched MNIST tutorial network on the 10,000 test images:

* over batch sizes, several repeats each, printing the minimum and median
  simulation time, images per second and peak memory;
* over ``present_timesteps`` and the number of images, to show how the cost
  grows;
* beside a naive reference written here (a plain NumPy loop: spikes times
  weights by matrix product, boolean reset) at the same batch sizes, printing
  the ratio of the two;
* beside the engine's own NumPy operations (``engine.jit=false``), whose
  predictions the compiled kernel must reproduce image by image;
* end to end through ``python -m snnexp``, for the framework's own overhead:
  on the first run after installing (Numba compiles everything), on the
  first run of a network (Numba compiles its kernel) and on later runs.

Each measurement runs in a fresh process so that its peak memory is its own.
Figures go to a CSV (``--out``) and a short table on stdout::

    python benchmarks/engine.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _load(data: Path, limit: int):
    from snnexp.data import load_dataset
    from snnexp.schema import DataConfig, DataFileConfig, SplitFilesConfig

    files = SplitFilesConfig(
        DataFileConfig("t10k-images-idx3-ubyte.gz"),
        DataFileConfig("t10k-labels-idx1-ubyte.gz"),
    )
    cfg = DataConfig(
        name="mnist",
        root=str(data / "mnist"),
        limit=limit,
        download=False,
        files={"test": files},
    )
    dataset = load_dataset(cfg)
    weights = data / "weights" / "mnist-784-128-10"
    return (
        dataset,
        np.load(weights / "weights_0_1.npy"),
        np.load(weights / "weights_1_2.npy"),
    )


def naive(images, w01, w12, batch_size: int, timesteps: int):
    """The tutorial network as a plain NumPy loop; returns its classifier."""
    return lambda: _naive(images, w01, w12, batch_size, timesteps)


def _naive(images, w01, w12, batch_size: int, timesteps: int):
    f32 = np.float32
    weights = [w01.astype(f32), w12.astype(f32)]
    sizes = [784, 128, 10]
    v = [np.zeros((batch_size, n), f32) for n in sizes]
    count = [np.zeros((batch_size, n), np.uint32) for n in sizes]
    spikes = [np.zeros((batch_size, n), bool) for n in sizes]
    current = np.zeros((batch_size, 784), f32)
    predictions = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        current[: len(batch)] = batch * f32(0.01)
        for k in range(3):
            v[k][:] = 0
            count[k][:] = 0
        for _ in range(timesteps):
            synaptic = [spikes[k].astype(f32) @ weights[k] for k in range(2)]
            for k, isyn in enumerate([current, *synaptic]):
                v[k] += isyn
                spikes[k] = v[k] >= f32(5.0)
                v[k][spikes[k]] = 0
                count[k][spikes[k]] += 1
        predictions.append(np.argmax(count[2][: len(batch)], axis=1))
    return np.concatenate(predictions)


def snnexp_engine(images, w01, w12, batch_size: int, timesteps: int, jit=True):
    """The reference experiment through snnexp's config, spec and engine.

    Returns a function that classifies the images, so that only the
    simulation is timed, as in ``sim_time_s``.
    """
    from hydra import compose, initialize_config_dir

    from snnexp.engines import get_engine
    from snnexp.network import VarRef
    from snnexp.spec import build_network, load_experiment

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config",
            [
                f"batch_size={batch_size}",
                f"present_timesteps={timesteps}",
                f"engine.jit={str(jit).lower()}",
                "weights.dir=unused",
            ],
        )
    spec = load_experiment(cfg)
    network = build_network(spec.model, {"input_hidden": w01, "hidden_output": w12})
    sim = get_engine("numpy", config=spec.engine).build(
        network, batch_size=batch_size, dt=spec.dt, precision=spec.precision
    )
    source, readout = VarRef.parse(spec.model.input), VarRef.parse(spec.model.readout)
    scale = np.float32(spec.input_scale)

    def classify():
        predictions = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            sim.write(source, batch * scale)
            sim.custom_update(spec.model.reset_group)
            sim.run(timesteps)
            predictions.append(np.argmax(sim.read(readout)[: len(batch)], axis=1))
        return np.concatenate(predictions)

    return classify


def measure(args) -> dict:
    """One measurement in this process: repeats of one implementation."""
    dataset, w01, w12 = _load(Path(args.data), args.images)
    build = {
        "naive": naive,
        "snnexp": snnexp_engine,
        "numpy-ops": lambda *a: snnexp_engine(*a, jit=False),
    }[args.implementation]
    times, predictions = [], None
    for _ in range(args.repeats):
        # A fresh network each time: state left by the last image of one
        # repeat would otherwise leak into the first image of the next.
        classify = build(dataset.images, w01, w12, args.batch_size, args.timesteps)
        began = time.perf_counter()
        predictions = classify()
        times.append(time.perf_counter() - began)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "implementation": args.implementation,
        "batch_size": args.batch_size,
        "timesteps": args.timesteps,
        "images": len(dataset),
        "min_s": min(times),
        "median_s": float(np.median(times)),
        "images_per_s": len(dataset) / min(times),
        "peak_mb": peak_mb,
        "accuracy": float(np.mean(predictions == dataset.labels)),
        "predictions_md5": hashlib.md5(
            predictions.astype(np.int64).tobytes()
        ).hexdigest(),
    }


def _in_subprocess(data, implementation, batch_size, timesteps, images, repeats):
    command = [
        sys.executable,
        __file__,
        "--data",
        str(data),
        "--measure",
        implementation,
        "--batch-size",
        str(batch_size),
        "--timesteps",
        str(timesteps),
        "--images",
        str(images),
        "--repeats",
        str(repeats),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def end_to_end(
    data: Path, batch_size: int, kernels: Path, numba_cache: Path | None = None
) -> dict:
    """``python -m snnexp`` once, keeping compiled kernels in ``kernels``
    (and all of Numba's compiled code in ``numba_cache``, where given);
    overhead is total minus simulation time."""
    data = data.resolve()
    env = dict(os.environ)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "snnexp",
                f"batch_size={batch_size}",
                f"data.root={data / 'mnist'}",
                "data.download=false",
                "weights=pretrained",
                f"weights.dir={data / 'weights' / 'mnist-784-128-10'}",
                f"engine.cache_dir={kernels}",
                f"hydra.run.dir={tmp}/run",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        if done.returncode != 0:
            raise SystemExit(f"python -m snnexp failed:\n{done.stderr}")
        row = pd.read_csv(Path(tmp) / "run" / "results.csv").iloc[0]
    return {
        "batch_size": batch_size,
        "sim_time_s": row.sim_time_s,
        "total_time_s": row.total_time_s,
        "build_time_s": row.build_time_s,
        "overhead_s": row.total_time_s - row.sim_time_s,
        "accuracy": row.accuracy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("benchmark-engine.csv"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,32,128,512,1000,10000")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer images and repeats, for a smoke test",
    )
    parser.add_argument("--measure", choices=["naive", "snnexp", "numpy-ops"])
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--timesteps", type=int, default=100)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()

    if args.measure:
        args.implementation = args.measure
        print(json.dumps(measure(args)))
        return

    images = 1000 if args.quick else 10_000
    repeats = 1 if args.quick else args.repeats
    rows = []
    for batch_size in map(int, args.batch_sizes.split(",")):
        for implementation in ("snnexp", "numpy-ops", "naive"):
            # The slow ones at batch size 1, and the NumPy operations (there
            # for their predictions), run once.
            slow = batch_size == 1 and implementation != "snnexp"
            n = 1 if slow or implementation == "numpy-ops" else repeats
            row = _in_subprocess(args.data, implementation, batch_size, 100, images, n)
            rows.append({"sweep": "batch_size", **row})
            print(_line(row), flush=True)
    ours = [r for r in rows if r["implementation"] == "snnexp"]
    best = min(ours, key=lambda r: r["min_s"])["batch_size"]
    # The sweeps run at the best batch size that fits the smallest image
    # count of the sweep: a larger batch would simulate empty rows.
    fits = [r for r in ours if r["batch_size"] <= images // 4]
    sweep_batch = min(fits or ours, key=lambda r: r["min_s"])["batch_size"]
    for timesteps in (25, 50, 100, 200):
        row = _in_subprocess(
            args.data, "snnexp", sweep_batch, timesteps, images, repeats
        )
        rows.append({"sweep": "timesteps", **row})
        print(_line(row), flush=True)
    for count in (images // 4, images // 2, images):
        row = _in_subprocess(args.data, "snnexp", sweep_batch, 100, count, repeats)
        rows.append({"sweep": "images", **row})
        print(_line(row), flush=True)

    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = {
            # Numba's cache redirected to an empty folder: nothing compiled,
            # as on the first run after installing.
            "first run after installing": end_to_end(
                args.data, best, tmp / "fresh", numba_cache=tmp / "numba"
            ),
            # The engine's shared helpers are compiled; the network is not.
            "first run of this network": end_to_end(args.data, best, tmp / "new"),
            "later runs": end_to_end(args.data, best, tmp / "new"),
        }
    _summary(table, best, runs)


def _line(row: dict) -> str:
    return (
        f"{row['implementation']:>7} batch {row['batch_size']:>5} "
        f"steps {row['timesteps']:>3} images {row['images']:>5}: "
        f"min {row['min_s']:7.3f} s, median {row['median_s']:7.3f} s, "
        f"{row['images_per_s']:9.0f} img/s, peak {row['peak_mb']:6.0f} MB, "
        f"accuracy {row['accuracy']:.4f}"
    )


def _summary(table: pd.DataFrame, best: int, runs: dict[str, dict]) -> None:
    sweep = table[table.sweep == "batch_size"].set_index("batch_size")
    ours = sweep[sweep.implementation == "snnexp"]
    by = sweep.pivot(columns="implementation", values="min_s")
    summary = pd.DataFrame(
        {
            "snnexp min [s]": ours.min_s,
            "median [s]": ours.median_s,
            "images/s": ours.images_per_s.round().astype(int),
            "peak [MB]": ours.peak_mb.round().astype(int),
            "jit=false [s]": by["numpy-ops"],
            "naive [s]": by["naive"],
            "naive/snnexp": by["naive"] / ours.min_s,
            "same predictions": sweep.groupby(level=0).predictions_md5.nunique() == 1,
        }
    )
    print(f"\nThe {int(ours.images.iloc[0])} test images, by batch size")
    print(summary.to_string(float_format=lambda x: f"{x:.3f}"))

    # Linear growth shows as a constant cost per timestep and per image.
    for unit, per, scale in (("timesteps", "ms", 1e3), ("images", "us", 1e6)):
        part = table[table.sweep == unit].set_index(unit)
        cost = part.min_s / part.index * scale
        print(f"\nBy {unit}, batch size {part.batch_size.iloc[0]}")
        columns = {"min [s]": part.min_s, f"{per} per {unit[:-1]}": cost}
        print(pd.DataFrame(columns).to_string(float_format=lambda x: f"{x:.3f}"))

    print(f"\nEnd to end with python -m snnexp at the best batch size, {best}")
    e2e = pd.DataFrame(runs).T[
        ["build_time_s", "sim_time_s", "total_time_s", "overhead_s", "accuracy"]
    ]
    print(e2e.to_string(float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
