"""The run-history bar chart, drawn server-side as inline SVG: no script, no CDN, works offline.

One bar per run, oldest on the left, stacked by outcome; each bar is a link to the run's contacts
(focusable with the keyboard, with a text label for screen readers and a tooltip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC

from leadflow.ui.queries import RunSummary

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
# (outcome, the run counter(s) it stacks, colour): failed includes dead letters
SEGMENTS = (
    ("succeeded", ("succeeded",), "#2e7d32"),
    ("failed", ("failed", "dead_letter"), "#c62828"),
    ("invalid", ("invalid",), "#f9a825"),
)


@dataclass(frozen=True)
class Segment:
    outcome: str
    count: int
    y: float
    height: float
    colour: str


@dataclass(frozen=True)
class Bar:
    run: RunSummary
    x: float
    width: float
    segments: list[Segment]
    total: int
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value)
    baseline: float
    left: int


def nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above value, so the axis has round ticks."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def tick_steps(top: int) -> int:
    """Gridlines on whole numbers: 50 → 5 steps of 10, 200 → 4 of 50, 3 → 3 of 1."""
    if top < 5:
        return top
    return 4 if str(top)[0] == "2" else 5


def run_chart(runs_newest_first: list[RunSummary]) -> Chart:
    runs = list(reversed(runs_newest_first))
    top = nice_max(max((sum(getattr(r, c) for _, cs, _ in SEGMENTS for c in cs) for r in runs), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(runs), 1)
    width = max(min(slot * 0.8, 40), 1.5)
    bars = []
    for index, r in enumerate(runs):
        y = TOP + plot_height
        segments = []
        for outcome, counters, colour in SEGMENTS:
            count = sum(getattr(r, c) for c in counters)
            height = plot_height * count / top
            y -= height
            if count:
                segments.append(Segment(outcome, count, y, height, colour))
        total = sum(s.count for s in segments)
        parts = ", ".join(f"{s.count} {s.outcome}" for s in segments) or "no contacts"
        label = f"Run {r.started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {r.status}: {parts}"
        bars.append(Bar(r, LEFT + index * slot + (slot - width) / 2, width, segments, total, label))
    steps = tick_steps(top)
    ticks = [(TOP + plot_height * (1 - i / steps), top * i // steps) for i in range(steps + 1)]
    return Chart(WIDTH, HEIGHT, bars, ticks, TOP + plot_height, LEFT)
