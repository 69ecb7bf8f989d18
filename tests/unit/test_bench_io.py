"""The benchmarks' block I/O between two readings of a database's counters (benchmarks/common.py
io_between): what a run read from outside PostgreSQL's buffers, and how long queries waited."""

from __future__ import annotations

import pytest

from tests.fixtures import benchmark_script


@pytest.fixture(scope="module")
def common():  # noqa: ANN201 (the benchmark helpers as a module)
    with benchmark_script("common") as module:
        yield module


BEFORE = {
    "blks_read": 1_000.0,
    "blks_hit": 9_000.0,
    "blk_read_time": 500.0,
    "blk_write_time": 20.0,
    "temp_files": 1.0,
    "temp_bytes": 1e9,
}
AFTER = {
    "blks_read": 251_000.0,
    "blks_hit": 759_000.0,
    "blk_read_time": 27_600.0,
    "blk_write_time": 1_520.0,
    "temp_files": 4.0,
    "temp_bytes": 3.5e9,
}


def test_the_io_of_a_run_is_what_the_counters_moved_between_its_start_and_end(common):
    io = common.io_between(BEFORE, AFTER, timed=True)

    assert io == {
        "blocks_read": 250_000,
        "gb_read": 2.05,  # 8 KiB blocks
        "blocks_hit": 750_000,
        "hit_share": 0.75,
        "read_wait_seconds": 27.1,
        "write_wait_seconds": 1.5,
        "temp_files": 3,
        "temp_gb": 2.5,
    }


def test_without_io_timing_the_waits_are_unknown_rather_than_zero(common):
    io = common.io_between(BEFORE, AFTER, timed=False)

    assert io["read_wait_seconds"] is None and io["write_wait_seconds"] is None
    assert io["blocks_read"] == 250_000  # the block counts do not need the timing


def test_a_database_created_during_the_run_counts_from_zero(common):
    io = common.io_between({}, AFTER, timed=True)

    assert io["blocks_read"] == 251_000 and io["temp_files"] == 4


def test_a_run_that_touched_no_block_has_no_hit_share(common):
    io = common.io_between(BEFORE, BEFORE, timed=True)

    assert io["hit_share"] is None and io["blocks_read"] == 0 and io["read_wait_seconds"] == 0.0
