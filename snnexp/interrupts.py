"""SIGINT and SIGTERM as one exception, so a run stopped either way keeps
what it finished.

Ctrl-C raises KeyboardInterrupt in Python, but SIGTERM (sent by ``kill``, job
schedulers and container runtimes) ends the process at once by default and
loses the run's last table. Within :func:`interruptible`, both raise
:class:`Interrupted` instead, and the runner writes its results on the way
out. Bookkeeping that must not be cut in half runs under :func:`deferred`: a
signal arriving there is raised as soon as the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_state = {"deferring": 0, "pending": None, "installed": False}


class Interrupted(KeyboardInterrupt):
    """A run stopped by ``signum``; its exit status is the shell's 128 + signum."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _handle(signum: int, _frame) -> None:
    if _state["deferring"]:
        _state["pending"] = _state["pending"] or signum
        return
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted`.

    Signal handlers belong to the main thread; elsewhere the block runs with
    the handlers it has.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, _handle)
    _state["installed"] = True
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state["installed"] = False
        _state["pending"] = None


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then raise the first.

    Raises
    ------
    Interrupted
        When the block ends, for a signal that arrived during it.
    """
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    pending = _state["pending"]
    if pending is not None and not _state["deferring"] and _state["installed"]:
        _state["pending"] = None
        raise Interrupted(pending)
