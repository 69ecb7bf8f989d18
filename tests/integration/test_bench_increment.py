"""The benchmarks' daily increment (benchmarks/scoring_incremental.py write_increment): which records a
day re-sends is decided by their ids and the day, so the daily sweep's days are comparable — the same
day takes the same records, a smaller percent's records are part of a larger one's."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.fixtures import benchmark_script, land_folder, write_feed_file

DAY = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def write_increment():  # noqa: ANN201 (a function of the benchmark script)
    with benchmark_script("scoring_incremental") as module:
        yield module.write_increment


@pytest.fixture
def landed(fresh_database, tmp_path):
    feed = tmp_path / "feed"
    feed.mkdir()
    write_feed_file(
        feed / "web__interactions.csv",
        "interactions",
        [
            {
                "source_system": "web",
                "source_interaction_id": f"i{n}",
                "occurred_at": "2026-10-01T10:00:00Z",
                "interaction_type": "web_visit",
                "cookie_id": f"c{n % 50}",
            }
            for n in range(4000)
        ],
    )
    land_folder(fresh_database, feed)
    return fresh_database


def ids(folder: Path) -> list[str]:
    with open(folder / "web__interactions.csv", newline="") as handle:
        return [row["source_interaction_id"] for row in csv.DictReader(handle)]


def test_a_day_takes_the_same_records_each_time_and_a_larger_percent_takes_more(landed, write_increment, tmp_path):
    with psycopg.connect(landed.url()) as conn:
        tenth = write_increment(conn, tmp_path / "a", DAY, 10)
        write_increment(conn, tmp_path / "b", DAY, 10)
        four_tenths = write_increment(conn, tmp_path / "c", DAY, 40)
        none = write_increment(conn, tmp_path / "d", DAY, 0)
        next_day = write_increment(conn, tmp_path / "e", DAY.replace(day=4), 10)

    assert 250 < tenth["web__interactions.csv"] < 550  # about 400 of 4,000
    assert 1350 < four_tenths["web__interactions.csv"] < 1850  # about 1,600
    assert ids(tmp_path / "a") == ids(tmp_path / "b")
    assert set(ids(tmp_path / "a")) < set(ids(tmp_path / "c"))
    assert none["web__interactions.csv"] == 0
    assert 250 < next_day["web__interactions.csv"] < 550
    assert len(set(ids(tmp_path / "a")) & set(ids(tmp_path / "e"))) < 100  # another day, other records (~40 alike)
    same_day = [(tmp_path / folder / "web__interactions.csv").read_bytes() for folder in ("a", "b")]
    assert same_day[0] == same_day[1]  # the same rows, times included
    with open(tmp_path / "a" / "web__interactions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(row["source_interaction_id"].startswith("D-i") for row in rows)
    assert all(row["occurred_at"].startswith(("2026-11-02", "2026-11-03")) for row in rows)
