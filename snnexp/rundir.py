"""Run directories: one per run, and never one that already holds results.

Hydra writes its config snapshot into the run directory before the run
starts, so the check runs twice: as a Hydra callback before Hydra touches the
directory, and again when the run starts (a multirun job's directory is only
known then).
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from snnexp.errors import ConfigError, SnnexpError, report

#: Files whose presence marks a directory as holding a run's results.
RESULT_FILES = ("results.csv", "batches.csv", "predictions.csv", "sweep.csv")


def check_run_dir(path: Path, key: str = "hydra.run.dir") -> None:
    """Refuse a directory that already holds the results of a run.

    Raises
    ------
    ConfigError
        If ``path`` holds any of :data:`RESULT_FILES`.
    """
    found = [name for name in RESULT_FILES if (Path(path) / name).exists()]
    if found:
        raise ConfigError(
            key,
            f"{path} already holds the results of a run ({', '.join(found)}) "
            f"and snnexp never overwrites them. Choose a new directory with "
            f"{key}=<new directory>, or move the old one away.",
        )


class RunDirGuard(Callback):
    """Hydra callback that stops a run before Hydra writes into old results."""

    def on_run_start(self, config: DictConfig, **_kwargs) -> None:
        self._check(config, "hydra.run.dir", lambda root: [root])

    def on_multirun_start(self, config: DictConfig, **_kwargs) -> None:
        self._check(
            config,
            "hydra.sweep.dir",
            lambda root: [root, *sorted(p for p in root.glob("*/"))],
        )

    @staticmethod
    def _check(config: DictConfig, key: str, directories) -> None:
        try:
            root = OmegaConf.select(config, key)
        except OmegaConfBaseException:
            return
        if root is None:
            return
        try:
            for directory in directories(Path(str(root))):
                check_run_dir(directory, key)
        except SnnexpError as error:
            report(error)
