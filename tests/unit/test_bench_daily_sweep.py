"""The pipeline benchmark's daily sweep (benchmarks/pipeline.py --daily-sweep): a line through the
days' seconds splits a day into its fixed cost and the cost of each 1 % of new data."""

from __future__ import annotations

import json

import pytest

from tests.fixtures import benchmark_script


@pytest.fixture(scope="module")
def pipeline():  # noqa: ANN201 (the benchmark script as a module)
    with benchmark_script("pipeline") as module:
        yield module


def test_the_line_through_the_days_gives_the_fixed_seconds_and_those_per_percent(pipeline):
    assert pipeline.fitted([(0, 20.0), (1, 25.0), (4, 40.0)]) == {"fixed": 20.0, "per_percent": 5.0}


def test_the_line_is_fitted_by_least_squares_when_the_days_scatter(pipeline):
    # (0, 19), (0, 21), (2, 31), (2, 29): the line through the two pairs' means
    assert pipeline.fitted([(0, 19.0), (2, 31.0), (0, 21.0), (2, 29.0)]) == {"fixed": 20.0, "per_percent": 5.0}


def test_a_sweep_needs_two_different_percents_before_it_touches_a_database(pipeline):
    with pytest.raises(SystemExit, match="at least two different percents"):
        pipeline.daily_sweep("M", server=None, percents=[1.0, 1.0])


def test_the_sweep_compares_with_the_newest_full_run_of_its_size(pipeline, tmp_path, monkeypatch):
    def result(name: str, body: dict) -> None:
        (tmp_path / name).write_text(json.dumps({"benchmark": "pipeline", "result": body}))

    result("pipeline-M-20261201T000000.json", {"full": {"seconds": 80.0}})
    result("pipeline-M-20261202T000000.json", {"full": {"seconds": 70.0}})
    result("pipeline-L-20261203T000000.json", {"full": {"seconds": 500.0}})
    monkeypatch.setattr(pipeline, "RESULTS", tmp_path)
    assert pipeline.latest_full_run("M") == ("pipeline-M-20261202T000000.json", 70.0)
    assert pipeline.latest_full_run("S") is None


def point(percent: float, seconds: float, dbt: float, model: float) -> dict:
    return {
        "percent": percent,
        "new_rows": {"crm__interactions.csv": int(percent * 1000)},
        "seconds": seconds,
        "stages": {"dbt seeds to marts": dbt, "orchestration": seconds - dbt},
        "model_seconds": {"fct_interactions": model},
    }


def test_the_lines_go_through_the_days_with_data_and_the_day_without_is_reported_as_run(pipeline):
    # a day without data skips work every day with data does: 20 s, where the line gives 24 s
    points = [
        point(0, 20.0, 12.0, 0.5),
        point(1, 29.0, 20.0, 1.5),
        point(4, 44.0, 35.0, 3.0),
        point(2, 34.0, 25.0, 2.0),
    ]
    fit = pipeline.sweep_fit(points)
    assert fit["over_percents"] == [1, 2, 4]
    assert fit["day"] == {"fixed": 24.0, "per_percent": 5.0}
    assert fit["stages"]["dbt seeds to marts"] == {"fixed": 15.0, "per_percent": 5.0}
    assert fit["stages"]["orchestration"] == {"fixed": 9.0, "per_percent": 0.0}
    assert fit["models"]["fct_interactions"] == {"fixed": 1.0, "per_percent": 0.5}
    assert fit["quiet_day"] == {
        "seconds": 20.0,
        "stages": {"dbt seeds to marts": 12.0, "orchestration": 8.0},
        "models": {"fct_interactions": 0.5},
    }


def test_with_one_size_of_day_with_data_the_line_takes_the_day_without_too(pipeline):
    fit = pipeline.sweep_fit([point(0, 20.0, 12.0, 0.5), point(1, 29.0, 20.0, 1.5)])
    assert fit["over_percents"] == [0, 1]
    assert fit["day"] == {"fixed": 20.0, "per_percent": 9.0}
    assert fit["quiet_day"]["seconds"] == 20.0


def test_a_model_a_day_did_not_build_counts_zero_seconds_there(pipeline):
    points = [point(1, 30.0, 20.0, 1.0), point(2, 40.0, 30.0, 2.0)]
    points[0]["model_seconds"]["int_email_events"] = 0.4
    fit = pipeline.sweep_fit(points)
    assert fit["models"]["int_email_events"] == {"fixed": 0.8, "per_percent": -0.4}
    assert "quiet_day" not in fit
