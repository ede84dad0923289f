import pytest
from textual.geometry import Region

from pmutop.tui.paint import STOCK_REASON, paint_fast

pytestmark = pytest.mark.skipif(paint_fast is None, reason=f"stock paint path: {STOCK_REASON}")


def test_span_regions_merge_lines_with_the_same_columns():
    spans = [(3, 47, 120), (4, 47, 120), (6, 47, 120), (38, 47, 120), (38, 0, 10)]
    assert paint_fast.span_regions(spans) == [
        Region(47, 3, 73, 2),
        Region(47, 6, 73, 1),
        Region(47, 38, 73, 1),
        Region(0, 38, 10, 1),
    ]


def test_span_regions_skip_empty_spans():
    assert paint_fast.span_regions([(1, 5, 5)]) == []


def test_line_runs():
    assert paint_fast.line_runs(Region(0, 0, 10, 8), {1, 2, 5}.__contains__) == [(1, 3), (5, 6)]
