"""Exceptions that carry a message meant for the user, not a traceback."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

#: Exit status of a run stopped by bad input.
BAD_INPUT_STATUS = 2


class SnnexpError(Exception):
    """Base class of every error caused by the user's input, not by a bug.

    The command line prints its message alone on stderr and exits non-zero;
    ``HYDRA_FULL_ERROR=1`` adds the traceback.
    """


class ConfigError(SnnexpError, ValueError):
    """A config value that cannot be used.

    Parameters
    ----------
    key
        The dotted config key, e.g. ``model.populations.hidden.size``.
    message
        What is wrong with the value, what was expected and how to fix it.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class DataError(SnnexpError, ValueError):
    """A dataset or weight file that is missing, unreadable or malformed."""


def report(error: BaseException) -> NoReturn:
    """Print ``error`` as one line on stderr and exit with status 2.

    ``HYDRA_FULL_ERROR=1`` re-raises it instead, traceback included.

    Raises
    ------
    SystemExit
        Always, unless ``HYDRA_FULL_ERROR=1`` re-raises ``error``.
    """
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    message = " ".join(str(error).split("\n"))
    print(f"snnexp: error: {message}", file=sys.stderr)
    raise SystemExit(BAD_INPUT_STATUS) from None
