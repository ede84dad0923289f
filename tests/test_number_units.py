"""Numbers in units (pmutop.model.text.in_units): the TUI's SI cells and the task summary's per-second
rates pick their unit after rounding, so a value just under a unit's boundary is `1G`, never `1000M`."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmutop.model.metrics import MetricKey
from pmutop.model.snapshot import Metric, event_metric
from pmutop.model.task_summary import _per_second
from pmutop.tui.text import metric_cell, si

SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (7, "7"),
        (999.4, "999"),
        (999.6, "1k"),
        (999.95e3, "1M"),
        (999.96e6, "1G"),
        (999.5e9, "1T"),
        (1e9, "1G"),
        (3.214e9, "3.21G"),
        (99.96e6, "100M"),
        (12.34e3, "12.3k"),
        (-999.96e6, "-1G"),
        # Up to what a 64-bit counter holds, and never 1000T (the trial saw si(1e15) give it).
        (1e15, "1P"),
        (1.5e16, "15P"),
        (999.96e15, "1E"),
        (2.0**64, "18.4E"),
    ],
)
def test_si_picks_its_unit_after_rounding(value, text):
    assert si(value) == text


@given(st.floats(min_value=1.0, max_value=2.0**64, allow_nan=False))
def test_si_never_writes_a_thousand_of_a_unit_and_stays_close(value):
    text = si(value)
    number, suffix = (text[:-1], text[-1]) if text[-1] in SCALE else (text, "")
    assert float(number) < 1000
    assert len(text) <= 5
    # Three significant digits: within half a unit of the third digit.
    assert float(number) * SCALE[suffix] == pytest.approx(value, rel=5e-3)


@given(st.floats(min_value=0.0, max_value=9.99e14, allow_nan=False))
def test_per_second_units_never_reach_a_thousand(value):
    number, unit = _per_second(value, 1.0).split(" ")
    assert float(number) < 1000 or unit == "G/sec"


def test_the_task_summary_and_the_table_cells_use_the_same_rounding():
    assert _per_second(999_999.9999, 1.0) == "1.000 M/sec"
    assert _per_second(5.0, 1.0) == "5.000 /sec"
    assert metric_cell(MetricKey.CYCLES, Metric(999.96e6)) == ("1G", "")
    assert metric_cell(event_metric("branch-misses"), Metric(999.96e3, extrapolated=True)) == ("1M~", "italic")
