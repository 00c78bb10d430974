"""Atomic tables, signals held over bookkeeping, run directories kept."""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

from snnexp.errors import ConfigError
from snnexp.interrupts import Interrupted, deferred, interruptible
from snnexp.results import write_table
from snnexp.rundir import check_run_dir


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot be written")


def test_a_failed_write_leaves_the_old_table_and_no_temporary_file(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("accuracy\n0.9\n")
    frame = pd.DataFrame({"accuracy": [0.5, Unprintable()]})

    with pytest.raises(RuntimeError, match="cannot be written"):
        write_table(frame, path)

    assert path.read_text() == "accuracy\n0.9\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_written_table_gets_the_permissions_of_a_new_file(tmp_path):
    write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    (tmp_path / "plain.csv").write_text("a\n1\n")

    mode = (tmp_path / "t.csv").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.csv").stat().st_mode & 0o777


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_during_bookkeeping_is_raised_when_it_ends(signum, status):
    steps = []
    with pytest.raises(Interrupted) as caught, interruptible():
        with deferred():
            os.kill(os.getpid(), signum)
            steps.append("after the signal")
        steps.append("after the block")

    assert steps == ["after the signal"]
    assert caught.value.signum == signum
    assert caught.value.exit_status == status
    assert isinstance(caught.value, KeyboardInterrupt)


def test_handlers_are_restored_after_the_run():
    before = signal.getsignal(signal.SIGTERM)
    with interruptible():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_directory_with_results_is_refused(tmp_path):
    check_run_dir(tmp_path)
    (tmp_path / "batches.csv").write_text("batch\n")

    with pytest.raises(ConfigError, match="hydra.run.dir.*batches.csv.*new dir"):
        check_run_dir(tmp_path)
