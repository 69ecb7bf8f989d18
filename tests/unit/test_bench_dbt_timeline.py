"""The pipeline benchmark's reading of dbt's log: each node's build interval, and how long dbt
built one node at a time (benchmarks/pipeline.py)."""

from __future__ import annotations

import pytest

from tests.fixtures import benchmark_script


@pytest.fixture(scope="module")
def pipeline():  # noqa: ANN201 (the benchmark script as a module)
    with benchmark_script("pipeline") as module:
        yield module


def test_node_builds_are_read_from_dbts_done_lines_across_midnight(pipeline, tmp_path):
    log = tmp_path / "day.log"
    log.write_text(
        "23:59:58  3 of 9 START sql table model marts.dim_accounts ........ [RUN]\n"
        "23:59:59  3 of 9 OK created sql table model marts.dim_accounts ........ [SELECT 10 in 4.00s]\n"
        "00:00:02  4 of 9 OK created sql incremental model intermediate.int_contact_changes ... [INSERT 0 5 in 2.50s]\n"
        "00:00:03  5 of 9 OK loaded seed file staging.interest_taxonomy ........ [INSERT 10 in 0.20s]\n"
        "00:00:04  6 of 9 ERROR creating sql table model marts.contact_scores ... [ERROR in 1.00s]\n"
    )
    builds = pipeline.dbt_node_builds(log)
    day = 86400
    assert builds == [
        ("dim_accounts", 86399.5 - 4.0, 86399.5),
        ("int_contact_changes", day + 2.5 - 2.5, day + 2.5),
        ("interest_taxonomy", day + 3.5 - 0.2, day + 3.5),
    ]


def test_alone_time_is_where_exactly_one_node_was_building(pipeline):
    builds = [("a", 0.0, 10.0), ("b", 2.0, 5.0), ("c", 10.0, 12.0), ("d", 12.5, 12.8)]
    alone = pipeline.dbt_alone_seconds(builds)
    # a alone 0–2 and 5–10, c alone 10–12, d 0.3 s (listed from half a second); 12–12.5 nothing
    assert alone["seconds"] == pytest.approx(9.3)
    assert alone["span_seconds"] == pytest.approx(12.8)
    assert alone["models"] == {"a": 7.0, "c": 2.0}


def test_no_builds_no_alone_time(pipeline):
    assert pipeline.dbt_alone_seconds([]) == {"span_seconds": 0.0, "seconds": 0.0, "models": {}}


def test_a_stage_is_compared_with_its_floor_only_when_both_did_the_same_work(pipeline):
    def scenario(landed: int, sent: int):  # noqa: ANN202
        clock = pipeline.StageClock(seconds={"ingest": 2.0, "transfer": 4.0})
        return pipeline.Scenario("day", 10.0, clock, "run", landed, sent, {}, {}, {}, {})

    floors = {"copy": (1.0, 1000), "http": (2.0, 500), "group_by": (0.5, 10)}

    full = {row["stage"]: row for row in pipeline.table(scenario(1000, 500), floors, 10)}
    day = {row["stage"]: row for row in pipeline.table(scenario(30, 80), floors, 10)}

    assert (full["ingest"]["ratio_to_floor"], full["transfer"]["ratio_to_floor"]) == (0.5, 0.5)
    # a day lands other files and sends fewer leads than the floors measured: no ratio
    assert (day["ingest"]["ratio_to_floor"], day["transfer"]["ratio_to_floor"]) == (None, None)
    assert day["transfer"]["rows"] == 80


def test_idle_cpu_is_shared_out_over_dbts_span_and_its_one_node_stretches(pipeline):
    # a builds 0–10, b 2–5: one node at a time 0–2 and 5–10, two at once 2–5
    builds = [("a", 100.0, 110.0), ("b", 102.0, 105.0)]
    samples = [  # (end, length, idle, iowait), each placed by its middle
        (99.0, 1.0, 0.9, 0.0),  # before dbt's span: left out
        (102.0, 2.0, 0.5, 0.1),  # middle 101: a alone
        (105.0, 3.0, 0.0, 0.0),  # middle 103.5: a and b
        (110.0, 5.0, 0.4, 0.0),  # middle 107.5: a alone
        (112.0, 2.0, 1.0, 0.0),  # after it: left out
    ]
    cpu = pipeline.dbt_cpu_idle(builds, samples)
    assert cpu["while_building"] == {"seconds": 10.0, "idle_share": 0.3, "iowait_share": 0.02}
    assert cpu["one_node_at_a_time"] == {
        "seconds": 7.0,
        "idle_share": pytest.approx(0.429, abs=1e-3),
        "iowait_share": 0.029,
    }


def test_idle_cpu_follows_dbts_clock_past_midnight(pipeline):
    # sampling began before midnight (seconds of that day), dbt's first node after it (00:00:01)
    builds = [("a", 1.0, 3.0)]
    samples = [(86399.0, 1.0, 0.0, 0.0), (86403.0, 2.0, 0.5, 0.0)]
    cpu = pipeline.dbt_cpu_idle(builds, samples)
    assert cpu["one_node_at_a_time"] == {"seconds": 2.0, "idle_share": 0.5, "iowait_share": 0.0}


def test_no_builds_no_cpu_report(pipeline):
    assert pipeline.dbt_cpu_idle([], [(1.0, 1.0, 0.5, 0.0)]) == {}
