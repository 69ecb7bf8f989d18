"""The run-history chart: round axis, bars stacked by outcome, one link per run, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadflow.ui.chart import BOTTOM, HEIGHT, TOP, nice_max, run_chart, tick_steps
from leadflow.ui.queries import RunSummary


def _run(n: int, succeeded: int, failed: int = 0, dead: int = 0, invalid: int = 0) -> RunSummary:
    return RunSummary(
        run_id=f"00000000-0000-0000-0000-{n:012d}", transfer_name="t", airflow_run_id=None,
        started_at=datetime(2026, 11, 1, 6, tzinfo=UTC) + timedelta(days=n), finished_at=None, status="succeeded",
        selected=succeeded + failed + dead + invalid, sent=succeeded + failed + dead, succeeded=succeeded,
        failed=failed, unchanged=0, invalid=invalid, dead_letter=dead, detail=None,
    )  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (27, 50), (200, 200)])
def test_the_axis_ends_on_a_round_number(value, expected):
    assert nice_max(value) == expected


@pytest.mark.parametrize(("top", "steps"), [(1, 1), (2, 2), (5, 5), (10, 5), (20, 4), (50, 5), (2000, 4)])
def test_gridlines_fall_on_whole_numbers(top, steps):
    assert tick_steps(top) == steps and top % steps == 0


def test_bars_stack_outcomes_to_scale_oldest_first_with_a_label_per_run():
    newest_first = [_run(3, 0, invalid=2), _run(2, 10, dead=3), _run(1, 12, failed=13, invalid=2)]
    chart = run_chart(newest_first)
    assert [b.run.run_id for b in chart.bars] == [r.run_id for r in reversed(newest_first)]
    plot = HEIGHT - TOP - BOTTOM
    first = chart.bars[0]
    assert [(s.outcome, s.count) for s in first.segments] == [("succeeded", 12), ("failed", 13), ("invalid", 2)]
    assert sum(s.height for s in first.segments) == pytest.approx(plot * 27 / 50)  # axis up to 50
    assert first.segments[0].y + first.segments[0].height == pytest.approx(chart.baseline)
    assert [(s.outcome, s.count) for s in chart.bars[1].segments] == [("succeeded", 10), ("failed", 3)]
    assert "10 succeeded, 3 failed" in chart.bars[1].label and "2026-11-03 06:00 UTC" in chart.bars[1].label
    xs = [b.x for b in chart.bars]
    assert xs == sorted(xs) and all(b.width > 0 for b in chart.bars)
    assert [value for _, value in chart.ticks] == [0, 10, 20, 30, 40, 50]


def test_no_runs_draw_an_empty_axis():
    chart = run_chart([])
    assert chart.bars == [] and chart.ticks[-1][1] == 1
