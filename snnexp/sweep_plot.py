"""``sweep.png``: accuracy and throughput against the swept parameter(s).

The figure has to be readable without the table: every point carries its
value, failed jobs are marked where they would have been, and the title says
how many jobs completed. The first swept key is the x axis; the other swept
keys split the points into one line each, as long as that stays legible.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

MAX_LINES = 8
MAX_LABELS = 16


def plot_sweep(table: pd.DataFrame, swept: list[str], path: Path) -> None:
    """Draw accuracy [%] and images/s against ``swept[0]`` into ``path``.

    Without swept keys the x axis is the job number.
    """
    table = table.reset_index(drop=True)
    x_key = swept[0] if swept else "job"
    others = [key for key in swept[1:] if key != x_key]
    positions, ticks = _x_positions(table[x_key])
    completed = table["status"] == "completed"

    fig, (acc_ax, speed_ax) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    groups = _groups(table, others)
    for label, rows in groups:
        done = rows[completed[rows.index]]
        order = np.argsort(positions[done.index])
        x = positions[done.index][order]
        style = "-o" if len(groups) > 1 or not others else "o"
        acc_ax.plot(
            x, 100 * done["accuracy"].to_numpy(float)[order], style, label=label
        )
        speed_ax.plot(
            x, done["images_per_s"].to_numpy(float)[order], style, label=label
        )
        if len(table) <= MAX_LABELS:
            _label_points(
                acc_ax, x, 100 * done["accuracy"].to_numpy(float)[order], "{:.2f}%"
            )
            _label_points(
                speed_ax, x, done["images_per_s"].to_numpy(float)[order], "{:,.0f}"
            )
    _mark_failures(acc_ax, positions[~completed.to_numpy()])

    acc_ax.set_ylabel("accuracy [%]")
    speed_ax.set_ylabel("throughput [images/s]")
    speed_ax.set_xlabel(x_key)
    if ticks is not None:
        speed_ax.set_xticks(*ticks)
    for ax in (acc_ax, speed_ax):
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.08, y=0.15)
    if len(groups) > 1:
        acc_ax.legend(title=", ".join(others), fontsize="small")
    acc_ax.set_title(_title(table, completed))

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _x_positions(values: pd.Series) -> tuple[np.ndarray, tuple | None]:
    """Numeric x values where possible (log2 spacing for wide positive
    ranges such as batch sizes), else one position per category."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        x = numeric.to_numpy(float)
        if x.min() > 0 and x.max() / x.min() >= 16:
            distinct = np.unique(x)
            labels = [f"{v:g}" for v in distinct]
            return np.log2(x), (np.log2(distinct), labels)
        distinct = np.unique(x)
        if len(distinct) <= MAX_LABELS:
            return x, (distinct, [f"{v:g}" for v in distinct])
        return x, None
    categories = list(dict.fromkeys(values.astype(str)))
    x = np.array([categories.index(v) for v in values.astype(str)], float)
    return x, (np.arange(len(categories)), categories)


def _groups(table: pd.DataFrame, keys: list[str]) -> list[tuple[str, pd.DataFrame]]:
    if not keys:
        return [("", table)]
    grouped = list(table.groupby(keys, sort=True, dropna=False))
    if len(grouped) > MAX_LINES:
        return [("", table)]
    return [(_group_label(keys, value), rows) for value, rows in grouped]


def _group_label(keys: list[str], value) -> str:
    values = value if isinstance(value, tuple) else (value,)
    return ", ".join(
        f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(keys, values, strict=True)
    )


def _label_points(ax, x: np.ndarray, y: np.ndarray, fmt: str) -> None:
    for xi, yi in zip(x, y, strict=True):
        if np.isfinite(yi):
            ax.annotate(
                fmt.format(yi),
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )


def _mark_failures(ax, x: np.ndarray) -> None:
    if not len(x):
        return
    ax.plot(
        x,
        np.zeros_like(x),
        "x",
        color="tab:red",
        markersize=10,
        mew=2,
        label="failed",
        transform=ax.get_xaxis_transform(),
        clip_on=False,
    )
    for xi in x:
        ax.annotate(
            "failed",
            (xi, 0),
            xycoords=("data", "axes fraction"),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            color="tab:red",
            fontsize=8,
        )


def _title(table: pd.DataFrame, completed: pd.Series) -> str:
    n_images = pd.to_numeric(table.get("n_images"), errors="coerce")
    images = int(n_images[completed].max()) if completed.any() else 0
    title = f"{int(completed.sum())} of {len(table)} jobs completed"
    if images:
        title += f", {images:,} images each"
    return title
