"""rrlfeh.core.ragged: the one light-curve batch type and its segment operations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrlfeh.core import ragged
from rrlfeh.core.ragged import LightCurves

finite = st.floats(-1e6, 1e6, allow_nan=False)
star_curves = st.lists(st.lists(finite, max_size=6), max_size=8)  # empty stars and zero stars too


def _batch(curves: list[list[float]]) -> LightCurves:
    times = [np.asarray(c, dtype=float) for c in curves]
    mags = [t + 1.0 for t in times]
    n = len(curves)
    return LightCurves.from_lists(times, mags, np.arange(n) + 0.5, np.arange(n) - 0.5)


@settings(max_examples=60, deadline=None)
@given(star_curves)
def test_round_trip_from_lists(curves):
    c = _batch(curves)
    assert len(c) == len(curves)
    assert c.counts.tolist() == [len(x) for x in curves]
    assert [t.tolist() for t in c.times()] == curves
    assert [m.tolist() for m in c.mags()] == [(np.asarray(x, float) + 1.0).tolist() for x in curves]
    assert c.star.tolist() == [i for i, x in enumerate(curves) for _ in x]
    assert c.starts.tolist() == np.cumsum([0] + [len(x) for x in curves])[:-1].tolist()


@settings(max_examples=60, deadline=None)
@given(star_curves, st.data())
def test_take_and_select_match_per_star_lists(curves, data):
    c = _batch(curves)
    stars = data.draw(st.lists(st.integers(0, max(len(c) - 1, 0)), max_size=10)) if len(c) else []
    sub = c.take(stars)
    assert [t.tolist() for t in sub.times()] == [curves[i] for i in stars]
    assert sub.period.tolist() == c.period[stars].tolist()
    keep = c.time > 0
    sel = c.select(keep)
    assert [t.tolist() for t in sel.times()] == [[v for v in x if v > 0] for x in curves]
    assert len(sel) == len(c) and sel.per_star(np.ones(len(sel.time), bool)).tolist() == [
        sum(v > 0 for v in x) for x in curves]


@settings(max_examples=60, deadline=None)
@given(star_curves)
def test_segment_reductions_match_per_star_numpy(curves):
    c = _batch(curves)
    top = ragged.segment_reduce(np.maximum, c.time, c.counts, -np.inf)
    assert top.tolist() == [max(x) if x else -np.inf for x in curves]
    med = ragged.segment_median(c.time, c.star, len(c))
    want = [np.median(x) if x else np.nan for x in curves]
    np.testing.assert_array_equal(med, want)


def test_zero_stars_and_empty_stars():
    none = LightCurves.from_lists([], [])
    assert len(none) == 0 and none.offsets.tolist() == [0] and none.time.dtype == np.float64
    assert none.take([]).offsets.tolist() == [0] and none.select(np.zeros(0, bool)).counts.size == 0
    empty = LightCurves.from_counts([0, 0], [], [])
    assert empty.counts.tolist() == [0, 0] and np.isnan(empty.period).all()
    assert ragged.segment_reduce(np.minimum, empty.mag, empty.counts, 7.0).tolist() == [7.0, 7.0]


def test_gather_rows_and_errors_and_names_travel():
    c = LightCurves.from_counts([2, 0, 3], np.arange(5.0), np.arange(5.0) * 2, [1, 2, 3], [0, 0, 0],
                                error=np.full(5, 0.1))
    assert ragged.gather_rows(c.starts[[2, 0]], c.counts[[2, 0]]).tolist() == [2, 3, 4, 0, 1]
    named = LightCurves(c.offsets, c.time, c.mag, c.period, c.epoch, c.error, np.array([7, 8, 9]))
    sub = named.take([2, 0])
    assert sub.source_id.tolist() == [9, 7] and sub.error.tolist() == [0.1] * 5
    assert named.select(c.time != 3.0).error.size == 4


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="different lengths"):
        LightCurves.from_lists([np.arange(3.0)], [np.arange(2.0)])
    with pytest.raises(ValueError, match="differ in length"):
        LightCurves.from_lists([np.arange(3.0)], [])
    with pytest.raises(ValueError, match="periods"):
        LightCurves.from_lists([np.arange(3.0)], [np.arange(3.0)], [0.5, 0.6], [0.0])
    with pytest.raises(ValueError, match="offsets"):
        LightCurves(np.array([0, 3, 2]), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="mag has"):
        LightCurves.from_counts([2], [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="mask"):
        LightCurves.from_counts([2], [1.0, 2.0], [1.0, 2.0]).select(np.ones(3, bool))
