"""Heatmap pixels and text."""

from dyweight_core.heatmap import CELL, OUTSIDE, cell_origin, render, summary
from dyweight_core.table import CoefficientTable


def table(**kw):
    base = dict(steps=3, window=2, weights=[[1.2, 0, 0], [-0.6, 1.5, 0], [0, 0.3, 0.9]], t_scale=[0.95, 1.0, 1.05],
                sigmas=[14.6, 3.0, 0.4, 0.0], name="demo")
    return CoefficientTable(**{**base, **kw}).validate()


def pixel(img, i, j, n=3):
    x, y = cell_origin(i, j, n)
    return tuple(int(v) for v in img[y + 4, x + 4])  # a corner inside the cell, clear of the printed number


def test_heatmap_colours_follow_the_weights():
    img = render(table())
    assert img.ndim == 3 and img.shape[2] == 3
    r, g, b = pixel(img, 1, 1)          # the largest weight: full red
    assert r == 255 and g < 10 and b < 10
    r, g, b = pixel(img, 1, 0)          # negative: blue
    assert b == 255 and r < 160 and r == g
    assert pixel(img, 2, 0) == OUTSIDE  # outside the window of 2: grey
    assert pixel(img, 0, 1) == OUTSIDE  # above the diagonal: grey
    r, g, b = pixel(img, 1, 3)          # row sum 0.9 < 1: bluish sum cell
    assert b == 255 and r < 255
    assert img.shape[0] >= 3 * CELL and img.shape[1] >= 5 * CELL


def test_summary_reads_well():
    text = summary(table(provenance={"source": "test", "cfg": 7.0}))
    assert "3 steps, window 2" in text and "row sums (step multipliers): 1.200, 0.900, 1.200" in text
    assert "time scales: 0.950, 1.000, 1.050" in text and "cfg=7" in text
