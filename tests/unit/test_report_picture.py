"""The report picture's bars: a count whose solve diverged (a NaN ratio) is marked, not a crash."""
import numpy as np

from dyweight_core import report_picture


def test_a_nan_ratio_is_marked_and_the_other_bars_still_drawn():
    finite = np.asarray(report_picture.ratio_bars([(4, 2.0, 1.5, "lms"), (6, 3.0, 1.2, "lms")]))
    diverged = np.asarray(report_picture.ratio_bars([(4, float("nan"), float("nan"), "lms"), (6, 3.0, 1.2, "lms")]))
    assert diverged.shape == finite.shape
    green = lambda img: (img == report_picture.GOOD).all(axis=-1)
    half = report_picture.PAD + 2 * 22 + 18  # the first count's two bars (22 px each) and its gap lie left of this
    assert green(finite)[:, :half].any() and not green(diverged)[:, :half].any()  # no bar for the NaN count ...
    assert green(diverged)[:, half:].sum() == green(finite)[:, half:].sum()      # ... the next count's as before
